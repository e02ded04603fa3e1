//! `POST /performances`, `PATCH /performances/{id}`, `GET /performances[/{id}]` and
//! `GET /performances/{id}/sales`: operators put performances on sale and watch them sell; anyone
//! browses what is on sale.

use std::collections::HashSet;
use std::sync::Arc;

use tracing::info;

use super::performance_cache::PerformanceCache;
use super::{FlowError, Idempotency};
use crate::catalog::{draft, CancellationProgress};
use crate::catalog::{Catalog, Performance, PerformanceRecord, PerformanceStatus, Section, ShowCancellation};
use crate::domain::seats::Availability;
use crate::domain::{BookingId, Clock, Currency, PerformanceId, Timestamp};
use crate::idempotency::Remember;
use crate::ports::{
    Consistency, CreateError, IdempotencyKeys, Inbox, Page, PageKey, Performances, SeatLocks, StoreError, UpdateError,
};

/// How many times a change is tried again after another change of the same performance won.
const UPDATE_ATTEMPTS: u32 = 5;

/// A new performance as an operator describes it, typed.
#[derive(Clone, Debug)]
pub struct PerformanceDraft {
    pub performance_id: Option<PerformanceId>,
    pub title: String,
    pub venue: String,
    pub starts_at: Timestamp,
    pub sales_open_at: Timestamp,
    pub sales_close_at: Timestamp,
    pub currency: Currency,
    pub max_seats_per_booking: u32,
    pub max_seats_per_user: Option<u32>,
    pub sections: Vec<Section>,
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct PerformanceChanges {
    pub title: Option<String>,
    pub venue: Option<String>,
    pub starts_at: Option<Timestamp>,
    pub sales_open_at: Option<Timestamp>,
    pub sales_close_at: Option<Timestamp>,
    pub max_seats_per_booking: Option<u32>,
    /// `Some(None)` removes the limit.
    pub max_seats_per_user: Option<Option<u32>>,
    pub status: Option<PerformanceStatus>,
    pub currency: Option<Currency>,
    pub sections: Option<Vec<Section>>,
}

/// One line of the sales figures: a section's, or the whole performance's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SalesLine {
    pub name: String,
    pub sold: u64,
    /// Seats held by a booking not paid yet (or paid and still processing), unexpired.
    pub held: u64,
    pub available: u64,
    pub confirmed_bookings: u64,
    pub gross_amount: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesReport {
    pub performance_id: PerformanceId,
    pub currency: Currency,
    pub sections: Vec<SalesLine>,
    pub total: SalesLine,
    /// For a cancelled performance: how far the cancellation of its bookings got.
    pub cancellation: Option<CancellationProgress>,
}

/// Operators' and browsers' use of the performances.
pub struct ManagePerformances<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    cache: Arc<PerformanceCache<S>>,
}

impl<S: IdempotencyKeys> ManagePerformances<S> {
    /// The idempotency keys of `POST /performances`.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency::new(self.store.as_ref(), self.clock.as_ref())
    }
}

impl<S: Performances + SeatLocks + Inbox> ManagePerformances<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, cache: Arc<PerformanceCache<S>>) -> Self {
        Self { store, clock, cache }
    }

    /// Stores a new performance as a draft (and completes `remember`'s key with it, at once).
    pub async fn create(
        &self,
        draft: PerformanceDraft,
        remember: Option<Remember<'_, PerformanceRecord>>,
    ) -> Result<PerformanceRecord, FlowError> {
        let now = self.clock.now();
        let performance_id = match draft.performance_id {
            Some(id) => id,
            None => PerformanceId::generate(),
        };
        let record = PerformanceRecord {
            performance_id,
            title: draft.title,
            venue: draft.venue,
            starts_at: draft.starts_at,
            sales_open_at: draft.sales_open_at,
            sales_close_at: draft.sales_close_at,
            currency: draft.currency,
            max_seats_per_booking: draft.max_seats_per_booking,
            max_seats_per_user: draft.max_seats_per_user,
            sections: draft.sections,
            status: PerformanceStatus::Draft,
            layout_locked: false,
            layout_version: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            cancellation: None,
        };
        draft::check(&record)?;
        let completion = remember.map(|r| r.completion(&record));
        match self.store.create_performance(&record, completion.as_ref()).await {
            Ok(()) => {
                info!(performance_id = %record.performance_id, "performance created");
                Ok(record)
            }
            Err(CreateError::Exists) => Err(FlowError::PerformanceExists(record.performance_id)),
            Err(CreateError::KeyTaken) => Err(FlowError::KeyTaken),
            Err(CreateError::Store(e)) => Err(e.into()),
        }
    }

    /// Applies `changes` to the performance as it stands, if the rules allow them: a status only along
    /// its lifecycle, the sections and prices only while no seat was ever held.
    pub async fn update(
        &self,
        id: &PerformanceId,
        changes: PerformanceChanges,
    ) -> Result<PerformanceRecord, FlowError> {
        for _ in 0..UPDATE_ATTEMPTS {
            let read = self
                .store
                .performance(id, Consistency::Strong)
                .await?
                .ok_or_else(|| FlowError::UnknownPerformance(id.clone()))?;
            let (changed, layout_changed) = apply(&read, &changes)?;
            if changed == read {
                return Ok(read);
            }
            let mut next = changed;
            next.version = read.version + 1;
            if next.status == PerformanceStatus::Cancelled && read.status != PerformanceStatus::Cancelled {
                // Published before the change: the worker cancels the bookings once it sees the
                // performance cancelled (an event whose change did not happen is ignored).
                let first = ShowCancellation::new(id, next.version, 0, self.clock.now());
                self.store.put_event(&first.event_id, &first).await?;
            }
            next.updated_at = self.clock.now();
            if layout_changed {
                next.layout_version = read.layout_version + 1;
            }
            match self.store.update_performance(&next, read.version, layout_changed).await {
                Ok(()) => {
                    self.cache.forget(id);
                    info!(performance_id = %id, status = next.status.as_str(), version = next.version, "performance changed");
                    return Ok(next);
                }
                Err(UpdateError::Moved) => continue,
                Err(UpdateError::LayoutLocked) => return Err(FlowError::LayoutLocked(id.clone())),
                Err(UpdateError::NotFound) => return Err(FlowError::UnknownPerformance(id.clone())),
                Err(UpdateError::Store(e)) => return Err(e.into()),
            }
        }
        Err(FlowError::PerformanceContended(id.clone()))
    }

    /// One performance; a draft only for operators.
    pub async fn get(&self, id: &PerformanceId, operator: bool) -> Result<PerformanceRecord, FlowError> {
        self.store
            .performance(id, Consistency::Strong)
            .await?
            .filter(|p| operator || p.status != PerformanceStatus::Draft)
            .ok_or_else(|| FlowError::UnknownPerformance(id.clone()))
    }

    /// The performances of `status`, soonest first, `limit` at a time from after `after`.
    pub async fn list(
        &self,
        status: PerformanceStatus,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<Page, FlowError> {
        Ok(self.store.performances(status, limit, after).await?)
    }

    /// Each section's seats sold, held and available, its confirmed bookings and what they brought, and
    /// the same for the whole performance; from one read of its seat locks.
    pub async fn sales(&self, id: &PerformanceId) -> Result<SalesReport, FlowError> {
        let record = self
            .store
            .performance(id, Consistency::Strong)
            .await?
            .ok_or_else(|| FlowError::UnknownPerformance(id.clone()))?;
        let perf = Performance::new(record);
        let now = self.clock.now();
        let locks = self.store.seat_locks(id, Consistency::Strong).await?;
        let mut lines: Vec<(SalesLine, HashSet<BookingId>)> = perf
            .record
            .sections
            .iter()
            .map(|s| {
                let line = SalesLine {
                    name: s.name.clone(),
                    available: s.seat_count(),
                    ..SalesLine::default()
                };
                (line, HashSet::new())
            })
            .collect();
        let mut all_bookings = HashSet::new();
        for lock in &locks {
            let Some(index) = perf.section_index(&lock.seat_id) else {
                continue;
            };
            let (Some((line, bookings)), Some(section)) = (lines.get_mut(index), perf.record.sections.get(index))
            else {
                continue;
            };
            match lock.availability(now) {
                Availability::Sold => {
                    line.sold += 1;
                    line.gross_amount = line.gross_amount.saturating_add(section.price);
                    bookings.insert(lock.booking_id.clone());
                    all_bookings.insert(lock.booking_id.clone());
                }
                Availability::Held => line.held += 1,
                Availability::Available => continue,
            }
            line.available = line.available.saturating_sub(1);
        }
        let sections: Vec<SalesLine> = lines
            .into_iter()
            .map(|(mut line, bookings)| {
                line.confirmed_bookings = bookings.len() as u64;
                line
            })
            .collect();
        let total = SalesLine {
            name: String::new(),
            sold: sections.iter().map(|l| l.sold).sum(),
            held: sections.iter().map(|l| l.held).sum(),
            available: sections.iter().map(|l| l.available).sum(),
            confirmed_bookings: all_bookings.len() as u64,
            gross_amount: sections.iter().map(|l| l.gross_amount).sum(),
        };
        Ok(SalesReport {
            performance_id: id.clone(),
            currency: perf.record.currency.clone(),
            sections,
            total,
            cancellation: perf.record.cancellation.clone(),
        })
    }
}

/// Writes the performances of `catalog` the store does not have yet, created `now`, on sale (the start
/// of `make run`, `make dev` and SAM's local services); a performance the store has is left as it is.
/// How many were written.
pub async fn load_catalog<S: Performances>(store: &S, catalog: &Catalog, now: Timestamp) -> Result<usize, StoreError> {
    let mut written = 0;
    for record in catalog.performances() {
        let record = PerformanceRecord {
            created_at: now,
            updated_at: now,
            ..record.clone()
        };
        match store.create_performance(&record, None).await {
            Ok(()) => written += 1,
            // No key was named, so none can be lost.
            Err(CreateError::Exists | CreateError::KeyTaken) => {}
            Err(CreateError::Store(e)) => return Err(e),
        }
    }
    Ok(written)
}

/// `read` with `changes` applied and checked, and whether its layout (sections, prices, currency)
/// changed.
fn apply(read: &PerformanceRecord, changes: &PerformanceChanges) -> Result<(PerformanceRecord, bool), FlowError> {
    let mut next = read.clone();
    if let Some(status) = changes.status {
        if !read.status.can_become(status) {
            return Err(FlowError::InvalidTransition {
                from: read.status,
                to: status,
            });
        }
        next.status = status;
    }
    let set = |field: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            field.clone_from(value);
        }
    };
    set(&mut next.title, &changes.title);
    set(&mut next.venue, &changes.venue);
    next.starts_at = changes.starts_at.unwrap_or(next.starts_at);
    next.sales_open_at = changes.sales_open_at.unwrap_or(next.sales_open_at);
    next.sales_close_at = changes.sales_close_at.unwrap_or(next.sales_close_at);
    next.max_seats_per_booking = changes.max_seats_per_booking.unwrap_or(next.max_seats_per_booking);
    if let Some(limit) = changes.max_seats_per_user {
        next.max_seats_per_user = limit;
    }
    if let Some(currency) = &changes.currency {
        next.currency = currency.clone();
    }
    if let Some(sections) = &changes.sections {
        next.sections.clone_from(sections);
    }
    let layout_changed = next.sections != read.sections || next.currency != read.currency;
    // Seats are counted per customer only under a limit: a limit introduced after the first hold
    // would not know the seats held or bought before it (changing or lifting one is fine).
    let limit_introduced = read.max_seats_per_user.is_none() && next.max_seats_per_user.is_some();
    if (layout_changed || limit_introduced) && read.layout_locked {
        return Err(FlowError::LayoutLocked(read.performance_id.clone()));
    }
    draft::check(&next)?;
    Ok((next, layout_changed))
}
