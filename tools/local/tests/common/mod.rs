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
use ticketing::expiry::{HoldExpiry, InProcessQueue};
use ticketing::store::{BookingHistory, DynamoStore, MemoryStore, PaymentRecords, SeatHolds, Tables};
use ticketing_local::emulator::Emulator;
use tokio::sync::mpsc;

pub const USER: &str = "user_test_001";

pub fn small_catalog(seats: usize) -> Catalog {
    let seat_ids: Vec<String> = (0..seats)
        .map(|i| format!("{}{}", (b'A' + (i / 10) as u8) as char, i % 10 + 1))
        .collect();
    let json = serde_json::json!({"performances": [
        {"performanceId": "perf_001", "title": "Seed", "price": 30000, "currency": "KRW", "seats": seat_ids}
    ]});
    Catalog::from_json(&json.to_string()).expect("valid catalog")
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
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(emulator.endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests"),
        ))
        .build()
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

pub async fn call<S: SeatHolds + PaymentRecords + BookingHistory>(app: &App<S>, req: Request) -> (StatusCode, Value) {
    let response = ticketing::api::route(app, req).await;
    let status = response.status();
    let body: &[u8] = response.body().as_ref();
    (status, serde_json::from_slice(body).expect("every response is JSON"))
}

pub async fn book<S: SeatHolds + PaymentRecords + BookingHistory>(
    app: &App<S>,
    user: &str,
    quantity: u32,
) -> (StatusCode, Value) {
    let body = format!(r#"{{"performanceId": "perf_001", "quantity": {quantity}, "paymentMethod": "CREDIT_CARD"}}"#);
    call(app, request(Method::POST, "/bookings", Some(user), Some(&body))).await
}

pub async fn pay<S: SeatHolds + PaymentRecords + BookingHistory>(
    app: &App<S>,
    user: &str,
    booking: &str,
    cvv: &str,
) -> (StatusCode, Value) {
    let body = format!(r#"{{"bookingId": "{booking}", "paymentMethodToken": "tok_visa_creditCard", "cvv": "{cvv}"}}"#);
    call(app, request(Method::POST, "/payments/execute", Some(user), Some(&body))).await
}

/// Polls `GET /bookings/my` until the booking reads `status`, or gives up after 20 s.
pub async fn wait_for_status<S: SeatHolds + PaymentRecords + BookingHistory>(
    app: &App<S>,
    user: &str,
    booking: &str,
    status: &str,
) -> Value {
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
    S: SeatHolds
        + PaymentRecords
        + BookingHistory
        + ticketing::store::Settlements
        + ticketing::store::Inspect
        + 'static,
{
    use ticketing::domain::{BookingId, BookingStatus, IntentStatus, ManualClock, Timestamp};
    use ticketing::expiry::{expire_when_due, HoldExpiry};
    let clock = Arc::new(ManualClock::at(Timestamp::from_millis(1_900_000_000_000)));
    let (queue, _) = InProcessQueue::new();
    let queue = Arc::new(queue);
    let settings = Settings { hold_seconds: 60 };
    let app = Arc::new(App::new(store, small_catalog(100), clock.clone(), settings).with_expiries(queue.clone()));
    let (mut payment_won, mut expiry_won) = (0, 0);
    for round in 0..rounds {
        let start = Timestamp::from_millis(1_900_000_000_000 + round as i64 * 120_000);
        clock.set(start);
        let user = format!("racer_{round}");
        let (code, created) = book(&app, &user, 1).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        let id = BookingId::try_from(created["bookingId"].as_str().expect("id")).expect("valid");
        let booking = app.store.booking(&id).await.expect("read").expect("exists");
        let lapses = booking.hold_expires_at;
        clock.set(Timestamp::from_millis(lapses.as_millis() - 1));
        let expiry = HoldExpiry::of(&booking);
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
        let intent = app
            .store
            .payment_intent(&id.payment_intent_id())
            .await
            .expect("read")
            .expect("exists");
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
