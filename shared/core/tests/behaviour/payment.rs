//! `POST /payments/execute`: who may pay, how often, and a payment the gateway is still processing.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::json;
use ticketing_core::domain::IntentStatus;
use ticketing_core::ports::HoldExpiry;
use ticketing_testkit::test_app::{booking_id, dynamodb, memory, Setup, USER};

#[tokio::test]
async fn another_users_booking_is_unknown() {
    let app = Setup::seats(10).build(memory()).await;
    let (_, created) = app.book(USER, 1).await;
    let id = created["bookingId"].as_str().expect("id");
    let (code, body) = app.pay("someone_else", id, "120").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BOOKING_NOT_FOUND"))
    );
    assert_eq!(app.my_bookings("someone_else").await, json!([]));
}

#[tokio::test]
async fn paying_twice_after_a_decline_is_a_conflict() {
    let app = Setup::seats(10).build(memory()).await;
    let (_, created) = app.book(USER, 1).await;
    let id = created["bookingId"].as_str().expect("id");
    assert_eq!(app.pay(USER, id, "442").await.0, StatusCode::OK);
    let (code, body) = app.pay(USER, id, "120").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("BOOKING_NOT_PENDING"))
    );
}

#[tokio::test]
async fn concurrent_payments_of_one_booking_charge_once() {
    let app = Arc::new(Setup::seats(10).build(dynamodb().await).await);
    let (_, created) = app.book(USER, 2).await;
    let id = created["bookingId"].as_str().expect("id").to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let app = Arc::clone(&app);
        let id = id.clone();
        tasks.spawn(async move { app.pay(USER, &id, "120").await });
    }
    let mut codes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (code, body) = joined.expect("task ran");
        assert!(
            code == StatusCode::OK || body["error"]["code"] == "ALREADY_PAID",
            "{code}: {body}"
        );
        codes.push(code);
    }
    assert_eq!(codes.iter().filter(|c| **c == StatusCode::OK).count(), 1, "{codes:?}");
}

#[tokio::test]
async fn a_processing_payment_keeps_its_seats_until_the_gateway_answers() {
    let app = Setup::seats(2).hold_seconds(1).build(memory()).await;
    let (_, created) = app.book(USER, 2).await;
    let id = created["bookingId"].as_str().expect("id").to_owned();
    let (code, paid) = app.pay(USER, &id, "777").await;
    assert_eq!(
        (code, paid["finalStatus"].as_str()),
        (StatusCode::OK, Some("PROCESSING"))
    );
    assert_eq!(paid["pgMockData"]["isSuccess"], json!(null));
    let booking = booking_id(&created);
    assert_eq!(app.intent_of(&booking).await.status, IntentStatus::Processing);
    // The hold lapses while the gateway processes: the seats stay, and the expiry leaves it alone.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, _) = app.book("someone_else", 1).await;
    assert_eq!(code, StatusCode::CONFLICT, "a processing payment's seats are not free");
    app.api
        .expire_holds
        .expire_when_due(&HoldExpiry::for_booking(&app.booking(&booking).await))
        .await
        .expect("expiry ran");
    app.wait_for_status(USER, &id, "pending").await;
    let (code, again) = app.pay(USER, &id, "120").await;
    assert_eq!(
        (code, again["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("HOLD_EXPIRED"))
    );
}
