//! [`IdempotencyKeys`]: claims, completions and releases of idempotency keys.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use ticketing_core::domain::Timestamp;
use ticketing_core::idempotency::{Claimed, Completion, KeyRecord, StoredResponse};
use ticketing_core::ports::{Consistency, IdempotencyKeys, StoreError};

use super::expr::{built, conditional, from_item, key, n, s, to_item};
use super::{unavailable, DynamoStore, Tables};

/// A key is free to claim when no record holds it, its record is past retention, or its claim was
/// abandoned (in flight past its lease).
const KEY_IS_FREE: &str =
    "attribute_not_exists(idempotencyKey) OR expiresAt <= :now_s OR (#state = :inflight AND leaseUntil <= :now_ms)";

/// Completes a key with its response in the transaction of the request's effect: a claim made before,
/// if it still holds the key; or the key claimed here, completed, if it is free.
pub(super) fn complete_key_item(tables: &Tables, c: &Completion) -> Result<TransactWriteItem, StoreError> {
    Ok(match c {
        Completion::Claimed {
            key,
            claim_token,
            response,
        } => TransactWriteItem::builder()
            .update(complete_key_update(tables, key, claim_token, response)?)
            .build(),
        Completion::InEffect(record) => {
            let now = record.created_at;
            let put = Put::builder()
                .table_name(&tables.idempotency_keys)
                .set_item(Some(to_item(record)?))
                .condition_expression(KEY_IS_FREE)
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":now_s", n(now.as_millis() / 1000))
                .expression_attribute_values(":now_ms", n(now.as_millis()))
                .expression_attribute_values(":inflight", s("in_flight"));
            TransactWriteItem::builder().put(built(put.build())?).build()
        }
    })
}

fn complete_key_update(
    tables: &Tables,
    key_name: &str,
    token: &str,
    response: &StoredResponse,
) -> Result<Update, StoreError> {
    let response = AttributeValue::M(to_item(response)?);
    built(
        Update::builder()
            .table_name(&tables.idempotency_keys)
            .set_key(Some(key("idempotencyKey", key_name)))
            .update_expression("SET #state = :completed, #response = :response")
            .condition_expression("#state = :inflight AND claimToken = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":completed", s("completed"))
            .expression_attribute_values(":inflight", s("in_flight"))
            .expression_attribute_values(":token", s(token))
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
            .condition_expression(KEY_IS_FREE)
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
        // The same write as in a transaction, sent on its own.
        let Completion::Claimed {
            key: key_name,
            claim_token,
            response,
        } = completion
        else {
            return Err(StoreError::Malformed(
                "a key claimed in an effect completes there".to_owned(),
            ));
        };
        let u = complete_key_update(&self.tables, key_name, claim_token, response)?;
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
