//! `POST /bookings` and what becomes of a booking: confirmed, failed, listed, sold out.

use lambda_http::http::StatusCode;
use serde_json::json;
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::{ledger, SeatState};
use ticketing_testkit::memory::MemoryStore;
use ticketing_testkit::test_app::{booking_id, memory, Fixture, Setup, TestStore, USER};

use crate::helpers::{on_both_stores, with_worker};

on_both_stores!(
    a_paid_booking_is_confirmed_with_its_seats_sold_and_its_ledger_balanced,
    a_declined_booking_fails_and_its_seats_go_to_the_next_booking,
);

/// The seed's scenario 1: CVV 120 confirms the booking, sells its seats and balances the ledger.
async fn a_paid_booking_is_confirmed_with_its_seats_sold_and_its_ledger_balanced<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::with_catalog(Catalog::builtin()).build(fixture).await;
    with_worker(&app, async {
        let (code, created) = app.book(USER, 2).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["message"],
            "Booking and payment intent created. Please proceed to payment execution."
        );
        assert_eq!(created["totalAmount"], 60000);
        let id = created["bookingId"].as_str().expect("bookingId").to_owned();
        let (code, paid) = app.pay(USER, &id, "120").await;
        assert_eq!(code, StatusCode::OK, "{paid}");
        assert_eq!(paid["message"], "Payment simulation finished with status: SUCCESS");
        assert_eq!(paid["finalStatus"], "SUCCESS");
        assert_eq!(paid["bookingId"], id.as_str());
        assert_eq!(paid["pgMockData"]["isSuccess"], true);
        assert_eq!(paid["pgMockData"]["failureCode"], json!(null));
        let confirmed = app.wait_for_status(USER, &id, "confirmed").await;
        assert_eq!(confirmed["userId"], USER);
        assert_eq!(confirmed["performanceId"], "perf_001");
        assert_eq!(confirmed["quantity"], 2);
        assert_eq!(confirmed["seatIds"], json!(["A1", "A2"]));
        let booking = booking_id(&created);
        let locks = app.locks().await;
        let mine: Vec<_> = locks.iter().filter(|l| l.booking_id == booking).collect();
        assert_eq!(mine.len(), 2);
        assert!(mine
            .iter()
            .all(|l| l.status == SeatState::Sold && l.locked_until.is_none()));
        let entries = app.store.ledger_of(&booking).await.expect("ledger");
        assert_eq!(entries.len(), 2);
        assert_eq!(ledger::balance(&entries), 0);
        assert!(entries.iter().all(|e| e.amount.amount == 60000));
        let intent = app.intent_of(&booking).await;
        assert_eq!(intent.status, ticketing_core::domain::IntentStatus::Succeeded);
    })
    .await;
}

/// The seed's scenario 2: CVV 442 fails the booking with DECLINE_2, frees its seats for the next
/// booking and writes nothing to the ledger; neither booking can be paid again.
async fn a_declined_booking_fails_and_its_seats_go_to_the_next_booking<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::with_catalog(Catalog::builtin()).build(fixture).await;
    with_worker(&app, async {
        let (_, first) = app.book(USER, 2).await;
        let id = first["bookingId"].as_str().expect("bookingId").to_owned();
        assert_eq!(app.pay(USER, &id, "120").await.0, StatusCode::OK);
        app.wait_for_status(USER, &id, "confirmed").await;

        let (_, created) = app.book(USER, 2).await;
        let id2 = created["bookingId"].as_str().expect("bookingId").to_owned();
        assert_eq!(created["seatIds"], json!(["A3", "A4"]));
        let (code, declined) = app.pay(USER, &id2, "442").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(declined["message"], "Payment simulation finished with status: FAILURE");
        assert_eq!(declined["finalStatus"], "FAILURE");
        assert_eq!(declined["pgMockData"]["isSuccess"], false);
        assert_eq!(declined["pgMockData"]["failureCode"], "DECLINE_2");
        app.wait_for_status(USER, &id2, "failed").await;
        let booking2 = booking_id(&created);
        assert!(
            app.locks().await.iter().all(|l| l.booking_id != booking2),
            "a failed booking's seats are free"
        );
        assert!(app.store.ledger_of(&booking2).await.expect("ledger").is_empty());

        let states = app.seat_states().await;
        assert_eq!(
            &states[2..4],
            [
                ("A3".to_owned(), "available".to_owned()),
                ("A4".to_owned(), "available".to_owned())
            ],
            "on sale again"
        );
        let (code, _) = app.book(USER, 2).await;
        assert_eq!(code, StatusCode::CREATED);
        for final_booking in [&id, &id2] {
            let (code, again) = app.pay(USER, final_booking, "120").await;
            assert_eq!(
                (code, again["error"]["code"].as_str()),
                (StatusCode::CONFLICT, Some("BOOKING_NOT_PENDING"))
            );
        }
    })
    .await;
}

#[tokio::test]
async fn my_bookings_are_listed_newest_first() {
    let app = Setup::seats(10).build(memory()).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, created) = app.book(USER, 1).await;
        ids.push(created["bookingId"].as_str().expect("id").to_owned());
        // Creation times to the millisecond: apart.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mine = app.my_bookings(USER).await;
    let listed: Vec<&str> = mine
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|b| b["bookingId"].as_str())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn sold_out_is_a_conflict() {
    let app = Setup::seats(3).build(memory()).await;
    assert_eq!(app.book(USER, 2).await.0, StatusCode::CREATED);
    let (code, body) = app.book(USER, 2).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEATS_UNAVAILABLE"))
    );
    assert_eq!(app.book(USER, 1).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_paid_hold_that_lapsed_before_the_worker_ran_keeps_its_seats() {
    let app = Setup::seats(3).hold_seconds(1).build::<MemoryStore>(memory()).await;
    let (_, first) = app.book(USER, 2).await;
    let id = first["bookingId"].as_str().expect("id");
    assert_eq!(app.pay(USER, id, "120").await.0, StatusCode::OK);
    // No worker runs: the locks still read `locked`, and lapse.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, second) = app.book("another_user", 1).await;
    assert_eq!(code, StatusCode::CREATED, "{second}");
    assert_eq!(second["seatIds"], json!(["A3"]), "the paid seats are not given away");
    let (code, third) = app.book("another_user", 1).await;
    assert_eq!(
        (code, third["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEATS_UNAVAILABLE"))
    );
}

/// A performance of 20 seats, at most 8 per customer.
fn limited_hall() -> Catalog {
    let seats: Vec<String> = (1..=20).map(|n| format!("A{n}")).collect();
    let json = json!({"performances": [{"performanceId": "perf_001", "title": "Limited", "price": 30000,
        "currency": "KRW", "seats": seats, "maxSeatsPerUser": 8}]});
    Catalog::from_json(&json.to_string()).expect("valid catalog")
}

on_both_stores!(twenty_concurrent_bookings_of_one_customer_hold_no_more_than_the_limit);

async fn twenty_concurrent_bookings_of_one_customer_hold_no_more_than_the_limit<S: TestStore>(fixture: Fixture<S>) {
    let app = std::sync::Arc::new(Setup::with_catalog(limited_hall()).build(fixture).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = std::sync::Arc::clone(&app);
        tasks.spawn(async move { app.book(USER, 1).await });
    }
    let mut booked = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (code, body) = joined.expect("ran");
        match code {
            StatusCode::CREATED => booked.push(body["bookingId"].as_str().expect("id").to_owned()),
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "SEAT_LIMIT_REACHED", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(booked.len(), 8, "at most 8 seats for one customer");
    assert_eq!(app.locks().await.len(), 8);
    // Another customer is not held back; a failed booking gives its seat back to its customer's count.
    assert_eq!(app.book("someone_else", 2).await.0, StatusCode::CREATED);
    assert_eq!(app.pay(USER, &booked[0], "442").await.0, StatusCode::OK);
    let records = app.store.events_stream().await.read(10).await.expect("records");
    ticketing_aws::events::process_stream(&app.api.settle_events, ticketing_testkit::mapping::batch(records)).await;
    app.wait_for_status(USER, &booked[0], "failed").await;
    assert_eq!(app.book(USER, 1).await.0, StatusCode::CREATED, "room for one more");
    let (code, refused) = app.book(USER, 1).await;
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEAT_LIMIT_REACHED"))
    );
}

#[tokio::test]
async fn more_seats_than_a_customer_may_have_are_refused_at_once() {
    let app = Setup::with_catalog(Catalog::builtin()).build(memory()).await;
    let (code, body) = app.book(USER, 9).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEAT_LIMIT_REACHED"))
    );
    assert!(app.locks().await.is_empty());
}
