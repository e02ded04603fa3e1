//! Invocations of a function through the Lambda Invoke API, as an event source mapping makes them.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Invokes a function through the Lambda Invoke API (`cargo lambda watch` serves it locally; the SDK
/// finds it through `AWS_ENDPOINT_URL_LAMBDA`), as an event source mapping does.
pub async fn invoke<E: Serialize, R: DeserializeOwned>(
    client: &aws_sdk_lambda::Client,
    function: &str,
    event: E,
) -> Result<R, String> {
    let payload = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
    let out = client
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(e).to_string())?;
    let body = out.payload.map(|p| p.into_inner()).unwrap_or_default();
    if let Some(kind) = out.function_error {
        return Err(format!(
            "{function} failed ({kind}): {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{function} answered something else than a batch response: {e}"))
}
