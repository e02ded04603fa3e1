//! The booking domain: validated values, the booking and payment lifecycles, seat allocation and the
//! ledger. Nothing here performs I/O; storage and HTTP live in their own modules.

mod ids;
pub mod ledger;
mod money;
pub mod payment;
pub mod refund;
pub mod seats;
mod status;
mod time;

pub use ids::{BookingId, ChargeId, EventId, InvalidId, PaymentIntentId, PerformanceId, SeatId, UserId};
pub use money::{Currency, InvalidCurrency, Money};
pub use status::{BookingStatus, IntentStatus, SeatState};
pub use time::{millis, optional_millis, Clock, ManualClock, SystemClock, Timestamp};

use serde::{Deserialize, Serialize};

/// How many seats one booking may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub const MIN: u32 = 1;
    pub const MAX: u32 = 10;

    pub fn get(self) -> u32 {
        self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("quantity must be between {} and {}", Quantity::MIN, Quantity::MAX)]
pub struct InvalidQuantity;

impl TryFrom<u32> for Quantity {
    type Error = InvalidQuantity;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidQuantity)
        }
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

/// How the customer intends to pay; recorded on the booking and its payment intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethod {
    CreditCard,
    DebitCard,
}

impl PaymentMethod {
    pub const ACCEPTED: &'static str = "CREDIT_CARD, DEBIT_CARD";
}

/// A booking: which user wants which seats of which performance, and where its lifecycle stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub performance_id: PerformanceId,
    pub quantity: Quantity,
    pub seat_ids: Vec<SeatId>,
    pub status: BookingStatus,
    pub total: Money,
    pub payment_method: PaymentMethod,
    pub payment_intent_id: PaymentIntentId,
    pub created_at: Timestamp,
    /// When the seat hold lapses unless the booking has been paid by then.
    #[serde(with = "millis")]
    pub hold_expires_at: Timestamp,
    pub updated_at: Timestamp,
    /// The money given back, once the booking was paid and did not keep its seats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<refund::Refund>,
    /// Its seats count toward its user's seats of the performance (the performance had a limit per
    /// customer when it was booked): leaving, they leave the count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seats_counted: bool,
}
