//! The vocabulary of the DynamoDB adapter: attribute values, keys, items, and the condition-guarded
//! writes every port builds its transactions from.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use serde::de::DeserializeOwned;
use serde::Serialize;
use ticketing_core::domain::{BookingId, PerformanceId, SeatId, Timestamp, UserId};
use ticketing_core::ports::StoreError;

use super::unavailable;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn key(name: &str, value: &str) -> Item {
    HashMap::from([(name.to_owned(), s(value))])
}

pub(super) fn seat_key(performance: &PerformanceId, seat: &SeatId) -> Item {
    HashMap::from([
        ("performanceId".to_owned(), s(performance.as_str())),
        ("seatId".to_owned(), s(seat.as_str())),
    ])
}

/// The key of a user's count of seats of a performance.
/// The key of a booking: its customer and its id (a customer's bookings are one partition).
pub(super) fn booking_key(user: &UserId, id: &BookingId) -> Item {
    HashMap::from([
        ("userId".to_owned(), s(user.as_str())),
        ("bookingId".to_owned(), s(id.as_str())),
    ])
}

pub(super) fn user_seats_key(user: &UserId, performance: &PerformanceId) -> Item {
    HashMap::from([
        ("userId".to_owned(), s(user.as_str())),
        ("performanceId".to_owned(), s(performance.as_str())),
    ])
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// `#status IN (:st0, :st1, …)` with its values, from a list of states taken from the domain.
pub(super) fn status_in(states: &[&str], values: &mut Item) -> String {
    let names: Vec<String> = states
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let name = format!(":st{i}");
            values.insert(name.clone(), s(*state));
            name
        })
        .collect();
    format!("#status IN ({})", names.join(", "))
}

/// A request the SDK's builder refused to build (a required field missing): a fault of this code.
pub(super) fn built<T, E: std::error::Error + 'static>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Malformed(super::format_err(&e)))
}

/// `Ok(true)` when a conditional write happened, `Ok(false)` when its condition did not hold.
pub(super) fn conditional<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    conditional_output(result).map(|output| output.is_some())
}

/// The answer of a conditional write that happened, `None` when its condition did not hold.
pub(super) fn conditional_output<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<Option<O>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// A put of an item whose key must not exist yet.
pub(super) fn put_new(table: &str, item: Item, key_name: &str) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists({key_name})"))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// `SET #status = :to, updatedAt = :at` on one item, only from the states it may come from.
pub(super) struct StatusUpdate<'a> {
    pub(super) table: &'a str,
    pub(super) key: Item,
    pub(super) to: &'a str,
    pub(super) from: Vec<&'a str>,
    pub(super) at: Timestamp,
    /// A further condition, with the values it names.
    pub(super) also: Option<(&'a str, Item)>,
    /// On refusal, return the item as it stood.
    pub(super) return_old: bool,
}

impl StatusUpdate<'_> {
    pub(super) fn item(self) -> Result<TransactWriteItem, StoreError> {
        let mut values = HashMap::from([
            (":to".to_owned(), s(self.to)),
            (":at".to_owned(), s(self.at.to_rfc3339())),
        ]);
        let mut condition = status_in(&self.from, &mut values);
        if let Some((also, named)) = self.also {
            condition = format!("{condition} AND {also}");
            values.extend(named);
        }
        let update = Update::builder()
            .table_name(self.table)
            .set_key(Some(self.key))
            .update_expression("SET #status = :to, updatedAt = :at")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values));
        let update = if self.return_old {
            update.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        } else {
            update
        };
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }
}

/// A ledger transaction as one item: its balanced entries together, written at once, so a transaction
/// is balanced in one write and costs one item (`ledgerEntries` is keyed by `transactionId`).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LedgerTransaction {
    pub(super) transaction_id: String,
    pub(super) entries: Vec<ticketing_core::domain::ledger::LedgerEntry>,
}

/// The put of a new ledger transaction (refused if the transaction exists).
pub(super) fn put_ledger(
    table: &str,
    entries: &[ticketing_core::domain::ledger::LedgerEntry],
) -> Result<TransactWriteItem, StoreError> {
    let transaction_id = entries
        .first()
        .map(|e| e.transaction_id.clone())
        .ok_or_else(|| StoreError::Malformed("a ledger transaction without entries".to_owned()))?;
    let item = to_item(&LedgerTransaction {
        transaction_id,
        entries: entries.to_vec(),
    })?;
    put_new(table, item, "transactionId")
}
