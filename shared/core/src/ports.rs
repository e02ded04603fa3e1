//! The ports: what the use cases need of the outside world, each named for what it stores or does.
//!
//! Storage has two implementations that keep one contract: the DynamoDB store (`ticketing-aws`), where
//! every rule below is a condition expression, and the in-memory store (`ticketing-testkit`), where the
//! same rule is written again in Rust. Changing a rule means changing both; the storage contract suite
//! (`ticketing-testkit::contract`), run against both stores, says whether they still agree.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::{CancellationProgress, PerformanceRecord, PerformanceStatus};
use crate::domain::ledger::LedgerEntry;
use crate::domain::payment::{PaymentEvent, PaymentIntent, PgResult};
use crate::domain::refund::Refund;
use crate::domain::seats::SeatLock;
use crate::domain::{
    Booking, BookingId, BookingStatus, EventId, IntentStatus, Money, PaymentIntentId, PaymentMethod, PerformanceId,
    Quantity, SeatId, SeatState, Timestamp, UserId,
};
use crate::idempotency::{Claimed, Completion, KeyRecord};
use crate::webhook::Notification;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage service failed or could not be reached; the operation may be retried.
    #[error("storage request failed: {0}")]
    Unavailable(String),
    /// An item in storage does not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

/// How fresh a read must be: a strongly consistent read costs twice an eventually consistent one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    Eventual,
    Strong,
}

/// The seat locks of a performance, as bookings and the seat map read them.
#[async_trait]
pub trait SeatLocks: Send + Sync {
    /// Every lock of `performance`. An eventually consistent read may show a write of a moment ago a
    /// moment late.
    async fn seat_locks(
        &self,
        performance: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Vec<SeatLock>, StoreError>;
    /// The locks of `performance` whose seat ids sort from `first` to `last`, both included (a row of
    /// the hall, as a booking reads it), strongly consistent.
    async fn seat_locks_between(
        &self,
        performance: &PerformanceId,
        first: &SeatId,
        last: &SeatId,
    ) -> Result<Vec<SeatLock>, StoreError>;
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
    /// The most seats the booking's user may hold or have bought for its performance, counting these;
    /// set with [`NewHold::limited_to`].
    pub seat_limit: Option<u32>,
}

/// What a new booking is for, before its seats are chosen: the parts of a hold that do not change
/// between attempts.
#[derive(Clone, Debug)]
pub struct HoldRequest {
    pub booking_id: BookingId,
    pub user_id: UserId,
    pub performance_id: PerformanceId,
    pub quantity: Quantity,
    pub payment_method: PaymentMethod,
    pub total: Money,
}

impl NewHold {
    /// The pending booking, its pending intent and one lock per seat of `seat_ids`, all held for
    /// `hold_seconds` from `now`; the locks of `read` on those seats (lapsed ones) are taken over.
    pub fn pending(
        request: &HoldRequest,
        seat_ids: Vec<SeatId>,
        read: &[SeatLock],
        now: Timestamp,
        hold_seconds: u64,
    ) -> Self {
        let hold_expires_at = now.plus_seconds(hold_seconds);
        let replaces = read.iter().filter(|l| seat_ids.contains(&l.seat_id)).cloned().collect();
        let locks = seat_ids
            .iter()
            .map(|seat| SeatLock {
                performance_id: request.performance_id.clone(),
                seat_id: seat.clone(),
                booking_id: request.booking_id.clone(),
                user_id: request.user_id.clone(),
                status: SeatState::Locked,
                locked_until: Some(hold_expires_at),
            })
            .collect();
        let booking = Booking {
            booking_id: request.booking_id.clone(),
            user_id: request.user_id.clone(),
            performance_id: request.performance_id.clone(),
            quantity: request.quantity,
            seat_ids,
            status: BookingStatus::Pending,
            total: request.total.clone(),
            payment_method: request.payment_method,
            payment_intent_id: request.booking_id.payment_intent_id(),
            created_at: now,
            hold_expires_at,
            updated_at: now,
            refund: None,
            seats_counted: false,
        };
        let intent = PaymentIntent {
            payment_intent_id: booking.payment_intent_id.clone(),
            booking_id: request.booking_id.clone(),
            user_id: request.user_id.clone(),
            amount: request.total.clone(),
            payment_method: request.payment_method,
            status: IntentStatus::Pending,
            hold_expires_at,
            seats_released_at: None,
            pg_mock_data: None,
            created_at: now,
            updated_at: now,
        };
        Self {
            booking,
            intent,
            locks,
            replaces,
            idempotency: None,
            seat_limit: None,
        }
    }

    /// The hold under a limit of seats per customer (`None`: no limit, and its seats are not
    /// counted).
    pub fn limited_to(mut self, limit: Option<u32>) -> Self {
        self.seat_limit = limit;
        self.booking.seats_counted = limit.is_some();
        self
    }
}

/// A seat a hold was refused, with its lock as it stands when the store tells it: none for a lapsed
/// hold whose booking may still be paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenSeat {
    pub seat_id: SeatId,
    pub lock: Option<SeatLock>,
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// A seat was taken (or a lapsed lock changed, or its old booking was paid) since it was seen:
    /// choose again and retry. Names the seats known to have been refused, if any, with their locks.
    #[error("a seat was taken by another booking")]
    SeatsTaken(Vec<TakenSeat>),
    /// The request's idempotency key was taken over by a retry after its lease lapsed; nothing written.
    #[error("the idempotency key was taken over by another request")]
    KeyTaken,
    /// The user would hold or have bought more seats of the performance than `seat_limit`.
    #[error("the user's seat limit for the performance is reached")]
    LimitReached,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Holding seats for a new booking.
#[async_trait]
pub trait Holds: Send + Sync {
    /// Writes the booking, its payment intent and its seat locks at once, or nothing. It MUST refuse
    /// with [`HoldError::SeatsTaken`] when a seat of `hold.locks` has a lock not listed in
    /// `hold.replaces`, or a listed lock changed, has not lapsed by `now`, or belongs to a booking whose
    /// intent may still be paid; it then names the refused seats it knows, each with its lock as it
    /// stands (the store's answer to the refusal, not a further read). Taking a lapsed lock over
    /// MUST mark its old intent so that the old booking can never be paid. With `hold.idempotency` it
    /// MUST complete the key in the same transaction, and refuse with [`HoldError::KeyTaken`] when the
    /// key is not its to complete. With `seat_limit` it MUST count the booking's seats toward its
    /// user's seats of the performance in the same transaction, and refuse with
    /// [`HoldError::LimitReached`] when the count would pass the limit; without one, nothing is counted.
    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError>;
}

/// Bookings, by id and by user.
#[async_trait]
pub trait Bookings: Send + Sync {
    /// `user`'s booking `id` (none for another user's: bookings are found by customer), read as
    /// cheaply as `consistency` allows: an eventually consistent read may miss the latest write (a final
    /// status is final for good; a `pending` one may have moved on a moment ago).
    async fn booking(
        &self,
        user: &UserId,
        id: &BookingId,
        consistency: Consistency,
    ) -> Result<Option<Booking>, StoreError>;
    /// A user's bookings, newest first, at most `limit`.
    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError>;
}

/// The gateway's answer for one intent, and the event that publishes it: written together.
#[derive(Clone, Debug)]
pub struct PaymentOutcome {
    pub payment_intent_id: PaymentIntentId,
    pub status: IntentStatus,
    pub pg: PgResult,
    /// The event that publishes the outcome; none while the gateway is still processing.
    pub event: Option<PaymentEvent>,
    /// While the gateway processes the charge, its booking's seats stay locked for it until then (the
    /// processing deadline): nobody can take them, and the seat map shows them held.
    pub locks_held_until: Option<HeldLocks>,
    /// The request's idempotency key, completed in the same transaction.
    pub idempotency: Option<Completion>,
}

/// A booking's seat locks, kept until `until`.
#[derive(Clone, Debug)]
pub struct HeldLocks {
    pub booking_id: BookingId,
    pub performance_id: PerformanceId,
    pub seat_ids: Vec<SeatId>,
    pub until: Timestamp,
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

/// Payment intents, as a charge moves them.
#[async_trait]
pub trait Payments: Send + Sync {
    /// The intent, read strongly consistent.
    async fn payment_intent(&self, id: &PaymentIntentId) -> Result<Option<PaymentIntent>, StoreError>;
    /// Moves the intent to `outcome.status` and writes `outcome.event`, at once. It MUST refuse with
    /// [`RecordError::NotPayable`] (and the intent as it stands) unless the intent is in a state
    /// `outcome.status` is reachable from and is payable at `now` (pending, its hold not lapsed, its
    /// seats not given away). With `locks_held_until`, it MUST move each of those seat locks' end to
    /// that instant in the same transaction. Idempotency keys as for [`Holds::hold`].
    async fn record_payment(&self, outcome: &PaymentOutcome, now: Timestamp) -> Result<(), RecordError>;
}

/// Settling a paid booking: confirm it, sell its seats and write its ledger transaction, at once.
#[derive(Clone, Debug)]
pub struct Settlement {
    pub booking_id: BookingId,
    pub user_id: UserId,
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
    /// The booking's user, whose count of seats of the performance drops by the booking's seats if
    /// they were `counted`.
    pub user_id: UserId,
    pub counted: bool,
    pub performance_id: PerformanceId,
    pub seat_ids: Vec<SeatId>,
    pub to: BookingStatus,
    pub at: Timestamp,
    /// The booking's payment intent moves to this state in the same transaction: `cancelled` for an
    /// expiry (which also requires the hold to have lapsed by `at`), so that an expiry and a payment
    /// never both happen; `failed` for a gateway's failure notification.
    pub intent: Option<(PaymentIntentId, IntentStatus)>,
    /// The customer's idempotency key, completed in the same transaction (a cancellation).
    pub idempotency: Option<Completion>,
}

/// Money the gateway took for a booking that did not get its seats, booked as owed back, with the note
/// on the event that reported it, and its refund asked on the booking.
#[derive(Clone, Debug)]
pub struct RefundOwed {
    /// The booking's customer.
    pub user_id: UserId,
    /// The balanced transaction, `ledger::refund_owed`.
    pub entries: [LedgerEntry; 2],
    pub event_id: EventId,
    pub note: String,
    pub at: Timestamp,
    /// The booking's refund of that money, set unless the booking has one.
    pub refund: Refund,
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
    IntentSettledOtherwise,
    /// The change's idempotency key is another request's; nothing was written.
    KeyTaken,
}

/// The two ways a booking leaves `pending` after its hold: settled, or released.
#[async_trait]
pub trait Settlements: Send + Sync {
    /// Confirms the booking, sells its seats (each MUST still be locked for it) and writes its ledger
    /// entries (which MUST NOT exist yet), at once; only from `pending`.
    async fn settle(&self, settlement: &Settlement) -> Result<Applied, StoreError>;
    /// Ends the booking, frees those of its seats still locked for it (a lapsed lock may have gone to
    /// another booking) and takes all its seats off its user's count, at once; only from `pending`, and
    /// for an expiry only once the hold lapsed.
    async fn release(&self, release: &Release) -> Result<Applied, StoreError>;
    /// Leaves a note on an inbox event that was recorded but could not be applied.
    async fn annotate_event(&self, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Writes the refund owed's entries (which MUST NOT exist yet) and its note on the event, at once;
    /// `false` when the entries existed already (a redelivery), and nothing was written.
    async fn owe_refund(&self, owed: &RefundOwed) -> Result<bool, StoreError>;
}

/// Cancelling a paid (confirmed) booking: it becomes `cancelled` with its refund asked, its seats go back
/// on sale, and its user's count of seats drops, at once.
#[derive(Clone, Debug)]
pub struct Cancellation {
    pub booking_id: BookingId,
    pub user_id: UserId,
    /// The booking's seats counted toward its user's: they leave the count.
    pub counted: bool,
    pub performance_id: PerformanceId,
    pub seat_ids: Vec<SeatId>,
    pub refund: Refund,
    pub at: Timestamp,
    /// The customer's idempotency key, completed in the same transaction.
    pub idempotency: Option<Completion>,
}

/// A refund attempt's answer, applied to its booking.
#[derive(Clone, Debug)]
pub enum RefundApplied {
    /// The refund succeeded: with its reversal, `ledger::reversal`.
    Succeeded { entries: Box<[LedgerEntry; 2]> },
    /// The gateway declined attempt `attempt`.
    Declined { attempt: u32, failure_code: String },
}

/// Refunds: a paid booking cancelled, and the gateway's answers to refund attempts.
#[async_trait]
pub trait Refunds: Send + Sync {
    /// Moves the booking from `confirmed` to `cancelled` with `c.refund`, deletes its seat locks (each
    /// MUST be sold to it) and takes its seats off its user's count, at once; `AlreadyFinal` with the
    /// status when the booking is not confirmed.
    async fn cancel_paid(&self, c: &Cancellation) -> Result<Applied, StoreError>;
    /// Applies an answer to the booking's refund `refund_id`: a success makes it `succeeded` and writes
    /// the reversal (whose entries MUST NOT exist yet) at once; a decline makes it `failed` with the
    /// attempt, unless it succeeded or a later attempt was applied. `false` when nothing changed (a
    /// redelivery, or an answer overtaken).
    async fn apply_refund(
        &self,
        user: &UserId,
        booking: &BookingId,
        refund_id: &str,
        applied: &RefundApplied,
        at: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Idempotency keys: claimed before the work, completed with it (see [`crate::idempotency`]).
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    /// Writes `record` (a fresh claim) unless another record holds its key (see
    /// [`KeyRecord::is_free_at`]); returns the holder if so.
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

/// The expiry message: names the booking (and its customer, by whom it is found) only; the expirer
/// reads the rest (seats, intent, the hold's end) from the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldExpiry {
    pub booking_id: BookingId,
    pub user_id: UserId,
}

impl HoldExpiry {
    pub fn for_booking(booking: &Booking) -> Self {
        Self {
            booking_id: booking.booking_id.clone(),
            user_id: booking.user_id.clone(),
        }
    }
}

/// SQS delays a message by at most 15 minutes; a longer hold is re-enqueued for the rest.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// The delay of a message due at `due`: none if it is due already, at most [`MAX_DELAY`].
pub fn delay_until(due: Timestamp, now: Timestamp) -> Duration {
    let millis = u64::try_from(due.as_millis().saturating_sub(now.as_millis())).unwrap_or(0);
    Duration::from_millis(millis).min(MAX_DELAY)
}

#[derive(Debug, thiserror::Error)]
#[error("could not schedule the hold's expiry: {0}")]
pub struct QueueError(pub String);

/// Where expiries wait until they are due.
#[async_trait]
pub trait ExpiryQueue: Send + Sync {
    /// Delivers `expiry` to the expirer after `delay` (at most [`MAX_DELAY`]), never before it.
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError>;

    /// [`ExpiryQueue::schedule`] for each expiry, one result per expiry, in order. A queue that takes
    /// many messages at once sends them together (SQS: ten per request).
    async fn schedule_all(&self, expiries: &[(HoldExpiry, Duration)]) -> Vec<Result<(), QueueError>> {
        let mut results = Vec::with_capacity(expiries.len());
        for (expiry, delay) in expiries {
            results.push(self.schedule(expiry, *delay).await);
        }
        results
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not schedule the gateway's notification: {0}")]
pub struct CallbackError(pub String);

/// The simulated gateway's side of an asynchronous payment: it answered "processing", and delivers the
/// outcome later as a signed notification to the webhook endpoint, like a real gateway would.
#[async_trait]
pub trait GatewayCallback: Send + Sync {
    /// Has `notification` posted to `POST /webhooks/pg` once the simulated processing delay has passed,
    /// never before it, and retried while the endpoint refuses it. `Ok` means the delivery is scheduled
    /// where it outlives the caller's request; an error loses only this notification: the charge is
    /// reconciled by asking the gateway at the processing timeout.
    async fn deliver_later(&self, notification: &Notification) -> Result<(), CallbackError>;
}

/// Why a new performance was not written.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a performance with this id exists")]
    Exists,
    /// The request's idempotency key went to a retry.
    #[error("the idempotency key was taken over")]
    KeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a change of a performance was not written.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Another change came first: read it and try again.
    #[error("the performance changed since it was read")]
    Moved,
    /// A seat was held: the layout stays.
    #[error("the performance's layout is locked")]
    LayoutLocked,
    #[error("no such performance")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What locking a performance's layout found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutLock {
    /// It was not locked: this request locked it.
    Locked,
    /// It was locked already, since the caller read it unlocked: another booking of the performance
    /// locked it in between.
    LockedBefore,
    /// The layout changed since it was read, or the performance is gone: nothing was locked.
    Changed,
}

/// Where a list of performances goes on from: the last one listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageKey {
    pub starts_at: Timestamp,
    pub performance_id: PerformanceId,
}

impl PageKey {
    /// The key as an opaque cursor for clients: hex of its JSON.
    pub fn to_cursor(&self) -> String {
        crate::hex(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    /// The key a cursor of [`PageKey::to_cursor`] holds; `None` for any other text.
    pub fn from_cursor(cursor: &str) -> Option<Self> {
        serde_json::from_slice(&crate::unhex(cursor)?).ok()
    }
}

/// Some performances, and where the list goes on from if it does.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub performances: Vec<PerformanceRecord>,
    pub next: Option<PageKey>,
}

/// The `performances` table: one item per performance, the hall kept compactly.
#[async_trait]
pub trait Performances: Send + Sync {
    /// Writes `record` unless a performance has its id, and completes `idempotency`'s claim (which MUST
    /// still be ours) with it, at once.
    async fn create_performance(
        &self,
        record: &PerformanceRecord,
        idempotency: Option<&Completion>,
    ) -> Result<(), CreateError>;
    async fn performance(
        &self,
        id: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Option<PerformanceRecord>, StoreError>;
    /// Replaces the performance with `record` only if it is still at `read_version`; a change of the
    /// layout (`layout_changed`) only while the layout is not locked.
    async fn update_performance(
        &self,
        record: &PerformanceRecord,
        read_version: u64,
        layout_changed: bool,
    ) -> Result<(), UpdateError>;
    /// Locks the layout before a first hold, if it is still at `layout_version` (and raises the
    /// performance's version, so that a change read before it is refused), saying whether it was
    /// locked already; [`LayoutLock::Changed`] if the layout moved or the performance is gone.
    async fn lock_layout(&self, id: &PerformanceId, layout_version: u64) -> Result<LayoutLock, StoreError>;
    /// Records how far the cancellation of a cancelled performance's bookings got (nothing else of the
    /// performance changes).
    async fn record_cancellation(&self, id: &PerformanceId, progress: &CancellationProgress) -> Result<(), StoreError>;
    /// At most `limit` performances of `status`, soonest first (by `startsAt`, then id), from after
    /// `after`; `next` is set when more may follow.
    async fn performances(
        &self,
        status: PerformanceStatus,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<Page, StoreError>;
}
