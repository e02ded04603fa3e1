//! Identifiers, validated once at the edge so the rest of the code can trust them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{what} must be 1 to {max} characters of letters, digits, '-', '_', '.', ':' or '@'")]
pub struct InvalidId {
    pub what: &'static str,
    pub max: usize,
}

fn valid_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                if value.is_empty() || value.len() > $max || !valid_chars(&value) {
                    return Err(InvalidId { what: $what, max: $max });
                }
                Ok(Self(value))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidId;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::try_from(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The user a request acts for (the `x-user-id` header).
    UserId, "userId", 128
);
id_type!(PerformanceId, "performanceId", 64);
id_type!(
    /// A seat of a hall, e.g. `C7`: its row is the leading letters.
    SeatId, "seatId", 16
);
id_type!(BookingId, "bookingId", 64);
id_type!(PaymentIntentId, "paymentIntentId", 80);
id_type!(EventId, "eventId", 128);
id_type!(
    /// The payment gateway's id for one charge.
    ChargeId, "chargeId", 128
);

impl BookingId {
    /// A new id; ids sort in the order they were made (UUID version 7), so a customer's bookings,
    /// keyed by id, list newest first without an index.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Each booking has exactly one payment intent, whose id follows from the booking's.
    pub fn payment_intent_id(&self) -> PaymentIntentId {
        PaymentIntentId(format!("pi_{}", self.0))
    }
}

impl PerformanceId {
    pub fn generate() -> Self {
        Self(format!("perf_{}", uuid::Uuid::new_v4().simple()))
    }
}

impl EventId {
    pub fn generate() -> Self {
        Self(format!("evt_{}", uuid::Uuid::new_v4().simple()))
    }

    /// A new id of a notification from the (simulated) payment gateway.
    pub fn for_gateway() -> Self {
        Self(format!("evt_pg_{}", uuid::Uuid::new_v4().simple()))
    }
}

impl ChargeId {
    pub fn generate() -> Self {
        Self(format!("ch_{}", uuid::Uuid::new_v4().simple()))
    }
}

impl SeatId {
    /// The row a seat belongs to: its leading non-digit characters (`"C"` for `"C7"`).
    pub fn row(&self) -> &str {
        let end = self.0.find(|c: char| c.is_ascii_digit()).unwrap_or(self.0.len());
        &self.0[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_long_and_odd_ids() {
        assert!(UserId::try_from("").is_err());
        assert!(UserId::try_from("a".repeat(129)).is_err());
        assert!(UserId::try_from("user 1").is_err());
        assert!(UserId::try_from("user_test_001").is_ok());
    }

    #[test]
    fn seat_row_is_leading_letters() {
        assert_eq!(SeatId::try_from("C7").map(|s| s.row().to_owned()), Ok("C".into()));
        assert_eq!(SeatId::try_from("AA12").map(|s| s.row().to_owned()), Ok("AA".into()));
    }

    #[test]
    fn intent_id_follows_booking_id() {
        let b = BookingId::try_from("b-1").expect("valid");
        assert_eq!(b.payment_intent_id().as_str(), "pi_b-1");
    }
}
