//! What `template.yaml` creates besides the functions, made on the local emulators for `make dev` and
//! for SAM (`make sam-local`, `make sam-test`): the tables, the hold-expiry queue and the gateway's
//! notification queue (each with its dead-letter queue), and the dead-letter queues of the events and
//! bookings streams' mappings; and
//! the catalog (`PERFORMANCES_FILE`, or the built-in one) put on sale in the performances table.

use std::time::Duration;

use ticketing_aws::dynamodb::{DynamoStore, Tables};
use ticketing_core::app::load_catalog;
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::{Clock, SystemClock};
use ticketing_testkit::queues;

/// The queues' URLs (the tables are named by the environment).
pub struct Queues {
    /// `HOLD_EXPIRY_QUEUE_URL`: into `expire-holds`.
    pub expiries: String,
    /// `PG_NOTIFICATION_QUEUE_URL`: into `deliver-notifications`.
    pub notifications: String,
    /// Where the events stream's mapping sends what it gives up.
    pub events_dead_letters: String,
    /// Where the bookings stream's mapping (into `schedule-expiries`) sends what it gives up.
    pub bookings_dead_letters: String,
}

/// Creates the tables of `template.yaml` and its queues (a queue's messages come back `visibility`
/// after a failed delivery), and writes the performances of `catalog` the table does not have yet.
pub async fn create(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    tables: &Tables,
    catalog: &Catalog,
    visibility: Duration,
) -> Result<Queues, String> {
    ticketing_testkit::tables::create_all(dynamodb, &ticketing_testkit::tables::template_path(), tables)
        .await
        .map_err(|e| e.to_string())?;
    let store = DynamoStore::new(dynamodb.clone(), tables.clone());
    let written = load_catalog(&store, catalog, SystemClock.now())
        .await
        .map_err(|e| format!("cannot put the catalog on sale: {e}"))?;
    tracing::info!(written, "the catalog's performances are on sale");
    let expiries = queues::create_with_dead_letters(sqs, "hold-expiries", visibility)
        .await
        .map_err(|e| format!("cannot create the expiry queue: {e}"))?;
    let notifications = queues::create_with_dead_letters(sqs, "gateway-notifications", visibility)
        .await
        .map_err(|e| format!("cannot create the notification queue: {e}"))?;
    Ok(Queues {
        expiries,
        notifications,
        events_dead_letters: dead_letter_queue(sqs, "events").await?,
        bookings_dead_letters: dead_letter_queue(sqs, "bookings").await?,
    })
}

/// The dead-letter queue of the `stream` stream's mapping.
async fn dead_letter_queue(sqs: &aws_sdk_sqs::Client, stream: &str) -> Result<String, String> {
    sqs.create_queue()
        .queue_name(format!("{stream}-dlq"))
        .send()
        .await
        .map_err(|e| format!("cannot create the {stream} dead-letter queue: {}", queues::err(e)))?
        .queue_url
        .ok_or_else(|| format!("the {stream} dead-letter queue has no URL"))
}
