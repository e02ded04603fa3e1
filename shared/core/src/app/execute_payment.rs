//! `POST /payments/execute`: charge the booking through the (simulated) gateway and record the outcome
//! on its payment intent together with the event that publishes it.

use std::sync::Arc;

use tracing::{info, Instrument};

use super::FlowError;
use super::Idempotency;
use crate::domain::payment::{self, Cvv, PaymentEvent, PaymentEventType, PaymentMethodToken, PgResult};
use crate::domain::{Booking, BookingId, BookingStatus, Clock, EventId, IntentStatus, UserId};
use crate::idempotency::Remember;
use crate::metrics::{self, Metric};
use crate::ports::{Bookings, Consistency, GatewayCallback, IdempotencyKeys, PaymentOutcome, Payments, RecordError};
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

/// The execute-payment use case, with everything it needs.
pub struct ExecutePayment<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    gateway: Gateway,
}

impl<S: IdempotencyKeys> ExecutePayment<S> {
    /// The idempotency keys of this route.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency::new(self.store.as_ref(), self.clock.as_ref())
    }
}

impl<S: Bookings + Payments> ExecutePayment<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, gateway: Gateway) -> Self {
        Self { store, clock, gateway }
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
            .booking(&request.booking_id, Consistency::Strong)
            .await?
            .filter(|b| &b.user_id == user)
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
        let pg = payment::charge(&request.token, &request.cvv, now);
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
        let outcome = PaymentOutcome {
            payment_intent_id: booking.payment_intent_id.clone(),
            status,
            pg,
            event,
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
                    self.call_back_later(&booking, &outcome.pg);
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
    fn call_back_later(&self, booking: &Booking, pg: &PgResult) {
        let Gateway::Simulated(callback) = &self.gateway else {
            info!("payment processing: the gateway will notify its outcome");
            return;
        };
        let Some(charge_id) = pg.charge_id.clone() else {
            return;
        };
        callback.deliver_later(Notification {
            id: EventId::for_gateway(),
            kind: NotificationType::PaymentSucceeded,
            created: self.clock.now().as_millis() / 1000,
            data: NotificationData {
                booking_id: booking.booking_id.clone(),
                charge_id,
                amount: booking.total.amount,
                currency: booking.total.currency.clone(),
                failure_code: None,
            },
        });
    }
}
