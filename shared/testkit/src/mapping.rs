//! The DynamoDB Streams event source mapping on one machine: records shaped exactly as Lambda gets
//! them, a mapping that batches and retries as `template.yaml` configures the real one (reporting
//! given-up records to a dead-letter destination), and the in-memory store's streams as shards.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde_dynamo::{AttributeValue, Item};
use ticketing_aws::events::{process_stream, schedule_expiries};
use ticketing_core::app::{ScheduleExpiries, SettleEvents};
use ticketing_core::domain::{Clock, SystemClock, Timestamp};
use ticketing_core::ports::{Bookings, Inbox, Payments, Performances, Refunds, SeatLocks, Settlements};
use tracing::{error, warn};

use crate::memory::{MemoryStore, Streamed, StreamedItem};

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

/// How an event source mapping batches, filters and retries, as `template.yaml` configures the real
/// one. The default is the events stream's into `process-events`.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    pub batch_size: usize,
    /// After this many failed retries of a record it is given up (logged, as the on-failure destination
    /// would receive it) and the mapping moves past it.
    pub maximum_retry_attempts: u32,
    pub retry_delay: Duration,
    /// Only `INSERT` records reach the function (a `FilterCriteria` on `eventName`); the others are
    /// passed over, as Lambda drops the records no filter matches.
    pub inserts_only: bool,
}

impl Default for Mapping {
    fn default() -> Self {
        Self {
            batch_size: 100,
            maximum_retry_attempts: 5,
            retry_delay: Duration::from_millis(200),
            inserts_only: false,
        }
    }
}

impl Mapping {
    /// The bookings stream's into `schedule-expiries`: new bookings only, 10 retries.
    pub fn new_bookings() -> Self {
        Self {
            maximum_retry_attempts: 10,
            inserts_only: true,
            ..Self::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("stream read failed: {0}")]
pub struct StreamError(pub String);

/// One shard of a change stream, read in order from a checkpoint.
#[async_trait]
pub trait ShardReader: Send {
    /// Up to `max` records after the checkpoint, moving the checkpoint past them; empty when caught up.
    async fn read(&mut self, max: usize) -> Result<Vec<EventRecord>, StreamError>;
    /// Moves the checkpoint back so that `record` is the next one read.
    async fn rewind_to(&mut self, record: &EventRecord) -> Result<(), StreamError>;
    /// Moves the checkpoint just past `record`.
    async fn skip_past(&mut self, record: &EventRecord) -> Result<(), StreamError>;
    /// Waits until new records may have arrived.
    async fn idle(&mut self);
    /// The shard being read, as a dead letter names it.
    fn shard_id(&self) -> String;
}

/// Delivers a shard's records to a function in batches until the task is dropped, like the DynamoDB
/// Streams event source mapping with `ReportBatchItemFailures`: a batch that reports failures is read
/// again from its first failed record; a record still failing after its retries is given up.
/// `deliver` returns the function's response, or `Err` when the invocation itself failed.
pub async fn run_mapping<R, D, F>(reader: &mut R, deliver: D, mapping: Mapping)
where
    R: ShardReader + ?Sized,
    D: Fn(Event) -> F,
    F: Future<Output = Result<DynamoDbEventResponse, String>>,
{
    run_mapping_with_dead_letters(reader, deliver, mapping, &LoggedDeadLetters).await;
}

/// Where a mapping sends the records it gave up, like the on-failure destination of `template.yaml`.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn send(&self, failure: &StreamFailure) -> Result<(), String>;
}

/// Gives up records into the log only (the in-process stream of `make run`).
pub struct LoggedDeadLetters;

#[async_trait]
impl DeadLetters for LoggedDeadLetters {
    async fn send(&self, failure: &StreamFailure) -> Result<(), String> {
        error!(batch = ?failure.batch, reason = %failure.response_context.function_error, "record given up");
        Ok(())
    }
}

/// What the on-failure destination receives for a stream record that kept failing: where to find it in
/// the stream (as Lambda's own record of a failed stream batch), and why it failed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamFailure {
    pub request_context: FailureContext,
    pub response_context: FailureResponse,
    pub version: String,
    pub timestamp: String,
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch: StreamBatchInfo,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureContext {
    pub condition: String,
    pub approximate_invoke_count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureResponse {
    pub function_error: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamBatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub batch_size: u32,
    pub stream_arn: String,
}

/// [`run_mapping`], sending the records it gives up to `dead_letters`.
pub async fn run_mapping_with_dead_letters<R, D, F>(
    reader: &mut R,
    deliver: D,
    mapping: Mapping,
    dead_letters: &dyn DeadLetters,
) where
    R: ShardReader + ?Sized,
    D: Fn(Event) -> F,
    F: Future<Output = Result<DynamoDbEventResponse, String>>,
{
    // The record being retried, and how many times it has been.
    let mut retrying: Option<(String, u32)> = None;
    loop {
        let records = match reader.read(mapping.batch_size).await {
            Ok(records) => records,
            Err(e) => {
                warn!(error = %e, "stream read failed; retrying");
                tokio::time::sleep(mapping.retry_delay).await;
                continue;
            }
        };
        if records.is_empty() {
            reader.idle().await;
            continue;
        }
        let records: Vec<EventRecord> = if mapping.inserts_only {
            records.into_iter().filter(|r| r.event_name == "INSERT").collect()
        } else {
            records
        };
        if records.is_empty() {
            continue;
        }
        let (failed, reason): (HashSet<String>, String) = match deliver(batch(records.clone())).await {
            Ok(response) => (
                response
                    .batch_item_failures
                    .into_iter()
                    .filter_map(|f| f.item_identifier)
                    .collect(),
                "the function reported the record as failed".to_owned(),
            ),
            Err(e) => {
                warn!(error = %e, "invocation failed; the whole batch is retried");
                (
                    records
                        .iter()
                        .filter_map(|r| r.change.sequence_number.clone())
                        .collect(),
                    e,
                )
            }
        };
        let Some(first) = records.iter().find(|r| {
            r.change
                .sequence_number
                .as_ref()
                .is_some_and(|seq| failed.contains(seq))
        }) else {
            retrying = None;
            continue;
        };
        let sequence_number = first.change.sequence_number.clone().unwrap_or_default();
        let retries = match &retrying {
            Some((seq, n)) if *seq == sequence_number => n + 1,
            _ => 1,
        };
        let give_up = retries > mapping.maximum_retry_attempts;
        if give_up {
            error!(
                sequence_number,
                retries = retries - 1,
                "record given up after its retries; it needs a redrive"
            );
            retrying = None;
            let failure = StreamFailure {
                request_context: FailureContext {
                    condition: "RetryAttemptsExhausted".to_owned(),
                    approximate_invoke_count: retries,
                },
                response_context: FailureResponse { function_error: reason },
                version: "1.0".to_owned(),
                timestamp: SystemClock.now().to_rfc3339(),
                batch: StreamBatchInfo {
                    shard_id: reader.shard_id(),
                    start_sequence_number: sequence_number.clone(),
                    end_sequence_number: sequence_number.clone(),
                    batch_size: 1,
                    stream_arn: first.event_source_arn.clone().unwrap_or_default(),
                },
            };
            while let Err(e) = dead_letters.send(&failure).await {
                warn!(error = %e, "could not send the given-up record to its dead-letter queue; trying again");
                tokio::time::sleep(mapping.retry_delay).await;
            }
        } else {
            warn!(sequence_number, retries, "retrying from the first failed record");
            retrying = Some((sequence_number, retries));
            tokio::time::sleep(mapping.retry_delay).await;
        }
        // The checkpoint must move, or records would be lost or repeated forever: insist.
        loop {
            let moved = if give_up {
                reader.skip_past(first).await
            } else {
                reader.rewind_to(first).await
            };
            match moved {
                Ok(()) => break,
                Err(e) => {
                    warn!(error = %e, "could not move the stream checkpoint; trying again");
                    tokio::time::sleep(mapping.retry_delay).await;
                }
            }
        }
    }
}

/// One of the in-memory store's change streams as a shard.
pub struct MemoryShard<'a> {
    store: &'a MemoryStore,
    table: Streamed,
    source: StreamSource,
    checkpoint: u64,
}

impl<'a> MemoryShard<'a> {
    /// The events table's stream, from its start.
    pub fn events(store: &'a MemoryStore) -> Self {
        Self::new(store, Streamed::Events)
    }

    /// The bookings table's stream (its inserts), from its start.
    pub fn bookings(store: &'a MemoryStore) -> Self {
        Self::new(store, Streamed::Bookings)
    }

    fn new(store: &'a MemoryStore, table: Streamed) -> Self {
        let name = match table {
            Streamed::Events => "events",
            Streamed::Bookings => "bookings",
        };
        Self {
            store,
            table,
            source: StreamSource::local(name),
            checkpoint: 0,
        }
    }

    fn record(&self, item: StreamedItem) -> EventRecord {
        // The table's key attributes, and when the item was written.
        let (key, created) = match self.table {
            Streamed::Events => (&["eventId"][..], "occurredAt"),
            Streamed::Bookings => (&["userId", "bookingId"][..], "createdAt"),
        };
        let keys: HashMap<String, AttributeValue> = key
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), item.new_image.get(*name)?.clone())))
            .collect();
        let keys = Item::from(keys);
        let created_at_millis = match item.new_image.get(created) {
            Some(AttributeValue::S(text)) => Timestamp::parse_rfc3339(text).map_or(0, Timestamp::as_millis),
            _ => 0,
        };
        record(
            &self.source,
            Insert {
                event_id: format!("{:032x}", item.sequence_number),
                sequence_number: item.sequence_number.to_string(),
                keys,
                new_image: item.new_image,
                created_at_millis,
                size_bytes: 0,
            },
        )
    }
}

fn memory_sequence(record: &EventRecord) -> Result<u64, StreamError> {
    record
        .change
        .sequence_number
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StreamError("record without an in-memory sequence number".to_owned()))
}

#[async_trait]
impl ShardReader for MemoryShard<'_> {
    async fn read(&mut self, max: usize) -> Result<Vec<EventRecord>, StreamError> {
        let items = self.store.stream_after(self.table, self.checkpoint, max);
        if let Some(last) = items.last() {
            self.checkpoint = last.sequence_number;
        }
        Ok(items.into_iter().map(|i| self.record(i)).collect())
    }

    async fn rewind_to(&mut self, record: &EventRecord) -> Result<(), StreamError> {
        self.checkpoint = memory_sequence(record)?.saturating_sub(1);
        Ok(())
    }

    async fn skip_past(&mut self, record: &EventRecord) -> Result<(), StreamError> {
        self.checkpoint = memory_sequence(record)?;
        Ok(())
    }

    fn shard_id(&self) -> String {
        "memory".to_owned()
    }

    async fn idle(&mut self) {
        let appended = self.store.appended();
        if self.store.stream_after(self.table, self.checkpoint, 1).is_empty() {
            appended.await;
        }
    }
}

/// Feeds the worker from the in-memory store's stream, in process, until the task is dropped.
pub async fn run_worker<S: Bookings + Payments + Settlements + Refunds + Inbox + Performances + SeatLocks>(
    stream: &MemoryStore,
    settle: &SettleEvents<S>,
    mapping: Mapping,
) {
    let mut shard = MemoryShard::events(stream);
    let deliver = |event: Event| async move { Ok(process_stream(settle, event).await) };
    run_mapping(&mut shard, deliver, mapping).await;
}

/// Feeds the expiry scheduler from the in-memory store's bookings stream, in process, until the task is
/// dropped.
pub async fn run_scheduler(stream: &MemoryStore, scheduler: &ScheduleExpiries) {
    feed_scheduler(&mut MemoryShard::bookings(stream), scheduler).await;
}

/// Feeds the expiry scheduler from a bookings stream, as its event source mapping does, until dropped.
pub async fn feed_scheduler<R: ShardReader + ?Sized>(shard: &mut R, scheduler: &ScheduleExpiries) {
    let deliver = |event: Event| async move { Ok(schedule_expiries(scheduler, event).await) };
    run_mapping(shard, deliver, Mapping::new_bookings()).await;
}
