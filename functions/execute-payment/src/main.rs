//! `execute-payment`: wiring only; the behaviour lives in `ticketing_aws::http::execute_payment`.

use lambda_http::{run, service_fn, Error, Request};
use ticketing_aws::{config, http};

// One event at a time per execution environment: no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    config::init_tracing();
    let auth = &config::auth_mode()?;
    let service = &config::execute_payment().await?;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(http::execute_payment(service, auth, req).await)
    }))
    .await
}
