//! The asynchronous worker's use case: applies each payment event of the events inbox. Delivery is at
//! least once, so applying an event twice must change nothing: every write here is conditional on the
//! booking still being `pending`, and a second delivery finds it final.

use std::sync::Arc;

use tracing::{info, warn};

use super::cancel_booking::{Canceller, FOLLOW_UP};
use super::refunds::Refunder;
use super::ApplyError;
use super::FlowError;
use crate::catalog::{CancellationProgress, PerformanceStatus, ShowCancellation};
use crate::domain::ledger;
use crate::domain::payment::{PaymentEvent, PaymentEventType};
use crate::domain::refund::{Refund, RefundAnswer, RefundEvent, RefundEventType};
use crate::domain::{
    BookingId, BookingStatus, ChargeId, Clock, EventId, IntentStatus, Money, PaymentIntentId, PerformanceId, SeatId,
    Timestamp, UserId,
};
use crate::metrics::{self, Metric};
use crate::ports::{
    Applied, Bookings, Consistency, ExpiryQueue, Inbox, Payments, Performances, RefundApplied, RefundOwed, Refunds,
    Release, SeatLocks, Settlement, Settlements,
};
use crate::webhook::{NotificationType, StoredNotification};

/// An event of the inbox, as the worker applies it.
#[derive(Clone, Debug)]
pub enum InboxEvent {
    /// A payment outcome the gateway answered at once, written with the intent's new status.
    Payment(PaymentEvent),
    /// A gateway notification (an asynchronous outcome), received by the webhook.
    Notification(StoredNotification),
    /// The gateway's answer to a refund attempt.
    Refund(RefundEvent),
    /// A batch of a cancelled performance's bookings to cancel.
    ShowCancelled(ShowCancellation),
}

impl InboxEvent {
    pub fn event_id(&self) -> &EventId {
        match self {
            Self::Payment(e) => &e.event_id,
            Self::Notification(n) => &n.event_id,
            Self::Refund(r) => &r.event_id,
            Self::ShowCancelled(s) => &s.event_id,
        }
    }

    /// The booking the event is about; none for a performance's.
    pub fn booking_id(&self) -> Option<&BookingId> {
        match self {
            Self::Payment(e) => Some(&e.booking_id),
            Self::Notification(n) => Some(&n.booking_id),
            Self::Refund(r) => Some(&r.booking_id),
            Self::ShowCancelled(_) => None,
        }
    }
}

/// How many of a cancelled show's bookings one event cancels.
const SHOW_BATCH: usize = 25;

/// What an inbox event asks of a booking.
struct Outcome<'a> {
    event_id: &'a EventId,
    booking_id: &'a BookingId,
    user_id: &'a UserId,
    performance_id: &'a PerformanceId,
    seat_ids: &'a [SeatId],
    /// The seats count toward the user's.
    counted: bool,
    amount: &'a Money,
    succeeded: bool,
    /// For a gateway notification: the payment intent moves with the booking.
    intent: Option<&'a PaymentIntentId>,
    /// The charge reported, when the event names it.
    charge: Option<&'a ChargeId>,
}

/// The settle-events use case.
pub struct SettleEvents<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    refunder: Refunder<S>,
    canceller: Canceller<S>,
}

impl<S: Bookings + Payments + Settlements + Refunds + Inbox + Performances + SeatLocks> SettleEvents<S> {
    /// `follow_ups` is the delay queue refunds are followed up on (the expiry queue).
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, follow_ups: Arc<dyn ExpiryQueue>) -> Self {
        let refunder = Refunder::new(Arc::clone(&store), Arc::clone(&clock), follow_ups);
        let canceller = Canceller::new(Arc::clone(&store), Arc::clone(&clock), refunder.clone());
        Self {
            store,
            clock,
            refunder,
            canceller,
        }
    }

    /// The clock events are applied by (the worker measures its lag with it).
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Applies one event: success confirms the booking, sells its seats and writes its ledger
    /// transaction; failure fails the booking and frees its seats.
    pub async fn apply(&self, event: &InboxEvent) -> Result<(), ApplyError> {
        match event {
            InboxEvent::Payment(event) => {
                let outcome = Outcome {
                    event_id: &event.event_id,
                    booking_id: &event.booking_id,
                    user_id: &event.user_id,
                    performance_id: &event.performance_id,
                    seat_ids: &event.seat_ids,
                    counted: event.seats_counted,
                    amount: &event.amount,
                    succeeded: event.event_type == PaymentEventType::PaymentSucceeded,
                    intent: None,
                    charge: None,
                };
                self.settle_or_release(outcome).await
            }
            InboxEvent::Notification(notification) => self.apply_notification(notification).await,
            InboxEvent::Refund(event) => self.apply_refund(event).await,
            InboxEvent::ShowCancelled(event) => self.cancel_show(event).await,
        }
    }

    /// One batch of a cancelled performance's bookings: each still holding seats (they are found by its
    /// seat locks, which a cancellation deletes, so a batch redelivered or cut short by a crash picks up
    /// where it stopped) is cancelled, a paid one refunded. The progress is recorded on the
    /// performance, and the next batch published while bookings remain.
    async fn cancel_show(&self, event: &ShowCancellation) -> Result<(), ApplyError> {
        let id = &event.performance_id;
        let Some(perf) = self.store.performance(id, Consistency::Strong).await? else {
            return self.note(&event.event_id, "IGNORED: no such performance").await;
        };
        if perf.status != PerformanceStatus::Cancelled {
            return self
                .note(&event.event_id, "IGNORED: the performance is not cancelled")
                .await;
        }
        let locks = self.store.seat_locks(id, Consistency::Strong).await?;
        let mut bookings: Vec<(UserId, BookingId)> = Vec::new();
        for lock in locks {
            if !bookings.iter().any(|(_, b)| b == &lock.booking_id) {
                bookings.push((lock.user_id, lock.booking_id));
            }
        }
        let (mut cancelled, mut refunded) = (0u64, 0u64);
        for (user_id, booking_id) in bookings.iter().take(SHOW_BATCH) {
            let Some(booking) = self.store.booking(user_id, booking_id, Consistency::Strong).await? else {
                continue;
            };
            let attempt = match booking.status {
                BookingStatus::Confirmed => self.canceller.cancel_paid(&booking, None).await,
                BookingStatus::Pending => self.canceller.cancel_unpaid(&booking, None).await,
                _ => Ok(None),
            };
            match attempt {
                Ok(Some(done)) => {
                    cancelled += 1;
                    refunded += u64::from(done.refund.is_some());
                }
                // Its payment is being processed or settled: a later batch takes it.
                Ok(None) | Err(FlowError::PaymentInProgress | FlowError::PaymentSettling) => {}
                Err(FlowError::Store(e)) => return Err(e.into()),
                Err(FlowError::Queue(e)) => return Err(e.into()),
                Err(other) => {
                    warn!(booking_id = %booking_id, error = %other, "booking of a cancelled show not cancelled")
                }
            }
        }
        let at = self.clock.now();
        let before = perf.cancellation.clone();
        let remaining = u64::try_from(bookings.len())
            .unwrap_or(u64::MAX)
            .saturating_sub(cancelled);
        let progress = CancellationProgress {
            bookings_cancelled: before.as_ref().map_or(0, |p| p.bookings_cancelled) + cancelled,
            refunds_asked: before.as_ref().map_or(0, |p| p.refunds_asked) + refunded,
            remaining,
            batches: before.as_ref().map_or(0, |p| p.batches) + 1,
            finished: remaining == 0,
            updated_at: at,
        };
        self.store.record_cancellation(id, &progress).await?;
        info!(performance_id = %id, cancelled, refunded, remaining, "a batch of a cancelled show's bookings");
        if remaining > 0 && cancelled > 0 {
            let next = event.next(at);
            self.store.put_event(&next.event_id, &next).await?;
        } else if remaining > 0 {
            let note = format!(
                "STALLED: {remaining} bookings hold seats with payments still being processed; each is cancelled when confirmed"
            );
            warn!(note = %note, "cancelled show not finished");
            self.note(&event.event_id, &note).await?;
        }
        Ok(())
    }

    /// A booking confirmed for a performance that was cancelled meanwhile: cancelled and refunded at once.
    /// One eventually consistent read per confirmation (half a read unit).
    async fn cancel_if_show_cancelled(
        &self,
        user_id: &UserId,
        booking_id: &BookingId,
        show: &PerformanceId,
    ) -> Result<(), ApplyError> {
        let cancelled = self
            .store
            .performance(show, Consistency::Eventual)
            .await?
            .is_some_and(|p| p.status == PerformanceStatus::Cancelled);
        if !cancelled {
            return Ok(());
        }
        let Some(booking) = self.store.booking(user_id, booking_id, Consistency::Strong).await? else {
            return Ok(());
        };
        warn!("confirmed for a cancelled show; cancelled and refunded");
        match self.canceller.cancel_paid(&booking, None).await {
            Ok(_) => Ok(()),
            Err(FlowError::Store(e)) => Err(e.into()),
            Err(FlowError::Queue(e)) => Err(e.into()),
            Err(other) => {
                warn!(error = %other, "not cancelled");
                Ok(())
            }
        }
    }

    /// A refund attempt's answer: a success books the reversal with it, once; a decline marks the
    /// refund failed (its follow-up asks again), unless a success or a later attempt came first.
    async fn apply_refund(&self, event: &RefundEvent) -> Result<(), ApplyError> {
        let at = self.clock.now();
        let applied = match event.event_type {
            RefundEventType::RefundSucceeded => RefundApplied::Succeeded {
                entries: Box::new(ledger::reversal(
                    &event.booking_id,
                    &event.refund(),
                    &event.event_id,
                    at,
                )),
            },
            RefundEventType::RefundFailed => RefundApplied::Declined {
                attempt: event.attempt,
                failure_code: event.failure_code.clone().unwrap_or_else(|| "REFUND_FAILED".to_owned()),
            },
        };
        let changed = self
            .store
            .apply_refund(&event.user_id, &event.booking_id, &event.refund_id, &applied, at)
            .await?;
        match (changed, &applied) {
            (true, RefundApplied::Succeeded { .. }) => {
                info!(refund_id = %event.refund_id, amount = event.amount.amount, "refund succeeded; reversal booked");
                metrics::count(Metric::RefundsSucceeded);
            }
            (true, RefundApplied::Declined { .. }) => {
                warn!(refund_id = %event.refund_id, attempt = event.attempt, "refund declined; it is tried again");
                metrics::count(Metric::RefundsDeclined);
            }
            (false, _) => info!(refund_id = %event.refund_id, "refund answer already applied or overtaken"),
        }
        Ok(())
    }

    /// A gateway notification names the booking and the charge; both are read first. A notification
    /// for a booking that does not exist is parked on first sight (kept in the inbox with a note, and
    /// counted), not retried: no retry can make it apply, and retrying it would hold up the records
    /// behind it. One about another charge, amount or currency than the intent's is noted and counted,
    /// never applied.
    ///
    /// Order cannot make the books wrong: the first outcome of a charge that is applied stands. The
    /// intent records it (at once, for a charge the gateway answered at once; with the first
    /// notification applied, for one it was processing). A notification that agrees with it settles
    /// the booking if that has not happened yet; one that contradicts it is noted and counted; a
    /// success reported for a charge that failed means money taken for a booking that will not get its
    /// seats, which is booked as owed back.
    async fn apply_notification(&self, notification: &StoredNotification) -> Result<(), ApplyError> {
        // The booking is found by its customer, whom its payment intent names.
        let intent = self
            .store
            .payment_intent(&notification.booking_id.payment_intent_id())
            .await?;
        let booking = match &intent {
            Some(intent) => {
                self.store
                    .booking(&intent.user_id, &notification.booking_id, Consistency::Strong)
                    .await?
            }
            None => None,
        };
        let (Some(booking), Some(intent)) = (booking, intent) else {
            warn!("notification for a booking that does not exist; parked");
            metrics::count(Metric::NotificationsParked);
            let note = format!("PARKED: booking {} does not exist", notification.booking_id);
            return self.note(&notification.event_id, &note).await;
        };
        if notification.notification_type.is_refund() {
            return self.apply_refund_notification(notification, &booking).await;
        }
        if let Some(why) = intent.mismatch(&notification.charge_id, &notification.amount) {
            warn!(why = %why, "notification does not match the booking's charge; not applied");
            metrics::count(Metric::NotificationMismatches);
            return self
                .note(&notification.event_id, &format!("NOTIFICATION_MISMATCH: {why}"))
                .await;
        }
        let succeeded = notification.notification_type == NotificationType::PaymentSucceeded;
        let outcome = Outcome {
            event_id: &notification.event_id,
            booking_id: &booking.booking_id,
            user_id: &booking.user_id,
            performance_id: &booking.performance_id,
            seat_ids: &booking.seat_ids,
            counted: booking.seats_counted,
            amount: &booking.total,
            succeeded,
            intent: Some(&booking.payment_intent_id),
            charge: Some(&notification.charge_id),
        };
        match (intent.status, succeeded) {
            // Still open: this notification is the charge's first outcome.
            (IntentStatus::Pending | IntentStatus::Processing, _) => self.settle_or_release(outcome).await,
            // Agrees with the outcome the intent records: the booking follows, if it has not yet.
            (IntentStatus::Succeeded, true) | (IntentStatus::Failed, false) => {
                self.settle_or_release(Outcome {
                    intent: None,
                    ..outcome
                })
                .await
            }
            (IntentStatus::Succeeded, false) => {
                warn!("a failure reported for a charge that succeeded; the success stands");
                metrics::count(Metric::NotificationContradictions);
                self.note(
                    &notification.event_id,
                    "CONTRADICTED: a failure reported for a charge that had succeeded; the success stands",
                )
                .await
            }
            // Money taken for a booking whose charge failed (or whose hold was cancelled): it does not
            // get its seats, so the money is owed back.
            (IntentStatus::Failed | IntentStatus::Cancelled, true) => {
                metrics::count(Metric::NotificationContradictions);
                let note = format!(
                    "REFUND_OWED: a success reported for a charge that was {}",
                    intent.status.as_str()
                );
                self.owe_refund(&outcome, note, self.clock.now()).await
            }
            (IntentStatus::Cancelled, false) => {
                self.note(
                    &notification.event_id,
                    "IGNORED: a failure reported for a cancelled charge",
                )
                .await
            }
        }
    }

    /// A refund's answer that a gateway sent later (`refund.succeeded` / `refund.failed`): applied as
    /// its answer at once would be, when it names the booking's refund, amount and currency.
    async fn apply_refund_notification(
        &self,
        notification: &StoredNotification,
        booking: &crate::domain::Booking,
    ) -> Result<(), ApplyError> {
        let ours = booking
            .refund
            .as_ref()
            .filter(|r| Some(&r.refund_id) == notification.refund_id.as_ref() && r.amount == notification.amount);
        let Some(refund) = ours else {
            warn!("refund notification does not match the booking's refund; not applied");
            metrics::count(Metric::NotificationMismatches);
            return self
                .note(
                    &notification.event_id,
                    "NOTIFICATION_MISMATCH: not the booking's refund, amount or currency",
                )
                .await;
        };
        let succeeded = notification.notification_type == NotificationType::RefundSucceeded;
        let answer = if succeeded {
            RefundAnswer::Succeeded
        } else {
            RefundAnswer::Declined(
                notification
                    .failure_code
                    .clone()
                    .unwrap_or_else(|| "REFUND_FAILED".to_owned()),
            )
        };
        let mut event = RefundEvent::of(booking, refund, refund.attempts + 1, &answer, self.clock.now());
        event.event_id = notification.event_id.clone();
        self.apply_refund(&event).await
    }

    async fn note(&self, event: &EventId, note: &str) -> Result<(), ApplyError> {
        self.store.annotate_event(event, note, self.clock.now()).await?;
        Ok(())
    }

    async fn settle_or_release(&self, o: Outcome<'_>) -> Result<(), ApplyError> {
        let at = self.clock.now();
        let (applied, target) = if o.succeeded {
            let settlement = Settlement {
                booking_id: o.booking_id.clone(),
                user_id: o.user_id.clone(),
                performance_id: o.performance_id.clone(),
                seat_ids: o.seat_ids.to_vec(),
                entries: ledger::capture(o.booking_id, o.amount, o.event_id, at),
                at,
                intent: o.intent.cloned(),
            };
            (self.store.settle(&settlement).await?, BookingStatus::Confirmed)
        } else {
            let release = Release {
                booking_id: o.booking_id.clone(),
                user_id: o.user_id.clone(),
                counted: o.counted,
                performance_id: o.performance_id.clone(),
                seat_ids: o.seat_ids.to_vec(),
                to: BookingStatus::Failed,
                at,
                intent: o.intent.map(|id| (id.clone(), IntentStatus::Failed)),
                idempotency: None,
            };
            (self.store.release(&release).await?, BookingStatus::Failed)
        };
        let note = match applied {
            Applied::Done => {
                info!(status = target.as_str(), "booking updated");
                if o.succeeded {
                    self.cancel_if_show_cancelled(o.user_id, o.booking_id, o.performance_id)
                        .await?;
                }
                return Ok(());
            }
            Applied::AlreadyFinal(status) if status == target => {
                info!(status = status.as_str(), "already applied");
                return Ok(());
            }
            Applied::NoSuchBooking => return Err(ApplyError::UnknownBooking(o.booking_id.to_string())),
            // The worker writes no key.
            Applied::KeyTaken => return Ok(()),
            // Confirmed by this success once, then cancelled by its customer (and refunded): a
            // redelivery, not money taken anew.
            Applied::AlreadyFinal(BookingStatus::Cancelled)
                if o.succeeded && self.was_captured(o.user_id, o.booking_id).await? =>
            {
                info!("already applied; the booking was confirmed, then cancelled");
                return Ok(());
            }
            Applied::AlreadyFinal(status) if o.succeeded => {
                let note = format!(
                    "REFUND_OWED: the payment succeeded after the booking was {}",
                    status.as_str()
                );
                return self.owe_refund(&o, note, at).await;
            }
            Applied::AlreadyFinal(status) => {
                format!("IGNORED: a payment failure for a booking already {}", status.as_str())
            }
            Applied::IntentSettledOtherwise if o.succeeded => {
                let note =
                    "REFUND_OWED: the gateway took the payment, but its intent had already been settled otherwise";
                return self.owe_refund(&o, note.to_owned(), at).await;
            }
            Applied::IntentSettledOtherwise => {
                "NOT_APPLIED: the payment intent had already been settled otherwise".to_owned()
            }
            Applied::NotDue => "NOT_APPLIED: unexpected answer to a settlement".to_owned(),
        };
        warn!(note = %note, "event recorded, not applied");
        self.store.annotate_event(o.event_id, &note, at).await?;
        Ok(())
    }

    /// Whether the booking's payment was captured: its refund reverses its capture (a confirmed booking
    /// cancelled later).
    async fn was_captured(&self, user: &UserId, booking: &BookingId) -> Result<bool, ApplyError> {
        let capture = ledger::capture_transaction_id(booking);
        Ok(self
            .store
            .booking(user, booking, Consistency::Strong)
            .await?
            .and_then(|b| b.refund)
            .is_some_and(|r| r.reverses == capture))
    }

    /// Money taken for a booking that did not get its seats: booked as owed back at once (a balanced
    /// transaction into `REFUNDS_PAYABLE`), with the note on its event, and its refund asked on the
    /// booking; once, however often delivered. Then the gateway is asked for the refund.
    async fn owe_refund(&self, o: &Outcome<'_>, note: String, at: Timestamp) -> Result<(), ApplyError> {
        // Once per charge, however many events report it; an event that names no charge, once.
        let reference = o.charge.map_or(o.event_id.as_str(), ChargeId::as_str);
        let entries = ledger::refund_owed(o.booking_id, o.amount, o.event_id, reference, at);
        let owed = RefundOwed {
            user_id: o.user_id.clone(),
            refund: Refund::new(o.amount.clone(), &entries[0].transaction_id, at),
            entries,
            event_id: o.event_id.clone(),
            note,
            at,
        };
        // Before the write that asks for the refund: it is followed up whatever happens next.
        self.refunder
            .follow_up_booking(o.user_id, o.booking_id, FOLLOW_UP)
            .await?;
        if self.store.owe_refund(&owed).await? {
            warn!(note = %owed.note, amount = o.amount.amount, "payment taken for an ended booking; refund owed");
            metrics::count(Metric::RefundsOwed);
        } else {
            info!("refund owed already booked");
        }
        if let Some(booking) = self.store.booking(o.user_id, o.booking_id, Consistency::Strong).await? {
            self.refunder.attempt(&booking).await?;
        }
        Ok(())
    }
}
