//! The in-process delay queue of `make run` and the tests: a timer task per expiry, then a channel to
//! the expirer.

use std::time::Duration;

use async_trait::async_trait;
use ticketing_core::app::ExpireHolds;
use ticketing_core::ports::{Bookings, ExpiryQueue, HoldExpiry, Inbox, Payments, QueueError, Refunds, Settlements};
use tokio::sync::mpsc;
use tracing::{warn, Instrument};

#[derive(Clone)]
pub struct InProcessQueue {
    due: mpsc::UnboundedSender<HoldExpiry>,
}

impl InProcessQueue {
    /// The queue, and the receiving end that [`run_expiries`] consumes.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<HoldExpiry>) {
        let (due, receiver) = mpsc::unbounded_channel();
        (Self { due }, receiver)
    }
}

#[async_trait]
impl ExpiryQueue for InProcessQueue {
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError> {
        let due = self.due.clone();
        let expiry = expiry.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = due.send(expiry);
        });
        Ok(())
    }
}

/// Consumes the in-process queue until it closes, retrying a failed expiry a second later through
/// `queue` (the expirer's own).
pub async fn run_expiries<S: Bookings + Payments + Settlements + Refunds + Inbox>(
    mut due: mpsc::UnboundedReceiver<HoldExpiry>,
    expire: &ExpireHolds<S>,
    queue: &dyn ExpiryQueue,
) {
    while let Some(expiry) = due.recv().await {
        let span = tracing::info_span!("expiry", booking_id = %expiry.booking_id);
        if let Err(e) = expire.expire_when_due(&expiry).instrument(span.clone()).await {
            span.in_scope(|| warn!(error = %e, "expiry failed; trying again in a second"));
            let _ = queue.schedule(&expiry, Duration::from_secs(1)).await;
        }
    }
}
