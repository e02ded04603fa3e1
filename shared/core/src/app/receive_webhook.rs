//! `POST /webhooks/pg`: a payment gateway notification, verified against its signature, stored in the
//! events inbox under its own id (a redelivery stores nothing new) and acknowledged at once; the
//! settle-events use case applies it.

use std::sync::Arc;

use serde_json::Value;
use tracing::info;

use crate::domain::Clock;
use crate::ports::{Inbox, StoreError};
use crate::webhook::{self, Notification, NotificationType, SignatureError, StoredNotification};

/// The secret the gateway signs its notifications with.
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }
}

/// What became of a notification that passed its signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Stored for the worker; `fresh` is false for a redelivery.
    Stored { fresh: bool },
    /// A kind this service does not act on: acknowledged, not refused, so that the gateway does not
    /// redeliver it for days.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The body is not a notification; the message says why.
    #[error("{0}")]
    InvalidBody(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The receive-webhook use case.
pub struct ReceiveWebhook<S> {
    inbox: Arc<S>,
    clock: Arc<dyn Clock>,
    secret: WebhookSecret,
}

impl<S: Inbox> ReceiveWebhook<S> {
    pub fn new(inbox: Arc<S>, clock: Arc<dyn Clock>, secret: WebhookSecret) -> Self {
        Self { inbox, clock, secret }
    }

    /// Checks `signature` (the `PG-Signature` header) against the raw `body`, then stores a
    /// notification of a known kind in the inbox.
    pub async fn receive(&self, signature: Option<&str>, body: &[u8]) -> Result<Receipt, WebhookError> {
        let now = self.clock.now();
        webhook::verify(signature, body, self.secret.0.as_bytes(), now)?;
        let envelope: serde_json::Map<String, Value> = parse(body)?;
        let known = envelope
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| serde_json::from_value::<NotificationType>(Value::String(t.to_owned())).is_ok());
        if !known {
            info!(kind = ?envelope.get("type"), "notification of another kind; ignored");
            return Ok(Receipt::Ignored);
        }
        let notification: Notification = parse(body)?;
        let stored = StoredNotification::of(&notification, now);
        let fresh = self.inbox.put_event(&notification.id, &stored).await?;
        info!(event_id = %notification.id, booking_id = %notification.data.booking_id, fresh, "notification received");
        Ok(Receipt::Stored { fresh })
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebhookError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WebhookError::InvalidBody("a JSON request body is required".to_owned()));
    }
    serde_json::from_slice(body).map_err(|e| WebhookError::InvalidBody(format!("invalid request body: {e}")))
}
