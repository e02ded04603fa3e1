//! Every use case over one store, and one router for all the routes: the API as the local server
//! (`make run`) and the tests run it. Under Lambda, API Gateway routes and each function builds one
//! service instead.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use ticketing_aws::config::{self, ConfigError, LOCAL_WEBHOOK_SECRET};
use ticketing_aws::http::{self, ApiError, AuthMode};
use ticketing_core::app::{
    load_catalog, CancelBooking, CancelPolicy, CreateBooking, ExecutePayment, ExpireHolds, Gateway, HoldPolicy,
    ListBookings, ManagePerformances, PerformanceCache, ProcessingPolicy, ReceiveWebhook, Refunder, ScheduleExpiries,
    SeatMap, SettleEvents, WebhookSecret,
};
use ticketing_core::domain::{Clock, SystemClock};
use ticketing_core::ports::{
    Bookings, ExpiryQueue, HoldExpiry, Holds, IdempotencyKeys, Inbox, Payments, Performances, Refunds, SeatLocks,
    Settlements,
};
use tokio::sync::mpsc;

use crate::in_process::InProcessQueue;
use crate::memory::MemoryStore;

/// What every route of the API needs of a store.
pub trait ApiStore:
    SeatLocks + Holds + Bookings + Payments + Settlements + Refunds + IdempotencyKeys + Inbox + Performances
{
}
impl<T> ApiStore for T where
    T: SeatLocks + Holds + Bookings + Payments + Settlements + Refunds + IdempotencyKeys + Inbox + Performances
{
}

/// What the use cases are built from.
pub struct Parts<S> {
    pub store: Arc<S>,
    /// How long a performance read is trusted (the routes share what they read, and a change through
    /// them is seen at once).
    pub catalog_ttl: Duration,
    pub clock: Arc<dyn Clock>,
    pub policy: HoldPolicy,
    pub processing: ProcessingPolicy,
    pub cancel: CancelPolicy,
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
    /// Fed by the bookings stream (`mapping::run_scheduler` in process).
    pub schedule_expiries: ScheduleExpiries,
    pub manage_performances: ManagePerformances<S>,
    pub cancel_booking: CancelBooking<S>,
    /// The expiry queue the services share (the in-process expirer re-enqueues through it).
    pub expiries: Arc<dyn ExpiryQueue>,
    /// How the routes decide the caller.
    pub auth: AuthMode,
}

impl<S: ApiStore> LocalApi<S> {
    pub fn new(parts: Parts<S>) -> Self {
        let Parts {
            store,
            catalog_ttl,
            clock,
            policy,
            processing,
            cancel,
            expiries,
            secret,
            gateway,
            auth,
        } = parts;
        let performances = Arc::new(PerformanceCache::new(store.clone(), clock.clone(), catalog_ttl));
        Self {
            create_booking: CreateBooking::new(store.clone(), performances.clone(), clock.clone(), policy),
            execute_payment: ExecutePayment::new(store.clone(), clock.clone(), gateway, processing),
            list_bookings: ListBookings::new(store.clone()),
            seat_map: SeatMap::new(store.clone(), performances.clone(), clock.clone()),
            manage_performances: ManagePerformances::new(store.clone(), clock.clone(), performances.clone()),
            receive_webhook: ReceiveWebhook::new(store.clone(), clock.clone(), secret),
            settle_events: SettleEvents::new(store.clone(), clock.clone(), expiries.clone()),
            cancel_booking: CancelBooking::new(
                store.clone(),
                clock.clone(),
                performances.clone(),
                Refunder::new(store.clone(), clock.clone(), expiries.clone()),
                cancel,
            ),
            schedule_expiries: ScheduleExpiries::new(expiries.clone(), clock.clone()),
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
        path if path.starts_with("/bookings/") && path.ends_with("/cancel") => {
            http::cancel_booking(&api.cancel_booking, &api.auth, req).await
        }
        "/webhooks/pg" => http::receive_webhook(&api.receive_webhook, req).await,
        path if path.starts_with("/performances/") && path.ends_with("/seats") => {
            http::seat_map(&api.seat_map, &api.auth, req).await
        }
        path if path == "/performances" || path.starts_with("/performances/") => {
            http::performances(&api.manage_performances, &api.auth, req).await
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

/// Why `make run`'s API did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot load the catalog: {0}")]
    Store(#[from] ticketing_core::ports::StoreError),
}

/// `make run`'s API as the environment configures it (`AUTH_MODE`, `HOLD_SECONDS`,
/// `PERFORMANCES_FILE`, `PG_WEBHOOK_SECRET`, `CATALOG_TTL_SECONDS`), with the in-process expiry queue and
/// the simulated gateway calling `webhook_url` back; the catalog's performances are on sale.
pub async fn memory_api(webhook_url: &str) -> Result<MemoryApi, StartError> {
    let (queue, due) = InProcessQueue::new();
    let store = Arc::new(MemoryStore::new());
    let secret = config::webhook_secret().unwrap_or_else(|_| WebhookSecret::new(LOCAL_WEBHOOK_SECRET.to_owned()));
    let api = LocalApi::new(Parts {
        store: store.clone(),
        catalog_ttl: config::catalog_ttl()?,
        clock: Arc::new(SystemClock),
        policy: config::hold_policy()?,
        processing: config::processing_policy()?,
        cancel: config::cancel_policy()?,
        expiries: Arc::new(queue),
        secret,
        gateway: Gateway::Simulated(config::simulated_gateway(webhook_url)?),
        auth: config::auth_mode()?,
    });
    load_catalog(store.as_ref(), &config::catalog()?, SystemClock.now()).await?;
    Ok(MemoryApi { store, api, due })
}
