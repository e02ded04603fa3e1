//! [`Inbox`]: events from outside, stored once under their own id.

use async_trait::async_trait;
use serde::Serialize;
use ticketing_core::domain::EventId;
use ticketing_core::ports::{Inbox, StoreError};

use super::expr::{conditional, s, to_item};
use super::DynamoStore;

#[async_trait]
impl Inbox for DynamoStore {
    async fn put_event<T: Serialize + Sync>(&self, id: &EventId, event: &T) -> Result<bool, StoreError> {
        let mut item = to_item(event)?;
        item.insert("eventId".to_owned(), s(id.as_str()));
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.events)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(eventId)")
            .send()
            .await;
        conditional(result)
    }
}
