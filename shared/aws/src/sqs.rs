//! [`SqsExpiryQueue`]: hold expiries on the SQS delay queue named by `HOLD_EXPIRY_QUEUE_URL`.

use std::time::Duration;

use async_trait::async_trait;
use ticketing_core::ports::{ExpiryQueue, HoldExpiry, QueueError, MAX_DELAY};

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
        // Rounded up: a message never arrives before its hold lapses.
        let seconds = delay.as_millis().div_ceil(1000).min(MAX_DELAY.as_secs().into());
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(seconds).unwrap_or(900))
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
