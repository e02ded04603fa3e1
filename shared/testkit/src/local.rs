//! Every use case over one store, and one router for all the routes: the API as the local server
//! (`make run`) and the tests run it. Under Lambda, API Gateway routes and each function builds one
//! service instead.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use ticketing_aws::config::{self, ConfigError, LOCAL_WEBHOOK_SECRET};
use ticketing_aws::http::{self, ApiError, AuthMode};
use ticketing_core::app::{
    CreateBooking, ExecutePayment, ExpireHolds, Gateway, HoldPolicy, ListBookings, ProcessingPolicy, ReceiveWebhook,
    SeatMap, SettleEvents, WebhookSecret,
};
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::{Clock, SystemClock};
use ticketing_core::ports::{
    Bookings, ExpiryQueue, HoldExpiry, Holds, IdempotencyKeys, Inbox, Payments, SeatLocks, Settlements,
};
use tokio::sync::mpsc;

use crate::in_process::InProcessQueue;
use crate::memory::MemoryStore;

/// What every route of the API needs of a store.
pub trait ApiStore: SeatLocks + Holds + Bookings + Payments + Settlements + IdempotencyKeys + Inbox {}
impl<T: SeatLocks + Holds + Bookings + Payments + Settlements + IdempotencyKeys + Inbox> ApiStore for T {}

/// What the use cases are built from.
pub struct Parts<S> {
    pub store: Arc<S>,
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    pub policy: HoldPolicy,
    pub processing: ProcessingPolicy,
    pub expiries: Arc<dyn ExpiryQueue>,
    pub secret: WebhookSecret,
    pub gateway: Gateway,
    pub auth: AuthMode,
}

/// Every use case over one store.
pub struct LocalApi<S> {
    pub create_booking: CreateBooking<S>,
    pub execute_payment: ExecutePayment<S>,
    pub list_bookings: ListBookings<S>,
    pub seat_map: SeatMap<S>,
    pub receive_webhook: ReceiveWebhook<S>,
    pub settle_events: SettleEvents<S>,
    pub expire_holds: ExpireHolds<S>,
    /// The expiry queue the services share (the in-process expirer re-enqueues through it).
    pub expiries: Arc<dyn ExpiryQueue>,
    /// How the routes decide the caller.
    pub auth: AuthMode,
}

impl<S: ApiStore> LocalApi<S> {
    pub fn new(parts: Parts<S>) -> Self {
        let Parts {
            store,
            catalog,
            clock,
            policy,
            processing,
            expiries,
            secret,
            gateway,
            auth,
        } = parts;
        Self {
            create_booking: CreateBooking::new(store.clone(), catalog.clone(), clock.clone(), policy, expiries.clone()),
            execute_payment: ExecutePayment::new(store.clone(), clock.clone(), gateway, processing),
            list_bookings: ListBookings::new(store.clone()),
            seat_map: SeatMap::new(store.clone(), catalog, clock.clone()),
            receive_webhook: ReceiveWebhook::new(store.clone(), clock.clone(), secret),
            settle_events: SettleEvents::new(store.clone(), clock.clone()),
            expire_holds: ExpireHolds::new(store, clock, expiries.clone(), processing),
            expiries,
            auth,
        }
    }
}

/// Every route of the API in one process.
pub async fn route<S: ApiStore>(api: &LocalApi<S>, req: Request) -> Response<Body> {
    match req.uri().path().trim_end_matches('/') {
        "/bookings" => http::create_booking(&api.create_booking, &api.auth, req).await,
        "/payments/execute" => http::execute_payment(&api.execute_payment, &api.auth, req).await,
        "/bookings/my" => http::list_my_bookings(&api.list_bookings, &api.auth, req).await,
        "/webhooks/pg" => http::receive_webhook(&api.receive_webhook, req).await,
        path if path.starts_with("/performances/") && path.ends_with("/seats") => {
            http::seat_map(&api.seat_map, &api.auth, req).await
        }
        _ => ApiError::not_found().into_response(),
    }
}

/// `make run`'s API: every use case over the in-memory store, and the in-process queue's due expiries.
pub struct MemoryApi {
    pub store: Arc<MemoryStore>,
    pub api: LocalApi<MemoryStore>,
    pub due: mpsc::UnboundedReceiver<HoldExpiry>,
}

/// `make run`'s API as the environment configures it (`AUTH_MODE`, `HOLD_SECONDS`,
/// `PERFORMANCES_FILE`, `PG_WEBHOOK_SECRET`), with the in-process expiry queue and the simulated gateway calling
/// `webhook_url` back.
pub fn memory_api(webhook_url: &str) -> Result<MemoryApi, ConfigError> {
    let (queue, due) = InProcessQueue::new();
    let store = Arc::new(MemoryStore::new());
    let secret = config::webhook_secret().unwrap_or_else(|_| WebhookSecret::new(LOCAL_WEBHOOK_SECRET.to_owned()));
    let api = LocalApi::new(Parts {
        store: store.clone(),
        catalog: config::catalog()?,
        clock: Arc::new(SystemClock),
        policy: config::hold_policy()?,
        processing: config::processing_policy()?,
        expiries: Arc::new(queue),
        secret,
        gateway: Gateway::Simulated(config::simulated_gateway(webhook_url)?),
        auth: config::auth_mode()?,
    });
    Ok(MemoryApi { store, api, due })
}
