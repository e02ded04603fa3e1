//! The payment gateway's notifications (webhooks), signed like Stripe's:
//! `PG-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with a shared secret. A valid
//! notification is stored in the events inbox under its own id and applied later by the worker.

use crate::domain::{BookingId, ChargeId, Currency, EventId, Money, Timestamp};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How old a signature may be.
pub const TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the PG-Signature header is missing")]
    Missing,
    #[error("the PG-Signature header must look like t=<unix seconds>,v1=<hex signature>")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance of {TOLERANCE_SECONDS} seconds")]
    Stale,
    #[error("the signature does not match")]
    Forged,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `PG-Signature` header value for `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", crate::hex(&digest))
}

/// Checks a `PG-Signature` header against the raw body: well formed, recent, and matching one `v1` in
/// constant time.
pub fn verify(header: Option<&str>, body: &[u8], secret: &[u8], now: Timestamp) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => signatures.push(crate::unhex(v).ok_or(SignatureError::Malformed)?),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now.as_millis() / 1000).abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|candidate| expected.clone().verify_slice(candidate).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Forged)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationType {
    #[serde(rename = "payment_intent.succeeded")]
    PaymentSucceeded,
    #[serde(rename = "payment_intent.payment_failed")]
    PaymentFailed,
    /// A refund the gateway answered later: it went through.
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    /// A refund the gateway answered later: it was declined (it is asked again).
    #[serde(rename = "refund.failed")]
    RefundFailed,
}

impl NotificationType {
    pub fn is_refund(self) -> bool {
        matches!(self, Self::RefundSucceeded | Self::RefundFailed)
    }
}

/// A notification as the gateway sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub created: i64,
    pub data: NotificationData,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationData {
    pub booking_id: BookingId,
    /// The charge the notification is about, and what it was for: applied only when they are the
    /// booking's payment intent's.
    pub charge_id: ChargeId,
    pub amount: i64,
    pub currency: Currency,
    #[serde(default)]
    pub failure_code: Option<String>,
    /// For a `refund.*` notification: the refund it answers (the booking's `refund.refundId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
}

/// A notification as stored in the events inbox, for the worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredNotification {
    pub event_id: EventId,
    /// Always [`StoredNotification::TYPE`], so the worker tells it from the other inbox events.
    #[serde(rename = "type")]
    pub record_type: String,
    pub notification_type: NotificationType,
    pub booking_id: BookingId,
    pub charge_id: ChargeId,
    pub amount: Money,
    pub failure_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    pub created: i64,
    pub received_at: Timestamp,
}

impl StoredNotification {
    pub const TYPE: &'static str = "PG_NOTIFICATION";

    pub fn of(notification: &Notification, received_at: Timestamp) -> Self {
        Self {
            event_id: notification.id.clone(),
            record_type: Self::TYPE.to_owned(),
            notification_type: notification.kind,
            booking_id: notification.data.booking_id.clone(),
            charge_id: notification.data.charge_id.clone(),
            amount: Money::new(notification.data.amount, notification.data.currency.clone()),
            failure_code: notification.data.failure_code.clone(),
            refund_id: notification.data.refund_id.clone(),
            created: notification.created,
            received_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: i64 = 1_900_000_000;

    fn now() -> Timestamp {
        Timestamp::from_millis(NOW * 1000)
    }

    #[test]
    fn a_signed_body_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, NOW, body);
        assert_eq!(verify(Some(&header), body, SECRET, now()), Ok(()));
        // Several signatures (a secret being rolled): any one matching is enough.
        let rolled = format!(
            "{},v1={}",
            sign(b"old", NOW, body),
            header.split("v1=").nth(1).unwrap_or_default()
        );
        assert_eq!(verify(Some(&rolled), body, SECRET, now()), Ok(()));
    }

    #[test]
    fn forged_stale_and_malformed_signatures_are_refused() {
        let body = br#"{"id":"evt_1"}"#;
        assert_eq!(verify(None, body, SECRET, now()), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some("v1=00"), body, SECRET, now()),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=x,v1=00"), body, SECRET, now()),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&format!("t={NOW},v1=zz")), body, SECRET, now()),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&sign(b"other", NOW, body)), body, SECRET, now()),
            Err(SignatureError::Forged)
        );
        assert_eq!(
            verify(Some(&sign(SECRET, NOW, body)), b"{}", SECRET, now()),
            Err(SignatureError::Forged)
        );
        let old = sign(SECRET, NOW - TOLERANCE_SECONDS - 1, body);
        assert_eq!(verify(Some(&old), body, SECRET, now()), Err(SignatureError::Stale));
        for extreme in [i64::MIN, i64::MAX] {
            let header = format!("t={extreme},v1=00");
            assert_eq!(
                verify(Some(&header), body, SECRET, now()),
                Err(SignatureError::Stale),
                "{extreme}"
            );
        }
    }

    #[test]
    fn notifications_parse_as_documented() {
        let body = r#"{"id": "evt_42", "type": "payment_intent.payment_failed", "created": 1900000000,
            "data": {"bookingId": "b-1", "chargeId": "ch_1", "amount": 60000, "currency": "KRW",
            "failureCode": "DECLINE_2"}}"#;
        let n: Notification = serde_json::from_str(body).expect("valid");
        assert_eq!(n.kind, NotificationType::PaymentFailed);
        assert_eq!(n.data.failure_code.as_deref(), Some("DECLINE_2"));
    }
}
