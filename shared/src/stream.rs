//! The events table's change stream as Lambda sees it: records shaped exactly as the DynamoDB Streams
//! event source mapping delivers them, and, for the in-memory store, an in-process event source that
//! feeds the worker with the same batching and retry rules as `template.yaml` gives the real one.

use crate::domain::Clock;
use crate::store::memory::{MemoryStore, StreamedItem};
use crate::store::Settlements;
use crate::worker;
use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use serde_dynamo::{AttributeValue, Item};
use std::time::Duration;
use tracing::{error, warn};

/// Where stream records say they come from.
#[derive(Clone, Debug)]
pub struct StreamSource {
    pub region: String,
    pub stream_arn: String,
}

impl StreamSource {
    pub fn local(table: &str) -> Self {
        Self {
            region: "local".to_owned(),
            stream_arn: format!("arn:aws:dynamodb:local:000000000000:table/{table}/stream/local"),
        }
    }
}

/// An `INSERT` record of a `NEW_IMAGE` stream.
pub struct Insert {
    pub event_id: String,
    pub sequence_number: String,
    pub keys: Item,
    pub new_image: Item,
    pub created_at_millis: i64,
    pub size_bytes: i64,
}

pub fn record(source: &StreamSource, insert: Insert) -> EventRecord {
    let mut change = StreamRecord::default();
    change.approximate_creation_date_time =
        chrono::DateTime::from_timestamp_millis(insert.created_at_millis).unwrap_or_default();
    change.keys = insert.keys;
    change.new_image = insert.new_image;
    change.sequence_number = Some(insert.sequence_number);
    change.size_bytes = insert.size_bytes;
    change.stream_view_type = Some(StreamViewType::NewImage);
    let mut record = EventRecord::default();
    record.aws_region = source.region.clone();
    record.change = change;
    record.event_id = insert.event_id;
    record.event_name = "INSERT".to_owned();
    record.event_source = Some("aws:dynamodb".to_owned());
    record.event_version = Some("1.1".to_owned());
    record.event_source_arn = Some(source.stream_arn.clone());
    record
}

pub fn batch(records: Vec<EventRecord>) -> Event {
    let mut event = Event::default();
    event.records = records;
    event
}

/// How the in-process event source batches and retries, as the event source mapping in `template.yaml`.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    pub batch_size: usize,
    /// After this many failed retries of a record it is given up (and logged, as the on-failure
    /// destination would receive it).
    pub maximum_retry_attempts: u32,
    pub retry_delay: Duration,
}

impl Default for Mapping {
    fn default() -> Self {
        Self { batch_size: 100, maximum_retry_attempts: 3, retry_delay: Duration::from_millis(200) }
    }
}

fn memory_record(source: &StreamSource, item: StreamedItem) -> EventRecord {
    let keys = item
        .new_image
        .get("eventId")
        .map(|id| Item::from(std::collections::HashMap::from([("eventId".to_owned(), id.clone())])))
        .unwrap_or_default();
    let created_at_millis = match item.new_image.get("occurredAt") {
        Some(AttributeValue::S(text)) => crate::domain::Timestamp::parse_rfc3339(text).map_or(0, |t| t.as_millis()),
        _ => 0,
    };
    record(
        source,
        Insert {
            event_id: format!("{:032x}", item.sequence_number),
            sequence_number: format!("{:021}", item.sequence_number),
            keys,
            new_image: item.new_image,
            created_at_millis,
            size_bytes: 0,
        },
    )
}

/// Feeds the worker from the in-memory store's stream until the task is dropped: in order, in batches,
/// retrying from the first failed record like the event source mapping does.
pub async fn run_in_process<S: Settlements>(stream: &MemoryStore, store: &S, clock: &dyn Clock, mapping: Mapping) {
    let source = StreamSource::local("events");
    let mut checkpoint = 0u64;
    let mut attempts = 0u32;
    loop {
        let appended = stream.appended();
        let items = stream.stream_after(checkpoint, mapping.batch_size);
        if items.is_empty() {
            appended.await;
            continue;
        }
        let last = items.last().map_or(checkpoint, |i| i.sequence_number);
        let records = items.into_iter().map(|i| memory_record(&source, i)).collect();
        let response = worker::process_batch(store, clock, batch(records)).await;
        let first_failed = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref()?.parse::<u64>().ok())
            .min();
        match first_failed {
            None => {
                checkpoint = last;
                attempts = 0;
            }
            Some(failed) if attempts >= mapping.maximum_retry_attempts => {
                error!(sequence_number = failed, attempts, "record given up after its retries; it needs a redrive");
                checkpoint = failed;
                attempts = 0;
            }
            Some(failed) => {
                attempts += 1;
                warn!(sequence_number = failed, attempts, "retrying the batch from the first failed record");
                checkpoint = failed.saturating_sub(1);
                tokio::time::sleep(mapping.retry_delay).await;
            }
        }
    }
}
