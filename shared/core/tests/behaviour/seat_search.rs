//! How a booking finds its seats: one short read of the row where seats were last found, not the
//! whole hall; and the expiry each hold schedules.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ticketing_core::app::{load_catalog, BookingRequest, CreateBooking, FlowError, HoldPolicy, PerformanceCache};
use ticketing_core::catalog::{CancellationProgress, Catalog, PerformanceRecord, PerformanceStatus};
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{
    Clock, ManualClock, PaymentMethod, PerformanceId, Quantity, SeatId, SystemClock, Timestamp, UserId,
};
use ticketing_core::idempotency::Completion;
use ticketing_core::ports::{
    Consistency, CreateError, ExpiryQueue, HoldError, HoldExpiry, Holds, NewHold, Page, PageKey, Performances,
    QueueError, SeatLocks, StoreError, UpdateError,
};
use ticketing_testkit::memory::MemoryStore;

/// The in-memory store, counting how the flow reads seat locks.
#[derive(Default)]
struct CountingReads {
    store: MemoryStore,
    rows: AtomicUsize,
    halls: AtomicUsize,
}

impl CountingReads {
    /// (row reads, whole-hall reads) since the last call.
    fn reads(&self) -> (usize, usize) {
        (
            self.rows.swap(0, Ordering::SeqCst),
            self.halls.swap(0, Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl SeatLocks for CountingReads {
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
}

#[async_trait]
impl Holds for CountingReads {
    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError> {
        self.store.hold(hold, now).await
    }
}

#[async_trait]
impl Performances for CountingReads {
    async fn create_performance(
        &self,
        record: &PerformanceRecord,
        key: Option<&Completion>,
    ) -> Result<(), CreateError> {
        self.store.create_performance(record, key).await
    }

    async fn performance(
        &self,
        id: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Option<PerformanceRecord>, StoreError> {
        self.store.performance(id, consistency).await
    }

    async fn update_performance(&self, record: &PerformanceRecord, read: u64, layout: bool) -> Result<(), UpdateError> {
        self.store.update_performance(record, read, layout).await
    }

    async fn lock_layout(&self, id: &PerformanceId, layout_version: u64) -> Result<bool, StoreError> {
        self.store.lock_layout(id, layout_version).await
    }

    async fn record_cancellation(&self, id: &PerformanceId, progress: &CancellationProgress) -> Result<(), StoreError> {
        self.store.record_cancellation(id, progress).await
    }

    async fn performances(
        &self,
        status: PerformanceStatus,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<Page, StoreError> {
        self.store.performances(status, limit, after).await
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

fn two_rows_of_four() -> Catalog {
    let json = r#"{"performances": [{"performanceId": "small", "title": "t", "price": 100,
        "currency": "KRW", "seats": ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]}]}"#;
    Catalog::from_json(json).expect("catalog")
}

async fn service(
    clock: Arc<dyn Clock>,
    queue: Arc<CountingQueue>,
) -> (Arc<CountingReads>, CreateBooking<CountingReads>) {
    let store = Arc::new(CountingReads::default());
    load_catalog(store.as_ref(), &two_rows_of_four(), clock.now())
        .await
        .expect("loaded");
    let performances = Arc::new(PerformanceCache::new(
        store.clone(),
        clock.clone(),
        Duration::from_secs(60),
    ));
    let service = CreateBooking::new(store.clone(), performances, clock, HoldPolicy::default(), queue);
    (store, service)
}

async fn book_two(service: &CreateBooking<CountingReads>) -> Result<Vec<String>, FlowError> {
    let request = BookingRequest {
        performance_id: PerformanceId::try_from("small").expect("valid"),
        quantity: Quantity::try_from(2).expect("valid"),
        payment_method: PaymentMethod::CreditCard,
        section: None,
    };
    let booking = service
        .create(UserId::try_from("u").expect("valid"), request, None)
        .await?;
    Ok(booking.seat_ids.iter().map(|s| s.as_str().to_owned()).collect())
}

#[tokio::test]
async fn each_hold_schedules_its_expiry_once_and_a_turned_away_request_none() {
    let queue = Arc::new(CountingQueue::default());
    let (_, service) = service(Arc::new(SystemClock), queue.clone()).await;
    for _ in 0..4 {
        book_two(&service).await.expect("booked");
    }
    assert_eq!(queue.0.load(Ordering::SeqCst), 4);
    assert!(matches!(book_two(&service).await, Err(FlowError::SeatsUnavailable(_))));
    assert_eq!(queue.0.load(Ordering::SeqCst), 4, "sold out: nothing to expire");
}

#[tokio::test]
async fn a_booking_reads_the_row_where_seats_were_last_found_not_the_hall() {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
    let (store, service) = service(clock.clone(), Arc::default()).await;
    assert_eq!(book_two(&service).await.expect("booked"), ["A1", "A2"]);
    assert_eq!(store.reads(), (1, 0));
    assert_eq!(book_two(&service).await.expect("booked"), ["A3", "A4"]);
    assert_eq!(store.reads(), (1, 0));
    // Row A is full: read, then row B.
    assert_eq!(book_two(&service).await.expect("booked"), ["B1", "B2"]);
    assert_eq!(store.reads(), (2, 0));
    assert_eq!(book_two(&service).await.expect("booked"), ["B3", "B4"]);
    assert_eq!(store.reads(), (1, 0));
    // Sold out: every row read once, then judged as a whole.
    assert!(matches!(book_two(&service).await, Err(FlowError::SeatsUnavailable(_))));
    assert_eq!(store.reads(), (2, 0));
    // Every hold lapses: the walk finds no seat without a lock, and the whole hall (row A first)
    // offers the lapsed ones.
    let hold = i64::try_from(HoldPolicy::default().hold_seconds).expect("small");
    clock.set(Timestamp::from_millis(1_000_000 + 1000 * hold + 1));
    assert_eq!(book_two(&service).await.expect("booked"), ["A1", "A2"]);
    assert_eq!(store.reads(), (2, 0));
}
