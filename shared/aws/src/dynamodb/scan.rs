//! Whole-table reads for the audit. No request path scans.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use ticketing_core::audit::AuditSource;
use ticketing_core::domain::ledger::LedgerEntry;
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::Booking;
use ticketing_core::ports::StoreError;

use super::expr::{from_item, LedgerTransaction};
use super::{unavailable, DynamoStore};

impl DynamoStore {
    /// Every item of a table, page by page.
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
impl AuditSource for DynamoStore {
    async fn all_bookings(&self) -> Result<Vec<Booking>, StoreError> {
        self.every_item(&self.tables.bookings).await
    }

    async fn all_ledger_entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        let transactions: Vec<LedgerTransaction> = self.every_item(&self.tables.ledger_entries).await?;
        Ok(transactions.into_iter().flat_map(|t| t.entries).collect())
    }

    async fn all_seat_locks(&self) -> Result<Vec<SeatLock>, StoreError> {
        self.every_item(&self.tables.occupied_seats).await
    }
}
