//! The DynamoDB store: one table per collection, every multi-item change in one TransactWriteItems,
//! every state change guarded by a condition on the state it comes from.

use super::{
    Applied, BookingHistory, Consistency, HoldError, IdempotencyKeys, Inbox, Inspect, NewHold, PaymentOutcome,
    PaymentRecords, RecordError, Release, SeatHolds, Settlement, Settlements, StoreError,
};
use crate::domain::ledger::{self, LedgerEntry};
use crate::domain::payment::PaymentIntent;
use crate::domain::seats::SeatLock;
use crate::domain::{
    Booking, BookingId, BookingStatus, EventId, IntentStatus, PaymentIntentId, PerformanceId, SeatId, SeatState,
    Timestamp, UserId,
};
use crate::idempotency::{Claimed, Completion, KeyRecord};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConsumedCapacity, Delete, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

type Item = HashMap<String, AttributeValue>;

/// The table names, from the environment (see `template.yaml`), with the local defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    pub bookings: String,
    pub payment_intents: String,
    pub events: String,
    pub ledger_entries: String,
    pub occupied_seats: String,
    pub idempotency_keys: String,
}

impl Tables {
    /// The global secondary index of `bookings` by `userId`, newest `createdAt` first.
    pub const BOOKINGS_BY_USER: &'static str = "byUser";

    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Self {
            bookings: var("BOOKINGS_TABLE", "bookings"),
            payment_intents: var("PAYMENT_INTENTS_TABLE", "paymentIntents"),
            events: var("EVENTS_TABLE", "events"),
            ledger_entries: var("LEDGER_ENTRIES_TABLE", "ledgerEntries"),
            occupied_seats: var("OCCUPIED_SEATS_TABLE", "occupiedSeats"),
            idempotency_keys: var("IDEMPOTENCY_KEYS_TABLE", "idempotencyKeys"),
        }
    }

    /// The same names with a prefix: one set of tables per test.
    pub fn prefixed(prefix: &str) -> Self {
        Self {
            bookings: format!("{prefix}bookings"),
            payment_intents: format!("{prefix}paymentIntents"),
            events: format!("{prefix}events"),
            ledger_entries: format!("{prefix}ledgerEntries"),
            occupied_seats: format!("{prefix}occupiedSeats"),
            idempotency_keys: format!("{prefix}idempotencyKeys"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    capacity: Option<Arc<CapacityLog>>,
}

/// One DynamoDB request and the capacity it consumed, as DynamoDB reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumed {
    pub operation: &'static str,
    /// Per table: (table, read units, write units).
    pub tables: Vec<(String, f64, f64)>,
}

/// Every request of the booking path with the capacity it consumed (`ReturnConsumedCapacity`), for
/// measuring the cost of a booking.
#[derive(Debug, Default)]
pub struct CapacityLog {
    requests: std::sync::Mutex<Vec<Consumed>>,
}

impl CapacityLog {
    pub fn take(&self) -> Vec<Consumed> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push(&self, operation: &'static str, consumed: &[ConsumedCapacity]) {
        let tables = consumed
            .iter()
            .map(|c| {
                let table = c.table_name().unwrap_or_default().to_owned();
                // Some answers give only the total; it is read units for reads and write units for writes.
                let total = c.capacity_units().unwrap_or(0.0);
                let (read, write) = match (c.read_capacity_units(), c.write_capacity_units()) {
                    (None, None) if operation == "TransactWriteItems" => (0.0, total),
                    (None, None) => (total, 0.0),
                    (read, write) => (read.unwrap_or(0.0), write.unwrap_or(0.0)),
                };
                (table, read, write)
            })
            .collect();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Consumed { operation, tables });
    }
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        Self {
            client,
            tables,
            capacity: None,
        }
    }

    /// Records every request of the booking path, with the capacity DynamoDB reports for it.
    pub fn with_capacity_log(mut self, log: Arc<CapacityLog>) -> Self {
        self.capacity = Some(log);
        self
    }

    fn report_capacity(&self) -> Option<ReturnConsumedCapacity> {
        self.capacity.as_ref().map(|_| ReturnConsumedCapacity::Indexes)
    }

    fn log(&self, operation: &'static str, consumed: &[ConsumedCapacity]) {
        if let Some(log) = &self.capacity {
            log.push(operation, consumed);
        }
    }

    /// Every page of a Query of seat locks.
    async fn locks(&self, query: QueryFluentBuilder, consistency: Consistency) -> Result<Vec<SeatLock>, StoreError> {
        let mut pages = query
            .table_name(&self.tables.occupied_seats)
            .consistent_read(consistency == Consistency::Strong)
            .set_return_consumed_capacity(self.report_capacity())
            .into_paginator()
            .send();
        let mut locks = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable)?;
            self.log("Query", page.consumed_capacity.as_slice());
            for item in page.items.unwrap_or_default() {
                locks.push(from_item(item)?);
            }
        }
        Ok(locks)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    async fn get<T: DeserializeOwned>(&self, table: &str, key: Item) -> Result<Option<T>, StoreError> {
        self.get_as(table, key, Consistency::Strong).await
    }

    async fn get_as<T: DeserializeOwned>(
        &self,
        table: &str,
        key: Item,
        consistency: Consistency,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(consistency == Consistency::Strong)
            .set_return_consumed_capacity(self.report_capacity())
            .send()
            .await
            .map_err(unavailable)?;
        self.log("GetItem", out.consumed_capacity.as_slice());
        out.item.map(from_item).transpose()
    }

    /// Runs a transaction, again (a bounded number of times) while it only conflicted with concurrent
    /// transactions on the same items: such a conflict says nothing about the conditions.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Cancelled> {
        let mut retries = 0;
        loop {
            let result = self.transact_once(items.clone()).await;
            match &result {
                Err(Cancelled::Reasons(reasons)) if only_conflicts(reasons) && retries < CONFLICT_RETRIES => {
                    retries += 1;
                    let backoff = rand::rng().random_range(1..=(5u64 << retries));
                    tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                }
                _ => return result,
            }
        }
    }

    async fn transact_once(&self, items: Vec<TransactWriteItem>) -> Result<(), Cancelled> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_return_consumed_capacity(self.report_capacity())
            .send()
            .await
        {
            Ok(out) => {
                self.log("TransactWriteItems", out.consumed_capacity());
                Ok(())
            }
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    Err(Cancelled::Reasons(c.cancellation_reasons.unwrap_or_default()))
                }
                other => Err(Cancelled::Other(StoreError::Unavailable(format_err(&other)))),
            },
            Err(other) => Err(Cancelled::Other(unavailable(other))),
        }
    }
}

/// Why a transaction did not commit.
enum Cancelled {
    /// DynamoDB's reason for each item, in the order the items were given.
    Reasons(Vec<CancellationReason>),
    Other(StoreError),
}

fn reason_code(r: &CancellationReason) -> &str {
    r.code().unwrap_or("None")
}

fn is_condition_failure(r: &CancellationReason) -> bool {
    reason_code(r) == "ConditionalCheckFailed"
}

/// Cancelled only by conflicts with concurrent transactions.
fn only_conflicts(reasons: &[CancellationReason]) -> bool {
    reasons.iter().any(|r| reason_code(r) == "TransactionConflict")
        && reasons
            .iter()
            .all(|r| matches!(reason_code(r), "None" | "TransactionConflict"))
}

/// Only failed conditions and conflicts with concurrent transactions: a lost race, not a fault.
fn lost_race(reasons: &[CancellationReason]) -> bool {
    reasons.iter().all(|r| {
        matches!(
            reason_code(r),
            "None" | "ConditionalCheckFailed" | "TransactionConflict"
        )
    })
}

fn describe(reasons: &[CancellationReason]) -> String {
    let codes: Vec<&str> = reasons.iter().map(reason_code).collect();
    format!("transaction cancelled: {codes:?}")
}

fn format_err(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn unavailable<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError::Unavailable(format_err(&e))
}

/// `Ok(true)` when a conditional write happened, `Ok(false)` when its condition did not hold.
fn conditional<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(name: &str, value: &str) -> Item {
    HashMap::from([(name.to_owned(), s(value))])
}

fn seat_key(performance: &PerformanceId, seat: &SeatId) -> Item {
    HashMap::from([
        ("performanceId".to_owned(), s(performance.as_str())),
        ("seatId".to_owned(), s(seat.as_str())),
    ])
}

/// `#status IN (:st0, :st1, …)` with its values, from a list of states taken from the domain.
fn status_in(states: &[&str], values: &mut Item) -> String {
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

fn built<T, E: std::error::Error + 'static>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Malformed(format_err(&e)))
}

/// How many times a transaction is tried again after conflicting with a concurrent one.
const CONFLICT_RETRIES: usize = 3;

impl DynamoStore {
    fn put_new(&self, table: &str, item: Item, key_name: &str) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(format!("attribute_not_exists({key_name})"))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Moves a booking to `to` from the states it may come from; on failure, returns the old item.
    /// With `lapsed_by`, the booking's hold must also have lapsed by then.
    fn booking_transition(
        &self,
        id: &BookingId,
        to: BookingStatus,
        at: Timestamp,
        lapsed_by: Option<Timestamp>,
    ) -> Result<TransactWriteItem, StoreError> {
        let from: Vec<&str> = to.reachable_from().iter().map(|st| st.as_str()).collect();
        let extra = lapsed_by.map(|t| ("holdExpiresAt <= :lapsed", Some((":lapsed", n(t.as_millis())))));
        // On refusal the old item tells why: already final, or not due yet.
        self.status_update(
            &self.tables.bookings,
            key("bookingId", id.as_str()),
            to.as_str(),
            &from,
            at,
            extra,
            true,
        )
    }

    /// Completes a claimed idempotency key with its response, if the claim still holds the key.
    fn complete_key_update(&self, c: &Completion) -> Result<Update, StoreError> {
        let response = AttributeValue::M(to_item(&c.response)?);
        built(
            Update::builder()
                .table_name(&self.tables.idempotency_keys)
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

    fn complete_key_item(&self, c: &Option<Completion>) -> Result<Option<TransactWriteItem>, StoreError> {
        c.as_ref()
            .map(|c| {
                Ok(TransactWriteItem::builder()
                    .update(self.complete_key_update(c)?)
                    .build())
            })
            .transpose()
    }

    /// Moves a payment intent to `to` from the states it may come from; an intent whose seats were given
    /// away can no longer succeed.
    fn intent_transition(
        &self,
        id: &PaymentIntentId,
        to: IntentStatus,
        at: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        let from: Vec<&str> = to.reachable_from().iter().map(|st| st.as_str()).collect();
        let extra = (to == IntentStatus::Succeeded).then_some(("attribute_not_exists(seatsReleasedAt)", None));
        let key = key("paymentIntentId", id.as_str());
        self.status_update(&self.tables.payment_intents, key, to.as_str(), &from, at, extra, false)
    }

    /// `SET #status = :to, updatedAt = :at` on one item, conditioned on its status being one of `from`
    /// and on `extra` (a condition, and the value it names if any); `return_old` returns the item on
    /// refusal.
    #[allow(clippy::too_many_arguments)]
    fn status_update(
        &self,
        table: &str,
        item_key: Item,
        to: &str,
        from: &[&str],
        at: Timestamp,
        extra: Option<(&str, Option<(&str, AttributeValue)>)>,
        return_old: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut values = HashMap::from([(":to".to_owned(), s(to)), (":at".to_owned(), s(at.to_rfc3339()))]);
        let mut condition = status_in(from, &mut values);
        if let Some((extra_condition, value)) = extra {
            condition = format!("{condition} AND {extra_condition}");
            if let Some((name, value)) = value {
                values.insert(name.to_owned(), value);
            }
        }
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(item_key))
            .update_expression("SET #status = :to, updatedAt = :at")
            .condition_expression(condition)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values));
        let update = if return_old {
            update.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        } else {
            update
        };
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    /// What a cancelled transition found: the booking had already moved on, or does not exist.
    fn transition_refused(reason: &CancellationReason) -> Result<Applied, StoreError> {
        match reason.item() {
            None => Ok(Applied::NoSuchBooking),
            Some(item) => {
                let booking: Booking = from_item(item.clone())?;
                Ok(match booking.status {
                    BookingStatus::Pending => Applied::NotDue,
                    status => Applied::AlreadyFinal(status),
                })
            }
        }
    }
}

/// The seats a cancelled hold was refused, from the reasons of its items: the booking, the intent, one
/// lock per seat, then one intent per lapsed booking taken over.
fn refused_seats(hold: &NewHold, previous: &BTreeSet<&BookingId>, reasons: &[CancellationReason]) -> Vec<SeatId> {
    let failed = |index: usize| reasons.get(index).is_some_and(is_condition_failure);
    let locks = hold
        .locks
        .iter()
        .enumerate()
        .filter(|(i, _)| failed(2 + i))
        .map(|(_, l)| l.seat_id.clone());
    let released = previous
        .iter()
        .enumerate()
        .filter(|(j, _)| failed(2 + hold.locks.len() + j))
        .flat_map(|(_, booking)| hold.replaces.iter().filter(move |r| &r.booking_id == *booking))
        .map(|r| r.seat_id.clone());
    locks.chain(released).collect()
}

#[async_trait]
impl SeatHolds for DynamoStore {
    async fn seat_locks(
        &self,
        performance: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Vec<SeatLock>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("performanceId = :p")
            .expression_attribute_values(":p", s(performance.as_str()));
        self.locks(query, consistency).await
    }

    async fn seat_locks_between(
        &self,
        performance: &PerformanceId,
        first: &SeatId,
        last: &SeatId,
    ) -> Result<Vec<SeatLock>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("performanceId = :p AND seatId BETWEEN :first AND :last")
            .expression_attribute_values(":p", s(performance.as_str()))
            .expression_attribute_values(":first", s(first.as_str()))
            .expression_attribute_values(":last", s(last.as_str()));
        self.locks(query, Consistency::Strong).await
    }

    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError> {
        let mut items = vec![
            self.put_new(&self.tables.bookings, to_item(&hold.booking)?, "bookingId")?,
            self.put_new(&self.tables.payment_intents, to_item(&hold.intent)?, "paymentIntentId")?,
        ];
        for lock in &hold.locks {
            let item = to_item(lock)?;
            let put = match hold.replaces.iter().find(|r| r.seat_id == lock.seat_id) {
                None => Put::builder().condition_expression("attribute_not_exists(seatId)"),
                Some(seen) => {
                    let until = seen.locked_until.map_or(0, Timestamp::as_millis);
                    Put::builder()
                        .condition_expression(
                            "bookingId = :old AND #status = :locked AND lockedUntil = :until AND lockedUntil <= :now",
                        )
                        .expression_attribute_names("#status", "status")
                        .expression_attribute_values(":old", s(seen.booking_id.as_str()))
                        .expression_attribute_values(":locked", s(SeatState::Locked.as_str()))
                        .expression_attribute_values(":until", n(until))
                        .expression_attribute_values(":now", n(now.as_millis()))
                }
            };
            let put = built(put.table_name(&self.tables.occupied_seats).set_item(Some(item)).build())?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // A lapsed hold's seats may go only if its payment did not and cannot go through; marking its
        // intent makes sure a late payment of it fails.
        let previous: BTreeSet<&BookingId> = hold.replaces.iter().map(|r| &r.booking_id).collect();
        for booking in &previous {
            let letting_go: Vec<&str> = IntentStatus::ALL
                .iter()
                .filter(|st| st.lets_lapsed_seats_go())
                .map(|st| st.as_str())
                .collect();
            let mut values = HashMap::from([
                (":now".to_owned(), n(now.as_millis())),
                (":at".to_owned(), s(now.to_rfc3339())),
            ]);
            let condition = format!("holdExpiresAt <= :now AND {}", status_in(&letting_go, &mut values));
            let update = built(
                Update::builder()
                    .table_name(&self.tables.payment_intents)
                    .set_key(Some(key("paymentIntentId", booking.payment_intent_id().as_str())))
                    .update_expression("SET seatsReleasedAt = :at")
                    .condition_expression(condition)
                    .expression_attribute_names("#status", "status")
                    .set_expression_attribute_values(Some(values))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let key_item = self.complete_key_item(&hold.idempotency)?;
        let has_key = key_item.is_some();
        items.extend(key_item);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Reasons(reasons)) if has_key && reasons.last().is_some_and(is_condition_failure) => {
                Err(HoldError::KeyTaken)
            }
            Err(Cancelled::Reasons(reasons)) if lost_race(&reasons) => {
                Err(HoldError::SeatsTaken(refused_seats(hold, &previous, &reasons)))
            }
            Err(Cancelled::Reasons(reasons)) => Err(StoreError::Unavailable(describe(&reasons)).into()),
            Err(Cancelled::Other(e)) => Err(e.into()),
        }
    }
}

#[async_trait]
impl PaymentRecords for DynamoStore {
    async fn booking(&self, id: &BookingId) -> Result<Option<Booking>, StoreError> {
        self.get(&self.tables.bookings, key("bookingId", id.as_str())).await
    }

    async fn record_payment(&self, outcome: &PaymentOutcome, now: Timestamp) -> Result<(), RecordError> {
        let payable: Vec<&str> = outcome
            .status
            .reachable_from()
            .iter()
            .filter(|st| st.is_payable())
            .map(|st| st.as_str())
            .collect();
        let mut values = HashMap::from([
            (":to".to_owned(), s(outcome.status.as_str())),
            (":pg".to_owned(), AttributeValue::M(to_item(&outcome.pg)?)),
            (":now".to_owned(), n(now.as_millis())),
            (":at".to_owned(), s(now.to_rfc3339())),
        ]);
        let condition = format!(
            "{} AND holdExpiresAt > :now AND attribute_not_exists(seatsReleasedAt)",
            status_in(&payable, &mut values)
        );
        let update = built(
            Update::builder()
                .table_name(&self.tables.payment_intents)
                .set_key(Some(key("paymentIntentId", outcome.payment_intent_id.as_str())))
                .update_expression("SET #status = :to, pgMockData = :pg, updatedAt = :at")
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build(),
        )?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if let Some(event) = &outcome.event {
            items.push(self.put_new(&self.tables.events, to_item(event)?, "eventId")?);
        }
        let key_item = self.complete_key_item(&outcome.idempotency)?;
        let has_key = key_item.is_some();
        items.extend(key_item);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Reasons(reasons)) if has_key && reasons.last().is_some_and(is_condition_failure) => {
                Err(RecordError::KeyTaken)
            }
            Err(Cancelled::Reasons(reasons)) => match reasons.first() {
                Some(r) if is_condition_failure(r) => match r.item() {
                    Some(item) => Err(RecordError::NotPayable(Box::new(from_item(item.clone())?))),
                    None => Err(RecordError::NotFound),
                },
                _ => Err(StoreError::Unavailable(describe(&reasons)).into()),
            },
            Err(Cancelled::Other(e)) => Err(e.into()),
        }
    }
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
        let u = self.complete_key_update(completion)?;
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
        self.get(&self.tables.idempotency_keys, key("idempotencyKey", key_name))
            .await
    }
}

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

#[async_trait]
impl BookingHistory for DynamoStore {
    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.bookings)
            .index_name(Tables::BOOKINGS_BY_USER)
            .key_condition_expression("userId = :u")
            .expression_attribute_values(":u", s(user.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }
}

#[async_trait]
impl Settlements for DynamoStore {
    async fn read_booking(&self, id: &BookingId, consistency: Consistency) -> Result<Option<Booking>, StoreError> {
        self.get_as(&self.tables.bookings, key("bookingId", id.as_str()), consistency)
            .await
    }

    async fn settle(&self, st: &Settlement) -> Result<Applied, StoreError> {
        let mut items = vec![self.booking_transition(&st.booking_id, BookingStatus::Confirmed, st.at, None)?];
        if let Some(intent) = &st.intent {
            items.push(self.intent_transition(intent, IntentStatus::Succeeded, st.at)?);
        }
        for seat in &st.seat_ids {
            let update = built(
                Update::builder()
                    .table_name(&self.tables.occupied_seats)
                    .set_key(Some(seat_key(&st.performance_id, seat)))
                    .update_expression("SET #status = :sold REMOVE lockedUntil")
                    .condition_expression("bookingId = :b")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":sold", s(SeatState::Sold.as_str()))
                    .expression_attribute_values(":b", s(st.booking_id.as_str()))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        for entry in &st.entries {
            items.push(self.put_new(&self.tables.ledger_entries, to_item(entry)?, "transactionId")?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(Applied::Done),
            Err(Cancelled::Reasons(reasons)) => match reasons.first() {
                Some(first) if is_condition_failure(first) => Self::transition_refused(first),
                _ if st.intent.is_some() && reasons.get(1).is_some_and(is_condition_failure) => {
                    Ok(Applied::PaymentRecorded)
                }
                _ => Err(StoreError::Unavailable(describe(&reasons))),
            },
            Err(Cancelled::Other(e)) => Err(e),
        }
    }

    async fn release(&self, r: &Release) -> Result<Applied, StoreError> {
        let mut seats: Vec<&SeatId> = r.seat_ids.iter().collect();
        let mut last = String::new();
        for _ in 0..=r.seat_ids.len() {
            let lapsed_by = (r.to == BookingStatus::Expired).then_some(r.at);
            let mut items = vec![self.booking_transition(&r.booking_id, r.to, r.at, lapsed_by)?];
            if let Some((intent, to)) = &r.intent {
                items.push(self.intent_transition(intent, *to, r.at)?);
            }
            let locks_start = items.len();
            for seat in &seats {
                let delete = built(
                    Delete::builder()
                        .table_name(&self.tables.occupied_seats)
                        .set_key(Some(seat_key(&r.performance_id, seat)))
                        .condition_expression("bookingId = :b")
                        .expression_attribute_values(":b", s(r.booking_id.as_str()))
                        .build(),
                )?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            match self.transact(items).await {
                Ok(()) => return Ok(Applied::Done),
                Err(Cancelled::Reasons(reasons)) => {
                    if let Some(first) = reasons.first().filter(|f| is_condition_failure(f)) {
                        return Self::transition_refused(first);
                    }
                    if r.intent.is_some() && reasons.get(1).is_some_and(is_condition_failure) {
                        return Ok(Applied::PaymentRecorded);
                    }
                    // A lapsed lock that went to another booking (or is gone) is not ours to free.
                    let before = seats.len();
                    let mut index = locks_start - 1;
                    seats.retain(|_| {
                        index += 1;
                        !reasons.get(index).is_some_and(is_condition_failure)
                    });
                    if seats.len() == before {
                        return Err(StoreError::Unavailable(describe(&reasons)));
                    }
                    last = describe(&reasons);
                }
                Err(Cancelled::Other(e)) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(last))
    }

    async fn annotate_event(&self, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.events)
            .set_key(Some(key("eventId", event.as_str())))
            .update_expression("SET note = :note, notedAt = :at")
            .condition_expression("attribute_exists(eventId)")
            .expression_attribute_values(":note", s(note))
            .expression_attribute_values(":at", s(at.to_rfc3339()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Inspect for DynamoStore {
    async fn event(&self, id: &EventId) -> Result<Option<serde_dynamo::Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.events)
            .set_key(Some(key("eventId", id.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.map(serde_dynamo::Item::from))
    }

    async fn payment_intent(&self, id: &PaymentIntentId) -> Result<Option<PaymentIntent>, StoreError> {
        self.get(&self.tables.payment_intents, key("paymentIntentId", id.as_str()))
            .await
    }

    async fn ledger_of(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.ledger_entries)
            .key_condition_expression("transactionId = :t")
            .expression_attribute_values(":t", s(ledger::capture_transaction_id(booking)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }
}

impl DynamoStore {
    /// Every item of a table, page by page. Only the audit reads whole tables: no request path scans.
    async fn every_item<T: DeserializeOwned>(&self, table: &str) -> Result<Vec<T>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(from_item(item.map_err(unavailable)?)?);
        }
        Ok(items)
    }
}

#[async_trait]
impl crate::audit::AuditSource for DynamoStore {
    async fn all_bookings(&self) -> Result<Vec<Booking>, StoreError> {
        self.every_item(&self.tables.bookings).await
    }

    async fn all_ledger_entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        self.every_item(&self.tables.ledger_entries).await
    }

    async fn all_seat_locks(&self) -> Result<Vec<SeatLock>, StoreError> {
        self.every_item(&self.tables.occupied_seats).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::{PaymentEvent, PaymentEventType, PgResult};
    use crate::domain::{Currency, EventId, Money, PerformanceId, UserId};
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        )
    }

    fn outcome() -> PaymentOutcome {
        let booking = BookingId::try_from("b-1").expect("valid");
        let money = Money::new(60_000, Currency::try_from("KRW".to_owned()).expect("valid"));
        let at = Timestamp::from_millis(1_000);
        PaymentOutcome {
            payment_intent_id: booking.payment_intent_id(),
            status: IntentStatus::Succeeded,
            pg: PgResult {
                is_success: Some(true),
                failure_code: None,
                processed_at: at,
            },
            event: Some(PaymentEvent {
                event_id: EventId::generate(),
                event_type: PaymentEventType::PaymentSucceeded,
                booking_id: booking.clone(),
                user_id: UserId::try_from("u").expect("valid"),
                payment_intent_id: booking.payment_intent_id(),
                performance_id: PerformanceId::try_from("p").expect("valid"),
                seat_ids: vec![],
                amount: money,
                failure_code: None,
                occurred_at: at,
                source: PaymentEvent::SOURCE_PG_SIMULATOR.to_owned(),
            }),
            idempotency: None,
        }
    }

    #[tokio::test]
    async fn a_transaction_that_only_conflicted_is_tried_again() {
        let conflict = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(|| cancelled(&["TransactionConflict", "None"]));
        let success = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&conflict, &success]);
        let store = DynamoStore::new(client, Tables::prefixed("t_"));
        assert!(store
            .record_payment(&outcome(), Timestamp::from_millis(1_000))
            .await
            .is_ok());
        assert_eq!((conflict.num_calls(), success.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn endless_conflicts_give_up_as_a_store_error_not_a_refusal() {
        let conflict = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(|| cancelled(&["TransactionConflict", "None"]));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&conflict]);
        let store = DynamoStore::new(client, Tables::prefixed("t_"));
        let result = store.record_payment(&outcome(), Timestamp::from_millis(1_000)).await;
        assert!(
            matches!(result, Err(RecordError::Store(StoreError::Unavailable(_)))),
            "{result:?}"
        );
        assert_eq!(conflict.num_calls(), CONFLICT_RETRIES + 1);
    }

    #[tokio::test]
    async fn a_failed_condition_on_the_intent_says_how_it_stands() {
        let refused = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(|| cancelled(&["ConditionalCheckFailed", "None"]));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&refused]);
        let store = DynamoStore::new(client, Tables::prefixed("t_"));
        // No item came back with the refusal: there is no such intent.
        let result = store.record_payment(&outcome(), Timestamp::from_millis(1_000)).await;
        assert!(matches!(result, Err(RecordError::NotFound)), "{result:?}");
        assert_eq!(refused.num_calls(), 1, "a refusal is not retried");
    }
}
