//! Asking the gateway for a booking's refund, and following it up until it succeeds. An attempt's answer
//! is published into the events inbox (`REFUND_SUCCEEDED` / `REFUND_FAILED`, under an id that follows
//! from the refund and the attempt, so an attempt asked twice is published once), and the worker applies
//! it. Every attempt schedules a follow-up on the delay queue: when it comes due (`ExpireHolds`), an
//! open refund is asked again, the next attempt after a declined one, with a doubling backoff.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::ApplyError;
use crate::domain::refund::{self, backoff_seconds, RefundEvent};
use crate::domain::{Booking, BookingId, Clock, UserId};
use crate::metrics::{self, Metric};
use crate::ports::{ExpiryQueue, HoldExpiry, Inbox, Payments, QueueError};

/// Asks for refunds and follows them up.
pub struct Refunder<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    follow_ups: Arc<dyn ExpiryQueue>,
}

impl<S> Clone for Refunder<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            follow_ups: Arc::clone(&self.follow_ups),
        }
    }
}

impl<S: Payments + Inbox> Refunder<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, follow_ups: Arc<dyn ExpiryQueue>) -> Self {
        Self {
            store,
            clock,
            follow_ups,
        }
    }

    /// Has `booking` looked at again after `delay`: an open refund is then asked again. Scheduled
    /// before the write that asks for a refund, so that no refund is asked without a follow-up.
    pub async fn follow_up(&self, booking: &Booking, delay: Duration) -> Result<(), QueueError> {
        self.follow_up_booking(&booking.user_id, &booking.booking_id, delay)
            .await
    }

    /// [`Refunder::follow_up`] of `user`'s booking `id`.
    pub async fn follow_up_booking(&self, user: &UserId, id: &BookingId, delay: Duration) -> Result<(), QueueError> {
        let expiry = HoldExpiry {
            booking_id: id.clone(),
            user_id: user.clone(),
        };
        self.follow_ups.schedule(&expiry, delay).await
    }

    /// Asks the gateway for the next attempt of `booking`'s open refund (the one after the attempts
    /// applied so far), publishes the answer, and schedules the follow-up. A booking with no open
    /// refund needs nothing.
    pub async fn attempt(&self, booking: &Booking) -> Result<(), ApplyError> {
        let Some(asked) = booking.refund.as_ref().filter(|r| r.is_open()) else {
            return Ok(());
        };
        let intent = self
            .store
            .payment_intent(&booking.payment_intent_id)
            .await?
            .ok_or_else(|| ApplyError::Malformed(format!("booking {} has no payment intent", booking.booking_id)))?;
        let attempt = asked.attempts + 1;
        let answer = refund::refund(intent.pg_mock_data.as_ref(), attempt);
        let event = RefundEvent::of(booking, asked, attempt, &answer, self.clock.now());
        if self.store.put_event(&event.event_id, &event).await? {
            info!(refund_id = %asked.refund_id, attempt, answer = ?event.event_type, "refund asked of the gateway");
            metrics::count(Metric::RefundsAsked);
        }
        // Whatever the answer, look again later: a decline is tried again, a success not applied yet
        // (the worker down) is asked again and published once.
        let delay = Duration::from_secs(backoff_seconds(attempt));
        if let Err(e) = self.follow_ups.schedule(&HoldExpiry::for_booking(booking), delay).await {
            warn!(error = %e, "refund follow-up not scheduled");
            return Err(e.into());
        }
        Ok(())
    }
}
