//! Configuration from the environment, read once per cold start: each function's service, built with
//! every part it needs. A missing or invalid setting is an error at cold start, never at run time.
//!
//! | variable | read by | meaning |
//! |---|---|---|
//! | `HOLD_SECONDS` | create-booking | how long a booking holds its seats unpaid (default 600) |
//! | `PERFORMANCES_FILE` | `make run`, `make dev`, SAM's local services | the catalog loaded into the performances at start (default: built in) |
//! | `CATALOG_TTL_SECONDS` | create-booking, get-seat-map | how long a performance read from the table is trusted (10; 0: always read) |
//! | `HOLD_EXPIRY_QUEUE_URL` | create-booking, expire-holds, cancel-booking, process-events | the SQS delay queue of expiries and refund follow-ups |
//! | `CANCEL_CUTOFF_HOURS` | cancel-booking | how long before a performance starts its bookings can no longer be cancelled (24) |
//! | `PG_WEBHOOK_SECRET` | receive-webhook (and the simulated gateway) | the notifications' signing secret |
//! | `PG_NOTIFICATION_QUEUE_URL` | execute-payment | the SQS delay queue of the simulated gateway's notifications (unset: the gateway notifies by itself) |
//! | `PG_WEBHOOK_DELAY_MS` | execute-payment | how long the simulated gateway processes a CVV 777 charge before it notifies (1000) |
//! | `PG_WEBHOOK_URL` | deliver-notifications | the API's `POST /webhooks/pg`, where the notifications are posted |
//! | `PG_PROCESSING_TIMEOUT_SECONDS`, `PG_PROCESSING_DEADLINE_SECONDS` | execute-payment, expire-holds | when a processing charge is reconciled (900), and voided (3600), from the payment |
//! | `AUTH_MODE` | the routes with a caller | `jwt` (the caller from the verified token's claims) or `header` (from `x-user-id`; one machine only); required |
//! | `JWT_USER_CLAIM`, `JWT_GROUPS_CLAIM`, `OPERATOR_GROUP` | the routes with a caller, under `jwt` | the claims naming the user (`sub`) and their groups (`cognito:groups`), and the operators' group (`operators`) |
//! | `JWT_ISSUER`, `JWT_AUDIENCE` | manage-performances, under `jwt` | the token issuer and audience, for the routes open to anyone, where the function verifies a bearer token itself (unset: those routes see everyone as anonymous) |
//! | `*_TABLE` | every function | the table names ([`Tables::from_env`]) |

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ticketing_core::app::{
    CancelBooking, CancelPolicy, CreateBooking, ExecutePayment, ExpireHolds, Gateway, HoldPolicy, ListBookings,
    ManagePerformances, PerformanceCache, ProcessingPolicy, ReceiveWebhook, Refunder, ScheduleExpiries, SeatMap,
    SettleEvents, WebhookSecret, DEFAULT_CATALOG_TTL,
};
use ticketing_core::catalog::{Catalog, CatalogError};
use ticketing_core::domain::SystemClock;
use ticketing_core::ports::{ExpiryQueue, GatewayCallback};

use crate::dynamodb::{DynamoStore, Tables};
use crate::gateway::{HttpCallback, Notifier, QueuedCallback};
use crate::http::{AuthMode, TokenVerifier};
use crate::sqs::SqsExpiryQueue;

/// A setting missing or invalid: the function does not start.
#[derive(thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be a whole number of seconds from 1 to {max}, not {value:?}")]
    HoldSeconds {
        name: &'static str,
        value: String,
        max: u64,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0} must be set")]
    Missing(&'static str),
    #[error("{name} is not valid: {value:?}")]
    Invalid { name: &'static str, value: String },
    #[error("the system's trusted certificates cannot be read: {0}")]
    Certificates(#[from] std::io::Error),
}

/// What `main` prints when the cold start fails (`Error: …`): the sentence, not the variant.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// The longest hold accepted: a day.
const MAX_HOLD_SECONDS: u64 = 86_400;

/// The secret of the local stack (`make run`, `make dev`) when `PG_WEBHOOK_SECRET` is not set.
pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_local_development_only";

/// `HOLD_SECONDS` (default 600).
pub fn hold_policy() -> Result<HoldPolicy, ConfigError> {
    let Ok(value) = std::env::var("HOLD_SECONDS") else {
        return Ok(HoldPolicy::default());
    };
    match value.trim().parse::<u64>() {
        Ok(secs) if (1..=MAX_HOLD_SECONDS).contains(&secs) => Ok(HoldPolicy { hold_seconds: secs }),
        _ => Err(ConfigError::HoldSeconds {
            name: "HOLD_SECONDS",
            value,
            max: MAX_HOLD_SECONDS,
        }),
    }
}

/// The catalog named by `PERFORMANCES_FILE`, or the built-in one: what the local stacks put on sale
/// at start.
pub fn catalog() -> Result<Catalog, ConfigError> {
    match std::env::var_os("PERFORMANCES_FILE").filter(|v| !v.is_empty()) {
        Some(path) => Ok(Catalog::from_file(&PathBuf::from(path))?),
        None => Ok(Catalog::builtin()),
    }
}

/// The longest `CATALOG_TTL_SECONDS` accepted: an hour.
const MAX_CATALOG_TTL_SECONDS: u64 = 3600;

/// `CATALOG_TTL_SECONDS` (default 10): how long a performance read from the table is trusted for a
/// booking or a seat map; 0 reads it every time.
pub fn catalog_ttl() -> Result<Duration, ConfigError> {
    let Ok(value) = std::env::var("CATALOG_TTL_SECONDS") else {
        return Ok(DEFAULT_CATALOG_TTL);
    };
    match value.trim().parse::<u64>() {
        Ok(secs) if secs <= MAX_CATALOG_TTL_SECONDS => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::Invalid {
            name: "CATALOG_TTL_SECONDS (0 to 3600)",
            value,
        }),
    }
}

/// `CANCEL_CUTOFF_HOURS` (default 24): bookings can be cancelled until this long before the
/// performance starts.
pub fn cancel_policy() -> Result<CancelPolicy, ConfigError> {
    let Ok(value) = std::env::var("CANCEL_CUTOFF_HOURS") else {
        return Ok(CancelPolicy::default());
    };
    match value.trim().parse::<u64>() {
        Ok(hours) if hours <= 24 * 365 => Ok(CancelPolicy {
            cutoff: Duration::from_secs(hours * 3600),
        }),
        _ => Err(ConfigError::Invalid {
            name: "CANCEL_CUTOFF_HOURS (0 to 8760)",
            value,
        }),
    }
}

/// `PORT` (default 3000): where a local server listens.
pub fn port() -> u16 {
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000)
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// The secret the payment gateway signs notifications with: `PG_WEBHOOK_SECRET`.
pub fn webhook_secret() -> Result<WebhookSecret, ConfigError> {
    required("PG_WEBHOOK_SECRET").map(WebhookSecret::new)
}

fn seconds(name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(Duration::from_secs(default)),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
            _ => Err(ConfigError::Invalid { name, value }),
        },
    }
}

fn webhook_delay() -> Result<Duration, ConfigError> {
    match std::env::var("PG_WEBHOOK_DELAY_MS") {
        Err(_) => Ok(Duration::from_millis(1000)),
        Ok(value) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| ConfigError::Invalid {
                name: "PG_WEBHOOK_DELAY_MS",
                value: value.clone(),
            }),
    }
}

/// How long a charge the gateway processes may take: `PG_PROCESSING_TIMEOUT_SECONDS` (900),
/// `PG_PROCESSING_DEADLINE_SECONDS` (3600, after the timeout), `PG_WEBHOOK_DELAY_MS` (1000).
pub fn processing_policy() -> Result<ProcessingPolicy, ConfigError> {
    let timeout = seconds("PG_PROCESSING_TIMEOUT_SECONDS", 900)?;
    let deadline = seconds("PG_PROCESSING_DEADLINE_SECONDS", 3600)?;
    if deadline < timeout {
        return Err(ConfigError::Invalid {
            name: "PG_PROCESSING_DEADLINE_SECONDS (not before the timeout)",
            value: deadline.as_secs().to_string(),
        });
    }
    Ok(ProcessingPolicy {
        timeout,
        deadline,
        simulated_delay: webhook_delay()?,
    })
}

/// `make run`'s simulated gateway, delivering from a task of its own to `url`, signed with
/// `PG_WEBHOOK_SECRET` (or the local secret), after `PG_WEBHOOK_DELAY_MS` (default 1000).
pub fn simulated_gateway(url: &str) -> Result<Arc<dyn GatewayCallback>, ConfigError> {
    let secret = required("PG_WEBHOOK_SECRET").unwrap_or_else(|_| LOCAL_WEBHOOK_SECRET.to_owned());
    Ok(Arc::new(HttpCallback::new(notifier(url, secret)?, webhook_delay()?)))
}

fn notifier(url: &str, secret: String) -> Result<Notifier, ConfigError> {
    let uri = url.parse().map_err(|_| ConfigError::Invalid {
        name: "PG_WEBHOOK_URL",
        value: url.to_owned(),
    })?;
    Ok(Notifier::new(uri, secret)?)
}

/// How the caller is decided, from `AUTH_MODE` (required: `jwt` or `header`).
pub fn auth_mode() -> Result<AuthMode, ConfigError> {
    let mode = required("AUTH_MODE")?;
    match mode.trim() {
        "jwt" => {
            let var = |name: &str, default: &str| {
                std::env::var(name)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .unwrap_or_else(|| default.to_owned())
            };
            let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            let open_routes = match (set("JWT_ISSUER"), set("JWT_AUDIENCE")) {
                (Some(issuer), Some(audience)) => Some(Arc::new(
                    TokenVerifier::new(issuer.clone(), audience).map_err(|_| ConfigError::Invalid {
                        name: "JWT_ISSUER",
                        value: issuer,
                    })?,
                )),
                _ => None,
            };
            Ok(AuthMode::Jwt {
                user_claim: var("JWT_USER_CLAIM", "sub"),
                groups_claim: var("JWT_GROUPS_CLAIM", "cognito:groups"),
                operator_group: var("OPERATOR_GROUP", "operators"),
                open_routes,
            })
        }
        "header" => Ok(AuthMode::Header),
        _ => Err(ConfigError::Invalid {
            name: "AUTH_MODE (jwt or header)",
            value: mode,
        }),
    }
}

/// JSON logs, one object per line, filtered by `RUST_LOG` (default `info`): levels per target
/// (`info,ticketing_core=debug`), without the regular expressions of span filters, which would add
/// their engine to every function.
pub fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .without_time()
        .with_ansi(false);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(logs).with(filter).try_init();
}

/// What every function's service is built from: the SDK configuration (`AWS_REGION`,
/// `AWS_ENDPOINT_URL_*`), read once.
struct Aws(aws_config::SdkConfig);

impl Aws {
    async fn from_env() -> Self {
        Self(aws_config::load_from_env().await)
    }

    fn store(&self) -> Arc<DynamoStore> {
        Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.0),
            Tables::from_env(),
        ))
    }

    /// The gateway as the environment names it: the simulated one, whose notifications wait on the SQS
    /// queue named by `PG_NOTIFICATION_QUEUE_URL`; without it, a gateway that notifies by itself.
    fn gateway(&self) -> Result<Gateway, ConfigError> {
        match std::env::var("PG_NOTIFICATION_QUEUE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => Ok(Gateway::Simulated(Arc::new(QueuedCallback::new(
                aws_sdk_sqs::Client::new(&self.0),
                url,
                webhook_delay()?,
            )))),
            None => Ok(Gateway::Notifies),
        }
    }

    /// The performances over `store`, as this process knows them for `CATALOG_TTL_SECONDS`.
    fn performances(store: &Arc<DynamoStore>) -> Result<Arc<PerformanceCache<DynamoStore>>, ConfigError> {
        Ok(Arc::new(PerformanceCache::new(
            Arc::clone(store),
            Arc::new(SystemClock),
            catalog_ttl()?,
        )))
    }

    /// The SQS delay queue named by `HOLD_EXPIRY_QUEUE_URL`.
    fn expiries(&self) -> Result<Arc<dyn ExpiryQueue>, ConfigError> {
        let url = required("HOLD_EXPIRY_QUEUE_URL")?;
        Ok(Arc::new(SqsExpiryQueue::new(aws_sdk_sqs::Client::new(&self.0), url)))
    }
}

/// `create-booking`'s service.
pub async fn create_booking() -> Result<CreateBooking<DynamoStore>, ConfigError> {
    let aws = Aws::from_env().await;
    let store = aws.store();
    Ok(CreateBooking::new(
        Arc::clone(&store),
        Aws::performances(&store)?,
        Arc::new(SystemClock),
        hold_policy()?,
    ))
}

/// `execute-payment`'s service.
pub async fn execute_payment() -> Result<ExecutePayment<DynamoStore>, ConfigError> {
    let aws = Aws::from_env().await;
    Ok(ExecutePayment::new(
        aws.store(),
        Arc::new(SystemClock),
        aws.gateway()?,
        processing_policy()?,
    ))
}

/// `list-my-bookings`' service.
pub async fn list_bookings() -> Result<ListBookings<DynamoStore>, ConfigError> {
    Ok(ListBookings::new(Aws::from_env().await.store()))
}

/// `get-seat-map`'s service.
pub async fn seat_map() -> Result<SeatMap<DynamoStore>, ConfigError> {
    let store = Aws::from_env().await.store();
    Ok(SeatMap::new(
        Arc::clone(&store),
        Aws::performances(&store)?,
        Arc::new(SystemClock),
    ))
}

/// `cancel-booking`'s service.
pub async fn cancel_booking() -> Result<CancelBooking<DynamoStore>, ConfigError> {
    let aws = Aws::from_env().await;
    let store = aws.store();
    let clock: Arc<dyn ticketing_core::domain::Clock> = Arc::new(SystemClock);
    Ok(CancelBooking::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Aws::performances(&store)?,
        Refunder::new(Arc::clone(&store), clock, aws.expiries()?),
        cancel_policy()?,
    ))
}

/// `manage-performances`' service.
pub async fn manage_performances() -> Result<ManagePerformances<DynamoStore>, ConfigError> {
    let store = Aws::from_env().await.store();
    Ok(ManagePerformances::new(
        Arc::clone(&store),
        Arc::new(SystemClock),
        Aws::performances(&store)?,
    ))
}

/// `receive-webhook`'s service.
pub async fn receive_webhook() -> Result<ReceiveWebhook<DynamoStore>, ConfigError> {
    let secret = webhook_secret()?;
    Ok(ReceiveWebhook::new(
        Aws::from_env().await.store(),
        Arc::new(SystemClock),
        secret,
    ))
}

/// `process-events`' service.
pub async fn settle_events() -> Result<SettleEvents<DynamoStore>, ConfigError> {
    let aws = Aws::from_env().await;
    Ok(SettleEvents::new(aws.store(), Arc::new(SystemClock), aws.expiries()?))
}

/// `schedule-expiries`' service: onto the delay queue named by `HOLD_EXPIRY_QUEUE_URL`.
pub async fn schedule_expiries() -> Result<ScheduleExpiries, ConfigError> {
    let aws = Aws::from_env().await;
    Ok(ScheduleExpiries::new(aws.expiries()?, Arc::new(SystemClock)))
}

/// `expire-holds`' service.
pub async fn expire_holds() -> Result<ExpireHolds<DynamoStore>, ConfigError> {
    let aws = Aws::from_env().await;
    Ok(ExpireHolds::new(
        aws.store(),
        Arc::new(SystemClock),
        aws.expiries()?,
        processing_policy()?,
    ))
}

/// `deliver-notifications`' poster: to `PG_WEBHOOK_URL`, signed with `PG_WEBHOOK_SECRET` (both required).
pub fn deliver_notifications() -> Result<Notifier, ConfigError> {
    notifier(&required("PG_WEBHOOK_URL")?, required("PG_WEBHOOK_SECRET")?)
}
