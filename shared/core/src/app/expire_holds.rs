//! Holds that lapse on time, and payments that cannot hang. Every new booking schedules its own expiry
//! on a delay queue (SQS in production, a timer task in `make run`) before its hold is written; when it
//! comes due, the booking becomes `expired`, its payment intent `cancelled` and its seats free, in one
//! transaction that a payment and an expiry cannot both pass. A lapsed lock is free for a new booking at
//! once anyway; the expiry tidies up after it.
//!
//! A booking whose charge the gateway is still processing is not expired: its expiry comes back until
//! the charge resolves. After the processing timeout (from the payment) the gateway is asked where the
//! charge stands, and its answer applied; a charge still unresolved at the processing deadline is voided:
//! the booking fails, its intent too, and its seats are freed.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::refunds::Refunder;
use super::{ApplyError, ProcessingPolicy};
use crate::domain::payment::{ChargeStatus, PaymentIntent};
use crate::domain::{ledger, Booking, BookingStatus, Clock, EventId, IntentStatus, Timestamp};
use crate::metrics::{self, Metric};
use crate::ports::{
    delay_until, Applied, Bookings, Consistency, ExpiryQueue, HoldExpiry, Inbox, Payments, Release, Settlement,
    Settlements,
};

/// How long to wait before looking again: until `due`, at most the queue's longest delay.
/// The expire-holds use case.
pub struct ExpireHolds<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    queue: Arc<dyn ExpiryQueue>,
    processing: ProcessingPolicy,
    refunder: Refunder<S>,
}

impl<S: Bookings + Payments + Settlements + Inbox> ExpireHolds<S> {
    pub fn new(
        store: Arc<S>,
        clock: Arc<dyn Clock>,
        queue: Arc<dyn ExpiryQueue>,
        processing: ProcessingPolicy,
    ) -> Self {
        let refunder = Refunder::new(Arc::clone(&store), Arc::clone(&clock), Arc::clone(&queue));
        Self {
            store,
            clock,
            queue,
            processing,
            refunder,
        }
    }

    /// Expires the booking if its hold has lapsed; re-enqueues the rest of a longer hold; reconciles or
    /// voids a charge the gateway has been processing too long.
    pub async fn expire_when_due(&self, expiry: &HoldExpiry) -> Result<(), ApplyError> {
        // Most holds end paid long before they lapse: one cheap read spares them a transaction that its
        // conditions would refuse. A stale read can only show an earlier status, and `pending` goes on
        // to the transaction, whose conditions decide.
        let read = match self
            .store
            .booking(&expiry.user_id, &expiry.booking_id, Consistency::Eventual)
            .await?
        {
            Some(booking) => Some(booking),
            // Written a moment ago, or never: only a consistent read tells.
            None => {
                self.store
                    .booking(&expiry.user_id, &expiry.booking_id, Consistency::Strong)
                    .await?
            }
        };
        let Some(booking) = read else {
            info!("no such booking: its hold was never written; nothing to expire");
            return Ok(());
        };
        // The same queue follows refunds up: one still open is asked again.
        if booking.refund.as_ref().is_some_and(|r| r.is_open()) {
            // The status read may be a moment old; the refund's attempts must be current.
            let current = self
                .store
                .booking(&expiry.user_id, &expiry.booking_id, Consistency::Strong)
                .await?;
            if let Some(booking) = current {
                self.refunder.attempt(&booking).await?;
            }
            return Ok(());
        }
        if booking.status.is_final() {
            info!(status = booking.status.as_str(), "booking already ended");
            return Ok(());
        }
        let now = self.clock.now();
        if now < booking.hold_expires_at {
            self.look_again(expiry, booking.hold_expires_at, now).await?;
            info!(due = %booking.hold_expires_at, "hold not lapsed yet; re-enqueued");
            return Ok(());
        }
        let release = Release {
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
            counted: booking.seats_counted,
            performance_id: booking.performance_id.clone(),
            seat_ids: booking.seat_ids.clone(),
            to: BookingStatus::Expired,
            at: now,
            intent: Some((booking.payment_intent_id.clone(), IntentStatus::Cancelled)),
            idempotency: None,
        };
        match self.store.release(&release).await? {
            Applied::Done => {
                info!("hold expired; seats released");
                metrics::count(Metric::HoldsExpired);
            }
            // Paid before the hold lapsed: settled by the payment's own event, or still processing.
            Applied::IntentSettledOtherwise => self.follow_the_charge(expiry, &booking, now).await?,
            Applied::AlreadyFinal(status) => info!(status = status.as_str(), "booking already ended"),
            // Clocks disagree by a little: look again shortly.
            Applied::NotDue => self.queue.schedule(expiry, Duration::from_secs(1)).await?,
            Applied::NoSuchBooking => return Err(ApplyError::UnknownBooking(expiry.booking_id.to_string())),
            // An expiry writes no key.
            Applied::KeyTaken => {}
        }
        Ok(())
    }

    /// A lapsed booking whose intent was paid: nothing to do unless the gateway is still processing
    /// the charge, which is reconciled after the timeout and voided at the deadline.
    async fn follow_the_charge(
        &self,
        expiry: &HoldExpiry,
        booking: &Booking,
        now: Timestamp,
    ) -> Result<(), ApplyError> {
        let intent = self.store.payment_intent(&booking.payment_intent_id).await?;
        let Some((intent, pg)) = intent.and_then(|i| i.pg_mock_data.clone().map(|pg| (i, pg))) else {
            info!("paid before the hold lapsed; not expired");
            return Ok(());
        };
        if intent.status != IntentStatus::Processing {
            info!(
                intent = intent.status.as_str(),
                "paid before the hold lapsed; not expired"
            );
            return Ok(());
        }
        let reconcile_at = ProcessingPolicy::after(pg.processed_at, self.processing.timeout);
        let void_at = ProcessingPolicy::after(pg.processed_at, self.processing.deadline);
        if now < reconcile_at {
            self.look_again(expiry, reconcile_at, now).await?;
            info!(due = %reconcile_at, "payment processing; looked at again at its timeout");
            return Ok(());
        }
        match pg.status_at(now) {
            ChargeStatus::Succeeded => self.reconciled(booking, &intent, true, now).await,
            ChargeStatus::Failed => self.reconciled(booking, &intent, false, now).await,
            ChargeStatus::Processing if now >= void_at => self.void(booking, &intent, now).await,
            ChargeStatus::Processing => {
                self.look_again(expiry, void_at, now).await?;
                info!(due = %void_at, "the gateway is still processing the charge; voided at its deadline");
                Ok(())
            }
        }
    }

    /// The gateway's answer to the status query, applied as its notification would have been.
    async fn reconciled(
        &self,
        booking: &Booking,
        intent: &PaymentIntent,
        succeeded: bool,
        now: Timestamp,
    ) -> Result<(), ApplyError> {
        let applied = if succeeded {
            let reference = EventId::for_gateway();
            self.store
                .settle(&Settlement {
                    booking_id: booking.booking_id.clone(),
                    user_id: booking.user_id.clone(),
                    performance_id: booking.performance_id.clone(),
                    seat_ids: booking.seat_ids.clone(),
                    entries: ledger::capture(&booking.booking_id, &intent.amount, &reference, now),
                    at: now,
                    intent: Some(intent.payment_intent_id.clone()),
                })
                .await?
        } else {
            self.fail(booking, intent, now).await?
        };
        info!(succeeded, applied = ?applied, "processing charge reconciled with the gateway");
        metrics::count(Metric::PaymentsReconciled);
        Ok(())
    }

    /// A charge the gateway never resolved: the booking fails, its intent too, its seats are freed.
    async fn void(&self, booking: &Booking, intent: &PaymentIntent, now: Timestamp) -> Result<(), ApplyError> {
        let applied = self.fail(booking, intent, now).await?;
        warn!(applied = ?applied, "charge unresolved at the processing deadline; voided, seats freed");
        metrics::count(Metric::PaymentsVoided);
        Ok(())
    }

    /// The booking and its intent failed, its seats freed, at once.
    async fn fail(&self, booking: &Booking, intent: &PaymentIntent, now: Timestamp) -> Result<Applied, ApplyError> {
        let release = Release {
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
            counted: booking.seats_counted,
            performance_id: booking.performance_id.clone(),
            seat_ids: booking.seat_ids.clone(),
            to: BookingStatus::Failed,
            at: now,
            intent: Some((intent.payment_intent_id.clone(), IntentStatus::Failed)),
            idempotency: None,
        };
        Ok(self.store.release(&release).await?)
    }

    async fn look_again(&self, expiry: &HoldExpiry, due: Timestamp, now: Timestamp) -> Result<(), ApplyError> {
        self.queue.schedule(expiry, delay_until(due, now)).await?;
        Ok(())
    }
}
