//! `POST /payments/execute`: charge the booking through the (simulated) gateway and record the outcome
//! on its payment intent together with the event that publishes it.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn, Instrument};

use super::FlowError;
use super::Idempotency;
use crate::domain::payment::{self, Cvv, PaymentEvent, PaymentEventType, PaymentMethodToken, PgResult};
use crate::domain::{Booking, BookingId, BookingStatus, Clock, EventId, IntentStatus, Timestamp, UserId};
use crate::idempotency::Remember;
use crate::metrics::{self, Metric};
use crate::ports::{
    Bookings, Consistency, GatewayCallback, HeldLocks, IdempotencyKeys, PaymentOutcome, Payments, RecordError,
};
use crate::webhook::{Notification, NotificationData, NotificationType};

/// A customer's payment request, parsed.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    pub booking_id: BookingId,
    pub token: PaymentMethodToken,
    pub cvv: Cvv,
}

/// Who tells the outcome of a payment the gateway answered "processing".
pub enum Gateway {
    /// A real gateway notifies `POST /webhooks/pg` by itself.
    Notifies,
    /// The simulated gateway: its callback delivers the notification.
    Simulated(Arc<dyn GatewayCallback>),
}

/// How long a charge the gateway is processing may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessingPolicy {
    /// From the payment: then the charge is reconciled by asking the gateway where it stands.
    pub timeout: Duration,
    /// From the payment: then a charge still unresolved is voided, its booking fails and its seats
    /// are freed.
    pub deadline: Duration,
    /// How long the simulated gateway takes to resolve a CVV 777 charge.
    pub simulated_delay: Duration,
}

impl Default for ProcessingPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(900),
            deadline: Duration::from_secs(3600),
            simulated_delay: Duration::from_secs(1),
        }
    }
}

impl ProcessingPolicy {
    /// `processed_at` plus `span`.
    pub fn after(processed_at: Timestamp, span: Duration) -> Timestamp {
        let millis = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_millis(processed_at.as_millis().saturating_add(millis))
    }
}

/// The execute-payment use case, with everything it needs.
pub struct ExecutePayment<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    gateway: Gateway,
    policy: ProcessingPolicy,
}

impl<S: IdempotencyKeys> ExecutePayment<S> {
    /// The idempotency keys of this route.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency::new(self.store.as_ref(), self.clock.as_ref())
    }
}

impl<S: Bookings + Payments> ExecutePayment<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, gateway: Gateway, policy: ProcessingPolicy) -> Self {
        Self {
            store,
            clock,
            gateway,
            policy,
        }
    }

    /// Charges the booking and records the outcome on its payment intent together with the event that
    /// publishes it. Only the booking's owner may pay it. With `remember`, the request's idempotency
    /// key is completed with the response in the same transaction.
    pub async fn pay(
        &self,
        user: &UserId,
        request: PaymentRequest,
        remember: Option<Remember<'_, (Booking, PgResult)>>,
    ) -> Result<(Booking, PgResult), FlowError> {
        let span = tracing::info_span!("execute_payment", booking_id = %request.booking_id);
        self.charge(user, request, remember.as_ref()).instrument(span).await
    }

    async fn charge(
        &self,
        user: &UserId,
        request: PaymentRequest,
        remember: Option<&Remember<'_, (Booking, PgResult)>>,
    ) -> Result<(Booking, PgResult), FlowError> {
        let booking = self
            .store
            .booking(user, &request.booking_id, Consistency::Strong)
            .await?
            .ok_or(FlowError::BookingNotFound)?;
        match booking.status {
            BookingStatus::Pending => {}
            BookingStatus::Expired => return Err(FlowError::HoldExpired),
            status => return Err(FlowError::BookingNotPending(status)),
        }
        let now = self.clock.now();
        if now >= booking.hold_expires_at {
            return Err(FlowError::HoldExpired);
        }
        let pg = payment::charge(&request.token, &request.cvv, now, self.policy.simulated_delay);
        let (status, event_type) = match pg.is_success {
            Some(true) => (IntentStatus::Succeeded, Some(PaymentEventType::PaymentSucceeded)),
            Some(false) => (IntentStatus::Failed, Some(PaymentEventType::PaymentFailed)),
            None => (IntentStatus::Processing, None),
        };
        let event = event_type.map(|event_type| {
            PaymentEvent::of(
                &booking,
                event_type,
                pg.failure_code.clone(),
                now,
                PaymentEvent::SOURCE_PG_SIMULATOR,
            )
        });
        let idempotency = remember.map(|r| r.completion(&(booking.clone(), pg.clone())));
        // While the gateway processes the charge, nobody may take the seats (it may still go through):
        // they stay locked until the processing deadline, or until the charge resolves.
        let locks_held_until = (status == IntentStatus::Processing).then(|| HeldLocks {
            booking_id: booking.booking_id.clone(),
            performance_id: booking.performance_id.clone(),
            seat_ids: booking.seat_ids.clone(),
            until: ProcessingPolicy::after(now, self.policy.deadline),
        });
        let outcome = PaymentOutcome {
            payment_intent_id: booking.payment_intent_id.clone(),
            status,
            pg,
            event,
            locks_held_until,
            idempotency,
        };
        match self.store.record_payment(&outcome, now).await {
            Ok(()) => {
                info!(status = status.as_str(), "payment recorded");
                metrics::count(match status {
                    IntentStatus::Succeeded => Metric::PaymentsSucceeded,
                    IntentStatus::Processing => Metric::PaymentsProcessing,
                    _ => Metric::PaymentsFailed,
                });
                if status == IntentStatus::Processing {
                    self.call_back_later(&booking, &outcome.pg).await;
                }
                Ok((booking, outcome.pg))
            }
            Err(RecordError::NotPayable(intent)) => Err(match intent.status {
                // Still pending, so the hold lapsed (or its seats went); cancelled means it expired.
                IntentStatus::Pending | IntentStatus::Cancelled => FlowError::HoldExpired,
                IntentStatus::Succeeded | IntentStatus::Processing => FlowError::AlreadyPaid,
                IntentStatus::Failed => FlowError::PaymentDeclined,
            }),
            Err(RecordError::NotFound) => Err(FlowError::BookingNotFound),
            Err(RecordError::KeyTaken) => Err(FlowError::KeyTaken),
            Err(RecordError::Store(e)) => Err(e.into()),
        }
    }

    /// Has the simulated gateway notify the outcome of a payment it is still processing.
    async fn call_back_later(&self, booking: &Booking, pg: &PgResult) {
        let Gateway::Simulated(callback) = &self.gateway else {
            info!("payment processing: the gateway will notify its outcome");
            return;
        };
        // A charge the simulator never resolves is never notified.
        let (Some(charge_id), Some(_)) = (pg.charge_id.clone(), pg.resolves_at) else {
            return;
        };
        let notification = Notification {
            id: EventId::for_gateway(),
            kind: NotificationType::PaymentSucceeded,
            created: self.clock.now().as_millis() / 1000,
            data: NotificationData {
                booking_id: booking.booking_id.clone(),
                charge_id,
                amount: booking.total.amount,
                currency: booking.total.currency.clone(),
                failure_code: None,
                refund_id: None,
            },
        };
        // The payment is recorded either way: a lost notification leaves the charge to the reconciliation.
        match callback.deliver_later(&notification).await {
            Ok(()) => info!(event_id = %notification.id, "gateway notification scheduled"),
            Err(e) => {
                warn!(error = %e, "gateway notification lost; the charge is reconciled at the processing timeout")
            }
        }
    }
}
