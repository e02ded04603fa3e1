//! `deliver-notifications`: wiring only; the behaviour lives in
//! `ticketing_aws::events::deliver_notifications`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use ticketing_aws::{config, events};

// One event at a time per execution environment: no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    config::init_tracing();
    let notifier = &config::deliver_notifications()?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(events::deliver_notifications(notifier, event.payload).await)
    }))
    .await
}
