//! Holds that lapse on time. Every new booking schedules its own expiry on a delay queue (SQS in
//! production, a timer task in `make run`) before its hold is written; when it comes due, the booking
//! becomes `expired`, its payment intent `cancelled` and its seats free, in one transaction that a
//! payment and an expiry cannot both pass. A lapsed lock is free for a new booking at once anyway; the
//! expiry tidies up after it.

use crate::booking::App;
use crate::domain::{BookingId, BookingStatus, Clock, IntentStatus, Timestamp};
use crate::store::{Applied, Consistency, Release, Settlements};
use crate::worker::WorkerError;
use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{error, info, warn, Instrument};

/// The expiry message. `create-booking` sends it before it writes the hold, so no accepted booking
/// misses its expiry; a message whose hold was never written finds no booking and is dropped. It names
/// the booking only: the expirer reads the rest (seats, intent, the hold's end) from the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldExpiry {
    pub booking_id: BookingId,
}

impl HoldExpiry {
    pub fn for_booking(booking_id: &BookingId) -> Self {
        Self {
            booking_id: booking_id.clone(),
        }
    }
}

/// How long to wait before looking again: until `due`, at most the queue's longest delay.
fn delay_until(due: Timestamp, now: Timestamp) -> Duration {
    let millis = u64::try_from(due.as_millis().saturating_sub(now.as_millis())).unwrap_or(0);
    Duration::from_millis(millis).min(MAX_DELAY)
}

/// Sent with the hold's length plus this, the expiry arrives after a hold written by a later attempt.
pub const MARGIN: Duration = Duration::from_secs(1);

/// SQS delays a message by at most 15 minutes; a longer hold is re-enqueued for the rest.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

#[derive(Debug, thiserror::Error)]
#[error("could not schedule the hold's expiry: {0}")]
pub struct QueueError(pub String);

/// Where expiries wait until they are due.
#[async_trait]
pub trait ExpiryQueue: Send + Sync {
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError>;
}

/// The SQS delay queue named by `HOLD_EXPIRY_QUEUE_URL`.
pub struct SqsExpiryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsExpiryQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

#[async_trait]
impl ExpiryQueue for SqsExpiryQueue {
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(expiry).map_err(|e| QueueError(e.to_string()))?;
        // Rounded up: a message never arrives before its hold lapses.
        let seconds = delay.as_millis().div_ceil(1000).min(MAX_DELAY.as_secs().into());
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(seconds).unwrap_or(900))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

/// The in-process delay queue of `make run`: a timer task per expiry, then a channel to the consumer.
#[derive(Clone)]
pub struct InProcessQueue {
    due: mpsc::UnboundedSender<HoldExpiry>,
}

impl InProcessQueue {
    /// The queue, and the receiving end that [`run_in_process`] consumes.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<HoldExpiry>) {
        let (due, receiver) = mpsc::unbounded_channel();
        (Self { due }, receiver)
    }
}

#[async_trait]
impl ExpiryQueue for InProcessQueue {
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError> {
        let due = self.due.clone();
        let expiry = expiry.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = due.send(expiry);
        });
        Ok(())
    }
}

/// Consumes the in-process queue until it closes, retrying a failed expiry a second later.
pub async fn run_in_process<S: Settlements>(
    mut due: mpsc::UnboundedReceiver<HoldExpiry>,
    store: &S,
    clock: &dyn Clock,
    queue: Arc<dyn ExpiryQueue>,
) {
    while let Some(expiry) = due.recv().await {
        let span = tracing::info_span!("expiry", booking_id = %expiry.booking_id);
        if let Err(e) = expire_when_due(store, clock, queue.as_ref(), &expiry)
            .instrument(span.clone())
            .await
        {
            span.in_scope(|| warn!(error = %e, "expiry failed; trying again in a second"));
            let _ = queue.schedule(&expiry, Duration::from_secs(1)).await;
        }
    }
}

/// The SQS consumer: each message on its own, reporting only the failed ones.
pub async fn process_batch<S: Settlements>(app: &App<S>, batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("expiry", message_id = %message_id, booking_id = tracing::field::Empty);
        let result = async {
            let body = message.body.as_deref().unwrap_or_default();
            let expiry: HoldExpiry =
                serde_json::from_str(body).map_err(|e| WorkerError::Malformed(format!("expiry message: {e}")))?;
            tracing::Span::current().record("booking_id", expiry.booking_id.as_str());
            let queue = app
                .expiries
                .as_ref()
                .ok_or_else(|| WorkerError::Queue("no expiry queue is configured".to_owned()))?;
            expire_when_due(&app.store, app.clock.as_ref(), queue.as_ref(), &expiry).await
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = result {
            span.in_scope(|| error!(error = %e, "expiry not applied; reported for retry"));
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Expires the booking if its hold has lapsed; re-enqueues the rest of a longer hold.
pub async fn expire_when_due<S: Settlements>(
    store: &S,
    clock: &dyn Clock,
    queue: &dyn ExpiryQueue,
    expiry: &HoldExpiry,
) -> Result<(), WorkerError> {
    // Most holds end paid long before they lapse: one cheap read spares them a transaction that its
    // conditions would refuse. A stale read can only show an earlier status, and `pending` goes on to
    // the transaction, whose conditions decide.
    let read = match store.read_booking(&expiry.booking_id, Consistency::Eventual).await? {
        Some(booking) => Some(booking),
        // Written a moment ago, or never: only a consistent read tells.
        None => store.read_booking(&expiry.booking_id, Consistency::Strong).await?,
    };
    let Some(booking) = read else {
        info!("no such booking: its hold was never written; nothing to expire");
        return Ok(());
    };
    if booking.status.is_final() {
        info!(status = booking.status.as_str(), "booking already ended");
        return Ok(());
    }
    let now = clock.now();
    if now < booking.hold_expires_at {
        queue
            .schedule(expiry, delay_until(booking.hold_expires_at, now))
            .await
            .map_err(|e| WorkerError::Queue(e.to_string()))?;
        info!(due = %booking.hold_expires_at, "hold not lapsed yet; re-enqueued");
        return Ok(());
    }
    let release = Release {
        booking_id: booking.booking_id.clone(),
        performance_id: booking.performance_id.clone(),
        seat_ids: booking.seat_ids.clone(),
        to: BookingStatus::Expired,
        at: now,
        intent: Some((booking.payment_intent_id.clone(), IntentStatus::Cancelled)),
    };
    match store.release(&release).await? {
        Applied::Done => {
            info!("hold expired; seats released");
            crate::metrics::count(crate::metrics::Metric::HoldsExpired);
        }
        Applied::PaymentRecorded => info!("paid before the hold lapsed; not expired"),
        Applied::AlreadyFinal(status) => info!(status = status.as_str(), "booking already ended"),
        Applied::NotDue => {
            // Clocks disagree by a little: look again shortly.
            queue
                .schedule(expiry, Duration::from_secs(1))
                .await
                .map_err(|e| WorkerError::Queue(e.to_string()))?;
        }
        Applied::NoSuchBooking => return Err(WorkerError::UnknownBooking(expiry.booking_id.to_string())),
    }
    Ok(())
}
