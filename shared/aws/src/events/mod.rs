//! The batch handlers: the events table's stream into the settle-events use case, and the expiry
//! queue into the expire-holds use case. Each applies every record on its own and reports only the
//! failed ones (`ReportBatchItemFailures`), so one bad record neither blocks nor replays the rest.

mod expiries;
mod stream;

pub use expiries::process_expiries;
pub use stream::{inbox_event, process_stream};

use std::future::Future;

use ticketing_core::app::ApplyError;
use tracing::{error, Instrument, Span};

/// Runs `apply` on every record in its own span and returns the identifiers of the failed ones.
pub(crate) async fn partial_batch<'r, R, F>(
    records: &'r [R],
    span_of: impl Fn(&R) -> Span,
    id_of: impl Fn(&R) -> String,
    apply: impl Fn(&'r R) -> F,
) -> Vec<String>
where
    F: Future<Output = Result<(), ApplyError>>,
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
