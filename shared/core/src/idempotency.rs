//! Idempotency keys with Stripe's semantics. A key is remembered exactly when its effect happened: the
//! response to replay is written in the transaction of the effect. On a route that calls no outside
//! party (create a booking, cancel one) that transaction also claims the key, if it is free: no write
//! of its own. A route that calls the payment gateway first claims the key for a short lease, since the
//! gateway's charge cannot be part of any transaction and must not be made twice; a crash after the
//! claim loses nothing: the lease lapses and a retry does the work. A retry with the same
//! key and body replays the first response; another body gets 422; a retry while the first request is
//! still in flight gets 409. Keys are scoped per user and route and kept 24 hours.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{Timestamp, UserId};

/// How long a key is remembered.
pub const RETENTION_SECONDS: u64 = 24 * 60 * 60;
/// How long a claim protects a request in flight; longer than any function's timeout.
pub const LEASE_SECONDS: u64 = 30;

/// The client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
pub struct InvalidKey;

impl TryFrom<&str> for IdempotencyKey {
    type Error = InvalidKey;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        if (1..=255).contains(&value.len()) && value.chars().all(|c| c.is_ascii_graphic()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidKey)
        }
    }
}

impl IdempotencyKey {
    /// The stored key: the client's key within its user and route.
    pub fn scoped(&self, user: &UserId, route: &str) -> String {
        format!("{user}#{route}#{}", self.0)
    }
}

/// A fingerprint of the request body, to tell a retry from another request under the same key.
pub fn fingerprint(body: &[u8]) -> String {
    crate::hex(&Sha256::digest(body))
}

/// A response as it is replayed: status and JSON body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    InFlight,
    Completed,
}

/// The record of a key in the idempotency table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    pub idempotency_key: String,
    pub request_hash: String,
    pub state: KeyState,
    /// Who holds the claim: a new token per claim, so a request whose lease lapsed cannot complete a
    /// key that another request took over.
    pub claim_token: String,
    #[serde(with = "crate::domain::millis")]
    pub lease_until: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<StoredResponse>,
    pub created_at: Timestamp,
    /// When DynamoDB's TTL may delete the record, in epoch seconds; until then a lapsed record counts as
    /// absent anyway.
    pub expires_at: i64,
}

impl KeyRecord {
    /// A fresh claim of `key` for a request with `request_hash`.
    pub fn claim(key: String, request_hash: String, now: Timestamp) -> Self {
        Self {
            idempotency_key: key,
            request_hash,
            state: KeyState::InFlight,
            claim_token: uuid::Uuid::new_v4().to_string(),
            lease_until: now.plus_seconds(LEASE_SECONDS),
            response: None,
            created_at: now,
            expires_at: now.plus_seconds(RETENTION_SECONDS).as_millis() / 1000,
        }
    }

    /// The record that claims `key` in the write of the request's effect, completed there with its
    /// response ([`Remember::completion`]); nothing holds the key before that write.
    pub fn to_claim_in_effect(key: String, request_hash: String, now: Timestamp) -> Self {
        Self {
            state: KeyState::Completed,
            lease_until: now,
            ..Self::claim(key, request_hash, now)
        }
    }

    /// The record no longer holds its key: it is past its retention, or an abandoned claim.
    pub fn is_free_at(&self, now: Timestamp) -> bool {
        self.expires_at <= now.as_millis() / 1000 || (self.state == KeyState::InFlight && self.lease_until <= now)
    }
}

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// The key is ours: do the work.
    Fresh(KeyRecord),
    /// The key is held by another record (in flight, or completed).
    Taken(KeyRecord),
}

/// Completing a key with the response to replay, in the transaction of the effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// The claim this request made before its work, completed if it still holds the key.
    Claimed {
        key: String,
        claim_token: String,
        response: StoredResponse,
    },
    /// The key claimed and completed at once: the record, written only if the key is free as of its
    /// `created_at` (absent, past its retention, or an abandoned claim).
    InEffect(KeyRecord),
}

impl Completion {
    /// The stored key.
    pub fn key(&self) -> &str {
        match self {
            Self::Claimed { key, .. } => key,
            Self::InEffect(record) => &record.idempotency_key,
        }
    }
}

/// What a request under a key does next (`app::Idempotency::claim` decides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextAction {
    /// The key is ours: do the work, and remember its response with it.
    Proceed(KeyRecord),
    /// The key's request is done: answer what it answered.
    Replay(StoredResponse),
    /// The key's request is still in flight.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// A key, and how to render the response it will replay from what the work made: the work completes
/// the key in the transaction of its effect. `key` is a claim made before the work (in flight), or the
/// record to claim it with in that transaction ([`KeyRecord::to_claim_in_effect`]).
pub struct Remember<'a, T> {
    pub key: &'a KeyRecord,
    pub render: fn(&T) -> StoredResponse,
}

impl<T> Remember<'_, T> {
    /// The completion of the key with the response for `made`.
    pub fn completion(&self, made: &T) -> Completion {
        let response = (self.render)(made);
        match self.key.state {
            KeyState::InFlight => Completion::Claimed {
                key: self.key.idempotency_key.clone(),
                claim_token: self.key.claim_token.clone(),
                response,
            },
            KeyState::Completed => Completion::InEffect(KeyRecord {
                response: Some(response),
                ..self.key.clone()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::try_from("").is_err());
        assert!(IdempotencyKey::try_from("a b").is_err());
        assert!(IdempotencyKey::try_from("é").is_err());
        assert!(IdempotencyKey::try_from("k".repeat(256).as_str()).is_err());
        assert!(IdempotencyKey::try_from("order-42_retry:1").is_ok());
    }

    #[test]
    fn a_claim_lapses_after_its_lease_and_a_record_after_a_day() {
        let now = Timestamp::from_millis(1_000_000_000_000);
        let mut record = KeyRecord::claim("u#r#k".into(), fingerprint(b"{}"), now);
        assert!(!record.is_free_at(now.plus_seconds(LEASE_SECONDS - 1)));
        assert!(record.is_free_at(now.plus_seconds(LEASE_SECONDS)));
        record.state = KeyState::Completed;
        assert!(!record.is_free_at(now.plus_seconds(LEASE_SECONDS)));
        assert!(record.is_free_at(now.plus_seconds(RETENTION_SECONDS)));
    }

    #[test]
    fn fingerprints_tell_bodies_apart() {
        assert_eq!(fingerprint(b"{}").len(), 64);
        assert_ne!(fingerprint(b"{\"quantity\": 1}"), fingerprint(b"{\"quantity\": 2}"));
    }
}
