//! The runtime-API stand-in of `make bench`, polled by the Lambda runtime client the functions use.
//! The runtime reads its configuration from the environment, as under Lambda, so this file holds one
//! test (a process of its own).

use lambda_http::lambda_runtime::{self, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use ticketing_local::runtime_api::{InvokeError, RuntimeApi};

async fn invoke(api: &RuntimeApi, payload: Value) -> Result<Value, InvokeError> {
    let answer = api.invoke(payload.to_string().into_bytes()).await?;
    Ok(serde_json::from_slice(&answer).expect("a JSON answer"))
}

#[tokio::test]
async fn the_lambda_runtime_polls_it_and_answers_each_invocation_in_turn() {
    let api = RuntimeApi::start("echo").await.expect("started");
    let environment = [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "echo".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
    ];
    for (name, value) in environment {
        std::env::set_var(name, value);
    }
    let runtime = tokio::spawn(lambda_runtime::run(service_fn(
        |event: LambdaEvent<Value>| async move {
            if event.payload["fail"] == true {
                return Err::<Value, Error>("refused on purpose".into());
            }
            Ok(json!({
                "echo": event.payload,
                "requestId": event.context.request_id,
                "function": event.context.invoked_function_arn,
            }))
        },
    )));
    api.polled(1).await;

    let answer = invoke(&api, json!({"n": 1})).await.expect("answered");
    assert_eq!(answer["echo"]["n"], 1);
    assert!(answer["function"]
        .as_str()
        .is_some_and(|arn| arn.ends_with(":function:echo")));
    // Invocations wait for the one environment and are answered each with its own response.
    let (two, three) = tokio::join!(invoke(&api, json!({"n": 2})), invoke(&api, json!({"n": 3})));
    let (two, three) = (two.expect("answered"), three.expect("answered"));
    assert_eq!(
        (two["echo"]["n"].clone(), three["echo"]["n"].clone()),
        (json!(2), json!(3))
    );
    assert_ne!(two["requestId"], three["requestId"]);
    // A handler's error comes back as the function's error, and the environment goes on polling.
    let failed = invoke(&api, json!({"fail": true})).await;
    assert!(
        matches!(&failed, Err(InvokeError::Function(body)) if body.contains("refused on purpose")),
        "{failed:?}"
    );
    assert_eq!(invoke(&api, json!({"n": 4})).await.expect("answered")["echo"]["n"], 4);
    runtime.abort();
}
