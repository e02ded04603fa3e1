//! Where a booking's seats come from: the hall walked row by row from where this process last found
//! seats, until a row has a block of seats with no lock at all (one short read per booking instead of
//! every lock of the hall); only when no row has one is the whole hall judged, lapsed holds included.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use rand::Rng;

use crate::domain::seats::{self, SeatLock};
use crate::domain::{PerformanceId, SeatId, Timestamp};
use crate::ports::{SeatLocks, StoreError};

/// Per performance, the row (by index in hall order) where this process last found free seats.
#[derive(Debug, Default)]
pub(crate) struct RowHints(Mutex<HashMap<PerformanceId, usize>>);

impl RowHints {
    fn get(&self, performance: &PerformanceId) -> usize {
        self.0
            .lock()
            .map(|hints| hints.get(performance).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn set(&self, performance: &PerformanceId, row: usize) {
        if let Ok(mut hints) = self.0.lock() {
            hints.insert(performance.clone(), row);
        }
    }
}

/// The seats a booking may take: those of a performance, or of one of its sections, in hall order.
#[derive(Clone, Copy)]
pub(crate) struct Hall<'a> {
    pub(crate) performance: &'a PerformanceId,
    pub(crate) seats: &'a [SeatId],
}

/// What the search found.
pub(crate) enum SeatChoice {
    /// Seats to hold, and the locks read on the way (the lapsed ones among them are taken over).
    Found { seats: Vec<SeatId>, read: Vec<SeatLock> },
    /// Not enough free seats: how many are free.
    SoldOut { free: usize },
}

/// Attempt `attempt` (from 0) at finding `quantity` seats of `hall`, as of `now`. `refused` are seats
/// an earlier attempt was refused although they read free (a lapsed hold that was paid). Of equally
/// good candidates a first attempt takes the first (from the hinted row), a retry a random one (from a
/// random row), so that contending requests spread over the hall. Returns the choice and how many row
/// reads it took.
pub(crate) async fn find_seats<S: SeatLocks + ?Sized>(
    store: &S,
    Hall {
        performance,
        seats: hall,
    }: Hall<'_>,
    quantity: usize,
    refused: &HashSet<SeatId>,
    attempt: u32,
    hints: &RowHints,
    now: Timestamp,
) -> Result<(SeatChoice, usize), StoreError> {
    let mut pick = move |n: usize| {
        if attempt == 0 {
            0
        } else {
            rand::rng().random_range(0..n)
        }
    };
    let rows = seats::rows(hall);
    let start = if attempt == 0 {
        hints.get(performance)
    } else {
        pick(rows.len())
    };
    let mut read: Vec<SeatLock> = Vec::new();
    let mut rows_read = 0;
    for step in 0..rows.len() {
        let index = (start + step) % rows.len();
        let Some((first, last)) = seats::key_range(rows[index]) else {
            continue;
        };
        let row_locks = store.seat_locks_between(performance, first, last).await?;
        rows_read += 1;
        // The row's own seats are all in its key range: its read alone tells which are locked.
        let locked: HashSet<&SeatId> = row_locks.iter().map(|l| &l.seat_id).chain(refused.iter()).collect();
        let block = seats::adjacent_block(rows[index], &locked, quantity, &mut pick);
        read.extend(row_locks);
        if let Some(seats) = block {
            hints.set(performance, index);
            return Ok((SeatChoice::Found { seats, read }, rows_read));
        }
    }
    // The whole hall. Rows whose ids interleave may have read one lock twice.
    read.sort_by(|a, b| a.seat_id.cmp(&b.seat_id));
    read.dedup_by(|a, b| a.seat_id == b.seat_id);
    let locked: HashSet<&SeatId> = read.iter().map(|l| &l.seat_id).chain(refused.iter()).collect();
    let taken: HashSet<&SeatId> = read
        .iter()
        .filter(|l| l.blocks_seat(now))
        .map(|l| &l.seat_id)
        .chain(refused.iter())
        .collect();
    // Seats with no lock at all come first: a lapsed lock is free, but its booking may have been paid a
    // moment before it lapsed, and taking it over costs more writes.
    let chosen = seats::allocate(hall, &locked, quantity, &mut pick)
        .or_else(|| seats::allocate(hall, &taken, quantity, &mut pick));
    let choice = match chosen {
        Some(seats) => SeatChoice::Found { seats, read },
        None => SeatChoice::SoldOut {
            free: hall.len().saturating_sub(taken.len()),
        },
    };
    Ok((choice, rows_read))
}
