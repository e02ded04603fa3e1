//! `schedule-expiries`: wiring only; the behaviour lives in `ticketing_aws::events::schedule_expiries`.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ticketing_aws::{config, events};

// One event at a time per execution environment: no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    config::init_tracing();
    let service = &config::schedule_expiries().await?;
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(events::schedule_expiries(service, event.payload).await)
    }))
    .await
}
