//! The SQS consumer of the simulated gateway's notifications: each one, its processing delay waited out
//! on the queue, is posted to the API's webhook. A refusal or an unreachable API is reported, so SQS
//! delivers the message again after its visibility timeout, and after the queue's last attempt moves
//! it to its dead-letter queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ticketing_core::webhook::Notification;
use tracing::field::Empty;
use tracing::info;

use super::{partial_batch, sqs_failures};
use crate::gateway::{DeliveryError, Notifier};

/// Posts each notification on its own, reporting only the undelivered ones.
pub async fn deliver_notifications(notifier: &Notifier, batch: SqsEvent) -> SqsBatchResponse {
    let message_id = |m: &SqsMessage| m.message_id.clone().unwrap_or_default();
    let failed = partial_batch(
        &batch.records,
        |m| tracing::info_span!("notification", message_id = %message_id(m), event_id = Empty, booking_id = Empty),
        message_id,
        |m| async move {
            let body = m.body.as_deref().unwrap_or_default();
            let notification: Notification = serde_json::from_str(body)
                .map_err(|e| DeliveryError::Unsendable(format!("not a gateway notification: {e}")))?;
            let span = tracing::Span::current();
            span.record("event_id", notification.id.as_str());
            span.record("booking_id", notification.data.booking_id.as_str());
            notifier.post(&notification).await?;
            info!("notification delivered");
            Ok::<_, DeliveryError>(())
        },
    )
    .await;
    sqs_failures(failed)
}
