//! What this process knows of the performances it sells, so that a booking of a performance on sale
//! costs no read of the `performances` table: each is kept for `CATALOG_TTL_SECONDS`. Only a performance
//! that was on sale within its window is taken from memory; any other answer (unknown, a draft, closed,
//! outside the window) is read afresh before a booking is refused, so a performance put on sale is
//! bookable at once, and one taken off sale stops selling within the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::FlowError;
use crate::catalog::{NotBookable, Performance};
use crate::domain::{Clock, PerformanceId, Timestamp};
use crate::ports::{Consistency, LayoutLock, Performances};

/// How long a performance read from the table is trusted by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// How soon after its read a performance found locked by another booking says that the other is
/// booking at this instant (milliseconds): a cold process reads and locks in two round trips.
const SAME_INSTANT: i64 = 1_000;

/// The performances this process read, each with when it read them.
pub struct PerformanceCache<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Mutex<HashMap<PerformanceId, (Arc<Performance>, Timestamp)>>,
}

impl<S: Performances> PerformanceCache<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            store,
            clock,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, id: &PerformanceId, now: Timestamp) -> Option<Arc<Performance>> {
        let entries = self.entries.lock().ok()?;
        let (perf, read_at) = entries.get(id)?;
        let age = u64::try_from(now.as_millis().saturating_sub(read_at.as_millis())).unwrap_or(u64::MAX);
        (u128::from(age) < self.ttl.as_millis()).then(|| Arc::clone(perf))
    }

    /// Reads the performance afresh and keeps it.
    pub async fn refresh(&self, id: &PerformanceId) -> Result<Option<Arc<Performance>>, FlowError> {
        let now = self.clock.now();
        let read = self
            .store
            .performance(id, Consistency::Strong)
            .await?
            .map(|r| Arc::new(Performance::new(r)));
        if let Ok(mut entries) = self.entries.lock() {
            match &read {
                Some(perf) => entries.insert(id.clone(), (Arc::clone(perf), now)),
                None => entries.remove(id),
            };
        }
        Ok(read)
    }

    /// When the copy of the performance in memory was read.
    fn read_at(&self, id: &PerformanceId) -> Option<Timestamp> {
        let entries = self.entries.lock().ok()?;
        entries.get(id).map(|(_, read_at)| *read_at)
    }

    /// Forgets the performance: the next booking reads it afresh (after this process changed it).
    pub fn forget(&self, id: &PerformanceId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }

    /// The performance if a booking can be made for it now: from memory when it was on sale within its
    /// window there, otherwise read afresh.
    pub async fn for_booking(&self, id: &PerformanceId) -> Result<Arc<Performance>, FlowError> {
        let now = self.clock.now();
        if let Some(perf) = self.cached(id, now).filter(|p| p.bookable_at(now).is_ok()) {
            return Ok(perf);
        }
        let perf = self
            .refresh(id)
            .await?
            .ok_or_else(|| FlowError::UnknownPerformance(id.clone()))?;
        match perf.bookable_at(self.clock.now()) {
            Ok(()) => Ok(perf),
            Err(NotBookable::NotOnSale(status)) => Err(FlowError::PerformanceNotOnSale(id.clone(), status)),
            Err(NotBookable::SalesNotOpen) => Err(FlowError::SalesNotOpen(id.clone())),
            Err(NotBookable::SalesClosed) => Err(FlowError::SalesClosed(id.clone())),
        }
    }

    /// The performance as this process knows it (within the TTL), for a view such as the seat map.
    pub async fn for_view(&self, id: &PerformanceId) -> Result<Option<Arc<Performance>>, FlowError> {
        match self.cached(id, self.clock.now()) {
            Some(perf) => Ok(Some(perf)),
            None => self.refresh(id).await,
        }
    }

    /// Locks the layout of `perf` before its first hold (once per process; then the performance says
    /// it is locked). [`LayoutLock::LockedBefore`] only when `perf` was read within [`SAME_INSTANT`]:
    /// another booking of the performance is being made this instant; a lock found older than a copy
    /// read long ago says nothing of now, and is [`LayoutLock::Locked`], as is a copy read locked.
    /// [`LayoutLock::Changed`] when the layout changed since it was read: read it again.
    pub async fn lock_layout(&self, perf: &Performance) -> Result<LayoutLock, FlowError> {
        if perf.record.layout_locked {
            return Ok(LayoutLock::Locked);
        }
        let read_at = self.read_at(perf.id());
        let lock = self.store.lock_layout(perf.id(), perf.record.layout_version).await?;
        if lock == LayoutLock::Changed {
            self.forget(perf.id());
            return Ok(lock);
        }
        let mut locked = perf.clone();
        locked.record.layout_locked = true;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(perf.id().clone(), (Arc::new(locked), self.clock.now()));
        }
        let just_read =
            read_at.is_some_and(|at| self.clock.now().as_millis().saturating_sub(at.as_millis()) < SAME_INSTANT);
        Ok(if lock == LayoutLock::LockedBefore && just_read {
            LayoutLock::LockedBefore
        } else {
            LayoutLock::Locked
        })
    }
}
