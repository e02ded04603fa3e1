//! The asynchronous worker: applies each payment event from the events table's change stream.
//! Stream delivery is at least once, so applying an event twice must change nothing: every write here is
//! conditional on the booking still being `pending`, and a second delivery finds it final.

use crate::booking::App;
use crate::domain::ledger;
use crate::domain::payment::{PaymentEvent, PaymentEventType};
use crate::domain::{
    BookingId, BookingStatus, Clock, EventId, IntentStatus, Money, PaymentIntentId, PerformanceId, SeatId,
};
use crate::metrics::{self, Metric};
use crate::store::{Applied, Consistency, Release, Settlement, Settlements, StoreError};
use crate::webhook::{NotificationType, StoredNotification};
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
        let applied = apply_record(app, record).instrument(span.clone()).await;
        if applied.is_ok() && record.event_name == "INSERT" {
            metrics::count(Metric::EventsProcessed);
            let created = record.change.approximate_creation_date_time.timestamp_millis();
            if created > 0 {
                let lag = app.clock.now().as_millis().saturating_sub(created).max(0);
                metrics::record(Metric::WorkerLag, lag as f64);
            }
        }
        if let Err(e) = applied {
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
    if matches!(image.get("type"), Some(AttributeValue::S(kind)) if kind == StoredNotification::TYPE) {
        let notification: StoredNotification =
            serde_dynamo::from_item(image).map_err(|e| WorkerError::Malformed(e.to_string()))?;
        span.record("event_id", notification.event_id.as_str());
        span.record("booking_id", notification.booking_id.as_str());
        return apply_notification(app, &notification).await;
    }
    let event: PaymentEvent = serde_dynamo::from_item(image).map_err(|e| WorkerError::Malformed(e.to_string()))?;
    span.record("event_id", event.event_id.as_str());
    span.record("booking_id", event.booking_id.as_str());
    apply(&app.store, app.clock.as_ref(), &event).await
}

/// What an inbox event asks of a booking.
struct Outcome<'a> {
    event_id: &'a EventId,
    booking_id: &'a BookingId,
    performance_id: &'a PerformanceId,
    seat_ids: &'a [SeatId],
    amount: &'a Money,
    succeeded: bool,
    /// For a gateway notification: the payment intent moves with the booking.
    intent: Option<&'a PaymentIntentId>,
}

/// Applies one payment event: success confirms the booking, sells its seats and writes its ledger
/// transaction; failure fails the booking and frees its seats.
pub async fn apply<S: Settlements>(store: &S, clock: &dyn Clock, event: &PaymentEvent) -> Result<(), WorkerError> {
    let outcome = Outcome {
        event_id: &event.event_id,
        booking_id: &event.booking_id,
        performance_id: &event.performance_id,
        seat_ids: &event.seat_ids,
        amount: &event.amount,
        succeeded: event.event_type == PaymentEventType::PaymentSucceeded,
        intent: None,
    };
    settle_or_release(store, clock, outcome).await
}

/// Applies a gateway notification. It names only the booking, which is read first; the payment intent
/// moves in the same transaction as the booking (from `processing`, or from `pending` for a payment
/// the gateway took by itself).
async fn apply_notification<S: Settlements>(
    app: &App<S>,
    notification: &StoredNotification,
) -> Result<(), WorkerError> {
    let booking = app
        .store
        .read_booking(&notification.booking_id, Consistency::Strong)
        .await?
        .ok_or_else(|| WorkerError::UnknownBooking(notification.booking_id.to_string()))?;
    let outcome = Outcome {
        event_id: &notification.event_id,
        booking_id: &booking.booking_id,
        performance_id: &booking.performance_id,
        seat_ids: &booking.seat_ids,
        amount: &booking.total,
        succeeded: notification.notification_type == NotificationType::PaymentSucceeded,
        intent: Some(&booking.payment_intent_id),
    };
    settle_or_release(&app.store, app.clock.as_ref(), outcome).await
}

async fn settle_or_release<S: Settlements>(store: &S, clock: &dyn Clock, o: Outcome<'_>) -> Result<(), WorkerError> {
    let at = clock.now();
    let (applied, target) = if o.succeeded {
        let settlement = Settlement {
            booking_id: o.booking_id.clone(),
            performance_id: o.performance_id.clone(),
            seat_ids: o.seat_ids.to_vec(),
            entries: ledger::capture(o.booking_id, o.amount, o.event_id, at),
            at,
            intent: o.intent.cloned(),
        };
        (store.settle(&settlement).await?, BookingStatus::Confirmed)
    } else {
        let release = Release {
            booking_id: o.booking_id.clone(),
            performance_id: o.performance_id.clone(),
            seat_ids: o.seat_ids.to_vec(),
            to: BookingStatus::Failed,
            at,
            intent: o.intent.map(|id| (id.clone(), IntentStatus::Failed)),
        };
        (store.release(&release).await?, BookingStatus::Failed)
    };
    let note = match applied {
        Applied::Done => {
            info!(status = target.as_str(), "booking updated");
            return Ok(());
        }
        Applied::AlreadyFinal(status) if status == target => {
            info!(status = status.as_str(), "already applied");
            return Ok(());
        }
        Applied::NoSuchBooking => return Err(WorkerError::UnknownBooking(o.booking_id.to_string())),
        Applied::AlreadyFinal(status) if o.succeeded => {
            format!(
                "REFUND_OWED: the payment succeeded after the booking was {}",
                status.as_str()
            )
        }
        Applied::AlreadyFinal(status) => {
            format!("IGNORED: a payment failure for a booking already {}", status.as_str())
        }
        Applied::PaymentRecorded if o.succeeded => {
            "REFUND_OWED: the gateway took the payment, but its intent had already been settled otherwise".to_owned()
        }
        Applied::PaymentRecorded => "NOT_APPLIED: the payment intent had already been settled otherwise".to_owned(),
        Applied::NotDue => "NOT_APPLIED: unexpected answer to a settlement".to_owned(),
    };
    warn!(note = %note, "event recorded, not applied");
    store.annotate_event(o.event_id, &note, at).await?;
    Ok(())
}
