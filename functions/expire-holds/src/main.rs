//! `expire-holds`: wiring only; the behaviour lives in `ticketing::expiry::process_batch`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ticketing::wiring::{dynamo_app_with_expiries, init_tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let app = &dynamo_app_with_expiries().await?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(ticketing::expiry::process_batch(app, event.payload).await)
    }))
    .await
}
