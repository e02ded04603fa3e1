//! Holds that lapse on time. Every new booking schedules its own expiry on a delay queue (SQS in
//! production, a timer task in `make run`) before its hold is written; when it comes due, the booking
//! becomes `expired`, its payment intent `cancelled` and its seats free, in one transaction that a
//! payment and an expiry cannot both pass. A lapsed lock is free for a new booking at once anyway; the
//! expiry tidies up after it.

use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::ApplyError;
use crate::domain::{BookingStatus, Clock, IntentStatus, Timestamp};
use crate::metrics::{self, Metric};
use crate::ports::{Applied, Bookings, Consistency, ExpiryQueue, HoldExpiry, Release, Settlements, MAX_DELAY};

/// How long to wait before looking again: until `due`, at most the queue's longest delay.
fn delay_until(due: Timestamp, now: Timestamp) -> Duration {
    let millis = u64::try_from(due.as_millis().saturating_sub(now.as_millis())).unwrap_or(0);
    Duration::from_millis(millis).min(MAX_DELAY)
}

/// The expire-holds use case.
pub struct ExpireHolds<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    queue: Arc<dyn ExpiryQueue>,
}

impl<S: Bookings + Settlements> ExpireHolds<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, queue: Arc<dyn ExpiryQueue>) -> Self {
        Self { store, clock, queue }
    }

    /// Expires the booking if its hold has lapsed; re-enqueues the rest of a longer hold.
    pub async fn expire_when_due(&self, expiry: &HoldExpiry) -> Result<(), ApplyError> {
        // Most holds end paid long before they lapse: one cheap read spares them a transaction that its
        // conditions would refuse. A stale read can only show an earlier status, and `pending` goes on
        // to the transaction, whose conditions decide.
        let read = match self.store.booking(&expiry.booking_id, Consistency::Eventual).await? {
            Some(booking) => Some(booking),
            // Written a moment ago, or never: only a consistent read tells.
            None => self.store.booking(&expiry.booking_id, Consistency::Strong).await?,
        };
        let Some(booking) = read else {
            info!("no such booking: its hold was never written; nothing to expire");
            return Ok(());
        };
        if booking.status.is_final() {
            info!(status = booking.status.as_str(), "booking already ended");
            return Ok(());
        }
        let now = self.clock.now();
        if now < booking.hold_expires_at {
            self.queue
                .schedule(expiry, delay_until(booking.hold_expires_at, now))
                .await?;
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
        match self.store.release(&release).await? {
            Applied::Done => {
                info!("hold expired; seats released");
                metrics::count(Metric::HoldsExpired);
            }
            Applied::IntentSettledOtherwise => info!("paid before the hold lapsed; not expired"),
            Applied::AlreadyFinal(status) => info!(status = status.as_str(), "booking already ended"),
            // Clocks disagree by a little: look again shortly.
            Applied::NotDue => self.queue.schedule(expiry, Duration::from_secs(1)).await?,
            Applied::NoSuchBooking => return Err(ApplyError::UnknownBooking(expiry.booking_id.to_string())),
        }
        Ok(())
    }
}
