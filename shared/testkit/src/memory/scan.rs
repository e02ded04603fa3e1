//! Whole-state reads: the audit's, and the tests' [`Inspect`].

use async_trait::async_trait;
use serde_dynamo::Item;
use ticketing_core::audit::AuditSource;
use ticketing_core::domain::ledger::{self, LedgerEntry};

use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{Booking, BookingId, EventId};
use ticketing_core::ports::StoreError;

use super::MemoryStore;
use crate::inspect::Inspect;

#[async_trait]
impl Inspect for MemoryStore {
    async fn event(&self, id: &EventId) -> Result<Option<Item>, StoreError> {
        Ok(self.state().events.get(id.as_str()).cloned())
    }

    async fn ledger_of(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError> {
        let capture = ledger::capture_transaction_id(booking);
        Ok(self
            .state()
            .ledger
            .values()
            .filter(|e| e.transaction_id == capture)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl AuditSource for MemoryStore {
    async fn all_bookings(&self) -> Result<Vec<Booking>, StoreError> {
        Ok(self.state().bookings.values().cloned().collect())
    }

    async fn all_ledger_entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self.ledger())
    }

    async fn all_seat_locks(&self) -> Result<Vec<SeatLock>, StoreError> {
        Ok(self
            .state()
            .seats
            .values()
            .flat_map(|seats| seats.values().cloned())
            .collect())
    }
}
