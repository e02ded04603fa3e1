//! Storage: one trait per thing a function needs, each implemented by the DynamoDB store and by the
//! in-memory store, which keeps the same conditional semantics and is the embedded default.

pub mod dynamodb;
pub mod memory;

use crate::domain::ledger::LedgerEntry;
use crate::domain::payment::{PaymentEvent, PaymentIntent, PgResult};
use crate::domain::seats::SeatLock;
use crate::domain::{
    Booking, BookingId, BookingStatus, EventId, IntentStatus, PaymentIntentId, PerformanceId, SeatId, Timestamp, UserId,
};
use crate::idempotency::{Claimed, Completion, KeyRecord};
use async_trait::async_trait;
use serde::Serialize;

pub use dynamodb::{DynamoStore, Tables};
pub use memory::MemoryStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage service failed or could not be reached; the operation may be retried.
    #[error("storage request failed: {0}")]
    Unavailable(String),
    /// An item in storage does not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

/// A new booking with everything written with it, in one transaction.
#[derive(Clone, Debug)]
pub struct NewHold {
    pub booking: Booking,
    pub intent: PaymentIntent,
    /// One `locked` lock per seat, all until the booking's `hold_expires_at`.
    pub locks: Vec<SeatLock>,
    /// Lapsed locks, as last read, that the new locks take over; a seat not listed here must be unlocked.
    pub replaces: Vec<SeatLock>,
    /// The request's idempotency key, completed in the same transaction.
    pub idempotency: Option<Completion>,
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// A seat was taken (or a lapsed lock changed, or its old booking was paid) since it was read:
    /// read again and retry. Names the seats known to have been refused, if any.
    #[error("a seat was taken by another booking")]
    SeatsTaken(Vec<SeatId>),
    /// The request's idempotency key was taken over by a retry after its lease lapsed; nothing written.
    #[error("the idempotency key was taken over by another request")]
    KeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The gateway's answer for one intent, and the event that publishes it: written together.
#[derive(Clone, Debug)]
pub struct PaymentOutcome {
    pub payment_intent_id: PaymentIntentId,
    pub status: IntentStatus,
    pub pg: PgResult,
    /// The event that publishes the outcome; none while the gateway is still processing.
    pub event: Option<PaymentEvent>,
    /// The request's idempotency key, completed in the same transaction.
    pub idempotency: Option<Completion>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The intent is no longer payable (already paid, failed, or its hold lapsed); here is how it stands.
    #[error("payment intent is not payable")]
    NotPayable(Box<PaymentIntent>),
    #[error("payment intent not found")]
    NotFound,
    /// The request's idempotency key was taken over by a retry after its lease lapsed; nothing written.
    #[error("the idempotency key was taken over by another request")]
    KeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settling a paid booking: confirm it, sell its seats and write its ledger transaction, at once.
#[derive(Clone, Debug)]
pub struct Settlement {
    pub booking_id: BookingId,
    pub performance_id: PerformanceId,
    pub seat_ids: Vec<SeatId>,
    pub entries: [LedgerEntry; 2],
    pub at: Timestamp,
    /// For a gateway notification: the booking's payment intent moves to `succeeded` in the same
    /// transaction (from `pending`, if its seats were not given away, or `processing`).
    pub intent: Option<PaymentIntentId>,
}

/// Ending an unpaid booking (`to` is `failed`, `expired` or `cancelled`) and freeing its seats, at once.
#[derive(Clone, Debug)]
pub struct Release {
    pub booking_id: BookingId,
    pub performance_id: PerformanceId,
    pub seat_ids: Vec<SeatId>,
    pub to: BookingStatus,
    pub at: Timestamp,
    /// The booking's payment intent moves to this state in the same transaction: `cancelled` for an
    /// expiry (which also requires the hold to have lapsed by `at`), so that an expiry and a payment
    /// never both happen; `failed` for a gateway's failure notification.
    pub intent: Option<(PaymentIntentId, IntentStatus)>,
}

/// How fresh a read must be: a strongly consistent read costs twice an eventually consistent one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    Eventual,
    Strong,
}

/// What a settlement or release did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The booking moved, with everything that goes with it.
    Done,
    /// The booking had already left `pending`; nothing was written.
    AlreadyFinal(BookingStatus),
    /// There is no such booking; nothing was written.
    NoSuchBooking,
    /// An expiry came before the booking's hold lapsed; nothing was written.
    NotDue,
    /// The payment intent had already left the states this change may move it from (an expiry found the
    /// payment recorded; a notification found the intent settled otherwise); nothing was written.
    PaymentRecorded,
}

/// What `create-booking` needs: the seat locks of a performance, and the hold transaction.
#[async_trait]
pub trait SeatHolds: Send + Sync {
    /// Every lock of `performance` (the seat map, which may show a write of a moment ago a moment late).
    async fn seat_locks(
        &self,
        performance: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Vec<SeatLock>, StoreError>;
    /// The locks of `performance` whose seat ids sort from `first` to `last`, both included (a row of
    /// the hall, as a booking reads it).
    async fn seat_locks_between(
        &self,
        performance: &PerformanceId,
        first: &SeatId,
        last: &SeatId,
    ) -> Result<Vec<SeatLock>, StoreError>;
    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError>;
}

/// What `execute-payment` needs: the booking, and the outcome-plus-event transaction.
#[async_trait]
pub trait PaymentRecords: Send + Sync {
    async fn booking(&self, id: &BookingId) -> Result<Option<Booking>, StoreError>;
    async fn record_payment(&self, outcome: &PaymentOutcome, now: Timestamp) -> Result<(), RecordError>;
}

/// What `list-my-bookings` needs: a user's bookings, newest first.
#[async_trait]
pub trait BookingHistory: Send + Sync {
    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError>;
}

/// What `process-events` needs: the two ways a booking leaves `pending` after its payment.
#[async_trait]
pub trait Settlements: Send + Sync {
    /// The booking, read as cheaply as `consistency` allows: an eventually consistent read may miss the
    /// latest write (a final status is final for good; a `pending` one may have moved on a moment ago).
    async fn read_booking(&self, id: &BookingId, consistency: Consistency) -> Result<Option<Booking>, StoreError>;
    async fn settle(&self, settlement: &Settlement) -> Result<Applied, StoreError>;
    async fn release(&self, release: &Release) -> Result<Applied, StoreError>;
    /// Leaves a note on an inbox event that was recorded but could not be applied.
    async fn annotate_event(&self, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError>;
}

/// Idempotency keys: claimed before the work, completed with it (see [`crate::idempotency`]).
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    /// Writes `record` (a fresh claim) unless another record holds its key; returns the holder if so.
    async fn claim_key(&self, record: &KeyRecord, now: Timestamp) -> Result<Claimed, StoreError>;
    /// Completes a claim whose request had no effect to write (an error answer). `false` if the claim
    /// was lost.
    async fn complete_key(&self, completion: &Completion) -> Result<bool, StoreError>;
    /// Gives a claim up, so that a retry can do the work (the request failed in a way worth retrying).
    async fn release_key(&self, key: &str, claim_token: &str) -> Result<(), StoreError>;
    async fn key_record(&self, key: &str) -> Result<Option<KeyRecord>, StoreError>;
}

/// The inbox: payment events from outside (the gateway's notifications), stored under their own id.
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Stores the event under `id` unless one is there already; `false` when it was.
    async fn put_event<T: Serialize + Sync>(&self, id: &EventId, event: &T) -> Result<bool, StoreError>;
}

/// Everything, for tools and tests that look at the whole state.
#[async_trait]
pub trait Inspect: Send + Sync {
    /// An inbox event as stored.
    async fn event(&self, id: &EventId) -> Result<Option<serde_dynamo::Item>, StoreError>;
    async fn payment_intent(&self, id: &PaymentIntentId) -> Result<Option<PaymentIntent>, StoreError>;
    async fn ledger_of(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError>;
}
