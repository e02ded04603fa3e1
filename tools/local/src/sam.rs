//! Functions run by `sam local invoke`, in the stand-in of Lambda's base image, as the event source
//! mappings of `make sam-local` and `make sam-test` invoke them.

use std::path::PathBuf;
use std::process::Stdio;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// How `sam local invoke` is called: the env-vars file that points the functions at the local services,
/// and the template's parameters.
#[derive(Clone, Debug)]
pub struct SamInvoke {
    pub env_vars: PathBuf,
    pub parameter_overrides: String,
}

impl SamInvoke {
    /// Invokes the template's function `logical_id` with `event` on its standard input, and reads its
    /// answer: the last line `sam` prints on its standard output.
    pub async fn invoke<E: Serialize, R: DeserializeOwned>(&self, logical_id: &str, event: &E) -> Result<R, String> {
        let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let mut child = Command::new("sam")
            .args(["local", "invoke", logical_id, "--event", "-", "--skip-pull-image"])
            .args(["--add-host", "host.docker.internal:host-gateway"])
            .arg("--env-vars")
            .arg(&self.env_vars)
            .args(["--parameter-overrides", &self.parameter_overrides])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .env("SAM_CLI_TELEMETRY", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run sam (make tools installs it): {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&payload).await.map_err(|e| e.to_string())?;
        }
        let output = child.wait_with_output().await.map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let answer = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        if !output.status.success() {
            return Err(format!(
                "sam local invoke {logical_id} failed ({}): {answer}",
                output.status
            ));
        }
        serde_json::from_str(answer)
            .map_err(|e| format!("{logical_id} answered something else than JSON ({e}): {answer}"))
    }
}
