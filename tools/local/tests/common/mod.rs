//! What the integration tests share: building apps over either store, HTTP requests, and the storage
//! contract that both stores must keep.
#![allow(dead_code)]

pub mod contract;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use serde_json::Value;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use ticketing::booking::{App, Settings};
use ticketing::catalog::Catalog;
use ticketing::domain::SystemClock;
use ticketing::domain::{PerformanceId, UserId};
use ticketing::expiry::{HoldExpiry, InProcessQueue};
use ticketing::store::{BookingHistory, DynamoStore, MemoryStore, PaymentRecords, SeatHolds, Tables};
use ticketing_local::emulator::Emulator;
use tokio::sync::mpsc;

pub const USER: &str = "user_test_001";

/// What the HTTP routes need of a store.
pub trait ApiStore:
    SeatHolds + PaymentRecords + BookingHistory + ticketing::store::IdempotencyKeys + ticketing::store::Inbox
{
}
impl<T> ApiStore for T where
    T: SeatHolds + PaymentRecords + BookingHistory + ticketing::store::IdempotencyKeys + ticketing::store::Inbox
{
}

pub fn small_catalog(seats: usize) -> Catalog {
    let seat_ids: Vec<String> = (0..seats)
        .map(|i| format!("{}{}", (b'A' + (i / 10) as u8) as char, i % 10 + 1))
        .collect();
    let json = serde_json::json!({"performances": [
        {"performanceId": "perf_001", "title": "Seed", "price": 30000, "currency": "KRW", "seats": seat_ids}
    ]});
    Catalog::from_json(&json.to_string()).expect("valid catalog")
}

/// Every seat lock of `performance`, read strongly consistent.
pub async fn locks_of<S: SeatHolds>(store: &S, performance: &PerformanceId) -> Vec<ticketing::domain::seats::SeatLock> {
    store
        .seat_locks(performance, ticketing::store::Consistency::Strong)
        .await
        .expect("locks")
}

/// [`locks_of`] the built-in performance `perf_001`.
pub async fn perf_001_locks<S: SeatHolds>(store: &S) -> Vec<ticketing::domain::seats::SeatLock> {
    locks_of(store, &PerformanceId::try_from("perf_001").expect("valid")).await
}

/// The app over the in-memory store with an in-process expiry queue, whose due expiries nobody
/// consumes unless a test takes the receiving end from [`memory_app_with_expiries`].
pub fn memory_app(catalog: Catalog) -> App<MemoryStore> {
    memory_app_with_expiries(catalog, Settings::default()).0
}

pub fn memory_app_with_expiries(
    catalog: Catalog,
    settings: Settings,
) -> (App<MemoryStore>, mpsc::UnboundedReceiver<HoldExpiry>) {
    let (queue, due) = InProcessQueue::new();
    (
        App::new(MemoryStore::new(), catalog, Arc::new(SystemClock), settings).with_expiries(Arc::new(queue)),
        due,
    )
}

/// One DynamoDB Local per test process, shared by the tests running at the same time and stopped when
/// the last of them is done.
pub fn emulator() -> Arc<Emulator> {
    static SHARED: Mutex<Weak<Emulator>> = Mutex::new(Weak::new());
    shared(&SHARED, Emulator::dynamodb_local)
}

/// One moto (SQS) per test process, like [`emulator`].
pub fn moto() -> Arc<Emulator> {
    static SHARED: Mutex<Weak<Emulator>> = Mutex::new(Weak::new());
    shared(&SHARED, Emulator::moto)
}

fn shared(
    slot: &Mutex<Weak<Emulator>>,
    start: fn() -> Result<Emulator, ticketing_local::emulator::EmulatorError>,
) -> Arc<Emulator> {
    let mut shared = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let started = Arc::new(start().expect("emulator starts"));
    *shared = Arc::downgrade(&started);
    started
}

pub fn sdk_config(emulator: &Emulator) -> aws_config::SdkConfig {
    emulator.sdk_config()
}

/// A fresh set of the template's tables, with a prefix of their own.
pub async fn dynamo_store(emulator: &Emulator) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(emulator));
    let prefix = format!("t{}_", uuid_like());
    let tables = Tables::prefixed(&prefix);
    ticketing_local::tables::create_all(&client, &ticketing_local::tables::template_path(), &tables)
        .await
        .expect("tables created");
    DynamoStore::new(client, tables)
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

pub fn request(method: Method, path: &str, user: Option<&str>, body: Option<&str>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"));
    if let Some(user) = user {
        builder = builder.header("x-user-id", user);
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_owned()));
    builder.body(body).expect("valid request")
}

pub async fn call<S: ApiStore>(app: &App<S>, req: Request) -> (StatusCode, Value) {
    let (status, body, _) = call_raw(app, req).await;
    (status, body)
}

pub async fn book<S: ApiStore>(app: &App<S>, user: &str, quantity: u32) -> (StatusCode, Value) {
    let body = format!(r#"{{"performanceId": "perf_001", "quantity": {quantity}, "paymentMethod": "CREDIT_CARD"}}"#);
    call(app, request(Method::POST, "/bookings", Some(user), Some(&body))).await
}

pub async fn pay<S: ApiStore>(app: &App<S>, user: &str, booking: &str, cvv: &str) -> (StatusCode, Value) {
    let body = format!(r#"{{"bookingId": "{booking}", "paymentMethodToken": "tok_visa_creditCard", "cvv": "{cvv}"}}"#);
    call(app, request(Method::POST, "/payments/execute", Some(user), Some(&body))).await
}

/// Polls `GET /bookings/my` until the booking reads `status`, or gives up after 20 s.
pub async fn wait_for_status<S: ApiStore>(app: &App<S>, user: &str, booking: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let (code, list) = call(app, request(Method::GET, "/bookings/my", Some(user), None)).await;
        assert_eq!(code, StatusCode::OK);
        let found = list
            .as_array()
            .and_then(|a| a.iter().find(|b| b["bookingId"] == booking))
            .cloned();
        if let Some(b) = found.filter(|b| b["status"] == status) {
            return b;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "booking {booking} never became {status}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Races a payment against the expiry of the same booking, both valid by their own clocks (the
/// payment a millisecond before the hold lapses, the expiry at the instant it does), `rounds` times.
/// Exactly one must win each time. Returns how often the payment won and how often the expiry did.
pub async fn race_payment_against_expiry<S>(store: S, rounds: usize) -> (usize, usize)
where
    S: ApiStore + ticketing::store::Settlements + ticketing::store::Inspect + 'static,
{
    use ticketing::domain::{BookingId, BookingStatus, IntentStatus, ManualClock, Timestamp};
    use ticketing::expiry::{expire_when_due, HoldExpiry};
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_900_000_000_000)));
    let (queue, _) = InProcessQueue::new();
    let queue = Arc::new(queue);
    let settings = Settings { hold_seconds: 60 };
    // A seat per round: a paid booking keeps its seat, and either side may win every round.
    let app = Arc::new(App::new(store, small_catalog(rounds), clock.clone(), settings).with_expiries(queue.clone()));
    let (mut payment_won, mut expiry_won) = (0, 0);
    for round in 0..rounds {
        let start = Timestamp::from_millis(1_900_000_000_000 + round as i64 * 120_000);
        clock.set(start);
        let user = format!("racer_{round}");
        let (code, created) = book(&app, &user, 1).await;
        assert_eq!(code, StatusCode::CREATED, "round {round}: {created}");
        let id = BookingId::try_from(created["bookingId"].as_str().expect("id")).expect("valid");
        let booking = app.store.booking(&id).await.expect("read").expect("exists");
        let lapses = booking.hold_expires_at;
        clock.set(Timestamp::from_millis(lapses.as_millis() - 1));
        let expiry = HoldExpiry::for_booking(&booking.booking_id);
        let expiry_clock = ManualClock::at(lapses);
        let paying = {
            let app = Arc::clone(&app);
            let (user, id) = (user.clone(), id.to_string());
            tokio::spawn(async move { pay(&app, &user, &id, "120").await })
        };
        let expiring = {
            let app = Arc::clone(&app);
            let queue = queue.clone();
            tokio::spawn(async move {
                expire_when_due(&app.store, &expiry_clock, queue.as_ref(), &expiry)
                    .await
                    .is_ok()
            })
        };
        let (paid, expired_ok) = (paying.await.expect("ran"), expiring.await.expect("ran"));
        assert!(expired_ok, "the expiry itself never fails");
        let booking = app.store.booking(&id).await.expect("read").expect("exists");
        let intent = intent_of(&app, &id).await;
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
    (payment_won, expiry_won)
}

fn with_key(method: Method, path: &str, user: &str, key: &str, body: &str) -> Request {
    let mut req = request(method, path, Some(user), Some(body));
    req.headers_mut()
        .insert("idempotency-key", key.parse().expect("header value"));
    req
}

async fn call_raw<S: ApiStore>(app: &App<S>, req: Request) -> (StatusCode, Value, bool) {
    let response = ticketing::api::route(app, req).await;
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let body: &[u8] = response.body().as_ref();
    (
        response.status(),
        serde_json::from_slice(body).expect("every response is JSON"),
        replayed,
    )
}

/// Idempotency keys with Stripe's semantics, on any store: replay, body mismatch, in flight, scoped
/// per user, a lost lease, errors remembered, and keys forgotten after a day.
pub async fn idempotency_suite<S>(store: S)
where
    S: ApiStore + 'static,
{
    use ticketing::booking::{BookingRequest, FlowError, KeyDecision, Remember};
    use ticketing::domain::{ManualClock, Timestamp};
    use ticketing::idempotency::{IdempotencyKey, StoredResponse, LEASE_SECONDS, RETENTION_SECONDS};
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_900_000_000_000)));
    let (queue, _) = InProcessQueue::new();
    let app =
        Arc::new(App::new(store, small_catalog(50), clock.clone(), Settings::default()).with_expiries(Arc::new(queue)));
    let body = r#"{"performanceId": "perf_001", "quantity": 1, "paymentMethod": "CREDIT_CARD"}"#;

    // Replay: the same key and body answer the first response, and book once.
    let (code, first, replayed) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k1", body)).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, false), "{first}");
    let (code, again, replayed) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k1", body)).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, true));
    assert_eq!(again, first);
    let mine = call(&app, request(Method::GET, "/bookings/my", Some("idem_a"), None))
        .await
        .1;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "booked once");

    // Another body under the same key: 422, nothing done.
    let other = r#"{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CREDIT_CARD"}"#;
    let (code, refused, _) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k1", other)).await;
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("IDEMPOTENCY_KEY_REUSED"))
    );

    // Keys are per user: the same key of another user is another request.
    let (code, theirs, replayed) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_b", "k1", body)).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, false));
    assert_ne!(theirs["bookingId"], first["bookingId"]);

    // In flight: a claim held by a request that has not finished.
    let key = IdempotencyKey::try_from("k2").expect("valid");
    let user = UserId::try_from("idem_a").expect("valid");
    let held = match app
        .claim_key(&user, "POST /bookings", &key, body.as_bytes())
        .await
        .expect("claim")
    {
        KeyDecision::Proceed(claim) => claim,
        other => panic!("a fresh key is ours: {other:?}"),
    };
    let (code, busy, _) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k2", body)).await;
    assert_eq!(
        (code, busy["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("IDEMPOTENCY_KEY_IN_USE"))
    );
    // Its lease lapses (the request died): a retry does the work...
    clock.set(Timestamp::from_millis(1_900_000_000_000 + LEASE_SECONDS as i64 * 1000));
    let (code, retried, _) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k2", body)).await;
    assert_eq!(code, StatusCode::CREATED, "{retried}");
    // ...and the late original cannot complete the key: nothing is written, the retry's answer stands.
    let render = |b: &ticketing::domain::Booking| StoredResponse {
        status: 201,
        body: b.booking_id.to_string(),
    };
    let late = BookingRequest {
        performance_id: PerformanceId::try_from("perf_001").expect("valid"),
        quantity: ticketing::domain::Quantity::try_from(1).expect("valid"),
        payment_method: ticketing::domain::PaymentMethod::CreditCard,
    };
    let outcome = app
        .create_booking(
            user.clone(),
            late,
            Some(Remember {
                key: &held,
                render: &render,
            }),
        )
        .await;
    assert!(matches!(outcome, Err(FlowError::KeyTaken)), "{outcome:?}");
    let mine = call(&app, request(Method::GET, "/bookings/my", Some("idem_a"), None))
        .await
        .1;
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(2),
        "the late original booked nothing"
    );

    // Errors are remembered too.
    let unknown = r#"{"performanceId": "perf_404", "quantity": 1, "paymentMethod": "CREDIT_CARD"}"#;
    let (code, missing, _) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k3", unknown)).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, again, replayed) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k3", unknown)).await;
    assert_eq!((code, replayed, again), (StatusCode::NOT_FOUND, true, missing));

    // Payments: a retry replays the gateway's answer; a new request is refused as paid.
    let id = first["bookingId"].as_str().expect("id");
    let pay_body = format!(r#"{{"bookingId": "{id}", "paymentMethodToken": "tok_visa", "cvv": "120"}}"#);
    let (code, charged, _) = call_raw(
        &app,
        with_key(Method::POST, "/payments/execute", "idem_a", "p1", &pay_body),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{charged}");
    let (code, again, replayed) = call_raw(
        &app,
        with_key(Method::POST, "/payments/execute", "idem_a", "p1", &pay_body),
    )
    .await;
    assert_eq!((code, replayed, &again), (StatusCode::OK, true, &charged));
    let (code, twice) = call(
        &app,
        request(Method::POST, "/payments/execute", Some("idem_a"), Some(&pay_body)),
    )
    .await;
    assert_eq!(
        (code, twice["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ALREADY_PAID"))
    );

    // Bad keys are refused before anything happens.
    let (code, bad, _) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "a b", body)).await;
    assert_eq!(
        (code, bad["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_IDEMPOTENCY_KEY"))
    );

    // A day later the key is forgotten: the same request books again.
    clock.set(Timestamp::from_millis(
        1_900_000_000_000 + (RETENTION_SECONDS as i64 + 60) * 1000,
    ));
    let (code, later, replayed) = call_raw(&app, with_key(Method::POST, "/bookings", "idem_a", "k1", body)).await;
    assert_eq!((code, replayed), (StatusCode::CREATED, false));
    assert_ne!(later["bookingId"], first["bookingId"]);
}

/// Concurrent requests under one key: one booking, and every answer is that booking or "in progress".
pub async fn same_key_concurrently<S>(store: S)
where
    S: ApiStore + 'static,
{
    let app = Arc::new(memory_like(store));
    let body = r#"{"performanceId": "perf_001", "quantity": 1, "paymentMethod": "CREDIT_CARD"}"#;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let app = Arc::clone(&app);
        tasks.spawn(async move { call_raw(&app, with_key(Method::POST, "/bookings", "idem_c", "same", body)).await });
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
    let mine = call(&app, request(Method::GET, "/bookings/my", Some("idem_c"), None))
        .await
        .1;
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
}

fn memory_like<S>(store: S) -> App<S> {
    let (queue, _) = InProcessQueue::new();
    App::new(store, small_catalog(50), Arc::new(SystemClock), Settings::default()).with_expiries(Arc::new(queue))
}

/// A signed `POST /webhooks/pg`, signed at `signed_at` (unix seconds) with `secret`.
pub fn webhook(body: &str, secret: &str, signed_at: i64) -> Request {
    let mut req = request(Method::POST, "/webhooks/pg", None, Some(body));
    let signature = ticketing::webhook::sign(secret.as_bytes(), signed_at, body.as_bytes());
    req.headers_mut()
        .insert("pg-signature", signature.parse().expect("header value"));
    req
}

pub fn notification(id: &str, kind: &str, booking: &str, failure: Option<&str>) -> String {
    serde_json::json!({"id": id, "type": kind, "created": 1_900_000_000,
        "data": {"bookingId": booking, "failureCode": failure}})
    .to_string()
}

/// Signed gateway notifications on any store: valid ones applied once, forged, stale and unsigned ones
/// refused with nothing stored, redeliveries stored once, a failure after a success ignored with a note.
pub async fn webhook_suite<S>(store: S)
where
    S: ApiStore + ticketing::store::Settlements + ticketing::store::Inspect + 'static,
{
    use ticketing::domain::{EventId, IntentStatus};
    use ticketing::stream::batch;
    const SECRET: &str = "whsec_suite_secret";
    let (queue, _) = InProcessQueue::new();
    let app = App::new(store, small_catalog(20), Arc::new(SystemClock), Settings::default())
        .with_expiries(Arc::new(queue))
        .with_webhook_secret(SECRET.to_owned());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (_, created) = book(&app, USER, 2).await;
    let booking = created["bookingId"].as_str().expect("id").to_owned();
    let stored = |id: &str| {
        let id = EventId::try_from(id).expect("valid");
        let app = &app;
        async move { app.store.event(&id).await.expect("read") }
    };

    // Refused: nothing stored.
    let body = notification("evt_ok_1", "payment_intent.succeeded", &booking, None);
    let forged = webhook(&body, "whsec_not_the_secret", now);
    let (code, answer) = call(&app, forged).await;
    assert_eq!(
        (code, answer["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("INVALID_SIGNATURE"))
    );
    let (code, _) = call(&app, webhook(&body, SECRET, now - 301)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "stale");
    let (code, _) = call(&app, request(Method::POST, "/webhooks/pg", None, Some(&body))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "unsigned");
    let mut tampered = webhook(&body, SECRET, now);
    *tampered.body_mut() = lambda_http::Body::Text(body.replace("succeeded", "payment_failed"));
    assert_eq!(
        call(&app, tampered).await.0,
        StatusCode::UNAUTHORIZED,
        "body changed after signing"
    );
    let (code, _) = call(&app, webhook("{not json", SECRET, now)).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "signed garbage is still garbage");
    let refund = r#"{"id": "evt_other", "type": "charge.refunded", "created": 0, "data": {}}"#;
    let (code, ignored) = call(&app, webhook(refund, SECRET, now)).await;
    assert_eq!(
        (code, ignored["ignored"].as_bool()),
        (StatusCode::OK, Some(true)),
        "other kinds are acknowledged"
    );
    assert!(stored("evt_other").await.is_none());
    assert!(
        stored("evt_ok_1").await.is_none(),
        "nothing stored for refused notifications"
    );

    // Valid: stored once, however often delivered.
    let (code, first) = call(&app, webhook(&body, SECRET, now)).await;
    assert_eq!((code, first["duplicate"].as_bool()), (StatusCode::OK, Some(false)));
    let (code, again) = call(&app, webhook(&body, SECRET, now + 1)).await;
    assert_eq!((code, again["duplicate"].as_bool()), (StatusCode::OK, Some(true)));

    // Applied by the worker: the booking is confirmed and its intent succeeded, in one transaction.
    let item = stored("evt_ok_1").await.expect("stored");
    let record = |item: serde_dynamo::Item, seq: &str| {
        ticketing::stream::record(
            &ticketing::stream::StreamSource::local("events"),
            ticketing::stream::Insert {
                event_id: seq.to_owned(),
                sequence_number: seq.to_owned(),
                keys: serde_dynamo::Item::default(),
                new_image: item,
                created_at_millis: 0,
                size_bytes: 0,
            },
        )
    };
    let applied =
        ticketing::worker::process_batch(&app, batch(vec![record(item.clone(), "1"), record(item, "2")])).await;
    assert!(applied.batch_item_failures.is_empty());
    wait_for_status(&app, USER, &booking, "confirmed").await;
    let booking_id = ticketing::domain::BookingId::try_from(booking.as_str()).expect("valid");
    let intent = intent_of(&app, &booking_id).await;
    assert_eq!(intent.status, IntentStatus::Succeeded);
    assert_eq!(
        app.store.ledger_of(&booking_id).await.expect("ledger").len(),
        2,
        "settled once"
    );

    // Reordered: a failure after the success changes nothing and leaves a note.
    let failed = notification(
        "evt_late_fail",
        "payment_intent.payment_failed",
        &booking,
        Some("DECLINE_2"),
    );
    assert_eq!(call(&app, webhook(&failed, SECRET, now)).await.0, StatusCode::OK);
    let item = stored("evt_late_fail").await.expect("stored");
    assert!(ticketing::worker::process_batch(&app, batch(vec![record(item, "3")]))
        .await
        .batch_item_failures
        .is_empty());
    wait_for_status(&app, USER, &booking, "confirmed").await;
    let noted = stored("evt_late_fail").await.expect("stored");
    assert!(
        matches!(noted.get("note"), Some(serde_dynamo::AttributeValue::S(note)) if note.starts_with("IGNORED")),
        "{noted:?}"
    );

    // A failure for a pending booking fails it and its intent, and frees its seats.
    let (_, other) = book(&app, USER, 1).await;
    let other_id = other["bookingId"].as_str().expect("id").to_owned();
    let declined = notification(
        "evt_fail_2",
        "payment_intent.payment_failed",
        &other_id,
        Some("DECLINE_2"),
    );
    assert_eq!(call(&app, webhook(&declined, SECRET, now)).await.0, StatusCode::OK);
    let item = stored("evt_fail_2").await.expect("stored");
    assert!(ticketing::worker::process_batch(&app, batch(vec![record(item, "4")]))
        .await
        .batch_item_failures
        .is_empty());
    wait_for_status(&app, USER, &other_id, "failed").await;
    let other_booking = ticketing::domain::BookingId::try_from(other_id.as_str()).expect("valid");
    let intent = intent_of(&app, &other_booking).await;
    assert_eq!(intent.status, IntentStatus::Failed);
}

/// What each CVV of the replay and crash suites must end as.
const OUTCOMES: [(&str, &str); 4] = [
    ("120", "confirmed"),
    ("442", "failed"),
    ("443", "failed"),
    ("1234", "confirmed"),
];

/// Books and pays `count` bookings with mixed outcomes (no worker running), and reads every record of
/// the events stream they produced.
pub async fn paid_mix<S: ApiStore>(
    app: &App<S>,
    shard: &mut impl ticketing::stream::ShardReader,
    count: usize,
) -> (
    Vec<(String, &'static str)>,
    Vec<aws_lambda_events::event::dynamodb::EventRecord>,
) {
    let mut expected = Vec::new();
    for i in 0..count {
        let (cvv, status) = OUTCOMES[i % OUTCOMES.len()];
        let user = format!("mix_{}", i % 7);
        let (code, created) = book(app, &user, 1).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        let id = created["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(pay(app, &user, &id, cvv).await.0, StatusCode::OK);
        expected.push((id, status));
    }
    let mut records = Vec::new();
    let started = Instant::now();
    while records.len() < count {
        let batch = shard.read(1000).await.expect("stream read");
        if batch.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "only {} stream records",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        records.extend(batch);
    }
    (expected, records)
}

/// Every booking ended as its payment said, with one capture per confirmed booking, and the audit is clean.
pub async fn assert_settled_once<S>(app: &App<S>, expected: &[(String, &'static str)])
where
    S: ApiStore + ticketing::store::Inspect + ticketing::audit::AuditSource,
{
    for (id, status) in expected {
        let booking_id = ticketing::domain::BookingId::try_from(id.as_str()).expect("valid");
        let booking = app.store.booking(&booking_id).await.expect("read").expect("exists");
        assert_eq!(booking.status.as_str(), *status, "booking {id}");
        let ledger = app.store.ledger_of(&booking_id).await.expect("ledger");
        let captures = if *status == "confirmed" { 2 } else { 0 };
        assert_eq!(ledger.len(), captures, "booking {id}");
        assert!(ledger.iter().all(|e| e.amount == booking.total));
    }
    let report = ticketing::audit::run(&app.store).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    println!("{}", report.to_string().replace('\n', "; "));
}

/// Every event delivered three times, in random order, in random batches: the same end as once.
pub async fn replay_suite<S>(app: &App<S>, shard: &mut impl ticketing::stream::ShardReader, count: usize)
where
    S: ApiStore + ticketing::store::Settlements + ticketing::store::Inspect + ticketing::audit::AuditSource,
{
    use rand::seq::SliceRandom;
    let (expected, records) = paid_mix(app, shard, count).await;
    let mut deliveries: Vec<_> = [records.clone(), records.clone(), records].concat();
    deliveries.shuffle(&mut rand::rng());
    let total = deliveries.len();
    while !deliveries.is_empty() {
        let size = rand::Rng::random_range(&mut rand::rng(), 1..=50).min(deliveries.len());
        let batch: Vec<_> = deliveries.drain(..size).collect();
        let response = ticketing::worker::process_batch(app, ticketing::stream::batch(batch)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
    }
    println!("replay: {count} bookings, {total} deliveries (every event 3 times, shuffled)");
    assert_settled_once(app, &expected).await;
}

/// The worker killed at random points between reading a batch and acknowledging it: the mapping
/// delivers the batch again, and nothing is lost or doubled.
pub async fn crash_suite<S>(app: &App<S>, shard: &mut impl ticketing::stream::ShardReader, count: usize) -> usize
where
    S: ApiStore + ticketing::store::Settlements + ticketing::store::Inspect + ticketing::audit::AuditSource,
{
    let (expected, records) = paid_mix(app, shard, count).await;
    let kills = std::sync::atomic::AtomicUsize::new(0);
    let mut pending: std::collections::VecDeque<_> = records.into();
    while !pending.is_empty() {
        let size = rand::Rng::random_range(&mut rand::rng(), 1..=10).min(pending.len());
        let mut batch: Vec<_> = pending.iter().take(size).cloned().collect();
        // Most of the time a crash: the worker dies after a random number of the batch's records, at a
        // random instant of the next one, even inside a DynamoDB call; nothing is acknowledged.
        let killed = rand::Rng::random_bool(&mut rand::rng(), 0.6);
        let acknowledged = if killed {
            batch.truncate(rand::Rng::random_range(&mut rand::rng(), 0..=size));
            let budget = Duration::from_micros(rand::Rng::random_range(&mut rand::rng(), 0..20_000));
            let invocation = ticketing::worker::process_batch(app, ticketing::stream::batch(batch));
            let _ = tokio::time::timeout(budget, invocation).await;
            None
        } else {
            Some(ticketing::worker::process_batch(app, ticketing::stream::batch(batch)).await)
        };
        match acknowledged {
            Some(response) if response.batch_item_failures.is_empty() => {
                pending.drain(..size);
            }
            Some(response) => panic!("no record should fail: {:?}", response.batch_item_failures),
            None => {
                kills.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    let kills = kills.load(std::sync::atomic::Ordering::Relaxed);
    println!("crash: {count} bookings, the worker killed {kills} times mid-batch");
    assert!(kills > 0, "the fault was injected");
    assert_settled_once(app, &expected).await;
    kills
}

/// The payment intent of a booking, which must exist.
pub async fn intent_of<S: ticketing::store::Inspect>(
    app: &App<S>,
    booking: &ticketing::domain::BookingId,
) -> ticketing::domain::payment::PaymentIntent {
    app.store
        .payment_intent(&booking.payment_intent_id())
        .await
        .expect("read")
        .expect("exists")
}
