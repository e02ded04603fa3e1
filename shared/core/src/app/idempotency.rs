//! Claiming, reading and finishing idempotency keys, for the use cases whose routes honour
//! `Idempotency-Key` (the semantics are in [`crate::idempotency`]).

use crate::domain::{Clock, UserId};
use crate::idempotency::{
    fingerprint, Claimed, Completion, IdempotencyKey, KeyRecord, KeyState, NextAction, StoredResponse,
};
use crate::ports::{IdempotencyKeys, StoreError};

/// Claiming, reading and finishing keys, for the use cases whose routes honour `Idempotency-Key`.
pub struct Idempotency<'a> {
    keys: &'a dyn IdempotencyKeys,
    clock: &'a dyn Clock,
}

impl<'a> Idempotency<'a> {
    pub fn new(keys: &'a dyn IdempotencyKeys, clock: &'a dyn Clock) -> Self {
        Self { keys, clock }
    }

    /// Claims `key` (scoped to the user and route) for a request whose body is `body`.
    pub async fn claim(
        &self,
        user: &UserId,
        route: &str,
        key: &IdempotencyKey,
        body: &[u8],
    ) -> Result<NextAction, StoreError> {
        let now = self.clock.now();
        let claim = KeyRecord::claim(key.scoped(user, route), fingerprint(body), now);
        Ok(match self.keys.claim_key(&claim, now).await? {
            Claimed::Fresh(record) => NextAction::Proceed(record),
            // Our own claim, written by a first attempt whose answer was lost and retried by the SDK.
            Claimed::Taken(holder) if holder.claim_token == claim.claim_token => NextAction::Proceed(holder),
            Claimed::Taken(holder) => decide(&claim.request_hash, holder),
        })
    }

    /// The record that claims `key` in the transaction of the request's effect (a route that calls no
    /// outside party): nothing is written here.
    pub fn to_claim_in_effect(&self, user: &UserId, route: &str, key: &IdempotencyKey, body: &[u8]) -> KeyRecord {
        KeyRecord::to_claim_in_effect(key.scoped(user, route), fingerprint(body), self.clock.now())
    }

    /// Remembers the answer of a request under a key claimed in its effect that ended without one (a
    /// `404`, sold out): `None` when remembered, or what another request left under the key.
    pub async fn remember(
        &self,
        record: &KeyRecord,
        response: StoredResponse,
    ) -> Result<Option<NextAction>, StoreError> {
        let now = self.clock.now();
        let answered = KeyRecord {
            response: Some(response),
            created_at: now,
            lease_until: now,
            ..record.clone()
        };
        Ok(match self.keys.claim_key(&answered, now).await? {
            Claimed::Fresh(_) => None,
            Claimed::Taken(holder) => Some(decide(&record.request_hash, holder)),
        })
    }

    /// After losing a key to a retry: what the key holds now.
    pub async fn holder(&self, claim: &KeyRecord) -> Result<NextAction, StoreError> {
        Ok(match self.keys.key_record(&claim.idempotency_key).await? {
            Some(holder) => decide(&claim.request_hash, holder),
            None => NextAction::InFlight,
        })
    }

    /// Finishes a claim whose request had no effect: remembers an answer that a retry would get again,
    /// or gives the key up for a `transient` answer (a 5xx, a race lost) that a retry may not get.
    pub async fn finish(&self, claim: &KeyRecord, response: StoredResponse, transient: bool) -> Result<(), StoreError> {
        if transient {
            self.keys.release_key(&claim.idempotency_key, &claim.claim_token).await
        } else {
            let completion = Completion::Claimed {
                key: claim.idempotency_key.clone(),
                claim_token: claim.claim_token.clone(),
                response,
            };
            self.keys.complete_key(&completion).await.map(|_| ())
        }
    }
}

fn decide(request_hash: &str, holder: KeyRecord) -> NextAction {
    match (holder.request_hash == request_hash, holder.state, holder.response) {
        (false, _, _) => NextAction::Mismatch,
        (true, KeyState::Completed, Some(response)) => NextAction::Replay(response),
        (true, _, _) => NextAction::InFlight,
    }
}
