//! The release binaries of the functions run as Lambda runs them, each process polling a
//! [`RuntimeApi`] stand-in: for `make bench`'s cold start, memory and latency figures.

use crate::runtime_api::{InvokeError, RuntimeApi};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a process may take to reach its first poll of the runtime API.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The functions of `template.yaml`, as their binaries are named.
pub const ALL: [&str; 11] = [
    "create-booking",
    "execute-payment",
    "list-my-bookings",
    "get-seat-map",
    "receive-webhook",
    "process-events",
    "schedule-expiries",
    "expire-holds",
    "deliver-notifications",
    "manage-performances",
    "cancel-booking",
];

#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("cannot start {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("{0} did not poll the runtime API within {1:?}")]
    NoPoll(String, Duration),
    #[error("{0}: {1}")]
    Invoke(String, InvokeError),
}

/// The workspace's host build of `function` in the `fast` profile (`make bench` builds it: release
/// optimisations without the deployment profile's size tuning).
pub fn host_binary(function: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fast")
        .join(function)
}

/// The function's Lambda artifact as `make build-lambda` (`cargo lambda build --release --arm64`) leaves it.
pub fn lambda_artifact(function: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/lambda")
        .join(function)
        .join("bootstrap")
}

/// The size of the function's Lambda artifact when it is an arm64 build (`make build-lambda`); `sam
/// build` for another architecture (`make sam-local`) leaves its own there, which is not counted.
pub fn arm64_artifact_size(function: &str) -> Option<u64> {
    const EM_AARCH64: u16 = 183;
    let bytes = std::fs::read(lambda_artifact(function)).ok()?;
    // ELF: the machine is the little-endian u16 at offset 18.
    let machine = u16::from_le_bytes([*bytes.get(18)?, *bytes.get(19)?]);
    (bytes.starts_with(b"\x7fELF") && machine == EM_AARCH64).then(|| u64::try_from(bytes.len()).unwrap_or(u64::MAX))
}

/// One function: `processes` execution environments of its binary polling one runtime API.
pub struct Function {
    name: String,
    api: RuntimeApi,
    processes: Vec<Child>,
}

impl Function {
    /// Starts the processes with `env` (plus the variables Lambda sets) and waits until each polls.
    /// Their output goes to `logs/<function>.log`.
    pub async fn start(
        name: &str,
        env: &[(String, String)],
        processes: usize,
        logs: &Path,
    ) -> Result<Self, FunctionError> {
        let api = RuntimeApi::start(name)
            .await
            .map_err(|e| FunctionError::Spawn(name.to_owned(), e))?;
        let log = std::fs::File::create(logs.join(format!("{name}.log")))
            .map_err(|e| FunctionError::Spawn(name.to_owned(), e))?;
        let mut started = Vec::with_capacity(processes);
        for _ in 0..processes {
            let output = log.try_clone().map_err(|e| FunctionError::Spawn(name.to_owned(), e))?;
            started.push(spawn(name, &api, env, output.into())?);
        }
        let function = Self {
            name: name.to_owned(),
            api,
            processes: started,
        };
        tokio::time::timeout(START_TIMEOUT, function.api.polled(processes as u64))
            .await
            .map_err(|_| FunctionError::NoPoll(name.to_owned(), START_TIMEOUT))?;
        Ok(function)
    }

    /// Invokes the function once and returns its response.
    pub async fn invoke(&self, payload: Vec<u8>) -> Result<Bytes, FunctionError> {
        self.api
            .invoke(payload)
            .await
            .map_err(|e| FunctionError::Invoke(self.name.clone(), e))
    }

    /// The largest peak resident set (`VmHWM`) of its processes so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.processes
            .iter()
            .filter_map(|p| p.id())
            .filter_map(peak_rss_kib)
            .max()
    }

    /// Stops the processes.
    pub async fn stop(mut self) {
        for process in &mut self.processes {
            let _ = process.kill().await;
        }
    }
}

fn spawn(name: &str, api: &RuntimeApi, env: &[(String, String)], output: Stdio) -> Result<Child, FunctionError> {
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_owned()),
    ];
    Command::new(host_binary(name))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(lambda)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| FunctionError::Spawn(name.to_owned(), e))
}

/// Time from starting a process of `function` to its first poll of the runtime API: its cold start
/// up to the first invocation (configuration, SDK clients, catalog), without the sandbox's own start.
pub async fn cold_start(function: &str, env: &[(String, String)]) -> Result<Duration, FunctionError> {
    let api = RuntimeApi::start(function)
        .await
        .map_err(|e| FunctionError::Spawn(function.to_owned(), e))?;
    let started = Instant::now();
    let mut process = spawn(function, &api, env, Stdio::null())?;
    let polled = tokio::time::timeout(START_TIMEOUT, api.polled(1)).await;
    let elapsed = started.elapsed();
    let _ = process.kill().await;
    polled.map_err(|_| FunctionError::NoPoll(function.to_owned(), START_TIMEOUT))?;
    Ok(elapsed)
}

/// Time from starting a process of `function` to the runtime API receiving its answer to a first
/// invocation with `payload`: the cold start end to end (configuration, SDK clients, the handler and
/// its first requests, connections included), without the sandbox's own start.
pub async fn first_invocation(
    function: &str,
    env: &[(String, String)],
    payload: Vec<u8>,
) -> Result<Duration, FunctionError> {
    let api = RuntimeApi::start(function)
        .await
        .map_err(|e| FunctionError::Spawn(function.to_owned(), e))?;
    let started = Instant::now();
    let mut process = spawn(function, &api, env, Stdio::null())?;
    let answered = api.invoke(payload).await;
    let elapsed = started.elapsed();
    let _ = process.kill().await;
    answered.map_err(|e| FunctionError::Invoke(function.to_owned(), e))?;
    Ok(elapsed)
}

/// `VmHWM` of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
