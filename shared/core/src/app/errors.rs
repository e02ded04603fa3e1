//! Why a use case could not do what was asked. Mapped to HTTP in one place, the HTTP adapter.

use crate::catalog::{InvalidPerformance, PerformanceStatus};
use crate::domain::{BookingStatus, PerformanceId};
use crate::ports::{QueueError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("performance {0} does not exist")]
    UnknownPerformance(PerformanceId),
    #[error("performance {0} is {status} and not on sale", status = .1.as_str())]
    PerformanceNotOnSale(PerformanceId, PerformanceStatus),
    #[error("sales of performance {0} have not opened yet")]
    SalesNotOpen(PerformanceId),
    #[error("sales of performance {0} have closed")]
    SalesClosed(PerformanceId),
    #[error("at most {limit} seats per booking of this performance")]
    QuantityOverLimit { limit: u32 },
    #[error("the performance has no section {0:?}")]
    UnknownSection(String),
    #[error(transparent)]
    InvalidPerformance(#[from] InvalidPerformance),
    #[error("performance {0} exists already")]
    PerformanceExists(PerformanceId),
    #[error("a performance cannot go from {} to {}", .from.as_str(), .to.as_str())]
    InvalidTransition {
        from: PerformanceStatus,
        to: PerformanceStatus,
    },
    #[error("a seat of performance {0} was held: its sections and prices can no longer change, nor a limit per customer be introduced")]
    LayoutLocked(PerformanceId),
    /// Every attempt lost to a concurrent change of the performance.
    #[error("performance {0} is being changed; please try again")]
    PerformanceContended(PerformanceId),
    #[error("not enough seats are free for {0}")]
    SeatsUnavailable(PerformanceId),
    /// Every attempt lost its seats to concurrent bookings; free seats may remain.
    #[error("the seats of {0} are in high demand; please try again")]
    SeatsContended(PerformanceId),
    #[error("booking not found")]
    BookingNotFound,
    #[error("booking is {} and can no longer be paid", .0.as_str())]
    BookingNotPending(BookingStatus),
    #[error("the booking's payment was declined; it can no longer be paid")]
    PaymentDeclined,
    #[error("booking has already been paid")]
    AlreadyPaid,
    #[error("the booking is {} and cannot be cancelled", .0.as_str())]
    NotCancellable(BookingStatus),
    #[error("the booking's payment is being processed by the gateway; it can be cancelled once that ends")]
    PaymentInProgress,
    /// The booking is paid and not confirmed yet (the worker is behind); a retry will cancel it.
    #[error("the booking's payment is being confirmed; please try again")]
    PaymentSettling,
    #[error("bookings of this performance can no longer be cancelled")]
    CancellationClosed,
    #[error("the booking's seat hold has lapsed")]
    HoldExpired,
    #[error("price overflow")]
    PriceOverflow,
    /// The user would hold or have bought more seats of the performance than it allows.
    #[error("at most {limit} seats of {performance} per customer")]
    SeatLimitReached { performance: PerformanceId, limit: u32 },
    /// The request's idempotency key went to a retry (this request outlived its lease).
    #[error("another request with this Idempotency-Key took over")]
    KeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Why an event or an expiry could not be applied; the batch handlers report it for a retry.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The record is not an event this worker knows how to apply; retrying will not help.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// The event names a booking that does not exist.
    #[error("refers to booking {0}, which does not exist")]
    UnknownBooking(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
