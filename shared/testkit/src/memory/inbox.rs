//! [`Inbox`]; events are kept as the DynamoDB items they would be, for the in-process stream.

use async_trait::async_trait;
use serde::Serialize;
use serde_dynamo::Item;
use ticketing_core::domain::EventId;
use ticketing_core::ports::{Inbox, StoreError};

use super::MemoryStore;

#[async_trait]
impl Inbox for MemoryStore {
    async fn put_event<T: Serialize + Sync>(&self, id: &EventId, event: &T) -> Result<bool, StoreError> {
        let item: Item = serde_dynamo::to_item(event).map_err(|e| StoreError::Malformed(e.to_string()))?;
        {
            let mut state = self.state();
            let id = id.to_string();
            if state.events.contains_key(&id) {
                return Ok(false);
            }
            state.append_event(id, item);
        }
        self.appended.notify_waiters();
        Ok(true)
    }
}
