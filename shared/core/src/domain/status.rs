//! The lifecycles. Every transition a booking or a payment intent may make is listed here, once; the
//! stores turn these lists into the conditions of their writes.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Pending,
    Confirmed,
    Failed,
    Cancelled,
    Expired,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// The states a booking may move to `self` from.
    pub fn reachable_from(self) -> &'static [BookingStatus] {
        match self {
            Self::Pending => &[],
            Self::Confirmed | Self::Failed | Self::Expired => &[Self::Pending],
            // A customer cancels a booking not paid yet, or one paid (which is refunded).
            Self::Cancelled => &[Self::Pending, Self::Confirmed],
        }
    }

    pub fn can_become(self, next: BookingStatus) -> bool {
        next.reachable_from().contains(&self)
    }

    /// Whether the booking's payment is settled one way or the other: it left `pending`.
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }
}

/// A payment intent: created with its booking, then settled once by the payment gateway's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentStatus {
    Pending,
    Processing,
    Succeeded,
    Failed,
    Cancelled,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The states an intent may move to `self` from.
    pub fn reachable_from(self) -> &'static [IntentStatus] {
        match self {
            Self::Pending => &[],
            Self::Processing | Self::Cancelled => &[Self::Pending],
            Self::Succeeded | Self::Failed => &[Self::Pending, Self::Processing],
        }
    }

    /// Whether the customer may still be charged for this intent.
    pub fn is_payable(self) -> bool {
        self == Self::Pending
    }

    /// Whether the seats of a lapsed hold may go to another booking: not when the payment went
    /// through or may still go through.
    pub fn lets_lapsed_seats_go(self) -> bool {
        !matches!(self, Self::Succeeded | Self::Processing)
    }
}

/// A seat lock's state in `occupiedSeats`; a seat with no lock is available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatState {
    Locked,
    Sold,
}

impl SeatState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Sold => "sold",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_booking_leaves_pending_once() {
        use BookingStatus::*;
        for next in [Confirmed, Failed, Cancelled, Expired] {
            assert!(Pending.can_become(next));
            for done in [Confirmed, Failed, Cancelled, Expired] {
                let cancel_paid = done == Confirmed && next == Cancelled;
                assert_eq!(done.can_become(next), cancel_paid, "{done:?} -> {next:?}");
            }
        }
        assert!(!Pending.can_become(Pending));
    }

    #[test]
    fn an_intent_is_settled_once() {
        use IntentStatus::*;
        assert!(Succeeded.reachable_from().contains(&Pending));
        assert!(!Succeeded.reachable_from().contains(&Failed));
        assert!(!Failed.reachable_from().contains(&Succeeded));
        assert!(Pending.is_payable() && !Processing.is_payable() && !Succeeded.is_payable());
    }
}
