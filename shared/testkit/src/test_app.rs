//! The API as tests drive it: every use case over a store of the test's choosing, requests through the
//! router, and the steps the tests repeat (book, pay, list, wait for a status).
#![allow(clippy::missing_panics_doc, clippy::unwrap_used)]

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lambda_http::http::{Method, StatusCode};
use std::collections::HashMap;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;
use ticketing_aws::dynamodb::{DynamoStore, Tables};
use ticketing_aws::http::AuthMode;
use ticketing_core::app::{
    load_catalog, CancelPolicy, Gateway, HoldPolicy, ProcessingPolicy, ScheduleExpiries, WebhookSecret,
    DEFAULT_CATALOG_TTL,
};
use ticketing_core::audit::AuditSource;
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::payment::PaymentIntent;
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{Booking, BookingId, Clock, PerformanceId, SystemClock};
use ticketing_core::ports::{Consistency, ExpiryQueue, HoldExpiry};
use tokio::sync::mpsc;

use crate::emulator::{Emulator, EmulatorError};
use crate::in_process::InProcessQueue;
use crate::inspect::Inspect;
use crate::local::{route, ApiStore, LocalApi, Parts};
use crate::mapping::{feed_scheduler, MemoryShard, ShardReader};
use crate::memory::MemoryStore;
use crate::streams::StreamShards;

/// The user most tests act as.
pub const USER: &str = "user_test_001";
/// The secret the test apps verify notifications with.
pub const SECRET: &str = "whsec_suite_secret";

/// A store for a test, with what must outlive it (the emulator it runs on).
pub struct Fixture<S> {
    pub store: Arc<S>,
    pub emulator: Option<Arc<Emulator>>,
}

impl<S> std::ops::Deref for Fixture<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.store
    }
}

/// A fresh in-memory store.
pub fn memory() -> Fixture<MemoryStore> {
    Fixture {
        store: Arc::new(MemoryStore::new()),
        emulator: None,
    }
}

/// A fresh set of the template's tables on DynamoDB Local, with a prefix of their own.
pub async fn dynamodb() -> Fixture<DynamoStore> {
    let emulator = dynamodb_local();
    let client = aws_sdk_dynamodb::Client::new(&emulator.sdk_config());
    let prefix = format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let tables = Tables::prefixed(&prefix);
    crate::tables::create_all(&client, &crate::tables::template_path(), &tables)
        .await
        .expect("tables created");
    Fixture {
        store: Arc::new(DynamoStore::new(client, tables)),
        emulator: Some(emulator),
    }
}

/// One DynamoDB Local per test process, shared by the tests running at the same time and stopped when
/// the last of them is done.
pub fn dynamodb_local() -> Arc<Emulator> {
    static SHARED: Mutex<Weak<Emulator>> = Mutex::new(Weak::new());
    shared(&SHARED, Emulator::dynamodb_local)
}

/// One moto (SQS) per test process, like [`dynamodb_local`].
pub fn moto() -> Arc<Emulator> {
    static SHARED: Mutex<Weak<Emulator>> = Mutex::new(Weak::new());
    shared(&SHARED, Emulator::moto)
}

fn shared(slot: &Mutex<Weak<Emulator>>, start: fn() -> Result<Emulator, EmulatorError>) -> Arc<Emulator> {
    let mut shared = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let started = Arc::new(start().expect("emulator starts"));
    *shared = Arc::downgrade(&started);
    started
}

/// A performance `perf_001` of `seats` seats (rows of ten: A1…A10, B1…), ₩30,000 each.
pub fn small_catalog(seats: usize) -> Catalog {
    let seat_ids: Vec<String> = (0..seats)
        .map(|i| format!("{}{}", char::from(b'A' + u8::try_from(i / 10).unwrap()), i % 10 + 1))
        .collect();
    let json = serde_json::json!({"performances": [
        {"performanceId": "perf_001", "title": "Seed", "price": 30000, "currency": "KRW", "seats": seat_ids}
    ]});
    Catalog::from_json(&json.to_string()).expect("valid catalog")
}

/// How a test app is set up; everything has a default.
pub struct Setup {
    catalog: Catalog,
    clock: Arc<dyn Clock>,
    policy: HoldPolicy,
    processing: ProcessingPolicy,
    expiries: Option<Arc<dyn ExpiryQueue>>,
    secret: String,
    auth: AuthMode,
    gateway: Gateway,
    cancel: CancelPolicy,
}

impl Setup {
    /// A hall of `seats` seats for `perf_001` ([`small_catalog`]).
    pub fn seats(seats: usize) -> Self {
        Self::with_catalog(small_catalog(seats))
    }

    pub fn with_catalog(catalog: Catalog) -> Self {
        Self {
            catalog,
            clock: Arc::new(SystemClock),
            policy: HoldPolicy::default(),
            processing: ProcessingPolicy::default(),
            expiries: None,
            secret: SECRET.to_owned(),
            auth: AuthMode::Header,
            gateway: Gateway::Notifies,
            cancel: CancelPolicy::default(),
        }
    }

    /// The caller is decided by `auth` instead of `x-user-id`.
    pub fn auth(mut self, auth: AuthMode) -> Self {
        self.auth = auth;
        self
    }

    /// How long processing charges may take (default: 900 s to the reconciliation, 3600 s to the void,
    /// CVV 777 resolved after 1 s).
    pub fn processing(mut self, processing: ProcessingPolicy) -> Self {
        self.processing = processing;
        self
    }

    /// Notifications are verified with `secret` instead of [`SECRET`].
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = secret.to_owned();
        self
    }

    pub fn hold_seconds(mut self, hold_seconds: u64) -> Self {
        self.policy = HoldPolicy { hold_seconds };
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Processing charges are told by `gateway` (default: a gateway that notifies by itself).
    pub fn gateway(mut self, gateway: Gateway) -> Self {
        self.gateway = gateway;
        self
    }

    /// Bookings can be cancelled until `cutoff` before their performance starts (default 24 hours).
    pub fn cancel_cutoff(mut self, cutoff: Duration) -> Self {
        self.cancel = CancelPolicy { cutoff };
        self
    }

    /// Expiries go to `queue` instead of the in-process queue.
    pub fn expiries(mut self, queue: Arc<dyn ExpiryQueue>) -> Self {
        self.expiries = Some(queue);
        self
    }

    /// The app over `fixture`'s store, the catalog's performances on sale in it.
    pub async fn build<S: ApiStore>(self, fixture: Fixture<S>) -> TestApp<S> {
        load_catalog(fixture.store.as_ref(), &self.catalog, self.clock.now())
            .await
            .expect("the catalog loads");
        let (queue, due) = InProcessQueue::new();
        let expiries: Arc<dyn ExpiryQueue> = self.expiries.unwrap_or_else(|| Arc::new(queue));
        let api = LocalApi::new(Parts {
            store: fixture.store.clone(),
            catalog_ttl: DEFAULT_CATALOG_TTL,
            clock: self.clock.clone(),
            policy: self.policy,
            processing: self.processing,
            cancel: self.cancel,
            expiries,
            secret: WebhookSecret::new(self.secret),
            gateway: self.gateway,
            auth: self.auth,
        });
        TestApp {
            store: fixture.store,
            api,
            clock: self.clock,
            policy: self.policy,
            due: Mutex::new(Some(due)),
            scheduler: Scheduler::default(),
            _emulator: fixture.emulator,
        }
    }
}

/// Every use case over one store, driven through the router.
pub struct TestApp<S> {
    pub store: Arc<S>,
    pub api: LocalApi<S>,
    pub clock: Arc<dyn Clock>,
    pub policy: HoldPolicy,
    due: Mutex<Option<mpsc::UnboundedReceiver<HoldExpiry>>>,
    scheduler: Scheduler,
    _emulator: Option<Arc<Emulator>>,
}

/// The expiry scheduler running in the background on the store's bookings stream, once started;
/// stopped with its test app.
#[derive(Default)]
struct Scheduler(Mutex<Option<tokio::task::AbortHandle>>);

impl Drop for Scheduler {
    fn drop(&mut self) {
        if let Some(task) = self.0.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// A request as API Gateway hands it to a function.
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

/// `req` as API Gateway's JWT authorizer passes it on: with the verified claims of a token of `sub`,
/// a member of `groups`.
pub fn with_token(req: Request, sub: &str, groups: &[&str]) -> Request {
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = HashMap::from([
        ("sub".to_owned(), sub.to_owned()),
        ("cognito:groups".to_owned(), format!("[{}]", groups.join(" "))),
    ]);
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// A request with an `Idempotency-Key`.
pub fn with_key(method: Method, path: &str, user: &str, key: &str, body: &str) -> Request {
    let mut req = request(method, path, Some(user), Some(body));
    req.headers_mut()
        .insert("idempotency-key", key.parse().expect("header value"));
    req
}

/// A signed `POST /webhooks/pg`, signed at `signed_at` (unix seconds) with `secret`.
pub fn webhook(body: &str, secret: &str, signed_at: i64) -> Request {
    let mut req = request(Method::POST, "/webhooks/pg", None, Some(body));
    let signature = ticketing_core::webhook::sign(secret.as_bytes(), signed_at, body.as_bytes());
    req.headers_mut()
        .insert("pg-signature", signature.parse().expect("header value"));
    req
}

/// A gateway notification's body about `charge` of `amount` KRW for `booking`.
pub fn notification(id: &str, kind: &str, booking: &str, charge: &str, amount: i64, failure: Option<&str>) -> String {
    serde_json::json!({"id": id, "type": kind, "created": 1_900_000_000,
        "data": {"bookingId": booking, "chargeId": charge, "amount": amount, "currency": "KRW",
            "failureCode": failure}})
    .to_string()
}

/// The id of a booking as an answer names it.
pub fn booking_id(answer: &Value) -> BookingId {
    BookingId::try_from(answer["bookingId"].as_str().expect("a bookingId")).expect("valid")
}

impl<S: ApiStore + AuditSource> TestApp<S> {
    /// The booking as stored, which must exist (found by id among all bookings, then read by its
    /// customer).
    pub async fn booking(&self, id: &BookingId) -> Booking {
        let user = self
            .store
            .all_bookings()
            .await
            .expect("read")
            .into_iter()
            .find(|b| &b.booking_id == id)
            .expect("exists")
            .user_id;
        self.store
            .booking(&user, id, Consistency::Strong)
            .await
            .expect("read")
            .expect("exists")
    }
}

impl<S: TestStore> TestApp<S> {
    /// The in-process queue's due expiries (the first call only), for a test that runs the expirer; the
    /// expiry scheduler is started to send them, as the bookings stream feeds it in production.
    pub fn due_expiries(&self) -> mpsc::UnboundedReceiver<HoldExpiry> {
        self.start_scheduler();
        self.due
            .lock()
            .ok()
            .and_then(|mut due| due.take())
            .expect("the due expiries, once")
    }

    /// Starts the expiry scheduler on the store's bookings stream (from its start) in the background,
    /// sending to the app's expiry queue, unless it runs already. It stops with the app.
    pub fn start_scheduler(&self) {
        let mut running = self.scheduler.0.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return;
        }
        let store = Arc::clone(&self.store);
        let scheduler = ScheduleExpiries::new(self.api.expiries.clone(), self.clock.clone());
        let task = tokio::spawn(async move {
            feed_scheduler(&mut *store.bookings_stream().await, &scheduler).await;
        });
        *running = Some(task.abort_handle());
    }
}

impl<S: ApiStore> TestApp<S> {
    /// Status, JSON body and whether the answer was replayed under an idempotency key.
    pub async fn call_raw(&self, req: Request) -> (StatusCode, Value, bool) {
        let response = route(&self.api, req).await;
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let body: &[u8] = response.body().as_ref();
        (
            response.status(),
            serde_json::from_slice(body).expect("every response is JSON"),
            replayed,
        )
    }

    pub async fn call(&self, req: Request) -> (StatusCode, Value) {
        let (status, body, _) = self.call_raw(req).await;
        (status, body)
    }

    /// `POST /bookings` of `quantity` seats of `perf_001`.
    pub async fn book(&self, user: &str, quantity: u32) -> (StatusCode, Value) {
        let body =
            format!(r#"{{"performanceId": "perf_001", "quantity": {quantity}, "paymentMethod": "CREDIT_CARD"}}"#);
        self.call(request(Method::POST, "/bookings", Some(user), Some(&body)))
            .await
    }

    /// `POST /payments/execute` with `cvv`.
    pub async fn pay(&self, user: &str, booking: &str, cvv: &str) -> (StatusCode, Value) {
        let body =
            format!(r#"{{"bookingId": "{booking}", "paymentMethodToken": "tok_visa_creditCard", "cvv": "{cvv}"}}"#);
        self.call(request(Method::POST, "/payments/execute", Some(user), Some(&body)))
            .await
    }

    /// Books `quantity` seats and pays with `cvv`, both answered (the worker need not run); the id.
    pub async fn book_and_pay(&self, user: &str, quantity: u32, cvv: &str) -> String {
        let (code, created) = self.book(user, quantity).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        let id = created["bookingId"].as_str().expect("a bookingId").to_owned();
        let (code, paid) = self.pay(user, &id, cvv).await;
        assert_eq!(code, StatusCode::OK, "{paid}");
        id
    }

    /// `GET /bookings/my`.
    pub async fn my_bookings(&self, user: &str) -> Value {
        let (code, list) = self.call(request(Method::GET, "/bookings/my", Some(user), None)).await;
        assert_eq!(code, StatusCode::OK, "{list}");
        list
    }

    /// Polls `GET /bookings/my` until the booking reads `status`, or gives up after 20 s.
    pub async fn wait_for_status(&self, user: &str, booking: &str, status: &str) -> Value {
        let started = Instant::now();
        loop {
            let list = self.my_bookings(user).await;
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

    /// Every seat of `perf_001` with its state, from `GET /performances/perf_001/seats`.
    pub async fn seat_states(&self) -> Vec<(String, String)> {
        let (code, map) = self
            .call(request(Method::GET, "/performances/perf_001/seats", Some(USER), None))
            .await;
        assert_eq!(code, StatusCode::OK, "{map}");
        map["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .map(|s| {
                (
                    s["seatId"].as_str().unwrap_or_default().to_owned(),
                    s["state"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Every seat lock of `perf_001`, read strongly consistent.
    pub async fn locks(&self) -> Vec<SeatLock> {
        self.store
            .seat_locks(
                &PerformanceId::try_from("perf_001").expect("valid"),
                Consistency::Strong,
            )
            .await
            .expect("locks")
    }
}

impl<S: ApiStore> TestApp<S> {
    /// The payment intent of a booking, which must exist.
    pub async fn intent_of(&self, booking: &BookingId) -> PaymentIntent {
        self.store
            .payment_intent(&booking.payment_intent_id())
            .await
            .expect("read")
            .expect("exists")
    }
}

/// The change streams of a store's events and bookings tables, as shards a mapping reads.
#[async_trait::async_trait]
pub trait EventStream: Send + Sync {
    async fn events_stream(&self) -> Box<dyn ShardReader + '_>;
    async fn bookings_stream(&self) -> Box<dyn ShardReader + '_>;
}

#[async_trait::async_trait]
impl EventStream for MemoryStore {
    async fn events_stream(&self) -> Box<dyn ShardReader + '_> {
        Box::new(MemoryShard::events(self))
    }

    async fn bookings_stream(&self) -> Box<dyn ShardReader + '_> {
        Box::new(MemoryShard::bookings(self))
    }
}

/// The stream of `store`'s `table` on DynamoDB Local.
async fn dynamodb_stream<'a>(store: &'a DynamoStore, table: &str) -> Box<dyn ShardReader + 'a> {
    let streams = aws_sdk_dynamodbstreams::Client::new(&dynamodb_local().sdk_config());
    let shards = StreamShards::open(store.client(), streams, table, "us-east-1")
        .await
        .expect("stream opens");
    Box::new(shards)
}

#[async_trait::async_trait]
impl EventStream for DynamoStore {
    async fn events_stream(&self) -> Box<dyn ShardReader + '_> {
        dynamodb_stream(self, &self.tables().events).await
    }

    async fn bookings_stream(&self) -> Box<dyn ShardReader + '_> {
        dynamodb_stream(self, &self.tables().bookings).await
    }
}

/// Everything a behaviour test may ask of a store.
pub trait TestStore: ApiStore + Inspect + AuditSource + EventStream + 'static {}
impl<T: ApiStore + Inspect + AuditSource + EventStream + 'static> TestStore for T {}
