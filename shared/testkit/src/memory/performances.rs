//! [`Performances`]; the DynamoDB store's `performances.rs` writes the same rules as conditions.

use async_trait::async_trait;
use ticketing_core::catalog::{CancellationProgress, PerformanceRecord, PerformanceStatus};
use ticketing_core::domain::PerformanceId;
use ticketing_core::idempotency::Completion;
use ticketing_core::ports::{
    Consistency, CreateError, LayoutLock, Page, PageKey, Performances, StoreError, UpdateError,
};

use super::MemoryStore;

#[async_trait]
impl Performances for MemoryStore {
    async fn create_performance(
        &self,
        record: &PerformanceRecord,
        idempotency: Option<&Completion>,
    ) -> Result<(), CreateError> {
        let mut state = self.state();
        let completion = idempotency.cloned();
        if state.performances.contains_key(&record.performance_id) {
            return Err(CreateError::Exists);
        }
        if !state.holds_claim(&completion) {
            return Err(CreateError::KeyTaken);
        }
        state.performances.insert(record.performance_id.clone(), record.clone());
        state.complete(&completion);
        Ok(())
    }

    async fn performance(
        &self,
        id: &PerformanceId,
        _consistency: Consistency,
    ) -> Result<Option<PerformanceRecord>, StoreError> {
        Ok(self.state().performances.get(id).cloned())
    }

    async fn update_performance(
        &self,
        record: &PerformanceRecord,
        read_version: u64,
        layout_changed: bool,
    ) -> Result<(), UpdateError> {
        let mut state = self.state();
        let stored = state
            .performances
            .get_mut(&record.performance_id)
            .ok_or(UpdateError::NotFound)?;
        if stored.version != read_version {
            return Err(UpdateError::Moved);
        }
        if layout_changed && stored.layout_locked {
            return Err(UpdateError::LayoutLocked);
        }
        *stored = record.clone();
        Ok(())
    }

    async fn lock_layout(&self, id: &PerformanceId, layout_version: u64) -> Result<LayoutLock, StoreError> {
        let mut state = self.state();
        match state.performances.get_mut(id) {
            Some(stored) if stored.layout_version == layout_version => {
                let before = std::mem::replace(&mut stored.layout_locked, true);
                stored.version += 1;
                Ok(if before {
                    LayoutLock::LockedBefore
                } else {
                    LayoutLock::Locked
                })
            }
            _ => Ok(LayoutLock::Changed),
        }
    }

    async fn record_cancellation(&self, id: &PerformanceId, progress: &CancellationProgress) -> Result<(), StoreError> {
        if let Some(stored) = self.state().performances.get_mut(id) {
            stored.cancellation = Some(progress.clone());
        }
        Ok(())
    }

    async fn performances(
        &self,
        status: PerformanceStatus,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<Page, StoreError> {
        let state = self.state();
        let key = |p: &PerformanceRecord| (p.starts_at, p.performance_id.clone());
        let mut matching: Vec<&PerformanceRecord> = state
            .performances
            .values()
            .filter(|p| p.status == status)
            .filter(|p| after.is_none_or(|a| key(p) > (a.starts_at, a.performance_id.clone())))
            .collect();
        matching.sort_by_key(|p| key(p));
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = (matching.len() > limit)
            .then(|| matching.get(limit.saturating_sub(1)))
            .flatten()
            .map(|p| PageKey {
                starts_at: p.starts_at,
                performance_id: p.performance_id.clone(),
            });
        Ok(Page {
            performances: matching.into_iter().take(limit).cloned().collect(),
            next,
        })
    }
}
