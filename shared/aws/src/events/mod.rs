//! The batch handlers: the events table's stream into the settle-events use case, the bookings table's
//! stream into the schedule-expiries use case, the expiry queue into the expire-holds use case, and the
//! simulated gateway's notification queue to the webhook. Each applies every record on its own and
//! reports only the failed ones (`ReportBatchItemFailures`), so one bad record neither blocks nor
//! replays the rest.

mod expiries;
mod new_bookings;
mod notifications;
mod stream;

pub use expiries::process_expiries;
pub use new_bookings::schedule_expiries;
pub use notifications::deliver_notifications;
pub use stream::{inbox_event, process_stream};

use std::fmt::Display;
use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use tracing::{error, Instrument, Span};

/// Runs `apply` on every record in its own span and returns the identifiers of the failed ones.
pub(crate) async fn partial_batch<'r, R, F, E>(
    records: &'r [R],
    span_of: impl Fn(&R) -> Span,
    id_of: impl Fn(&R) -> String,
    apply: impl Fn(&'r R) -> F,
) -> Vec<String>
where
    F: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut failed = Vec::new();
    for record in records {
        let span = span_of(record);
        if let Err(e) = apply(record).instrument(span.clone()).await {
            span.in_scope(|| error!(error = %e, "not applied; reported for retry"));
            failed.push(id_of(record));
        }
    }
    failed
}

/// SQS's answer naming the failed messages: those are received again, the rest are deleted.
pub(crate) fn sqs_failures(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// A stream's answer naming the failed records by sequence number: the batch is read again from the
/// first of them.
pub(crate) fn stream_failures(failed: Vec<String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    response
}
