//! SQS delay queues: [`SqsExpiryQueue`], hold expiries on the queue named by `HOLD_EXPIRY_QUEUE_URL`
//! (the gateway's notifications wait on one too: [`crate::gateway::QueuedCallback`]).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use ticketing_core::ports::{ExpiryQueue, HoldExpiry, QueueError, MAX_DELAY};

/// The SQS delay of a message due after `delay`: whole seconds, rounded up (a message never arrives
/// early), at most SQS's 15 minutes.
pub(crate) fn delay_seconds(delay: Duration) -> i32 {
    let seconds = delay.as_millis().div_ceil(1000).min(MAX_DELAY.as_secs().into());
    i32::try_from(seconds).unwrap_or(900)
}

pub struct SqsExpiryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsExpiryQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }
}

#[async_trait]
impl ExpiryQueue for SqsExpiryQueue {
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(expiry).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds(delay))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    /// Ten messages per `SendMessageBatch`; an entry SQS refuses fails alone.
    async fn schedule_all(&self, expiries: &[(HoldExpiry, Duration)]) -> Vec<Result<(), QueueError>> {
        let mut results = Vec::with_capacity(expiries.len());
        for chunk in expiries.chunks(BATCH) {
            results.extend(self.send_batch(chunk).await);
        }
        results
    }
}

/// The most messages one `SendMessageBatch` takes.
const BATCH: usize = 10;

impl SqsExpiryQueue {
    /// One `SendMessageBatch` of at most [`BATCH`] expiries, each entry named by its place in `chunk`.
    async fn send_batch(&self, chunk: &[(HoldExpiry, Duration)]) -> Vec<Result<(), QueueError>> {
        let mut results: Vec<Result<(), QueueError>> = chunk.iter().map(|_| Ok(())).collect();
        let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
        for (i, (expiry, delay)) in chunk.iter().enumerate() {
            let entry = serde_json::to_string(expiry)
                .map_err(|e| QueueError(e.to_string()))
                .and_then(|body| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .delay_seconds(delay_seconds(*delay))
                        .build()
                        .map_err(|e| QueueError(e.to_string()))
                });
            match entry {
                Ok(entry) => request = request.entries(entry),
                Err(e) => results[i] = Err(e),
            }
        }
        if results.iter().all(Result::is_err) {
            return results;
        }
        match request.send().await {
            Ok(out) => {
                for refused in out.failed {
                    if let Some(slot) = refused.id.parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                        *slot = Err(QueueError(format!(
                            "{}: {}",
                            refused.code,
                            refused.message.unwrap_or_default()
                        )));
                    }
                }
            }
            Err(e) => {
                let error = aws_sdk_sqs::error::DisplayErrorContext(e).to_string();
                for slot in &mut results {
                    if slot.is_ok() {
                        *slot = Err(QueueError(error.clone()));
                    }
                }
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_is_never_early_and_at_most_fifteen_minutes() {
        assert_eq!(delay_seconds(Duration::ZERO), 0);
        assert_eq!(delay_seconds(Duration::from_millis(1)), 1);
        assert_eq!(delay_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(delay_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(delay_seconds(Duration::from_secs(3600)), 900);
    }
}
