//! The local stand-in for the SQS event source mapping of `expire-holds`: the hold-expiry queue and its
//! dead-letter queue as `template.yaml` describes them, and a poller that receives messages in batches,
//! hands them to the function as an `SqsEvent`, and deletes the ones it did not report as failed.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;
use tracing::warn;

/// How many receives a message gets before it goes to the dead-letter queue, as in `template.yaml`.
pub const MAX_RECEIVE_COUNT: u32 = 5;

pub fn err(e: impl std::error::Error + 'static) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}

/// Creates the queue `name` with a dead-letter queue `<name>-dlq`, and returns the queue's URL.
pub async fn create_with_dead_letters(client: &Client, name: &str, visibility: Duration) -> Result<String, String> {
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .map_err(err)?;
    let dlq_url = dlq.queue_url.ok_or("no dead-letter queue URL")?;
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(err)?;
    let dlq_arn = attributes
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("no dead-letter queue ARN")?;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT});
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, visibility.as_secs().to_string())
        .send()
        .await
        .map_err(err)?;
    queue.queue_url.ok_or_else(|| "no queue URL".to_owned())
}

fn to_lambda(m: aws_sdk_sqs::types::Message, queue_arn: &str, region: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = m.message_id;
    message.receipt_handle = m.receipt_handle;
    message.body = m.body;
    message.md5_of_body = m.md5_of_body;
    message.attributes = m
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect::<HashMap<_, _>>();
    message.event_source = Some("aws:sqs".to_owned());
    message.event_source_arn = Some(queue_arn.to_owned());
    message.aws_region = Some(region.to_owned());
    message
}

/// Delivers the queue's messages to a function until the task is dropped, like the SQS event source
/// mapping with `ReportBatchItemFailures`: what the function reports as failed (or everything, when the
/// invocation fails) stays on the queue and comes back after its visibility timeout.
pub async fn run_mapping<D, F>(client: &Client, queue_url: &str, region: &str, batch_size: i32, deliver: D)
where
    D: Fn(SqsEvent) -> F,
    F: Future<Output = Result<SqsBatchResponse, String>>,
{
    let queue_arn = format!(
        "arn:aws:sqs:{region}:000000000000:{}",
        queue_url.rsplit('/').next().unwrap_or("")
    );
    loop {
        let received = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(batch_size)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                warn!(error = %err(e), "receiving from the queue failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = messages.into_iter().map(|m| to_lambda(m, &queue_arn, region)).collect();
        let handles: Vec<(String, String)> = event
            .records
            .iter()
            .filter_map(|m| Some((m.message_id.clone()?, m.receipt_handle.clone()?)))
            .collect();
        let failed: HashSet<String> = match deliver(event).await {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(e) => {
                warn!(error = %e, "invocation failed; the batch stays on the queue");
                continue;
            }
        };
        let done: Vec<DeleteMessageBatchRequestEntry> = handles
            .into_iter()
            .filter(|(id, _)| !failed.contains(id))
            .enumerate()
            .filter_map(|(i, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        if !done.is_empty() {
            if let Err(e) = client
                .delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(done))
                .send()
                .await
            {
                warn!(error = %err(e), "deleting handled messages failed; they will be delivered again");
            }
        }
    }
}
