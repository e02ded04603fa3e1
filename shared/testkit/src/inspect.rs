//! [`Inspect`]: what tests and tools read of the whole state, beyond what any use case reads.

use async_trait::async_trait;
use serde_dynamo::Item;
use ticketing_aws::dynamodb::DynamoStore;
use ticketing_core::domain::ledger::{self, LedgerEntry};
use ticketing_core::domain::{BookingId, EventId};
use ticketing_core::ports::StoreError;

#[async_trait]
pub trait Inspect: Send + Sync {
    /// An inbox event as stored (with the worker's note, if any).
    async fn event(&self, id: &EventId) -> Result<Option<Item>, StoreError>;
    /// The ledger entries of a booking's capture.
    async fn ledger_of(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError>;
}

fn failed(e: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl Inspect for DynamoStore {
    async fn event(&self, id: &EventId) -> Result<Option<Item>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(&self.tables().events)
            .key("eventId", aws_sdk_dynamodb::types::AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        Ok(out.item.map(Item::from))
    }

    async fn ledger_of(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(&self.tables().ledger_entries)
            .key_condition_expression("transactionId = :t")
            .expression_attribute_values(
                ":t",
                aws_sdk_dynamodb::types::AttributeValue::S(ledger::capture_transaction_id(booking)),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(failed)?;
        // One item per ledger transaction, its entries together.
        #[derive(serde::Deserialize)]
        struct Transaction {
            entries: Vec<LedgerEntry>,
        }
        let mut entries = Vec::new();
        for item in out.items.unwrap_or_default() {
            let transaction: Transaction =
                serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))?;
            entries.extend(transaction.entries);
        }
        Ok(entries)
    }
}
