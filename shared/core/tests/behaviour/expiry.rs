//! Holds that lapse: every hold written has its expiry sent (from the bookings stream, once the hold
//! is committed, whatever became of the request), and the expiry ends an unpaid booking and frees its
//! seats, by itself, and never together with a payment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use ticketing_aws::events::process_expiries;
use ticketing_aws::sqs::SqsExpiryQueue;
use ticketing_core::app::{ExpireHolds, ProcessingPolicy};
use ticketing_core::domain::{
    BookingId, BookingStatus, Currency, IntentStatus, ManualClock, Money, PaymentMethod, PerformanceId, Quantity,
    SeatId, Timestamp, UserId,
};
use ticketing_core::ports::{ExpiryQueue, HoldExpiry, HoldRequest, NewHold, QueueError};
use ticketing_testkit::in_process::run_expiries;
use ticketing_testkit::queues;
use ticketing_testkit::test_app::{booking_id, dynamodb, memory, moto, Fixture, Setup, TestStore, USER};

use crate::helpers::{on_both_stores, with_worker};

#[tokio::test]
async fn a_lapsed_hold_expires_by_itself_and_a_late_payment_is_refused() {
    let app = Setup::seats(4).hold_seconds(2).build(memory()).await;
    let expirer = run_expiries(app.due_expiries(), &app.api.expire_holds, app.api.expiries.as_ref());
    let scenario = with_worker(&app, async {
        let (_, created) = app.book(USER, 2).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(app.seat_states().await[0].1, "held");
        // Nothing touches the performance: the expiry alone does it.
        app.wait_for_status(USER, &id, "expired").await;
        assert!(app.locks().await.is_empty(), "the seats are released");
        assert!(app.seat_states().await.iter().all(|(_, state)| state == "available"));
        let (code, late) = app.pay(USER, &id, "120").await;
        assert_eq!(
            (code, late["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("HOLD_EXPIRED"))
        );
        assert_eq!(
            app.intent_of(&booking_id(&created)).await.status,
            IntentStatus::Cancelled
        );
    });
    tokio::select! {
        () = expirer => panic!("the expiry consumer never stops by itself"),
        () = scenario => {}
    }
}

#[tokio::test]
async fn a_lapsed_hold_expires_through_the_sqs_delay_queue() {
    let moto = moto();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let name = format!("expiries-{}", uuid::Uuid::new_v4().simple());
    let url = queues::create_with_dead_letters(&sqs, &name, Duration::from_secs(5))
        .await
        .expect("queue created");
    let queue: Arc<dyn ExpiryQueue> = Arc::new(SqsExpiryQueue::new(sqs.clone(), url.clone()));
    let app = Setup::seats(4)
        .hold_seconds(2)
        .expiries(queue)
        .build(dynamodb().await)
        .await;
    let deliver = |event| async { Ok(process_expiries(&app.api.expire_holds, event).await) };
    let consumer = queues::run_mapping(&sqs, &url, "us-east-1", 10, deliver);
    // The scheduler sends the delayed message from the bookings stream: no worker runs here.
    app.start_scheduler();
    let scenario = async {
        let (_, created) = app.book(USER, 2).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        // Nothing touches the performance: the delayed message alone expires the booking.
        app.wait_for_status(USER, &id, "expired").await;
        assert!(app.locks().await.is_empty(), "the seats are released");
        let (code, late) = app.pay(USER, &id, "120").await;
        assert_eq!(
            (code, late["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("HOLD_EXPIRED"))
        );
    };
    tokio::select! {
        () = consumer => panic!("the consumer never stops by itself"),
        () = scenario => {}
    }
}

/// Keeps what is sent, refusing the first `refuse` attempts.
#[derive(Default)]
struct Recorded {
    refuse: AtomicUsize,
    attempts: AtomicUsize,
    sent: Mutex<Vec<HoldExpiry>>,
}

impl Recorded {
    fn refusing(refuse: usize) -> Self {
        Self {
            refuse: AtomicUsize::new(refuse),
            ..Self::default()
        }
    }

    fn sent(&self) -> Vec<BookingId> {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.booking_id.clone())
            .collect()
    }

    /// Waits until an expiry was sent for each of `bookings`, or fails after 20 s.
    async fn wait_for(&self, bookings: &[BookingId]) {
        let started = Instant::now();
        while !bookings.iter().all(|b| self.sent().contains(b)) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "expiries sent: {:?}, expected {bookings:?}",
                self.sent()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[async_trait::async_trait]
impl ExpiryQueue for Recorded {
    async fn schedule(&self, expiry: &HoldExpiry, _: Duration) -> Result<(), QueueError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let refused = self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refused {
            return Err(QueueError("the queue is down".to_owned()));
        }
        self.sent.lock().expect("lock").push(expiry.clone());
        Ok(())
    }
}

on_both_stores!(
    every_booking_written_has_its_expiry_sent_once_and_a_turned_away_request_none,
    a_hold_committed_by_a_process_that_died_before_answering_still_expires,
    an_expiry_the_queue_refuses_is_sent_again_until_it_takes_it,
    a_payment_and_an_expiry_raced_200_times_never_both_win
);

async fn every_booking_written_has_its_expiry_sent_once_and_a_turned_away_request_none<S: TestStore>(
    fixture: Fixture<S>,
) {
    let queue = Arc::new(Recorded::default());
    let app = Setup::seats(10).expiries(queue.clone()).build(fixture).await;
    app.start_scheduler();
    let mut booked = Vec::new();
    for _ in 0..4 {
        let (code, created) = app.book(USER, 2).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        booked.push(booking_id(&created));
    }
    // Two seats left: three are refused, and nothing is written.
    let (code, refused) = app.book(USER, 3).await;
    assert_eq!(code, StatusCode::CONFLICT, "{refused}");
    let (code, created) = app.book(USER, 2).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    booked.push(booking_id(&created));
    // The stream is in order: once the last booking's expiry is out, the refused request's would be too.
    queue.wait_for(&booked).await;
    let mut sent = queue.sent();
    sent.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    booked.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(sent, booked, "one expiry per booking written, and no other");
}

/// The hold's transaction commits, and the process that wrote it dies before doing anything else (no
/// answer, no message): the expiry is sent all the same, and the booking expires by itself.
async fn a_hold_committed_by_a_process_that_died_before_answering_still_expires<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(4).hold_seconds(1).build(fixture).await;
    let request = HoldRequest {
        booking_id: BookingId::generate(),
        user_id: UserId::try_from(USER).expect("valid"),
        performance_id: PerformanceId::try_from("perf_001").expect("valid"),
        quantity: Quantity::try_from(2).expect("valid"),
        payment_method: PaymentMethod::CreditCard,
        total: Money::new(60_000, Currency::try_from("KRW".to_owned()).expect("valid")),
    };
    let seats = ["A1", "A2"].map(|s| SeatId::try_from(s).expect("valid")).to_vec();
    let hold = NewHold::pending(&request, seats, &[], app.clock.now(), 1);
    app.store.hold(&hold, app.clock.now()).await.expect("held");
    let expirer = run_expiries(app.due_expiries(), &app.api.expire_holds, app.api.expiries.as_ref());
    let scenario = async {
        let id = request.booking_id.to_string();
        app.wait_for_status(USER, &id, "expired").await;
        assert!(app.locks().await.is_empty(), "the seats are released");
    };
    tokio::select! {
        () = expirer => panic!("the expiry consumer never stops by itself"),
        () = scenario => {}
    }
}

async fn an_expiry_the_queue_refuses_is_sent_again_until_it_takes_it<S: TestStore>(fixture: Fixture<S>) {
    let queue = Arc::new(Recorded::refusing(3));
    let app = Setup::seats(4).expiries(queue.clone()).build(fixture).await;
    app.start_scheduler();
    let (code, created) = app.book(USER, 2).await;
    assert_eq!(code, StatusCode::CREATED, "the booking waits for no queue: {created}");
    queue.wait_for(&[booking_id(&created)]).await;
    assert_eq!(queue.attempts.load(Ordering::SeqCst), 4, "three refusals, then sent");
    assert_eq!(queue.sent().len(), 1);
}

/// A payment a millisecond before the hold lapses against the expiry at the instant it does, both
/// valid by their own clocks, 200 times: exactly one wins each time.
async fn a_payment_and_an_expiry_raced_200_times_never_both_win<S: TestStore>(fixture: Fixture<S>) {
    const ROUNDS: usize = 200;
    const T0: i64 = 1_900_000_000_000;
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(T0)));
    // A seat per round: a paid booking keeps its seat, and either side may win every round.
    let app = Arc::new(
        Setup::seats(ROUNDS)
            .hold_seconds(60)
            .clock(clock.clone())
            .build(fixture)
            .await,
    );
    let (mut payment_won, mut expiry_won) = (0, 0);
    for round in 0..ROUNDS {
        clock.set(Timestamp::from_millis(
            T0 + i64::try_from(round).expect("small") * 120_000,
        ));
        let user = format!("racer_{round}");
        let (code, created) = app.book(&user, 1).await;
        assert_eq!(code, StatusCode::CREATED, "round {round}: {created}");
        let id = booking_id(&created);
        let booking = app.booking(&id).await;
        let lapses = booking.hold_expires_at;
        clock.set(Timestamp::from_millis(lapses.as_millis() - 1));
        let paying = {
            let app = Arc::clone(&app);
            let (user, id) = (user.clone(), id.to_string());
            tokio::spawn(async move { app.pay(&user, &id, "120").await })
        };
        let expiring = {
            let expire = ExpireHolds::new(
                app.store.clone(),
                Arc::new(ManualClock::at(lapses)),
                app.api.expiries.clone(),
                ProcessingPolicy::default(),
            );
            let expiry = HoldExpiry::for_booking(&booking);
            tokio::spawn(async move { expire.expire_when_due(&expiry).await.is_ok() })
        };
        let (paid, expired_ok) = (paying.await.expect("ran"), expiring.await.expect("ran"));
        assert!(expired_ok, "the expiry itself never fails");
        let booking = app.booking(&id).await;
        let intent = app.intent_of(&id).await;
        match paid.0 {
            StatusCode::OK => {
                assert_eq!(
                    (booking.status, intent.status),
                    (BookingStatus::Pending, IntentStatus::Succeeded)
                );
                payment_won += 1;
            }
            StatusCode::CONFLICT => {
                assert_eq!(paid.1["error"]["code"], "HOLD_EXPIRED", "{}", paid.1);
                assert_eq!(
                    (booking.status, intent.status),
                    (BookingStatus::Expired, IntentStatus::Cancelled)
                );
                expiry_won += 1;
            }
            other => panic!("round {round}: unexpected {other}: {}", paid.1),
        }
    }
    println!("the payment won {payment_won} times, the expiry {expiry_won} times");
    assert_eq!(payment_won + expiry_won, ROUNDS);
}
