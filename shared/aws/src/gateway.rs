//! The simulated payment gateway's notifications: a payment it answered "processing" is notified later,
//! as a signed `POST /webhooks/pg`, like a real gateway would.
//!
//! Deployed, nothing may run after a function has answered (Lambda freezes it), so `execute-payment`
//! hands the notification to an SQS queue, delayed by the simulated processing time ([`QueuedCallback`]),
//! and the `deliver-notifications` function posts it to the API ([`Notifier`], driven by
//! [`crate::events::deliver_notifications`]); a refusal is retried by the queue, then dead-lettered.
//! A long-lived local server (`make run`) delivers from a task of its own ([`HttpCallback`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ticketing_core::domain::{Clock, SystemClock};
use ticketing_core::ports::{CallbackError, GatewayCallback};
use ticketing_core::webhook::{sign, Notification};
use tracing::{error, info, warn, Instrument};

use crate::sqs::delay_seconds;

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the webhook answered {0}")]
    Refused(hyper::StatusCode),
    #[error("the webhook is unreachable: {0}")]
    Unreachable(String),
    #[error("the notification cannot be sent: {0}")]
    Unsendable(String),
}

/// Posts notifications to the webhook at `url` (HTTP or HTTPS), each signed with the shared secret as
/// the gateway's clock reads when it is sent.
pub struct Notifier {
    url: hyper::Uri,
    secret: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Notifier {
    /// Fails only when the system's trusted certificates cannot be read.
    pub fn new(url: hyper::Uri, secret: String) -> std::io::Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            url,
            secret,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// One delivery: `Ok` once the webhook answered 2xx.
    pub async fn post(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let body = serde_json::to_string(notification).map_err(|e| DeliveryError::Unsendable(e.to_string()))?;
        let now = SystemClock.now().as_millis() / 1000;
        let request = hyper::Request::post(self.url.clone())
            .header("content-type", "application/json")
            .header("pg-signature", sign(self.secret.as_bytes(), now, body.as_bytes()))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DeliveryError::Unsendable(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| DeliveryError::Unreachable(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Refused(response.status()))
        }
    }
}

/// Deployed: schedules each notification on the SQS queue named by `PG_NOTIFICATION_QUEUE_URL`, where
/// it waits out the processing delay; `deliver-notifications` posts it.
pub struct QueuedCallback {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    delay: Duration,
}

impl QueuedCallback {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String, delay: Duration) -> Self {
        Self {
            client,
            queue_url,
            delay,
        }
    }
}

#[async_trait]
impl GatewayCallback for QueuedCallback {
    async fn deliver_later(&self, notification: &Notification) -> Result<(), CallbackError> {
        let body = serde_json::to_string(notification).map_err(|e| CallbackError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds(self.delay))
            .send()
            .await
            .map_err(|e| CallbackError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}

/// How many times [`HttpCallback`] delivers a notification before it gives up.
const ATTEMPTS: u32 = 5;

/// A long-lived server's callback (`make run`): a task of its own waits out the delay and delivers,
/// retrying a few times. Never for a function: Lambda freezes whatever runs after the answer.
pub struct HttpCallback {
    notifier: Arc<Notifier>,
    delay: Duration,
}

impl HttpCallback {
    pub fn new(notifier: Notifier, delay: Duration) -> Self {
        Self {
            notifier: Arc::new(notifier),
            delay,
        }
    }
}

#[async_trait]
impl GatewayCallback for HttpCallback {
    async fn deliver_later(&self, notification: &Notification) -> Result<(), CallbackError> {
        let (notifier, delay, notification) = (Arc::clone(&self.notifier), self.delay, notification.clone());
        let span = tracing::info_span!("gateway_callback", event_id = %notification.id, booking_id = %notification.data.booking_id);
        let delivery = async move {
            tokio::time::sleep(delay).await;
            for attempt in 1..=ATTEMPTS {
                match notifier.post(&notification).await {
                    Ok(()) => {
                        info!(attempt, "notification delivered");
                        return;
                    }
                    Err(e) => warn!(attempt, error = %e, "notification not delivered"),
                }
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            error!("notification given up after {ATTEMPTS} attempts");
        };
        tokio::spawn(delivery.instrument(span));
        Ok(())
    }
}
