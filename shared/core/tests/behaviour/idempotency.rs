//! `Idempotency-Key` with Stripe's semantics, on both stores: replay, another body, in flight, per
//! user, a lost lease, errors remembered, and keys forgotten after a day.

use std::sync::Arc;

use lambda_http::http::{Method, StatusCode};
use ticketing_core::app::{BookingRequest, FlowError};
use ticketing_core::domain::{ManualClock, PaymentMethod, PerformanceId, Quantity, Timestamp, UserId};
use ticketing_core::idempotency::{
    IdempotencyKey, NextAction, Remember, StoredResponse, LEASE_SECONDS, RETENTION_SECONDS,
};
use ticketing_testkit::test_app::{request, with_key, Fixture, Setup, TestApp, TestStore};

use crate::helpers::on_both_stores;

const BODY: &str = r#"{"performanceId": "perf_001", "quantity": 1, "paymentMethod": "CREDIT_CARD"}"#;
const T0: i64 = 1_900_000_000_000;

async fn app<S: TestStore>(fixture: Fixture<S>) -> (TestApp<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(T0)));
    (Setup::seats(50).clock(clock.clone()).build(fixture).await, clock)
}

async fn post_booking<S: TestStore>(
    app: &TestApp<S>,
    user: &str,
    key: &str,
    body: &str,
) -> (StatusCode, serde_json::Value, bool) {
    app.call_raw(with_key(Method::POST, "/bookings", user, key, body)).await
}

on_both_stores!(
    a_retry_with_the_same_key_replays_the_first_answer_and_books_once,
    the_same_key_with_another_body_is_refused,
    keys_are_scoped_per_user,
    a_key_in_flight_is_refused_until_its_lease_lapses,
    a_late_original_cannot_complete_a_key_a_retry_took_over,
    error_answers_are_remembered_too,
    a_payment_retry_replays_the_gateways_answer,
    bad_keys_are_refused_before_anything_happens,
    a_key_is_forgotten_after_a_day,
    one_key_sent_concurrently_books_once,
);

async fn a_retry_with_the_same_key_replays_the_first_answer_and_books_once<S: TestStore>(fixture: Fixture<S>) {
    let (app, _) = app(fixture).await;
    let (code, first, replayed) = post_booking(&app, "idem_a", "k1", BODY).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, false), "{first}");
    let (code, again, replayed) = post_booking(&app, "idem_a", "k1", BODY).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, true));
    assert_eq!(again, first);
    assert_eq!(
        app.my_bookings("idem_a").await.as_array().map(Vec::len),
        Some(1),
        "booked once"
    );
}

async fn the_same_key_with_another_body_is_refused<S: TestStore>(fixture: Fixture<S>) {
    let (app, _) = app(fixture).await;
    post_booking(&app, "idem_a", "k1", BODY).await;
    let other = r#"{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CREDIT_CARD"}"#;
    let (code, refused, _) = post_booking(&app, "idem_a", "k1", other).await;
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    assert_eq!(
        app.my_bookings("idem_a").await.as_array().map(Vec::len),
        Some(1),
        "nothing done"
    );
}

async fn keys_are_scoped_per_user<S: TestStore>(fixture: Fixture<S>) {
    let (app, _) = app(fixture).await;
    let (_, first, _) = post_booking(&app, "idem_a", "k1", BODY).await;
    let (code, theirs, replayed) = post_booking(&app, "idem_b", "k1", BODY).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, false));
    assert_ne!(theirs["bookingId"], first["bookingId"]);
}

/// Claims `key` for `user` as a request that has not finished would.
async fn hold_key<S: TestStore>(app: &TestApp<S>, user: &str, key: &str) -> ticketing_core::idempotency::KeyRecord {
    let key = IdempotencyKey::try_from(key).expect("valid");
    let user = UserId::try_from(user).expect("valid");
    match app
        .api
        .create_booking
        .idempotency()
        .claim(&user, "POST /bookings", &key, BODY.as_bytes())
        .await
        .expect("claim")
    {
        NextAction::Proceed(claim) => claim,
        other => panic!("a fresh key is ours: {other:?}"),
    }
}

async fn a_key_in_flight_is_refused_until_its_lease_lapses<S: TestStore>(fixture: Fixture<S>) {
    let (app, clock) = app(fixture).await;
    hold_key(&app, "idem_a", "k2").await;
    let (code, busy, _) = post_booking(&app, "idem_a", "k2", BODY).await;
    assert_eq!(
        (code, busy["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("IDEMPOTENCY_KEY_IN_USE"))
    );
    // Its lease lapses (the request died): a retry does the work.
    clock.set(Timestamp::from_millis(
        T0 + i64::try_from(LEASE_SECONDS).expect("small") * 1000,
    ));
    let (code, retried, _) = post_booking(&app, "idem_a", "k2", BODY).await;
    assert_eq!(code, StatusCode::CREATED, "{retried}");
}

fn stored_id(b: &ticketing_core::domain::Booking) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: b.booking_id.to_string(),
    }
}

async fn a_late_original_cannot_complete_a_key_a_retry_took_over<S: TestStore>(fixture: Fixture<S>) {
    let (app, clock) = app(fixture).await;
    let held = hold_key(&app, "idem_a", "k2").await;
    clock.set(Timestamp::from_millis(
        T0 + i64::try_from(LEASE_SECONDS).expect("small") * 1000,
    ));
    let (code, retried, _) = post_booking(&app, "idem_a", "k2", BODY).await;
    assert_eq!(code, StatusCode::CREATED, "{retried}");
    // The late original: nothing is written, the retry's answer stands.
    let late = BookingRequest {
        section: None,
        performance_id: PerformanceId::try_from("perf_001").expect("valid"),
        quantity: Quantity::try_from(1).expect("valid"),
        payment_method: PaymentMethod::CreditCard,
    };
    let remember = Remember {
        key: &held,
        render: stored_id,
    };
    let user = UserId::try_from("idem_a").expect("valid");
    let outcome = app.api.create_booking.create(user, late, Some(remember)).await;
    assert!(matches!(outcome, Err(FlowError::KeyTaken)), "{outcome:?}");
    assert_eq!(
        app.my_bookings("idem_a").await.as_array().map(Vec::len),
        Some(1),
        "the late original booked nothing"
    );
    let (code, again, replayed) = post_booking(&app, "idem_a", "k2", BODY).await;
    assert_eq!((code, replayed, again), (StatusCode::CREATED, true, retried));
}

async fn error_answers_are_remembered_too<S: TestStore>(fixture: Fixture<S>) {
    let (app, _) = app(fixture).await;
    let unknown = r#"{"performanceId": "perf_404", "quantity": 1, "paymentMethod": "CREDIT_CARD"}"#;
    let (code, missing, _) = post_booking(&app, "idem_a", "k3", unknown).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, again, replayed) = post_booking(&app, "idem_a", "k3", unknown).await;
    assert_eq!((code, replayed, again), (StatusCode::NOT_FOUND, true, missing));
}

async fn a_payment_retry_replays_the_gateways_answer<S: TestStore>(fixture: Fixture<S>) {
    let (app, _) = app(fixture).await;
    let (_, first, _) = post_booking(&app, "idem_a", "k1", BODY).await;
    let id = first["bookingId"].as_str().expect("id");
    let pay_body = format!(r#"{{"bookingId": "{id}", "paymentMethodToken": "tok_visa", "cvv": "120"}}"#);
    let pay = |key| with_key(Method::POST, "/payments/execute", "idem_a", key, &pay_body);
    let (code, charged, _) = app.call_raw(pay("p1")).await;
    assert_eq!(code, StatusCode::OK, "{charged}");
    let (code, again, replayed) = app.call_raw(pay("p1")).await;
    assert_eq!((code, replayed, &again), (StatusCode::OK, true, &charged));
    // A new request is refused as paid.
    let (code, twice) = app
        .call(request(
            Method::POST,
            "/payments/execute",
            Some("idem_a"),
            Some(&pay_body),
        ))
        .await;
    assert_eq!(
        (code, twice["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ALREADY_PAID"))
    );
}

async fn bad_keys_are_refused_before_anything_happens<S: TestStore>(fixture: Fixture<S>) {
    let (app, _) = app(fixture).await;
    let (code, bad, _) = post_booking(&app, "idem_a", "a b", BODY).await;
    assert_eq!(
        (code, bad["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_IDEMPOTENCY_KEY"))
    );
    assert_eq!(app.my_bookings("idem_a").await.as_array().map(Vec::len), Some(0));
}

async fn a_key_is_forgotten_after_a_day<S: TestStore>(fixture: Fixture<S>) {
    let (app, clock) = app(fixture).await;
    let (_, first, _) = post_booking(&app, "idem_a", "k1", BODY).await;
    clock.set(Timestamp::from_millis(
        T0 + (i64::try_from(RETENTION_SECONDS).expect("small") + 60) * 1000,
    ));
    let (code, later, replayed) = post_booking(&app, "idem_a", "k1", BODY).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, false));
    assert_ne!(later["bookingId"], first["bookingId"]);
}

/// Concurrent requests under one key: one booking, and every answer is that booking or "in progress".
async fn one_key_sent_concurrently_books_once<S: TestStore>(fixture: Fixture<S>) {
    let app = Arc::new(Setup::seats(50).build(fixture).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let app = Arc::clone(&app);
        tasks.spawn(async move { post_booking(&app, "idem_c", "same", BODY).await });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (code, answer, _) = joined.expect("ran");
        match code {
            StatusCode::CREATED => {
                ids.insert(answer["bookingId"].as_str().unwrap_or_default().to_owned());
            }
            StatusCode::CONFLICT => assert_eq!(answer["error"]["code"], "IDEMPOTENCY_KEY_IN_USE", "{answer}"),
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    assert_eq!(ids.len(), 1, "one booking under one key: {ids:?}");
    assert_eq!(app.my_bookings("idem_c").await.as_array().map(Vec::len), Some(1));
}
