//! The synchronous flows behind the HTTP routes: create a booking, pay for it, list a user's bookings.

use crate::catalog::{Catalog, Performance};
use crate::domain::payment::{self, Cvv, PaymentEvent, PaymentEventType, PaymentIntent, PaymentMethodToken, PgResult};
use crate::domain::seats::{self, Availability, SeatLock};
use crate::domain::{
    Booking, BookingId, BookingStatus, Clock, EventId, IntentStatus, Money, PaymentMethod, PerformanceId, Quantity,
    SeatId, SeatState, Timestamp, UserId,
};
use crate::expiry::{self, ExpiryQueue, HoldExpiry, QueueError};
use crate::idempotency::{self, Claimed, Completion, IdempotencyKey, KeyRecord, KeyState, StoredResponse};
use crate::metrics::{self, Metric};
use crate::store::{
    BookingHistory, Consistency, HoldError, IdempotencyKeys, NewHold, PaymentOutcome, PaymentRecords, RecordError,
    SeatHolds, StoreError,
};
use crate::webhook::{GatewayCallback, Notification, NotificationData, NotificationType};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn, Instrument};

/// What the flows share: storage, the catalog, the clock and the settings. Built once per cold start.
pub struct App<S> {
    pub store: S,
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    /// Where hold expiries wait until they are due; only the functions that schedule or re-enqueue
    /// expiries (create-booking and the expirer) have one.
    pub expiries: Option<Arc<dyn ExpiryQueue>>,
    /// The secret the payment gateway signs its notifications with; only the webhook function has one.
    pub webhook_secret: Option<String>,
    /// The simulated gateway's callback for asynchronous payments (`make run`, `make dev`); in
    /// production the real gateway calls back by itself.
    pub gateway: Option<Arc<dyn GatewayCallback>>,
    /// Per performance, the row where this process last found seats: its next booking reads that row
    /// first instead of every lock of the hall.
    row_hints: RowHints,
}

/// Where each performance's free seats were last found, by row index in hall order.
#[derive(Debug, Default)]
struct RowHints(std::sync::Mutex<HashMap<PerformanceId, usize>>);

impl RowHints {
    fn get(&self, performance: &PerformanceId) -> usize {
        self.0
            .lock()
            .map(|hints| hints.get(performance).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn set(&self, performance: &PerformanceId, row: usize) {
        if let Ok(mut hints) = self.0.lock() {
            hints.insert(performance.clone(), row);
        }
    }
}

impl<S> App<S> {
    pub fn new(store: S, catalog: Catalog, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            catalog,
            clock,
            settings,
            expiries: None,
            webhook_secret: None,
            gateway: None,
            row_hints: RowHints::default(),
        }
    }

    pub fn with_expiries(mut self, queue: Arc<dyn ExpiryQueue>) -> Self {
        self.expiries = Some(queue);
        self
    }

    pub fn with_webhook_secret(mut self, secret: String) -> Self {
        self.webhook_secret = Some(secret);
        self
    }

    pub fn with_gateway(mut self, gateway: Arc<dyn GatewayCallback>) -> Self {
        self.gateway = Some(gateway);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How long a new booking holds its seats unpaid.
    pub hold_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self { hold_seconds: 600 }
    }
}

/// Why a flow could not do what was asked. Mapped to HTTP in one place, `api`.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("performance {0} does not exist")]
    UnknownPerformance(PerformanceId),
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
    #[error("the booking's seat hold has lapsed")]
    HoldExpired,
    #[error("price overflow")]
    PriceOverflow,
    /// The request's idempotency key went to a retry (this request outlived its lease).
    #[error("another request with this Idempotency-Key took over")]
    KeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What a booking request asks for, once priced: the parts of a new hold that do not change between
/// attempts.
#[derive(Clone, Copy)]
struct Order<'a> {
    booking_id: &'a BookingId,
    user: &'a UserId,
    request: &'a BookingRequest,
    total: &'a Money,
}

/// A claimed idempotency key, and how to render the response it will replay from what the flow made.
pub struct Remember<'a, T> {
    pub key: &'a KeyRecord,
    pub render: &'a (dyn Fn(&T) -> StoredResponse + Send + Sync),
}

impl<T> Clone for Remember<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Remember<'_, T> {}

impl<T> Remember<'_, T> {
    fn completion(&self, made: &T) -> Completion {
        Completion {
            key: self.key.idempotency_key.clone(),
            claim_token: self.key.claim_token.clone(),
            response: (self.render)(made),
        }
    }
}

/// What claiming an idempotency key decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyDecision {
    /// The key is ours: do the work, and remember its response with it.
    Proceed(KeyRecord),
    /// The key's request is done: answer what it answered.
    Replay(StoredResponse),
    /// The key's request is still in flight.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

impl<S: IdempotencyKeys> App<S> {
    /// Claims `key` (scoped to the user and route) for a request whose body is `body`.
    pub async fn claim_key(
        &self,
        user: &UserId,
        route: &str,
        key: &IdempotencyKey,
        body: &[u8],
    ) -> Result<KeyDecision, FlowError> {
        let now = self.clock.now();
        let claim = KeyRecord::claim(key.scoped(user, route), idempotency::fingerprint(body), now);
        Ok(match self.store.claim_key(&claim, now).await? {
            Claimed::Fresh(record) => KeyDecision::Proceed(record),
            // Our own claim, written by a first attempt whose answer was lost and retried by the SDK.
            Claimed::Taken(holder) if holder.claim_token == claim.claim_token => KeyDecision::Proceed(holder),
            Claimed::Taken(holder) => Self::decide(&claim.request_hash, holder),
        })
    }

    /// After losing a key to a retry: what the key holds now.
    pub async fn key_holder(&self, claim: &KeyRecord) -> Result<KeyDecision, FlowError> {
        Ok(match self.store.key_record(&claim.idempotency_key).await? {
            Some(holder) => Self::decide(&claim.request_hash, holder),
            None => KeyDecision::InFlight,
        })
    }

    fn decide(request_hash: &str, holder: KeyRecord) -> KeyDecision {
        match (holder.request_hash == request_hash, holder.state, holder.response) {
            (false, _, _) => KeyDecision::Mismatch,
            (true, KeyState::Completed, Some(response)) => KeyDecision::Replay(response),
            (true, _, _) => KeyDecision::InFlight,
        }
    }

    /// Finishes a claim whose request had no effect: remembers an answer that a retry would get again,
    /// or gives the key up for a `transient` answer (a 5xx, a race lost) that a retry may not get.
    pub async fn finish_key(
        &self,
        claim: &KeyRecord,
        response: StoredResponse,
        transient: bool,
    ) -> Result<(), FlowError> {
        if transient {
            self.store
                .release_key(&claim.idempotency_key, &claim.claim_token)
                .await?;
        } else {
            let completion = Completion {
                key: claim.idempotency_key.clone(),
                claim_token: claim.claim_token.clone(),
                response,
            };
            self.store.complete_key(&completion).await?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct BookingRequest {
    pub performance_id: PerformanceId,
    pub quantity: Quantity,
    pub payment_method: PaymentMethod,
}

#[derive(Clone, Debug)]
pub struct PaymentRequest {
    pub booking_id: BookingId,
    pub token: PaymentMethodToken,
    pub cvv: Cvv,
}

/// How many times a booking re-reads the hall after losing a seat to a concurrent booking.
const HOLD_ATTEMPTS: u32 = 25;

impl<S: SeatHolds> App<S> {
    /// Allocates seats and writes the pending booking, its payment intent and its seat locks at once.
    /// A race lost to another booking is retried with a fresh read, spreading over the free seats.
    /// With `remember`, the request's idempotency key is completed with the response in the same
    /// transaction.
    pub async fn create_booking(
        &self,
        user: UserId,
        request: BookingRequest,
        remember: Option<Remember<'_, Booking>>,
    ) -> Result<Booking, FlowError> {
        let perf = self
            .catalog
            .performance(&request.performance_id)
            .ok_or_else(|| FlowError::UnknownPerformance(request.performance_id.clone()))?;
        let total = perf
            .price
            .times(request.quantity.get())
            .ok_or(FlowError::PriceOverflow)?;
        let booking_id = BookingId::generate();
        let span =
            tracing::info_span!("create_booking", booking_id = %booking_id, performance_id = %perf.performance_id);
        self.hold_seats(perf, booking_id, user, request, total, remember)
            .instrument(span)
            .await
    }

    async fn hold_seats(
        &self,
        perf: &Performance,
        booking_id: BookingId,
        user: UserId,
        request: BookingRequest,
        total: Money,
        remember: Option<Remember<'_, Booking>>,
    ) -> Result<Booking, FlowError> {
        // The expiry goes out once, before the first write: see below.
        let mut unscheduled = self.expiries.as_deref();
        let order = Order {
            booking_id: &booking_id,
            user: &user,
            request: &request,
            total: &total,
        };
        // Seats refused by an earlier attempt although they read free (a lapsed hold that was paid).
        let mut refused: HashSet<SeatId> = HashSet::new();
        let quantity = usize::try_from(request.quantity.get()).unwrap_or(usize::MAX);
        let rows = seats::rows(&perf.seats);
        for attempt in 0..HOLD_ATTEMPTS {
            let mut pick = |n: usize| {
                if attempt == 0 {
                    0
                } else {
                    rand::rng().random_range(0..n)
                }
            };
            // The hall row by row, from where this process last found seats (a random row after a lost
            // race), until a row has a block of seats with no lock at all: one short read per booking
            // instead of every lock of the hall. Only when no row has one is the whole hall judged.
            let start = if attempt == 0 {
                self.row_hints.get(&perf.performance_id)
            } else {
                pick(rows.len())
            };
            let mut locks: Vec<SeatLock> = Vec::new();
            let mut found = None;
            let mut rows_read = 0;
            for step in 0..rows.len() {
                let index = (start + step) % rows.len();
                let Some((first, last)) = seats::key_range(rows[index]) else {
                    continue;
                };
                let row_locks = self.store.seat_locks_between(&perf.performance_id, first, last).await?;
                rows_read += 1;
                // The row's own seats are all in its key range: its read alone tells which are locked.
                let locked: HashSet<&SeatId> = row_locks.iter().map(|l| &l.seat_id).chain(refused.iter()).collect();
                let block = seats::adjacent_block(rows[index], &locked, quantity, &mut pick);
                locks.extend(row_locks);
                if let Some(block) = block {
                    found = Some((index, block));
                    break;
                }
            }
            let now = self.clock.now();
            let chosen = match found {
                Some((row, block)) => {
                    self.row_hints.set(&perf.performance_id, row);
                    Ok(block)
                }
                None => {
                    // Rows whose ids interleave may have read one lock twice.
                    locks.sort_by(|a, b| a.seat_id.cmp(&b.seat_id));
                    locks.dedup_by(|a, b| a.seat_id == b.seat_id);
                    let taken: HashSet<&SeatId> = locks
                        .iter()
                        .filter(|l| l.blocks_seat(now))
                        .map(|l| &l.seat_id)
                        .chain(refused.iter())
                        .collect();
                    // Seats with no lock at all come first: a lapsed lock is free, but its booking may
                    // have been paid a moment before it lapsed, and taking it over costs more writes.
                    let locked: HashSet<&SeatId> = locks.iter().map(|l| &l.seat_id).chain(refused.iter()).collect();
                    seats::allocate(&perf.seats, &locked, quantity, &mut pick)
                        .or_else(|| seats::allocate(&perf.seats, &taken, quantity, &mut pick))
                        .ok_or(taken.len())
                }
            };
            let seat_ids = match chosen {
                Ok(seat_ids) => seat_ids,
                Err(taken) => {
                    info!(free = perf.seats.len().saturating_sub(taken), "seats unavailable");
                    metrics::count(Metric::SeatsUnavailable);
                    return Err(FlowError::SeatsUnavailable(perf.performance_id.clone()));
                }
            };
            // The expiry before the first write: once the hold is written, nothing may stop it from
            // lapsing. A request turned away for want of seats sends none; a message whose hold is never
            // written finds no booking.
            if let Some(queue) = unscheduled.take() {
                let delay = Duration::from_secs(self.settings.hold_seconds) + expiry::MARGIN;
                queue.schedule(&HoldExpiry::for_booking(&booking_id), delay).await?;
            }
            let mut hold = self.new_hold(&order, seat_ids, &locks, now);
            hold.idempotency = remember.map(|r| r.completion(&hold.booking));
            match self.store.hold(&hold, now).await {
                Ok(()) => {
                    info!(seats = %seat_list(&hold.booking.seat_ids), attempt, rows_read, "booking created");
                    metrics::count(Metric::BookingsCreated);
                    return Ok(hold.booking);
                }
                Err(HoldError::SeatsTaken(seats)) => {
                    let lapsed: HashSet<&SeatId> = hold.replaces.iter().map(|l| &l.seat_id).collect();
                    refused.extend(seats.into_iter().filter(|s| lapsed.contains(s)));
                    let backoff = rand::rng().random_range(1..=(2u64 << attempt.min(5)));
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                }
                Err(HoldError::KeyTaken) => return Err(FlowError::KeyTaken),
                Err(HoldError::Store(e)) => return Err(e.into()),
            }
        }
        warn!(attempts = HOLD_ATTEMPTS, "gave up after losing every race for seats");
        metrics::count(Metric::SeatsUnavailable);
        Err(FlowError::SeatsContended(perf.performance_id.clone()))
    }

    /// The booking, its intent, its locks and its outbox event for `seat_ids`, as of `now`.
    fn new_hold(&self, order: &Order<'_>, seat_ids: Vec<SeatId>, locks: &[SeatLock], now: Timestamp) -> NewHold {
        let Order {
            booking_id,
            user,
            request,
            total,
        } = *order;
        let hold_expires_at = now.plus_seconds(self.settings.hold_seconds);
        let replaces = locks
            .iter()
            .filter(|l| seat_ids.contains(&l.seat_id))
            .cloned()
            .collect();
        let new_locks = seat_ids
            .iter()
            .map(|seat| SeatLock {
                performance_id: request.performance_id.clone(),
                seat_id: seat.clone(),
                booking_id: booking_id.clone(),
                status: SeatState::Locked,
                locked_until: Some(hold_expires_at),
            })
            .collect();
        let booking = Booking {
            booking_id: booking_id.clone(),
            user_id: user.clone(),
            performance_id: request.performance_id.clone(),
            quantity: request.quantity,
            seat_ids,
            status: BookingStatus::Pending,
            total: total.clone(),
            payment_method: request.payment_method,
            payment_intent_id: booking_id.payment_intent_id(),
            created_at: now,
            hold_expires_at,
            updated_at: now,
        };
        let intent = PaymentIntent {
            payment_intent_id: booking.payment_intent_id.clone(),
            booking_id: booking_id.clone(),
            user_id: user.clone(),
            amount: total.clone(),
            payment_method: request.payment_method,
            status: IntentStatus::Pending,
            hold_expires_at,
            seats_released_at: None,
            pg_mock_data: None,
            created_at: now,
            updated_at: now,
        };
        NewHold {
            booking,
            intent,
            locks: new_locks,
            replaces,
            idempotency: None,
        }
    }
}

impl<S: PaymentRecords> App<S> {
    /// Charges the booking through the simulated gateway and records the outcome on the payment intent
    /// together with the event that publishes it. Only the booking's owner may pay it.
    /// With `remember`, the request's idempotency key is completed with the response in the same
    /// transaction.
    pub async fn execute_payment(
        &self,
        user: &UserId,
        request: PaymentRequest,
        remember: Option<Remember<'_, (Booking, PgResult)>>,
    ) -> Result<(Booking, PgResult), FlowError> {
        let span = tracing::info_span!("execute_payment", booking_id = %request.booking_id);
        self.pay(user, request, remember).instrument(span).await
    }

    async fn pay(
        &self,
        user: &UserId,
        request: PaymentRequest,
        remember: Option<Remember<'_, (Booking, PgResult)>>,
    ) -> Result<(Booking, PgResult), FlowError> {
        let booking = self
            .store
            .booking(&request.booking_id)
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
                    self.call_back_later(&booking);
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
}

impl<S: SeatHolds> App<S> {
    /// Every seat of a performance in hall order with what a customer can do with it, from one read.
    pub async fn seat_map(&self, id: &PerformanceId) -> Result<(&Performance, Vec<(SeatId, Availability)>), FlowError> {
        let perf = self
            .catalog
            .performance(id)
            .ok_or_else(|| FlowError::UnknownPerformance(id.clone()))?;
        let now = self.clock.now();
        // A view, not a decision: an eventually consistent read, at half the read units.
        let locks: HashMap<SeatId, Availability> = self
            .store
            .seat_locks(id, Consistency::Eventual)
            .await?
            .into_iter()
            .map(|l| (l.seat_id.clone(), l.availability(now)))
            .collect();
        let seats = perf
            .seats
            .iter()
            .map(|s| (s.clone(), locks.get(s).copied().unwrap_or(Availability::Available)))
            .collect();
        Ok((perf, seats))
    }
}

impl<S> App<S> {
    /// Has the simulated gateway notify the outcome of a payment it is still processing.
    fn call_back_later(&self, booking: &Booking) {
        let Some(gateway) = &self.gateway else {
            info!("payment processing: the gateway will notify its outcome");
            return;
        };
        let created = self.clock.now().as_millis() / 1000;
        gateway.deliver_later(Notification {
            id: EventId::try_from(format!("evt_pg_{}", uuid::Uuid::new_v4().simple()))
                .unwrap_or_else(|_| EventId::generate()),
            kind: NotificationType::PaymentSucceeded,
            created,
            data: NotificationData {
                booking_id: booking.booking_id.clone(),
                failure_code: None,
            },
        });
    }
}

impl<S: BookingHistory> App<S> {
    /// The most bookings one listing returns.
    pub const HISTORY_LIMIT: usize = 100;

    pub async fn my_bookings(&self, user: &UserId) -> Result<Vec<Booking>, FlowError> {
        Ok(self.store.bookings_of(user, Self::HISTORY_LIMIT).await?)
    }
}

fn seat_list(seats: &[SeatId]) -> String {
    seats.iter().map(SeatId::as_str).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ManualClock;
    use crate::store::MemoryStore;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The in-memory store, counting how the flow reads seat locks.
    #[derive(Default)]
    struct CountingReads {
        store: MemoryStore,
        rows: AtomicUsize,
        halls: AtomicUsize,
    }

    #[async_trait]
    impl SeatHolds for CountingReads {
        async fn seat_locks(
            &self,
            performance: &PerformanceId,
            consistency: Consistency,
        ) -> Result<Vec<SeatLock>, StoreError> {
            self.halls.fetch_add(1, Ordering::SeqCst);
            self.store.seat_locks(performance, consistency).await
        }

        async fn seat_locks_between(
            &self,
            performance: &PerformanceId,
            first: &SeatId,
            last: &SeatId,
        ) -> Result<Vec<SeatLock>, StoreError> {
            self.rows.fetch_add(1, Ordering::SeqCst);
            self.store.seat_locks_between(performance, first, last).await
        }

        async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError> {
            self.store.hold(hold, now).await
        }
    }

    /// Counts the expiries scheduled.
    #[derive(Default)]
    struct CountingQueue(AtomicUsize);

    #[async_trait]
    impl ExpiryQueue for CountingQueue {
        async fn schedule(&self, _: &HoldExpiry, _: Duration) -> Result<(), QueueError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_hold_schedules_its_expiry_once_and_a_turned_away_request_none() {
        let queue = Arc::new(CountingQueue::default());
        let app = App::new(
            CountingReads::default(),
            two_rows_of_four(),
            Arc::new(crate::domain::SystemClock),
            Settings::default(),
        )
        .with_expiries(queue.clone());
        for _ in 0..4 {
            book_two(&app).await.expect("booked");
        }
        assert_eq!(queue.0.load(Ordering::SeqCst), 4);
        assert!(matches!(book_two(&app).await, Err(FlowError::SeatsUnavailable(_))));
        assert_eq!(queue.0.load(Ordering::SeqCst), 4, "sold out: nothing to expire");
    }

    fn two_rows_of_four() -> Catalog {
        let json = r#"{"performances": [{"performanceId": "small", "title": "t", "price": 100,
            "currency": "KRW", "seats": ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]}]}"#;
        Catalog::from_json(json).expect("catalog")
    }

    async fn book_two(app: &App<CountingReads>) -> Result<Vec<String>, FlowError> {
        let request = BookingRequest {
            performance_id: PerformanceId::try_from("small").expect("valid"),
            quantity: Quantity::try_from(2).expect("valid"),
            payment_method: PaymentMethod::CreditCard,
        };
        let booking = app
            .create_booking(UserId::try_from("u").expect("valid"), request, None)
            .await?;
        Ok(booking.seat_ids.iter().map(|s| s.as_str().to_owned()).collect())
    }

    fn reads(app: &App<CountingReads>) -> (usize, usize) {
        (
            app.store.rows.swap(0, Ordering::SeqCst),
            app.store.halls.swap(0, Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn a_booking_reads_the_row_where_seats_were_last_found_not_the_hall() {
        let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
        let app = App::new(
            CountingReads::default(),
            two_rows_of_four(),
            clock.clone(),
            Settings::default(),
        );
        assert_eq!(book_two(&app).await.expect("booked"), ["A1", "A2"]);
        assert_eq!(reads(&app), (1, 0));
        assert_eq!(book_two(&app).await.expect("booked"), ["A3", "A4"]);
        assert_eq!(reads(&app), (1, 0));
        // Row A is full: read, then row B.
        assert_eq!(book_two(&app).await.expect("booked"), ["B1", "B2"]);
        assert_eq!(reads(&app), (2, 0));
        assert_eq!(book_two(&app).await.expect("booked"), ["B3", "B4"]);
        assert_eq!(reads(&app), (1, 0));
        // Sold out: every row read once, then judged as a whole.
        assert!(matches!(book_two(&app).await, Err(FlowError::SeatsUnavailable(_))));
        assert_eq!(reads(&app), (2, 0));
        // Every hold lapses: the walk finds no seat without a lock, and the whole hall (row A first)
        // offers the lapsed ones.
        clock.set(Timestamp::from_millis(
            1_000_000 + 1000 * i64::try_from(Settings::default().hold_seconds).expect("small") + 1,
        ));
        assert_eq!(book_two(&app).await.expect("booked"), ["A1", "A2"]);
        assert_eq!(reads(&app), (2, 0));
    }
}
