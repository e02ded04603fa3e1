//! `execute-payment`: wiring only; the behaviour lives in `ticketing::api::execute_payment`.

use lambda_http::{run, service_fn, Error, Request};
use ticketing::wiring::{dynamo_app, gateway_from_env, init_tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let mut app = dynamo_app().await?;
    if let Some(gateway) = gateway_from_env()? {
        app = app.with_gateway(gateway);
    }
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(ticketing::api::execute_payment(app, req).await)
    }))
    .await
}
