//! [`IdempotencyKeys`]: claims, completions and releases of idempotency keys.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use ticketing_core::domain::Timestamp;
use ticketing_core::idempotency::{Claimed, Completion, KeyRecord};
use ticketing_core::ports::{Consistency, IdempotencyKeys, StoreError};

use super::expr::{built, conditional, from_item, key, n, s, to_item};
use super::{unavailable, DynamoStore, Tables};

/// Completes a claimed key with its response, if the claim still holds the key: one item of the
/// transaction of the request's effect.
pub(super) fn complete_key_item(tables: &Tables, c: &Completion) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .update(complete_key_update(tables, c)?)
        .build())
}

fn complete_key_update(tables: &Tables, c: &Completion) -> Result<Update, StoreError> {
    let response = AttributeValue::M(to_item(&c.response)?);
    built(
        Update::builder()
            .table_name(&tables.idempotency_keys)
            .set_key(Some(key("idempotencyKey", &c.key)))
            .update_expression("SET #state = :completed, #response = :response")
            .condition_expression("#state = :inflight AND claimToken = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":completed", s("completed"))
            .expression_attribute_values(":inflight", s("in_flight"))
            .expression_attribute_values(":token", s(&c.claim_token))
            .expression_attribute_values(":response", response)
            .build(),
    )
}

#[async_trait]
impl IdempotencyKeys for DynamoStore {
    async fn claim_key(&self, record: &KeyRecord, now: Timestamp) -> Result<Claimed, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.idempotency_keys)
            .set_item(Some(to_item(record)?))
            .condition_expression(
                "attribute_not_exists(idempotencyKey) OR expiresAt <= :now_s OR (#state = :inflight AND leaseUntil <= :now_ms)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now_s", n(now.as_millis() / 1000))
            .expression_attribute_values(":now_ms", n(now.as_millis()))
            .expression_attribute_values(":inflight", s("in_flight"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claimed::Fresh(record.clone())),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    let holder = failed
                        .item
                        .ok_or_else(|| StoreError::Malformed("key held by nothing".to_owned()))?;
                    Ok(Claimed::Taken(from_item(holder)?))
                }
                other => Err(unavailable(other)),
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn complete_key(&self, completion: &Completion) -> Result<bool, StoreError> {
        // The same update as in a transaction, sent on its own.
        let u = complete_key_update(&self.tables, completion)?;
        let result = self
            .client
            .update_item()
            .table_name(u.table_name())
            .set_key(Some(u.key().clone()))
            .update_expression(u.update_expression())
            .set_condition_expression(u.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(u.expression_attribute_names().cloned())
            .set_expression_attribute_values(u.expression_attribute_values().cloned())
            .send()
            .await;
        conditional(result)
    }

    async fn release_key(&self, key_name: &str, claim_token: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.idempotency_keys)
            .set_key(Some(key("idempotencyKey", key_name)))
            .condition_expression("#state = :inflight AND claimToken = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":inflight", s("in_flight"))
            .expression_attribute_values(":token", s(claim_token))
            .send()
            .await;
        conditional(result).map(|_| ())
    }

    async fn key_record(&self, key_name: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.get(
            &self.tables.idempotency_keys,
            key("idempotencyKey", key_name),
            Consistency::Strong,
        )
        .await
    }
}
