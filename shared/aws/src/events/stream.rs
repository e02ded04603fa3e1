//! The DynamoDB Streams consumer of the events table: each inserted event applied by the worker.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde_dynamo::AttributeValue;
use ticketing_core::app::{ApplyError, InboxEvent, SettleEvents};
use ticketing_core::catalog::ShowCancellation;
use ticketing_core::domain::refund::RefundEvent;
use ticketing_core::metrics::{self, Metric};
use ticketing_core::ports::{Bookings, Inbox, Payments, Performances, Refunds, SeatLocks, Settlements};
use ticketing_core::webhook::StoredNotification;
use tracing::field::Empty;

use super::{partial_batch, stream_failures};

/// Applies every record of a stream batch on its own and reports only the failed ones.
pub async fn process_stream<S: Bookings + Payments + Settlements + Refunds + Inbox + Performances + SeatLocks>(
    settle: &SettleEvents<S>,
    batch: Event,
) -> DynamoDbEventResponse {
    let failed = partial_batch(
        &batch.records,
        |r| tracing::info_span!("event", event_id = Empty, booking_id = Empty, stream_event_id = %r.event_id),
        |r| r.change.sequence_number.clone().unwrap_or_else(|| r.event_id.clone()),
        |r| apply_record(settle, r),
    )
    .await;
    stream_failures(failed)
}

async fn apply_record<S: Bookings + Payments + Settlements + Refunds + Inbox + Performances + SeatLocks>(
    settle: &SettleEvents<S>,
    record: &EventRecord,
) -> Result<(), ApplyError> {
    if record.event_name != "INSERT" {
        // Events are written once; a change or a removal (TTL) is nothing to apply.
        return Ok(());
    }
    let event = inbox_event(record)?;
    let span = tracing::Span::current();
    span.record("event_id", event.event_id().as_str());
    if let Some(booking) = event.booking_id() {
        span.record("booking_id", booking.as_str());
    }
    settle.apply(&event).await?;
    metrics::count(Metric::EventsProcessed);
    let created = record.change.approximate_creation_date_time.timestamp_millis();
    if created > 0 {
        let lag = settle.clock().now().as_millis().saturating_sub(created).max(0);
        metrics::record(Metric::WorkerLag, lag as f64);
    }
    Ok(())
}

/// The inbox event a stream record's new image holds.
pub fn inbox_event(record: &EventRecord) -> Result<InboxEvent, ApplyError> {
    let image = record.change.new_image.clone();
    let malformed = |e: serde_dynamo::Error| ApplyError::Malformed(e.to_string());
    match image.get("type") {
        Some(AttributeValue::S(kind)) if kind == StoredNotification::TYPE => Ok(InboxEvent::Notification(
            serde_dynamo::from_item(image).map_err(malformed)?,
        )),
        Some(AttributeValue::S(kind)) if kind == ShowCancellation::TYPE => Ok(InboxEvent::ShowCancelled(
            serde_dynamo::from_item(image).map_err(malformed)?,
        )),
        Some(AttributeValue::S(kind)) if RefundEvent::TYPES.contains(&kind.as_str()) => {
            Ok(InboxEvent::Refund(serde_dynamo::from_item(image).map_err(malformed)?))
        }
        _ => Ok(InboxEvent::Payment(serde_dynamo::from_item(image).map_err(malformed)?)),
    }
}
