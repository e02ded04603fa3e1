//! SQS delay queues: [`SqsExpiryQueue`], hold expiries on the queue named by `HOLD_EXPIRY_QUEUE_URL`
//! (the gateway's notifications wait on one too: [`crate::gateway::QueuedCallback`]).

use std::time::Duration;

use async_trait::async_trait;
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
