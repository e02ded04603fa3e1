//! What a function builds once per cold start and lends to every invocation: settings, logging, the
//! catalog, the SDK client and the store.

use crate::booking::{App, Settings};
use crate::catalog::{Catalog, CatalogError};
use crate::domain::SystemClock;
use crate::expiry::{HoldExpiry, InProcessQueue, SqsExpiryQueue};
use crate::store::{DynamoStore, MemoryStore, Tables};
use crate::webhook::{GatewayCallback, HttpCallback};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
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
}

/// The longest hold accepted: a day.
const MAX_HOLD_SECONDS: u64 = 86_400;

impl Settings {
    /// `HOLD_SECONDS` (default 600).
    pub fn from_env() -> Result<Self, ConfigError> {
        let Ok(value) = std::env::var("HOLD_SECONDS") else {
            return Ok(Self::default());
        };
        match value.trim().parse::<u64>() {
            Ok(secs) if (1..=MAX_HOLD_SECONDS).contains(&secs) => Ok(Self { hold_seconds: secs }),
            _ => Err(ConfigError::HoldSeconds {
                name: "HOLD_SECONDS",
                value,
                max: MAX_HOLD_SECONDS,
            }),
        }
    }
}

/// The catalog named by `PERFORMANCES_FILE`, or the built-in one.
pub fn catalog_from_env() -> Result<Catalog, ConfigError> {
    match std::env::var_os("PERFORMANCES_FILE").filter(|v| !v.is_empty()) {
        Some(path) => Ok(Catalog::from_file(&PathBuf::from(path))?),
        None => Ok(Catalog::builtin()),
    }
}

/// JSON logs, one object per line, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(true)
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// A function's application over DynamoDB, as configured by its environment (`AWS_REGION`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, the table names, `HOLD_SECONDS`, `PERFORMANCES_FILE`).
pub async fn dynamo_app() -> Result<App<DynamoStore>, ConfigError> {
    app_over(&aws_config::load_from_env().await)
}

fn app_over(config: &aws_config::SdkConfig) -> Result<App<DynamoStore>, ConfigError> {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(config), Tables::from_env());
    Ok(App::new(
        store,
        catalog_from_env()?,
        Arc::new(SystemClock),
        Settings::from_env()?,
    ))
}

/// [`dynamo_app`] with the SQS delay queue named by `HOLD_EXPIRY_QUEUE_URL`, for the functions that
/// schedule or re-enqueue expiries; both clients share one SDK configuration.
pub async fn dynamo_app_with_expiries() -> Result<App<DynamoStore>, ConfigError> {
    let url = std::env::var("HOLD_EXPIRY_QUEUE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or(ConfigError::Missing("HOLD_EXPIRY_QUEUE_URL"))?;
    let config = aws_config::load_from_env().await;
    let queue = SqsExpiryQueue::new(aws_sdk_sqs::Client::new(&config), url);
    Ok(app_over(&config)?.with_expiries(Arc::new(queue)))
}

/// The secret the payment gateway signs notifications with: `PG_WEBHOOK_SECRET`.
pub fn webhook_secret() -> Result<String, ConfigError> {
    std::env::var("PG_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or(ConfigError::Missing("PG_WEBHOOK_SECRET"))
}

/// The simulated gateway's callback, when `PG_WEBHOOK_URL` names where to deliver notifications (the
/// local stack sets it); `PG_WEBHOOK_DELAY_MS` (default 1000) is how long the gateway "processes".
pub fn gateway_from_env() -> Result<Option<Arc<dyn GatewayCallback>>, ConfigError> {
    let Some(url) = std::env::var("PG_WEBHOOK_URL").ok().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    Ok(Some(local_gateway(&url)?))
}

/// The simulated gateway delivering to `url`, signed with `PG_WEBHOOK_SECRET` (or the local secret).
pub fn local_gateway(url: &str) -> Result<Arc<dyn GatewayCallback>, ConfigError> {
    let uri = url.parse().map_err(|_| ConfigError::Invalid {
        name: "PG_WEBHOOK_URL",
        value: url.to_owned(),
    })?;
    let delay = match std::env::var("PG_WEBHOOK_DELAY_MS") {
        Err(_) => 1000,
        Ok(value) => value.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
            name: "PG_WEBHOOK_DELAY_MS",
            value: value.clone(),
        })?,
    };
    let secret = webhook_secret().unwrap_or_else(|_| LOCAL_WEBHOOK_SECRET.to_owned());
    Ok(Arc::new(HttpCallback::new(uri, secret, Duration::from_millis(delay))))
}

/// The secret of the local stack (`make run`, `make dev`) when `PG_WEBHOOK_SECRET` is not set.
pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_local_development_only";

/// The application over the in-memory store with the in-process expiry queue, as configured by the
/// environment, and the queue's receiving end for [`crate::expiry::run_in_process`].
pub fn memory_app() -> Result<(App<MemoryStore>, mpsc::UnboundedReceiver<HoldExpiry>), ConfigError> {
    let (queue, due) = InProcessQueue::new();
    let app = App::new(
        MemoryStore::new(),
        catalog_from_env()?,
        Arc::new(SystemClock),
        Settings::from_env()?,
    )
    .with_expiries(Arc::new(queue))
    .with_webhook_secret(webhook_secret().unwrap_or_else(|_| LOCAL_WEBHOOK_SECRET.to_owned()));
    Ok((app, due))
}
