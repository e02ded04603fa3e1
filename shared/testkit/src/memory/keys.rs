//! [`IdempotencyKeys`]; the DynamoDB store's `keys.rs` writes the same rules as conditions.

use async_trait::async_trait;
use ticketing_core::domain::Timestamp;
use ticketing_core::idempotency::{Claimed, Completion, KeyRecord, KeyState};
use ticketing_core::ports::{IdempotencyKeys, StoreError};

use super::MemoryStore;

#[async_trait]
impl IdempotencyKeys for MemoryStore {
    async fn claim_key(&self, record: &KeyRecord, now: Timestamp) -> Result<Claimed, StoreError> {
        let mut state = self.state();
        if let Some(holder) = state.keys.get(&record.idempotency_key).filter(|r| !r.is_free_at(now)) {
            return Ok(Claimed::Taken(holder.clone()));
        }
        state.keys.insert(record.idempotency_key.clone(), record.clone());
        Ok(Claimed::Fresh(record.clone()))
    }

    async fn complete_key(&self, completion: &Completion) -> Result<bool, StoreError> {
        let mut state = self.state();
        let completion = Some(completion.clone());
        if !state.holds_claim(&completion) {
            return Ok(false);
        }
        state.complete(&completion);
        Ok(true)
    }

    async fn release_key(&self, key: &str, claim_token: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        if state
            .keys
            .get(key)
            .is_some_and(|r| r.state == KeyState::InFlight && r.claim_token == claim_token)
        {
            state.keys.remove(key);
        }
        Ok(())
    }

    async fn key_record(&self, key: &str) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.state().keys.get(key).cloned())
    }
}
