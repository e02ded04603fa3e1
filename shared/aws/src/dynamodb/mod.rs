//! The DynamoDB store: one table per collection, every multi-item change in one TransactWriteItems,
//! every state change guarded by a condition on the state it comes from. One file per port; the
//! in-memory store of `ticketing-testkit` keeps the same contract with the same file names.

mod bookings;
mod expr;
mod holds;
mod inbox;
mod keys;
mod payments;
mod performances;
mod refunds;
mod scan;
mod settlements;
mod tx;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::ports::{Consistency, StoreError};

use expr::{from_item, Item};

/// The table names, from the environment (see `template.yaml`), with the local defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    pub bookings: String,
    pub payment_intents: String,
    pub events: String,
    pub ledger_entries: String,
    pub occupied_seats: String,
    pub idempotency_keys: String,
    /// Per user and performance, how many seats the user holds or has bought.
    pub user_seats: String,
    pub performances: String,
}

impl Tables {
    /// The global secondary index of `performances` by `status`, soonest `startsAt` first.
    pub const PERFORMANCES_BY_STATUS: &'static str = "byStatus";

    /// Each table's environment variable and default name.
    const NAMES: [(&'static str, &'static str); 8] = [
        ("BOOKINGS_TABLE", "bookings"),
        ("PAYMENT_INTENTS_TABLE", "paymentIntents"),
        ("EVENTS_TABLE", "events"),
        ("LEDGER_ENTRIES_TABLE", "ledgerEntries"),
        ("OCCUPIED_SEATS_TABLE", "occupiedSeats"),
        ("IDEMPOTENCY_KEYS_TABLE", "idempotencyKeys"),
        ("USER_SEATS_TABLE", "userSeats"),
        ("PERFORMANCES_TABLE", "performances"),
    ];

    fn named(name: impl Fn(&str, &str) -> String) -> Self {
        let [bookings, payment_intents, events, ledger_entries, occupied_seats, idempotency_keys, user_seats, performances] =
            Self::NAMES.map(|(var, default)| name(var, default));
        Self {
            bookings,
            payment_intents,
            events,
            ledger_entries,
            occupied_seats,
            idempotency_keys,
            user_seats,
            performances,
        }
    }

    pub fn from_env() -> Self {
        Self::named(|var, default| std::env::var(var).unwrap_or_else(|_| default.to_owned()))
    }

    /// The default names with a prefix: one set of tables per test.
    pub fn prefixed(prefix: &str) -> Self {
        Self::named(|_, default| format!("{prefix}{default}"))
    }
}

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        Self { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    async fn get<T: DeserializeOwned>(
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
            .send()
            .await
            .map_err(unavailable)?;
        out.item.map(from_item).transpose()
    }

    /// Every page of a Query of seat locks.
    async fn locks(&self, query: QueryFluentBuilder, consistency: Consistency) -> Result<Vec<SeatLock>, StoreError> {
        let mut pages = query
            .table_name(&self.tables.occupied_seats)
            .consistent_read(consistency == Consistency::Strong)
            .into_paginator()
            .send();
        let mut locks = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable)?;
            for item in page.items.unwrap_or_default() {
                locks.push(from_item(item)?);
            }
        }
        Ok(locks)
    }
}

/// An error with its chain of sources, as one line.
pub(crate) fn format_err(e: &dyn std::error::Error) -> String {
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
