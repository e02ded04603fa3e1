//! The asynchronous worker's use case: applies each payment event of the events inbox. Delivery is at
//! least once, so applying an event twice must change nothing: every write here is conditional on the
//! booking still being `pending`, and a second delivery finds it final.

use std::sync::Arc;

use tracing::{info, warn};

use super::ApplyError;
use crate::domain::ledger;
use crate::domain::payment::{PaymentEvent, PaymentEventType};
use crate::domain::{
    BookingId, BookingStatus, Clock, EventId, IntentStatus, Money, PaymentIntentId, PerformanceId, SeatId, Timestamp,
};
use crate::metrics::{self, Metric};
use crate::ports::{Applied, Bookings, Consistency, Payments, RefundOwed, Release, Settlement, Settlements};
use crate::webhook::{NotificationType, StoredNotification};

/// An event of the inbox, as the worker applies it.
#[derive(Clone, Debug)]
pub enum InboxEvent {
    /// A payment outcome the gateway answered at once, written with the intent's new status.
    Payment(PaymentEvent),
    /// A gateway notification (an asynchronous outcome), received by the webhook.
    Notification(StoredNotification),
}

impl InboxEvent {
    pub fn event_id(&self) -> &EventId {
        match self {
            Self::Payment(e) => &e.event_id,
            Self::Notification(n) => &n.event_id,
        }
    }

    pub fn booking_id(&self) -> &BookingId {
        match self {
            Self::Payment(e) => &e.booking_id,
            Self::Notification(n) => &n.booking_id,
        }
    }
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

/// The settle-events use case.
pub struct SettleEvents<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
}

impl<S: Bookings + Payments + Settlements> SettleEvents<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
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
                    performance_id: &event.performance_id,
                    seat_ids: &event.seat_ids,
                    amount: &event.amount,
                    succeeded: event.event_type == PaymentEventType::PaymentSucceeded,
                    intent: None,
                };
                self.settle_or_release(outcome).await
            }
            InboxEvent::Notification(notification) => self.apply_notification(notification).await,
        }
    }

    /// A gateway notification names only the booking, which is read first; the payment intent moves
    /// in the same transaction as the booking (from `processing`, or from `pending` for a payment the
    /// gateway took by itself). A notification for a booking that does not exist is parked on first
    /// sight (kept in the inbox with a note, and counted), not retried: no retry can make it apply, and
    /// retrying it would hold up the records behind it.
    async fn apply_notification(&self, notification: &StoredNotification) -> Result<(), ApplyError> {
        let Some(booking) = self
            .store
            .booking(&notification.booking_id, Consistency::Strong)
            .await?
        else {
            warn!("notification for a booking that does not exist; parked");
            metrics::count(Metric::NotificationsParked);
            let note = format!("PARKED: booking {} does not exist", notification.booking_id);
            self.store
                .annotate_event(&notification.event_id, &note, self.clock.now())
                .await?;
            return Ok(());
        };
        // A notification confirms or fails only the charge the booking's intent recorded, for what it
        // asked: a signed notification about another charge, or none, changes nothing.
        let intent = self.store.payment_intent(&booking.payment_intent_id).await?;
        let mismatch = match &intent {
            Some(intent) => intent.mismatch(&notification.charge_id, &notification.amount),
            None => Some("the booking has no payment intent".to_owned()),
        };
        if let Some(why) = mismatch {
            warn!(why = %why, "notification does not match the booking's charge; not applied");
            metrics::count(Metric::NotificationMismatches);
            let note = format!("NOTIFICATION_MISMATCH: {why}");
            self.store
                .annotate_event(&notification.event_id, &note, self.clock.now())
                .await?;
            return Ok(());
        }
        let outcome = Outcome {
            event_id: &notification.event_id,
            booking_id: &booking.booking_id,
            performance_id: &booking.performance_id,
            seat_ids: &booking.seat_ids,
            amount: &booking.total,
            succeeded: notification.notification_type == NotificationType::PaymentSucceeded,
            intent: Some(&booking.payment_intent_id),
        };
        self.settle_or_release(outcome).await
    }

    async fn settle_or_release(&self, o: Outcome<'_>) -> Result<(), ApplyError> {
        let at = self.clock.now();
        let (applied, target) = if o.succeeded {
            let settlement = Settlement {
                booking_id: o.booking_id.clone(),
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
                performance_id: o.performance_id.clone(),
                seat_ids: o.seat_ids.to_vec(),
                to: BookingStatus::Failed,
                at,
                intent: o.intent.map(|id| (id.clone(), IntentStatus::Failed)),
            };
            (self.store.release(&release).await?, BookingStatus::Failed)
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
            Applied::NoSuchBooking => return Err(ApplyError::UnknownBooking(o.booking_id.to_string())),
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

    /// Money taken for a booking that did not get its seats: booked as owed back at once (a balanced
    /// transaction into `REFUNDS_PAYABLE`), with the note on its event; once, however often delivered.
    async fn owe_refund(&self, o: &Outcome<'_>, note: String, at: Timestamp) -> Result<(), ApplyError> {
        let owed = RefundOwed {
            entries: ledger::refund_owed(o.booking_id, o.amount, o.event_id, at),
            event_id: o.event_id.clone(),
            note,
            at,
        };
        if self.store.owe_refund(&owed).await? {
            warn!(note = %owed.note, amount = o.amount.amount, "payment taken for an ended booking; refund owed");
            metrics::count(Metric::RefundsOwed);
        } else {
            info!("refund owed already booked");
        }
        Ok(())
    }
}
