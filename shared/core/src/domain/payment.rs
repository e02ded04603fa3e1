//! Payment intents, the simulated payment gateway (PG) and the events a payment outcome publishes.

use super::{
    Booking, BookingId, ChargeId, EventId, IntentStatus, Money, PaymentIntentId, PaymentMethod, PerformanceId, SeatId,
    Timestamp, UserId,
};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The payment's own lifecycle, kept apart from the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentIntent {
    pub payment_intent_id: PaymentIntentId,
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub amount: Money,
    pub payment_method: PaymentMethod,
    pub status: IntentStatus,
    /// The booking's seat hold: the intent cannot be paid at or after this instant.
    #[serde(with = "super::millis")]
    pub hold_expires_at: Timestamp,
    /// Set when a lapsed hold's seats went to another booking: the intent can never be paid after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats_released_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_mock_data: Option<PgResult>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl PaymentIntent {
    /// The customer may be charged: the intent is pending, its hold has not lapsed and its seats were
    /// not given to anyone else.
    pub fn is_payable_at(&self, now: Timestamp) -> bool {
        self.status.is_payable() && now < self.hold_expires_at && self.seats_released_at.is_none()
    }

    /// Why a gateway's report of charge `charge` for `amount` is not about this intent's charge, if it
    /// is not: no charge was made, another charge, or another amount or currency than asked.
    pub fn mismatch(&self, charge: &ChargeId, amount: &Money) -> Option<String> {
        let ours = self.pg_mock_data.as_ref().and_then(|pg| pg.charge_id.as_ref());
        match ours {
            None => Some(format!("no charge was made for this booking, yet {charge} is reported")),
            Some(ours) if ours != charge => Some(format!("charge {charge} is not this booking's ({ours})")),
            Some(_) if amount != &self.amount => Some(format!(
                "{} {} reported, {} {} asked",
                amount.amount,
                amount.currency.as_str(),
                self.amount.amount,
                self.amount.currency.as_str()
            )),
            Some(_) => None,
        }
    }

    /// Another booking may take the seats of this intent's lapsed hold.
    pub fn lets_lapsed_seats_go_at(&self, now: Timestamp) -> bool {
        self.status.lets_lapsed_seats_go() && self.hold_expires_at <= now
    }
}

/// A card verification value: three or four digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvv(String);

impl std::fmt::Debug for Cvv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cvv(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cvv must be 3 or 4 digits")]
pub struct InvalidCvv;

impl TryFrom<&str> for Cvv {
    type Error = InvalidCvv;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if (3..=4).contains(&value.len()) && value.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidCvv)
        }
    }
}

/// A tokenised card as a PG hands it to the client: `tok_` followed by letters, digits or `_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentMethodToken(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("paymentMethodToken must look like tok_<letters, digits or _>, at most 64 characters")]
pub struct InvalidToken;

impl TryFrom<&str> for PaymentMethodToken {
    type Error = InvalidToken;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        let rest = value.strip_prefix("tok_").ok_or(InvalidToken)?;
        if !rest.is_empty() && value.len() <= 64 && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidToken)
        }
    }
}

/// What the simulated PG answered, stored on the intent and echoed to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PgResult {
    /// The gateway's id for the charge; its notifications about it name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<ChargeId>,
    /// `None` while the gateway is still processing: its answer comes later, as a notification.
    pub is_success: Option<bool>,
    pub failure_code: Option<String>,
    pub processed_at: Timestamp,
    /// For a charge the simulated gateway is processing: when it succeeds (and it notifies); none for
    /// one it never resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolves_at: Option<Timestamp>,
    /// How many refund attempts of this charge the simulated gateway declines before one succeeds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refund_declines: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The simulated payment gateway. It decides by CVV, like a PG's test cards:
///
/// | CVV | outcome |
/// |-----|---------|
/// | `120` | success |
/// | `442` | declined, `DECLINE_2` |
/// | `443` | declined, `INSUFFICIENT_FUNDS` |
/// | `444` | declined, `CARD_EXPIRED` |
/// | `777` | processing: the charge succeeds after `processing`, and the gateway notifies it by a signed webhook |
/// | `778` | processing, never resolved: only the void after the processing deadline ends it |
/// | `445` | success; its refund is declined once (`REFUND_DECLINED`), then succeeds |
/// | any other 3 or 4 digits | success |
pub fn charge(_token: &PaymentMethodToken, cvv: &Cvv, at: Timestamp, processing: Duration) -> PgResult {
    let (is_success, failure) = match cvv.0.as_str() {
        "442" => (Some(false), Some("DECLINE_2")),
        "443" => (Some(false), Some("INSUFFICIENT_FUNDS")),
        "444" => (Some(false), Some("CARD_EXPIRED")),
        "777" | "778" => (None, None),
        _ => (Some(true), None),
    };
    let millis = i64::try_from(processing.as_millis()).unwrap_or(i64::MAX);
    PgResult {
        charge_id: Some(ChargeId::generate()),
        is_success,
        failure_code: failure.map(str::to_owned),
        processed_at: at,
        resolves_at: (cvv.0 == "777").then(|| Timestamp::from_millis(at.as_millis().saturating_add(millis))),
        refund_declines: u32::from(cvv.0 == "445"),
    }
}

/// Where a charge stands, as the gateway answers a status query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChargeStatus {
    Succeeded,
    Failed,
    Processing,
}

impl PgResult {
    /// The simulated gateway's answer to "where does this charge stand?" at `now`.
    pub fn status_at(&self, now: Timestamp) -> ChargeStatus {
        match (self.is_success, self.resolves_at) {
            (Some(true), _) => ChargeStatus::Succeeded,
            (Some(false), _) => ChargeStatus::Failed,
            (None, Some(at)) if at <= now => ChargeStatus::Succeeded,
            (None, _) => ChargeStatus::Processing,
        }
    }
}

impl PgResult {
    /// The answer as the API names it: `SUCCESS`, `FAILURE` or `PROCESSING`.
    pub fn final_status(&self) -> &'static str {
        match self.is_success {
            Some(true) => "SUCCESS",
            Some(false) => "FAILURE",
            None => "PROCESSING",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentEventType {
    PaymentSucceeded,
    PaymentFailed,
}

/// A payment outcome as published into the `events` inbox. It carries everything the worker needs to
/// settle or release the booking, so the worker reads nothing before it writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentEvent {
    pub event_id: EventId,
    #[serde(rename = "type")]
    pub event_type: PaymentEventType,
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub payment_intent_id: PaymentIntentId,
    pub performance_id: PerformanceId,
    pub seat_ids: Vec<SeatId>,
    pub amount: Money,
    pub failure_code: Option<String>,
    pub occurred_at: Timestamp,
    pub source: String,
    /// The booking's seats count toward its user's (`Booking::seats_counted`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seats_counted: bool,
}

impl PaymentEvent {
    pub const SOURCE_PG_SIMULATOR: &'static str = "pg-simulator";

    /// A new event, under a fresh id, of `booking`'s payment outcome.
    pub fn of(
        booking: &Booking,
        event_type: PaymentEventType,
        failure_code: Option<String>,
        occurred_at: Timestamp,
        source: &str,
    ) -> Self {
        Self {
            event_id: EventId::generate(),
            event_type,
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
            payment_intent_id: booking.payment_intent_id.clone(),
            performance_id: booking.performance_id.clone(),
            seat_ids: booking.seat_ids.clone(),
            amount: booking.total.clone(),
            failure_code,
            occurred_at,
            source: source.to_owned(),
            seats_counted: booking.seats_counted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> PaymentMethodToken {
        PaymentMethodToken::try_from("tok_visa_creditCard").expect("valid")
    }

    #[test]
    fn cvv_120_succeeds_and_442_declines() {
        let at = Timestamp::from_millis(0);
        let ok = charge(
            &token(),
            &Cvv::try_from("120").expect("valid"),
            at,
            Duration::from_secs(1),
        );
        assert_eq!(ok.is_success, Some(true));
        assert_eq!(ok.failure_code, None);
        let declined = charge(
            &token(),
            &Cvv::try_from("442").expect("valid"),
            at,
            Duration::from_secs(1),
        );
        assert_eq!(declined.is_success, Some(false));
        assert_eq!(declined.failure_code.as_deref(), Some("DECLINE_2"));
        assert_eq!(
            charge(
                &token(),
                &Cvv::try_from("443").expect("valid"),
                at,
                Duration::from_secs(1)
            )
            .failure_code
            .as_deref(),
            Some("INSUFFICIENT_FUNDS")
        );
        assert_eq!(
            charge(
                &token(),
                &Cvv::try_from("1234").expect("valid"),
                at,
                Duration::from_secs(1)
            )
            .is_success,
            Some(true)
        );
        let later = charge(
            &token(),
            &Cvv::try_from("777").expect("valid"),
            at,
            Duration::from_secs(1),
        );
        assert_eq!(later.status_at(at), ChargeStatus::Processing);
        assert_eq!(
            later.status_at(Timestamp::from_millis(at.as_millis() + 1000)),
            ChargeStatus::Succeeded
        );
        let never = charge(
            &token(),
            &Cvv::try_from("778").expect("valid"),
            at,
            Duration::from_secs(1),
        );
        assert_eq!(never.is_success, None);
        assert_eq!(
            never.status_at(Timestamp::from_millis(i64::MAX)),
            ChargeStatus::Processing
        );
        assert_eq!((later.is_success, later.final_status()), (None, "PROCESSING"));
    }

    #[test]
    fn malformed_cvvs_and_tokens_are_rejected() {
        for bad in ["", "12", "12345", "12a", " 120"] {
            assert_eq!(Cvv::try_from(bad), Err(InvalidCvv), "{bad:?}");
        }
        for bad in ["", "tok_", "visa", "tok_a b", &format!("tok_{}", "a".repeat(61))] {
            assert_eq!(PaymentMethodToken::try_from(bad), Err(InvalidToken), "{bad:?}");
        }
    }

    #[test]
    fn cvv_is_never_printed() {
        assert_eq!(format!("{:?}", Cvv::try_from("120").expect("valid")), "Cvv(***)");
    }

    #[test]
    fn event_type_serializes_as_in_the_inbox() {
        assert_eq!(
            serde_json::to_string(&PaymentEventType::PaymentSucceeded)
                .ok()
                .as_deref(),
            Some("\"PAYMENT_SUCCEEDED\"")
        );
    }
}
