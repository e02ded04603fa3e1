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
use ticketing::store::{BookingHistory, DynamoStore, MemoryStore, PaymentRecords, SeatHolds, Tables};
use ticketing_local::emulator::DynamoDbLocal;

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

pub fn memory_app(catalog: Catalog) -> App<MemoryStore> {
    App {
        store: MemoryStore::new(),
        catalog,
        clock: Arc::new(SystemClock),
        settings: Settings::default(),
    }
}

/// One DynamoDB Local per test process, shared by the tests running at the same time and stopped when
/// the last of them is done.
pub fn emulator() -> Arc<DynamoDbLocal> {
    static SHARED: Mutex<Weak<DynamoDbLocal>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let started = Arc::new(DynamoDbLocal::start().expect("DynamoDB Local starts"));
    *shared = Arc::downgrade(&started);
    started
}

pub fn sdk_config(emulator: &DynamoDbLocal) -> aws_config::SdkConfig {
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
pub async fn dynamo_store(emulator: &DynamoDbLocal) -> DynamoStore {
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
