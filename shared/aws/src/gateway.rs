//! The simulated payment gateway's callback: a payment it answered "processing" is notified later, as a
//! signed `POST /webhooks/pg`, like a real gateway would. `execute-payment` uses it wherever the
//! environment names the webhook's address (`PG_WEBHOOK_URL`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ticketing_core::domain::{Clock, SystemClock};
use ticketing_core::ports::GatewayCallback;
use ticketing_core::webhook::{sign, Notification};
use tracing::{error, info, warn, Instrument};

/// How many times a notification is delivered before it is given up.
const ATTEMPTS: u32 = 5;

/// Delivers notifications over HTTP after a delay, signed with the shared secret; retried a few times.
pub struct HttpCallback {
    url: hyper::Uri,
    secret: String,
    delay: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpCallback {
    pub fn new(url: hyper::Uri, secret: String, delay: Duration) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            url,
            secret,
            delay,
            client,
        }
    }
}

impl GatewayCallback for HttpCallback {
    fn deliver_later(&self, notification: Notification) {
        let (url, secret, delay, client) = (self.url.clone(), self.secret.clone(), self.delay, self.client.clone());
        let span = tracing::info_span!("gateway_callback", event_id = %notification.id, booking_id = %notification.data.booking_id);
        let delivery = async move {
            tokio::time::sleep(delay).await;
            let Ok(body) = serde_json::to_string(&notification) else {
                return;
            };
            for attempt in 1..=ATTEMPTS {
                // Signed afresh for each attempt, as the gateway's clock reads then.
                let now = SystemClock.now().as_millis() / 1000;
                let request = hyper::Request::post(url.clone())
                    .header("content-type", "application/json")
                    .header("pg-signature", sign(secret.as_bytes(), now, body.as_bytes()))
                    .body(Full::new(Bytes::from(body.clone())));
                let Ok(request) = request else {
                    return;
                };
                match client.request(request).await {
                    Ok(response) if response.status().is_success() => {
                        info!(attempt, "notification delivered");
                        return;
                    }
                    Ok(response) => warn!(attempt, status = %response.status(), "notification refused"),
                    Err(e) => warn!(attempt, error = %e, "notification not delivered"),
                }
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            error!("notification given up after {ATTEMPTS} attempts");
        };
        tokio::spawn(delivery.instrument(span));
    }
}
