//! Refunds: money given back for a booking that was paid and did not keep its seats (a customer
//! cancelled it, or the payment succeeded after the booking ended). A refund is asked of the gateway,
//! whose answer is an event of the inbox; the worker applies it. A succeeded refund is a new ledger
//! transaction reversing the one that took the money; nothing written is ever edited.

use serde::{Deserialize, Serialize};

use super::payment::PgResult;
use super::{Booking, BookingId, EventId, Money, Timestamp, UserId};

/// Where a refund stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundStatus {
    /// Asked of the gateway; its answer is not applied yet.
    Pending,
    /// The money is back with the customer, and the reversal is in the ledger.
    Succeeded,
    /// The gateway declined the last attempt; the refund is tried again.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// A booking's refund, kept on the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub refund_id: String,
    pub amount: Money,
    pub status: RefundStatus,
    /// How many attempts the gateway has answered (their events applied).
    pub attempts: u32,
    /// The ledger transaction the refund reverses: the capture, or the refund owed.
    pub reverses: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    pub requested_at: Timestamp,
}

impl Refund {
    /// A new refund of `amount`, reversing the ledger transaction `reverses`; its id follows from
    /// what it reverses, so one transaction is refunded once.
    pub fn new(amount: Money, reverses: &str, at: Timestamp) -> Self {
        Self {
            refund_id: format!("re_{}", reverses.trim_start_matches("txn_")),
            amount,
            status: RefundStatus::Pending,
            attempts: 0,
            reverses: reverses.to_owned(),
            failure_code: None,
            requested_at: at,
        }
    }

    /// Whether the refund still has to be asked for.
    pub fn is_open(&self) -> bool {
        self.status != RefundStatus::Succeeded
    }
}

/// How long to wait before attempt `attempt + 1` after attempt `attempt` failed: 5 s, doubling, at most
/// 15 minutes.
pub fn backoff_seconds(attempt: u32) -> u64 {
    5u64.saturating_mul(1 << attempt.min(8)).min(900)
}

/// The simulated gateway's answer to a refund attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundAnswer {
    Succeeded,
    Declined(String),
}

/// The simulated gateway refunds money it took: the refunds of a charge paid with CVV `445` are
/// declined (`REFUND_DECLINED`) on their first attempt and succeed on the next; any other refund (of a
/// charge this service never recorded too) succeeds at once.
pub fn refund(charge: Option<&PgResult>, attempt: u32) -> RefundAnswer {
    if attempt <= charge.map_or(0, |c| c.refund_declines) {
        RefundAnswer::Declined("REFUND_DECLINED".to_owned())
    } else {
        RefundAnswer::Succeeded
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundEventType {
    RefundSucceeded,
    RefundFailed,
}

/// A refund attempt's outcome, as published into the `events` inbox; its id follows from the refund
/// and the attempt, so an attempt is published once however often it is asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundEvent {
    pub event_id: EventId,
    #[serde(rename = "type")]
    pub event_type: RefundEventType,
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub refund_id: String,
    pub attempt: u32,
    pub amount: Money,
    /// The ledger transaction the refund reverses.
    pub reverses: String,
    pub failure_code: Option<String>,
    pub occurred_at: Timestamp,
}

impl RefundEvent {
    /// The inbox's `type` values of refund events.
    pub const TYPES: [&'static str; 2] = ["REFUND_SUCCEEDED", "REFUND_FAILED"];

    /// The refund this event answers, as its booking keeps it.
    pub fn refund(&self) -> Refund {
        Refund {
            refund_id: self.refund_id.clone(),
            amount: self.amount.clone(),
            status: RefundStatus::Pending,
            attempts: self.attempt,
            reverses: self.reverses.clone(),
            failure_code: None,
            requested_at: self.occurred_at,
        }
    }

    pub fn of(booking: &Booking, refund: &Refund, attempt: u32, answer: &RefundAnswer, at: Timestamp) -> Self {
        let (event_type, failure_code) = match answer {
            RefundAnswer::Succeeded => (RefundEventType::RefundSucceeded, None),
            RefundAnswer::Declined(code) => (RefundEventType::RefundFailed, Some(code.clone())),
        };
        let id = format!("evt_{}_{attempt}", refund.refund_id);
        Self {
            event_id: EventId::try_from(id).unwrap_or_else(|_| EventId::generate()),
            event_type,
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
            refund_id: refund.refund_id.clone(),
            attempt,
            amount: refund.amount.clone(),
            reverses: refund.reverses.clone(),
            failure_code,
            occurred_at: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn pg(refund_declines: u32) -> PgResult {
        PgResult {
            charge_id: None,
            is_success: Some(true),
            failure_code: None,
            processed_at: Timestamp::from_millis(0),
            resolves_at: None,
            refund_declines,
        }
    }

    #[test]
    fn a_refund_is_named_after_what_it_reverses_and_declined_as_the_card_says() {
        let money = Money::new(60_000, Currency::try_from("KRW".to_owned()).expect("valid"));
        let asked = Refund::new(money, "txn_capture_b1", Timestamp::from_millis(0));
        assert_eq!(asked.refund_id, "re_capture_b1");
        assert_eq!(refund(Some(&pg(0)), 1), RefundAnswer::Succeeded);
        assert_eq!(
            refund(Some(&pg(1)), 1),
            RefundAnswer::Declined("REFUND_DECLINED".to_owned())
        );
        assert_eq!(refund(Some(&pg(1)), 2), RefundAnswer::Succeeded);
        assert_eq!(refund(None, 1), RefundAnswer::Succeeded);
        let id = BookingId::try_from("b1").expect("valid");
        let booking = Booking {
            payment_intent_id: id.payment_intent_id(),
            booking_id: id,
            user_id: UserId::try_from("u").expect("valid"),
            performance_id: crate::domain::PerformanceId::try_from("p").expect("valid"),
            quantity: crate::domain::Quantity::try_from(1).expect("valid"),
            seat_ids: vec![],
            status: crate::domain::BookingStatus::Cancelled,
            total: asked.amount.clone(),
            payment_method: crate::domain::PaymentMethod::CreditCard,
            created_at: Timestamp::from_millis(0),
            hold_expires_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            refund: Some(asked.clone()),
            seats_counted: false,
        };
        let event = RefundEvent::of(&booking, &asked, 2, &RefundAnswer::Succeeded, Timestamp::from_millis(0));
        assert_eq!(event.event_id.as_str(), "evt_re_capture_b1_2");
        assert_eq!(
            (backoff_seconds(1), backoff_seconds(2), backoff_seconds(30)),
            (10, 20, 900)
        );
    }
}
