//! The SQS consumer of hold expiries.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ticketing_core::app::{ApplyError, ExpireHolds};
use ticketing_core::ports::{Bookings, HoldExpiry, Inbox, Payments, Refunds, Settlements};
use tracing::field::Empty;

use super::{partial_batch, sqs_failures};

/// Applies each expiry message on its own, reporting only the failed ones.
pub async fn process_expiries<S: Bookings + Payments + Settlements + Refunds + Inbox>(
    expire: &ExpireHolds<S>,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let message_id = |m: &SqsMessage| m.message_id.clone().unwrap_or_default();
    let failed = partial_batch(
        &batch.records,
        |m| tracing::info_span!("expiry", message_id = %message_id(m), booking_id = Empty),
        message_id,
        |m| async move {
            let body = m.body.as_deref().unwrap_or_default();
            let expiry: HoldExpiry =
                serde_json::from_str(body).map_err(|e| ApplyError::Malformed(format!("expiry message: {e}")))?;
            tracing::Span::current().record("booking_id", expiry.booking_id.as_str());
            expire.expire_when_due(&expiry).await
        },
    )
    .await;
    sqs_failures(failed)
}
