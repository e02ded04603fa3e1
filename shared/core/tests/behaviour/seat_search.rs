//! How a booking finds its seats: from what its process has seen of the hall, reading only rows it
//! has not seen, and the whole hall before saying sold out.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ticketing_core::app::{load_catalog, BookingRequest, CreateBooking, FlowError, HoldPolicy, PerformanceCache};
use ticketing_core::catalog::{CancellationProgress, Catalog, PerformanceRecord, PerformanceStatus};
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{Clock, ManualClock, PaymentMethod, PerformanceId, Quantity, SeatId, Timestamp, UserId};
use ticketing_core::idempotency::Completion;
use ticketing_core::ports::{
    Consistency, CreateError, HoldError, Holds, LayoutLock, NewHold, Page, PageKey, Performances, SeatLocks,
    StoreError, UpdateError,
};
use ticketing_testkit::memory::MemoryStore;

/// The in-memory store, counting how the flow reads seat locks.
#[derive(Default)]
struct CountingReads {
    store: MemoryStore,
    rows: AtomicUsize,
    halls: AtomicUsize,
    /// Another booking locks the layout just before the next lock asked for (after its read).
    locked_behind: AtomicBool,
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

    async fn lock_layout(&self, id: &PerformanceId, layout_version: u64) -> Result<LayoutLock, StoreError> {
        if self.locked_behind.swap(false, Ordering::SeqCst) {
            self.store.lock_layout(id, layout_version).await?;
        }
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

fn two_rows_of_four() -> Catalog {
    let json = r#"{"performances": [{"performanceId": "small", "title": "t", "price": 100,
        "currency": "KRW", "seats": ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"]}]}"#;
    Catalog::from_json(json).expect("catalog")
}

/// The catalog loaded into a new store, and a process booking over it.
async fn service(clock: Arc<dyn Clock>) -> (Arc<CountingReads>, CreateBooking<CountingReads>) {
    let store = Arc::new(CountingReads::default());
    load_catalog(store.as_ref(), &two_rows_of_four(), clock.now())
        .await
        .expect("loaded");
    (store.clone(), service_over(store, clock))
}

/// A process over `store`: what it has seen is its own.
fn service_over(store: Arc<CountingReads>, clock: Arc<dyn Clock>) -> CreateBooking<CountingReads> {
    process_over(store, clock).0
}

/// A process over `store`, and what it knows of the performances.
fn process_over(
    store: Arc<CountingReads>,
    clock: Arc<dyn Clock>,
) -> (CreateBooking<CountingReads>, Arc<PerformanceCache<CountingReads>>) {
    let performances = Arc::new(PerformanceCache::new(
        store.clone(),
        clock.clone(),
        Duration::from_secs(60),
    ));
    let service = CreateBooking::new(store, performances.clone(), clock, HoldPolicy::default());
    (service, performances)
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

/// The two blocks of two seats of `row`, in either order.
fn blocks_of(row: &str, first: &[String], second: &[String]) -> bool {
    let a = [format!("{row}1"), format!("{row}2")];
    let b = [format!("{row}3"), format!("{row}4")];
    (first == a && second == b) || (first == b && second == a)
}

#[tokio::test]
async fn a_booking_reads_only_rows_its_process_has_not_seen() {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
    let (store, service) = service(clock.clone()).await;
    // Nothing seen yet: row A is read, and one of its blocks taken.
    let first = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (1, 0));
    // The other block of row A, from what the process saw: no read.
    let second = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (0, 0));
    assert!(blocks_of("A", &first, &second), "{first:?} {second:?}");
    // Row A is full as far as the process knows: row B, never seen, is read.
    let third = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (1, 0));
    let fourth = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (0, 0));
    assert!(blocks_of("B", &third, &fourth), "{third:?} {fourth:?}");
    // Sold out as far as the process knows: the whole hall is read afresh before saying so.
    assert!(matches!(book_two(&service).await, Err(FlowError::SeatsUnavailable(_))));
    assert_eq!(store.reads(), (0, 1));
    // Every hold lapses. What the rows showed is past its time: each is read again, then the whole
    // hall, which offers the lapsed seats.
    let hold = i64::try_from(HoldPolicy::default().hold_seconds).expect("small");
    clock.set(Timestamp::from_millis(1_000_000 + 1000 * hold + 1));
    let taken_over = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (2, 1));
    assert_eq!(taken_over.len(), 2);
}

#[tokio::test]
async fn a_first_booking_that_finds_the_layout_locked_since_its_read_books_in_a_home_row_unread() {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
    let (store, service) = service(clock.clone()).await;
    // Another booking of the performance locks its layout between this process's read and its lock: the
    // sale has just opened, and others book at this instant. Without a read, the process holds a block
    // of a home row chosen at random (as if the row were empty), rather than meet them on row A's
    // first block.
    store.locked_behind.store(true, Ordering::SeqCst);
    let first = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (0, 0), "{first:?}");
    // It books on in that row, unread, while it has room.
    let second = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (0, 0), "{second:?}");
    assert_eq!(first[0][..1], second[0][..1], "{first:?} {second:?}");
    // A process that finds the layout locked when it reads it reads the rows first: row A, and row B
    // if row A was the home row, now full.
    let other = service_over(store.clone(), clock.clone());
    let third = book_two(&other).await.expect("booked");
    let rows = if first[0].starts_with('A') { 2 } else { 1 };
    assert_eq!(store.reads(), (rows, 0), "{first:?} {third:?}");
}

#[tokio::test]
async fn a_layout_locked_since_a_read_long_past_is_no_sign_of_a_crowd() {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
    let (store, _) = service(clock.clone()).await;
    let (service, performances) = process_over(store.clone(), clock.clone());
    // The process read the performance (for its seat map) five seconds ago; another booking locked the
    // layout since, at any moment of those five seconds: a quiet sale, as far as this process knows.
    let id = PerformanceId::try_from("small").expect("valid");
    performances.for_view(&id).await.expect("read").expect("known");
    clock.set(Timestamp::from_millis(1_005_000));
    store.locked_behind.store(true, Ordering::SeqCst);
    let first = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (1, 0));
    assert_eq!(first, ["A1", "A2"]);
}

#[tokio::test]
async fn a_seat_taken_behind_the_process_s_back_is_refused_and_its_row_read_again() {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_000_000)));
    let (store, service) = service(clock.clone()).await;
    let first = book_two(&service).await.expect("booked");
    assert_eq!(store.reads(), (1, 0));
    // Another process holds the other block of row A.
    let other = service_over(store.clone(), clock.clone());
    let taken = book_two(&other).await.expect("booked");
    assert!(blocks_of("A", &first, &taken), "{first:?} {taken:?}");
    store.reads();
    // This process still thinks it free: its hold is refused (with the lock that took it), so what it
    // saw of row A is stale, and it now books in a home row of its own, chosen at random among the rows
    // not known to be full: row B at once, or row A read again, found full, then row B.
    let third = book_two(&service).await.expect("booked");
    assert!(third[0].starts_with('B'), "{third:?}");
    let (rows, halls) = store.reads();
    assert!(
        (1..=2).contains(&rows) && halls == 0,
        "{rows} row reads, {halls} hall reads"
    );
}
