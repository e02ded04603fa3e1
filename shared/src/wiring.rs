//! What a function builds once per cold start and lends to every invocation: settings, logging, the
//! catalog, the SDK client and the store.

use crate::booking::{App, Settings};
use crate::catalog::{Catalog, CatalogError};
use crate::domain::SystemClock;
use crate::store::{DynamoStore, MemoryStore, Tables};
use std::path::PathBuf;
use std::sync::Arc;

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

/// The SDK client, configured from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, …).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_config::load_from_env().await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// A function's application over DynamoDB, as configured by its environment.
pub async fn dynamo_app() -> Result<App<DynamoStore>, ConfigError> {
    let settings = Settings::from_env()?;
    let catalog = catalog_from_env()?;
    let store = DynamoStore::new(dynamodb_client().await, Tables::from_env());
    Ok(App {
        store,
        catalog,
        clock: Arc::new(SystemClock),
        settings,
    })
}

/// The application over the in-memory store, as configured by the environment.
pub fn memory_app() -> Result<App<MemoryStore>, ConfigError> {
    let settings = Settings::from_env()?;
    let catalog = catalog_from_env()?;
    Ok(App {
        store: MemoryStore::new(),
        catalog,
        clock: Arc::new(SystemClock),
        settings,
    })
}
