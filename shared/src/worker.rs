//! The asynchronous worker: applies each payment event from the events table's change stream.
//! Stream delivery is at least once, so applying an event twice must change nothing: every write here is
//! conditional on the booking still being `pending`, and a second delivery finds it final.

use crate::booking::App;
use crate::domain::ledger;
use crate::domain::payment::{PaymentEvent, PaymentEventType};
use crate::domain::{BookingStatus, Clock};
use crate::expiry::HoldPlaced;
use crate::store::{Applied, Release, Settlement, Settlements, StoreError};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_dynamo::AttributeValue;
use tracing::{error, info, warn, Instrument};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The record is not an event this worker knows how to apply; retrying will not help.
    #[error("malformed event record: {0}")]
    Malformed(String),
    /// The event names a booking that does not exist.
    #[error("event refers to booking {0}, which does not exist")]
    UnknownBooking(String),
    #[error("{0}")]
    Queue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies every record of a stream batch on its own and reports only the failed ones, so one bad
/// record neither blocks nor replays the rest (`ReportBatchItemFailures`).
pub async fn process_batch<S: Settlements>(app: &App<S>, batch: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &batch.records {
        let span = tracing::info_span!(
            "event",
            event_id = tracing::field::Empty,
            booking_id = tracing::field::Empty,
            stream_event_id = %record.event_id,
        );
        if let Err(e) = apply_record(app, record).instrument(span.clone()).await {
            span.in_scope(|| error!(error = %e, "event not applied; reported for retry"));
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(
                record
                    .change
                    .sequence_number
                    .clone()
                    .unwrap_or_else(|| record.event_id.clone()),
            );
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn apply_record<S: Settlements>(app: &App<S>, record: &EventRecord) -> Result<(), WorkerError> {
    if record.event_name != "INSERT" {
        // Events are written once; a change or a removal (TTL) is nothing to apply.
        return Ok(());
    }
    let image = record.change.new_image.clone();
    let span = tracing::Span::current();
    if matches!(image.get("type"), Some(AttributeValue::S(kind)) if kind == HoldPlaced::TYPE) {
        let placed: HoldPlaced = serde_dynamo::from_item(image).map_err(|e| WorkerError::Malformed(e.to_string()))?;
        span.record("event_id", placed.event_id.as_str());
        span.record("booking_id", placed.expiry.booking_id.as_str());
        return schedule_expiry(app, &placed).await;
    }
    let event: PaymentEvent = serde_dynamo::from_item(image).map_err(|e| WorkerError::Malformed(e.to_string()))?;
    span.record("event_id", event.event_id.as_str());
    span.record("booking_id", event.booking_id.as_str());
    apply(&app.store, app.clock.as_ref(), &event).await
}

/// Sends a new hold's expiry to the delay queue, due when the hold lapses.
async fn schedule_expiry<S>(app: &App<S>, placed: &HoldPlaced) -> Result<(), WorkerError> {
    let queue = app
        .expiries
        .as_ref()
        .ok_or_else(|| WorkerError::Queue("no expiry queue is configured".to_owned()))?;
    let delay = placed.expiry.delay(app.clock.now());
    queue
        .schedule(&placed.expiry, delay)
        .await
        .map_err(|e| WorkerError::Queue(e.to_string()))?;
    info!(due = %placed.expiry.hold_expires_at, "hold expiry scheduled");
    Ok(())
}

/// Applies one payment event: success confirms the booking, sells its seats and writes its ledger
/// transaction; failure fails the booking and frees its seats.
pub async fn apply<S: Settlements>(store: &S, clock: &dyn Clock, event: &PaymentEvent) -> Result<(), WorkerError> {
    let at = clock.now();
    let (applied, target) = match event.event_type {
        PaymentEventType::PaymentSucceeded => {
            let settlement = Settlement {
                booking_id: event.booking_id.clone(),
                performance_id: event.performance_id.clone(),
                seat_ids: event.seat_ids.clone(),
                entries: ledger::capture(&event.booking_id, &event.amount, &event.event_id, at),
                at,
            };
            (store.settle(&settlement).await?, BookingStatus::Confirmed)
        }
        PaymentEventType::PaymentFailed => {
            let release = Release {
                booking_id: event.booking_id.clone(),
                performance_id: event.performance_id.clone(),
                seat_ids: event.seat_ids.clone(),
                to: BookingStatus::Failed,
                at,
                cancels_intent: None,
            };
            (store.release(&release).await?, BookingStatus::Failed)
        }
    };
    match applied {
        Applied::Done => info!(status = target.as_str(), "booking updated"),
        Applied::AlreadyFinal(status) if status == target => {
            info!(status = status.as_str(), "already applied")
        }
        Applied::AlreadyFinal(status) => {
            warn!(
                status = status.as_str(),
                event_type = ?event.event_type,
                "event arrived for a booking that already ended otherwise; recorded, not applied"
            );
            if event.event_type == PaymentEventType::PaymentSucceeded {
                let note = format!(
                    "REFUND_OWED: the payment succeeded after the booking was {}",
                    status.as_str()
                );
                store.annotate_event(&event.event_id, &note, at).await?;
            }
        }
        Applied::NoSuchBooking => return Err(WorkerError::UnknownBooking(event.booking_id.to_string())),
        Applied::NotDue | Applied::PaymentRecorded => {
            warn!(
                ?applied,
                "unexpected answer to a settlement or failure; nothing written"
            )
        }
    }
    Ok(())
}
