//! `process-events`: wiring only; the behaviour lives in `ticketing::worker::process_batch`.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ticketing::wiring::{dynamo_app, init_tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let app = &dynamo_app().await?;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(ticketing::worker::process_batch(app, event.payload).await)
    }))
    .await
}
