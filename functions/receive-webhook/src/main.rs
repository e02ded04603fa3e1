//! `receive-webhook`: wiring only; the behaviour lives in `ticketing_aws::http::receive_webhook`.

use lambda_http::{run, service_fn, Error, Request};
use ticketing_aws::{config, http};

// One event at a time per execution environment: no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    config::init_tracing();
    let service = &config::receive_webhook().await?;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(http::receive_webhook(service, req).await)
    }))
    .await
}
