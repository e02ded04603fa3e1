//! `POST /bookings/{bookingId}/cancel`: the customer's way back. A booking not paid yet is cancelled at
//! once (its seats freed, its intent cancelled, in one transaction a payment cannot also pass); a paid
//! one is cancelled, its seats put back on sale and its refund asked, in one transaction, and the
//! gateway is asked for the refund at once ([`Refunder`]). Until `CANCEL_CUTOFF_HOURS` before the
//! performance starts.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn, Instrument};

use super::performance_cache::PerformanceCache;
use super::refunds::Refunder;
use super::{FlowError, Idempotency};
use crate::domain::refund::Refund;
use crate::domain::{ledger, Booking, BookingId, BookingStatus, Clock, IntentStatus, UserId};
use crate::idempotency::Remember;
use crate::metrics::{self, Metric};
use crate::ports::{
    Applied, Bookings, Cancellation, Consistency, IdempotencyKeys, Inbox, Payments, Performances, Refunds, Release,
    Settlements,
};

/// How long a cancellation waits for a payment already taken to be confirmed (then it is cancelled and
/// refunded), checking this often.
const CONFIRMATION_WAIT: Duration = Duration::from_secs(5);
const CONFIRMATION_POLL: Duration = Duration::from_millis(100);

/// When a refund asked for is looked at again, should its first attempt never be made.
pub(super) const FOLLOW_UP: Duration = Duration::from_secs(30);

/// Until when before a performance starts its bookings may be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelPolicy {
    pub cutoff: Duration,
}

impl Default for CancelPolicy {
    fn default() -> Self {
        Self {
            cutoff: Duration::from_secs(24 * 3600),
        }
    }
}

/// The cancel-booking use case.
pub struct CancelBooking<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    performances: Arc<PerformanceCache<S>>,
    canceller: Canceller<S>,
    policy: CancelPolicy,
}

impl<S: IdempotencyKeys> CancelBooking<S> {
    /// The idempotency keys of this route.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency::new(self.store.as_ref(), self.clock.as_ref())
    }
}

impl<S: Bookings + Payments + Settlements + Refunds + Inbox + Performances> CancelBooking<S> {
    pub fn new(
        store: Arc<S>,
        clock: Arc<dyn Clock>,
        performances: Arc<PerformanceCache<S>>,
        refunder: Refunder<S>,
        policy: CancelPolicy,
    ) -> Self {
        let canceller = Canceller::new(Arc::clone(&store), Arc::clone(&clock), refunder);
        Self {
            store,
            clock,
            performances,
            canceller,
            policy,
        }
    }

    /// Cancels `user`'s booking `id`; the booking as it ends. With `remember`, the request's
    /// idempotency key is claimed and completed in the cancellation's transaction.
    pub async fn cancel(
        &self,
        user: &UserId,
        id: &BookingId,
        remember: Option<Remember<'_, Booking>>,
    ) -> Result<Booking, FlowError> {
        let span = tracing::info_span!("cancel_booking", booking_id = %id);
        self.cancel_traced(user, id, remember.as_ref()).instrument(span).await
    }

    async fn cancel_traced(
        &self,
        user: &UserId,
        id: &BookingId,
        remember: Option<&Remember<'_, Booking>>,
    ) -> Result<Booking, FlowError> {
        let started = std::time::Instant::now();
        loop {
            let booking = self
                .store
                .booking(user, id, Consistency::Strong)
                .await?
                .ok_or(FlowError::BookingNotFound)?;
            if matches!(
                booking.status,
                BookingStatus::Cancelled | BookingStatus::Failed | BookingStatus::Expired
            ) {
                return Err(FlowError::NotCancellable(booking.status));
            }
            self.check_cutoff(&booking).await?;
            let attempt = match booking.status {
                BookingStatus::Confirmed => self.canceller.cancel_paid(&booking, remember).await?,
                _ => self.canceller.cancel_unpaid(&booking, remember).await?,
            };
            match attempt {
                Some(cancelled) => return Ok(cancelled),
                // Paid, and about to be confirmed (or just moved): look again shortly.
                None if started.elapsed() < CONFIRMATION_WAIT => tokio::time::sleep(CONFIRMATION_POLL).await,
                None => return Err(FlowError::PaymentSettling),
            }
        }
    }

    /// No cancellation after the performance's cutoff (a performance unknown here has none).
    async fn check_cutoff(&self, booking: &Booking) -> Result<(), FlowError> {
        let Some(perf) = self.performances.for_view(&booking.performance_id).await? else {
            return Ok(());
        };
        let cutoff = i64::try_from(self.policy.cutoff.as_millis()).unwrap_or(i64::MAX);
        let closes = perf.record.starts_at.as_millis().saturating_sub(cutoff);
        if self.clock.now().as_millis() >= closes {
            return Err(FlowError::CancellationClosed);
        }
        Ok(())
    }
}

/// Cancels one booking, for its customer or for a cancelled show.
pub(super) struct Canceller<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    refunder: Refunder<S>,
}

impl<S: Bookings + Payments + Settlements + Refunds + Inbox> Canceller<S> {
    pub(super) fn new(store: Arc<S>, clock: Arc<dyn Clock>, refunder: Refunder<S>) -> Self {
        Self { store, clock, refunder }
    }

    /// A pending booking: cancelled with its intent, if nobody has paid it. `None` when its payment is
    /// settling (paid: the worker confirms it in a moment; then it is cancelled as paid).
    pub(super) async fn cancel_unpaid(
        &self,
        booking: &Booking,
        remember: Option<&Remember<'_, Booking>>,
    ) -> Result<Option<Booking>, FlowError> {
        let intent = self
            .store
            .payment_intent(&booking.payment_intent_id)
            .await?
            .ok_or(FlowError::BookingNotFound)?;
        match intent.status {
            IntentStatus::Pending => {}
            IntentStatus::Processing => return Err(FlowError::PaymentInProgress),
            // Paid (the worker is about to confirm), or declined or lapsed (about to end).
            IntentStatus::Succeeded | IntentStatus::Failed | IntentStatus::Cancelled => return Ok(None),
        }
        let now = self.clock.now();
        let cancelled = Booking {
            status: BookingStatus::Cancelled,
            updated_at: now,
            ..booking.clone()
        };
        let release = Release {
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
            counted: booking.seats_counted,
            performance_id: booking.performance_id.clone(),
            seat_ids: booking.seat_ids.clone(),
            to: BookingStatus::Cancelled,
            at: now,
            intent: Some((booking.payment_intent_id.clone(), IntentStatus::Cancelled)),
            idempotency: remember.map(|r| r.completion(&cancelled)),
        };
        match self.store.release(&release).await? {
            Applied::Done => {
                info!("pending booking cancelled; its seats are free");
                metrics::count(Metric::BookingsCancelled);
                Ok(Some(cancelled))
            }
            Applied::NoSuchBooking => Err(FlowError::BookingNotFound),
            Applied::KeyTaken => Err(FlowError::KeyTaken),
            // It moved (paid, confirmed, failed) in the meantime: read it again.
            Applied::AlreadyFinal(_) | Applied::IntentSettledOtherwise | Applied::NotDue => Ok(None),
        }
    }

    /// A confirmed booking: cancelled, its seats back on sale, its refund asked; then the gateway is
    /// asked for it (a failure there is followed up by the delay queue).
    pub(super) async fn cancel_paid(
        &self,
        booking: &Booking,
        remember: Option<&Remember<'_, Booking>>,
    ) -> Result<Option<Booking>, FlowError> {
        // Before the write that asks for the refund: a crash after it cannot leave the refund unasked.
        self.refunder.follow_up(booking, FOLLOW_UP).await?;
        let now = self.clock.now();
        let refund = Refund::new(
            booking.total.clone(),
            &ledger::capture_transaction_id(&booking.booking_id),
            now,
        );
        let cancelled = Booking {
            status: BookingStatus::Cancelled,
            updated_at: now,
            refund: Some(refund.clone()),
            ..booking.clone()
        };
        let cancellation = Cancellation {
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
            counted: booking.seats_counted,
            performance_id: booking.performance_id.clone(),
            seat_ids: booking.seat_ids.clone(),
            refund: refund.clone(),
            at: now,
            idempotency: remember.map(|r| r.completion(&cancelled)),
        };
        match self.store.cancel_paid(&cancellation).await? {
            Applied::Done => {}
            Applied::NoSuchBooking => return Err(FlowError::BookingNotFound),
            Applied::KeyTaken => return Err(FlowError::KeyTaken),
            _ => return Ok(None),
        }
        info!(refund_id = %refund.refund_id, "paid booking cancelled; its seats are back on sale");
        metrics::count(Metric::BookingsCancelled);
        if let Err(e) = self.refunder.attempt(&cancelled).await {
            warn!(error = %e, "refund not asked yet; its follow-up asks again");
        }
        Ok(Some(cancelled))
    }
}
