//! Dead letters of the streams' mappings: a mapping sends a record it gave up to an SQS queue (the
//! on-failure destination of `template.yaml`), with where it is in the stream and why it failed; the
//! redrive reads those records from the stream again and hands them to the stream's function, removing
//! each dead letter whose records are then applied.

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use std::future::Future;
use ticketing_testkit::mapping::{batch, run_mapping_with_dead_letters, DeadLetters, Mapping, StreamFailure};
use ticketing_testkit::queues::err;
use ticketing_testkit::streams::StreamShards;
use tracing::{info, warn};

/// Sends given-up records to an SQS queue.
pub struct SqsDeadLetters {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: &aws_sdk_sqs::Client, queue_url: &str) -> Self {
        Self {
            client: client.clone(),
            queue_url: queue_url.to_owned(),
        }
    }
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn send(&self, failure: &StreamFailure) -> Result<(), String> {
        let body = serde_json::to_string(failure).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(err)?;
        warn!(
            sequence_number = %failure.batch.start_sequence_number,
            reason = %failure.response_context.function_error,
            "record given up; sent to the dead-letter queue"
        );
        Ok(())
    }
}

/// `table`'s stream (in `region`) fed to `deliver` as `mapping` does, from its start once it exists,
/// each record given up sent to `dead_letters`; until dropped.
pub async fn run_stream_mapping<D, F>(
    dynamodb: &aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    (table, region): (&str, &str),
    (mapping, dead_letters): (Mapping, SqsDeadLetters),
    deliver: D,
) where
    D: Fn(Event) -> F,
    F: Future<Output = Result<DynamoDbEventResponse, String>>,
{
    let mut shard = StreamShards::open_when_ready(dynamodb, streams, table, region).await;
    run_mapping_with_dead_letters(&mut shard, deliver, mapping, &dead_letters).await;
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RedriveReport {
    /// Dead letters whose records were applied, and removed from the queue.
    pub moved: usize,
    /// Dead letters whose records failed again; they stay on the queue.
    pub failed: usize,
    pub records: usize,
}

impl std::fmt::Display for RedriveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "redrive: {} dead letters moved ({} records applied), {} failed again and stay",
            self.moved, self.records, self.failed
        )
    }
}

/// Redrives every dead letter on `queue_url` once through `deliver`.
pub async fn redrive<D, F>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    stream: &StreamShards,
    deliver: D,
) -> Result<RedriveReport, String>
where
    D: Fn(Event) -> F,
    F: Future<Output = Result<DynamoDbEventResponse, String>>,
{
    let mut report = RedriveReport::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(30)
            .send()
            .await
            .map_err(err)?;
        let messages = received.messages.unwrap_or_default();
        let fresh: Vec<_> = messages
            .into_iter()
            .filter(|m| m.message_id.clone().is_some_and(|id| seen.insert(id)))
            .collect();
        if fresh.is_empty() {
            return Ok(report);
        }
        for message in fresh {
            let handle = message.receipt_handle.clone().unwrap_or_default();
            let applied = async {
                let failure: StreamFailure =
                    serde_json::from_str(message.body.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
                let b = &failure.batch;
                let records = stream
                    .records_between(&b.shard_id, &b.start_sequence_number, &b.end_sequence_number)
                    .await
                    .map_err(|e| e.to_string())?;
                if records.is_empty() {
                    return Err(format!(
                        "records {}..{} are no longer in the stream",
                        b.start_sequence_number, b.end_sequence_number
                    ));
                }
                let count = records.len();
                let response = deliver(batch(records)).await?;
                if response.batch_item_failures.is_empty() {
                    Ok(count)
                } else {
                    Err("the function reported the records as failed again".to_owned())
                }
            }
            .await;
            match applied {
                Ok(count) => {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(err)?;
                    report.moved += 1;
                    report.records += count;
                }
                Err(reason) => {
                    // It stays on the queue, out of sight until this run is over, for the next redrive.
                    warn!(reason = %reason, "dead letter failed again; it stays on the queue");
                    report.failed += 1;
                }
            }
        }
        info!(moved = report.moved, failed = report.failed, "redrive progress");
    }
}
