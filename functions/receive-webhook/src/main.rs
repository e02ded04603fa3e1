//! `receive-webhook`: wiring only; the behaviour lives in `ticketing::api::receive_webhook`.

use lambda_http::{run, service_fn, Error, Request};
use ticketing::wiring::{dynamo_app, init_tracing, webhook_secret};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let app = &dynamo_app().await?.with_webhook_secret(webhook_secret()?);
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(ticketing::api::receive_webhook(app, req).await)
    }))
    .await
}
