//! The events table's stream on DynamoDB Local, read as a [`ShardReader`]: what the local stream
//! mapping hands to `process-events`, batched and shaped as Lambda does.

use crate::mapping::{record, Insert, ShardReader, StreamError, StreamSource};
use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use serde_dynamo::Item;
use std::collections::HashSet;
use std::time::Duration;

fn err(e: impl std::fmt::Display) -> StreamError {
    StreamError(e.to_string())
}

/// A service error as `Code: message`, without the raw response.
fn sdk_err<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> StreamError {
    match e.as_service_error() {
        Some(service) => err(format!(
            "{}: {}",
            service.code().unwrap_or("Error"),
            service.message().unwrap_or("")
        )),
        None => err(aws_sdk_dynamodbstreams::error::DisplayErrorContext(&e)),
    }
}

#[derive(Clone, Debug)]
enum Resume {
    At(String),
    After(String),
}

/// Sequence numbers are decimal strings of varying length: compare them as numbers.
fn sequence_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The events table's stream, read shard after shard from the oldest record (`TRIM_HORIZON`).
pub struct StreamShards {
    client: StreamsClient,
    source: StreamSource,
    shard: Option<String>,
    finished: HashSet<String>,
    iterator: Option<String>,
    /// Where to read the current shard from when an iterator is next needed.
    resume: Option<Resume>,
    /// The current shard has been read to its end (it is closed and has no more records).
    exhausted: bool,
    idle_delay: Duration,
}

impl StreamShards {
    /// Opens the latest stream of `table`, trying again every second until its table has one (a table
    /// created a moment ago may not yet).
    pub async fn open_when_ready(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: StreamsClient,
        table: &str,
        region: &str,
    ) -> Self {
        loop {
            match Self::open(dynamodb, client.clone(), table, region).await {
                Ok(shards) => return shards,
                Err(e) => {
                    tracing::warn!(error = %e, "events stream not ready");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Opens the latest stream of `table`.
    pub async fn open(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: StreamsClient,
        table: &str,
        region: &str,
    ) -> Result<Self, StreamError> {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| err(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| err(format!("table {table} has no stream")))?;
        Ok(Self {
            client,
            source: StreamSource {
                region: region.to_owned(),
                stream_arn,
            },
            shard: None,
            finished: HashSet::new(),
            iterator: None,
            resume: None,
            exhausted: false,
            idle_delay: Duration::from_millis(100),
        })
    }

    /// The stream's shards, parents before children, each with whether it is closed.
    async fn shards(&self) -> Result<Vec<(String, bool)>, StreamError> {
        let out = self
            .client
            .describe_stream()
            .stream_arn(&self.source.stream_arn)
            .send()
            .await
            .map_err(sdk_err)?;
        let shards = out.stream_description.and_then(|d| d.shards).unwrap_or_default();
        Ok(shards
            .into_iter()
            .filter_map(|s| {
                let closed = s
                    .sequence_number_range
                    .as_ref()
                    .is_some_and(|r| r.ending_sequence_number.is_some());
                s.shard_id.map(|id| (id, closed))
            })
            .collect())
    }

    /// Gets an iterator again: after the last record read in the current shard while it is open, else
    /// from the start of the next shard not yet read to its end.
    async fn position(&mut self) -> Result<(), StreamError> {
        let shards = self.shards().await?;
        if let Some(current) = self.shard.clone() {
            let closed = shards.iter().any(|(id, closed)| *id == current && *closed);
            // A closed shard is left only once it has been read to its end: a record being retried in
            // it is read again first.
            if !(closed && self.exhausted) {
                self.iterator = match self.resume.clone() {
                    Some(Resume::At(seq)) => {
                        self.iterator(&current, ShardIteratorType::AtSequenceNumber, Some(&seq))
                            .await?
                    }
                    Some(Resume::After(seq)) => {
                        self.iterator(&current, ShardIteratorType::AfterSequenceNumber, Some(&seq))
                            .await?
                    }
                    None => self.iterator(&current, ShardIteratorType::TrimHorizon, None).await?,
                };
                return Ok(());
            }
            self.finished.insert(current);
            self.shard = None;
            self.resume = None;
            self.exhausted = false;
        }
        if let Some((next, _)) = shards.into_iter().find(|(id, _)| !self.finished.contains(id)) {
            self.iterator = self.iterator(&next, ShardIteratorType::TrimHorizon, None).await?;
            self.shard = Some(next);
        }
        Ok(())
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        sequence: Option<&str>,
    ) -> Result<Option<String>, StreamError> {
        let out = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.source.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence.map(str::to_owned))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(out.shard_iterator)
    }

    /// The records of `shard_id` from `start` to `end` (sequence numbers, both included), read again.
    pub async fn records_between(
        &self,
        shard_id: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<EventRecord>, StreamError> {
        let mut iterator = self
            .iterator(shard_id, ShardIteratorType::AtSequenceNumber, Some(start))
            .await?;
        let mut records = Vec::new();
        let mut empty_reads = 0;
        while let Some(current) = iterator.take() {
            let out = self
                .client
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(sdk_err)?;
            let page = out.records.unwrap_or_default();
            empty_reads = if page.is_empty() { empty_reads + 1 } else { 0 };
            for r in page {
                let Some(record) = self.to_lambda(r) else { continue };
                let seq = record.change.sequence_number.clone().unwrap_or_default();
                if sequence_order(&seq, end).is_gt() {
                    return Err(err(format!("the stream has no record {end}")));
                }
                records.push(record);
                if seq == end {
                    return Ok(records);
                }
            }
            if empty_reads >= 3 {
                break;
            }
            iterator = out.next_shard_iterator;
        }
        Err(err(format!("the stream ended before record {end}")))
    }

    fn to_lambda(&self, r: Record) -> Option<EventRecord> {
        let change = r.dynamodb?;
        let created = change
            .approximate_creation_date_time
            .map_or(0, |t| t.to_millis().unwrap_or(0));
        let mut record = record(
            &self.source,
            Insert {
                event_id: r.event_id.unwrap_or_default(),
                sequence_number: change.sequence_number?,
                keys: Item::from(change.keys.unwrap_or_default()),
                new_image: Item::from(change.new_image.unwrap_or_default()),
                created_at_millis: created,
                size_bytes: change.size_bytes.unwrap_or(0),
            },
        );
        record.event_name = r.event_name.map(|n| n.as_str().to_owned()).unwrap_or_default();
        Some(record)
    }
}

impl StreamShards {
    /// Drops the iterator: the next read gets one at `record`, or just after it.
    fn resume_from(&mut self, record: &EventRecord, at: fn(String) -> Resume) -> Result<(), StreamError> {
        let seq = record
            .change
            .sequence_number
            .clone()
            .ok_or_else(|| err("record without a sequence number"))?;
        self.resume = Some(at(seq));
        self.iterator = None;
        self.exhausted = false;
        Ok(())
    }

    async fn read_records(&mut self, max: usize) -> Result<Vec<EventRecord>, StreamError> {
        if self.iterator.is_none() {
            self.position().await?;
        }
        let Some(iterator) = self.iterator.clone() else {
            return Ok(Vec::new());
        };
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(max).unwrap_or(1000))
            .send()
            .await
            .map_err(sdk_err)?;
        self.exhausted = out.next_shard_iterator.is_none();
        self.iterator = out.next_shard_iterator;
        let records: Vec<EventRecord> = out
            .records
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| self.to_lambda(r))
            .collect();
        if let Some(last) = records.last().and_then(|r| r.change.sequence_number.clone()) {
            self.resume = Some(Resume::After(last));
        }
        Ok(records)
    }
}

#[async_trait]
impl ShardReader for StreamShards {
    async fn read(&mut self, max: usize) -> Result<Vec<EventRecord>, StreamError> {
        match self.read_records(max).await {
            Err(e) if e.0.starts_with("TrimmedDataAccessException") => {
                // The records to resume from are gone (or not there yet): start from the oldest.
                self.iterator = None;
                self.resume = None;
                Ok(Vec::new())
            }
            Err(e) if e.0.starts_with("ExpiredIteratorException") => {
                self.iterator = None;
                Ok(Vec::new())
            }
            other => other,
        }
    }

    async fn rewind_to(&mut self, record: &EventRecord) -> Result<(), StreamError> {
        self.resume_from(record, Resume::At)
    }

    async fn skip_past(&mut self, record: &EventRecord) -> Result<(), StreamError> {
        self.resume_from(record, Resume::After)
    }

    async fn idle(&mut self) {
        tokio::time::sleep(self.idle_delay).await;
    }

    fn shard_id(&self) -> String {
        self.shard.clone().unwrap_or_default()
    }
}
