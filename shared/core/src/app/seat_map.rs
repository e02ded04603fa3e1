//! `GET /performances/{performanceId}/seats`: every seat of a performance with its section, its price
//! and what a customer can do with it.

use std::collections::HashMap;
use std::sync::Arc;

use super::performance_cache::PerformanceCache;
use super::FlowError;
use crate::catalog::{Performance, PerformanceStatus};
use crate::domain::seats::Availability;
use crate::domain::{Clock, PerformanceId, SeatId};
use crate::ports::{Consistency, Performances, SeatLocks};

/// The seat-map use case.
pub struct SeatMap<S> {
    store: Arc<S>,
    performances: Arc<PerformanceCache<S>>,
    clock: Arc<dyn Clock>,
}

impl<S: SeatLocks + Performances> SeatMap<S> {
    pub fn new(store: Arc<S>, performances: Arc<PerformanceCache<S>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            performances,
            clock,
        }
    }

    /// Every seat of the performance in hall order with its availability, from one read of its locks
    /// (and of the performance, unless this process read it within `CATALOG_TTL_SECONDS`). A draft is
    /// shown to operators only.
    pub async fn of(
        &self,
        id: &PerformanceId,
        operator: bool,
    ) -> Result<(Arc<Performance>, Vec<(SeatId, Availability)>), FlowError> {
        let perf = self
            .performances
            .for_view(id)
            .await?
            .filter(|p| operator || p.record.status != PerformanceStatus::Draft)
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
