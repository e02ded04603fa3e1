//! `GET /performances/{performanceId}/seats`: every seat of a performance with what a customer can do
//! with it.

use std::collections::HashMap;
use std::sync::Arc;

use super::FlowError;
use crate::catalog::{Catalog, Performance};
use crate::domain::seats::Availability;
use crate::domain::{Clock, PerformanceId, SeatId};
use crate::ports::{Consistency, SeatLocks};

/// The seat-map use case.
pub struct SeatMap<S> {
    store: Arc<S>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
}

impl<S: SeatLocks> SeatMap<S> {
    pub fn new(store: Arc<S>, catalog: Arc<Catalog>, clock: Arc<dyn Clock>) -> Self {
        Self { store, catalog, clock }
    }

    /// Every seat of the performance in hall order with its availability, from one read.
    pub async fn of(&self, id: &PerformanceId) -> Result<(&Performance, Vec<(SeatId, Availability)>), FlowError> {
        let perf = self
            .catalog
            .performance(id)
            .ok_or_else(|| FlowError::UnknownPerformance(id.clone()))?;
        let now = self.clock.now();
        // A view, not a decision: an eventually consistent read, at half the read units.
        let locks: HashMap<SeatId, Availability> = self
            .store
            .seat_locks(id, Consistency::Eventual)
            .await?
            .into_iter()
            .map(|l| (l.seat_id.clone(), l.availability(now)))
            .collect();
        let seats = perf
            .seats
            .iter()
            .map(|s| (s.clone(), locks.get(s).copied().unwrap_or(Availability::Available)))
            .collect();
        Ok((perf, seats))
    }
}
