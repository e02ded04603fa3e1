//! Seat locks and seat allocation.

use super::{BookingId, PerformanceId, SeatId, SeatState, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One seat of one performance in `occupiedSeats`: locked for a booking until `locked_until`, or sold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatLock {
    pub performance_id: PerformanceId,
    pub seat_id: SeatId,
    pub booking_id: BookingId,
    /// The booking's customer (its bookings are found by customer).
    pub user_id: UserId,
    pub status: SeatState,
    /// For a `locked` seat, when the lock lapses; a sold seat has none.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::optional_millis")]
    pub locked_until: Option<Timestamp>,
}

impl SeatLock {
    /// A lock whose time has passed frees its seat by itself.
    pub fn is_lapsed(&self, now: Timestamp) -> bool {
        self.status == SeatState::Locked && self.locked_until.is_none_or(|until| until <= now)
    }

    pub fn blocks_seat(&self, now: Timestamp) -> bool {
        !self.is_lapsed(now)
    }

    /// What a customer sees of the seat: a lapsed hold reads available.
    pub fn availability(&self, now: Timestamp) -> Availability {
        match self.status {
            SeatState::Sold => Availability::Sold,
            SeatState::Locked if self.is_lapsed(now) => Availability::Available,
            SeatState::Locked => Availability::Held,
        }
    }
}

/// A seat as the seat map shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    Available,
    Held,
    Sold,
}

/// The rows of a hall whose seats are listed in hall order: each run of seats of one row.
pub fn rows(hall: &[SeatId]) -> Vec<&[SeatId]> {
    hall.chunk_by(|a, b| a.row() == b.row()).collect()
}

/// The smallest and the largest seat id of `seats`: the key range that holds their locks (and, when
/// ids do not share a row prefix, some other seats' locks too).
pub fn key_range(seats: &[SeatId]) -> Option<(&SeatId, &SeatId)> {
    Some((seats.iter().min()?, seats.iter().max()?))
}

/// Runs of free seats of `hall` that stand next to each other in one row.
fn free_runs<'a>(hall: &'a [SeatId], taken: &HashSet<&SeatId>) -> Vec<&'a [SeatId]> {
    let mut runs: Vec<&[SeatId]> = Vec::new();
    let mut start = None;
    for (i, seat) in hall.iter().enumerate() {
        let free = !taken.contains(seat);
        let continues = i > 0 && hall[i - 1].row() == seat.row();
        match (free, start) {
            (true, Some(_)) if continues => {}
            (true, _) => {
                if let Some(s) = start.take() {
                    runs.push(&hall[s..i]);
                }
                start = Some(i);
            }
            (false, Some(s)) => {
                runs.push(&hall[s..i]);
                start = None;
            }
            (false, None) => {}
        }
    }
    if let Some(s) = start {
        runs.push(&hall[s..]);
    }
    runs
}

/// One of the blocks of `quantity` free seats next to each other in one row of `runs`.
fn block(runs: &[&[SeatId]], quantity: usize, pick: &mut dyn FnMut(usize) -> usize) -> Option<Vec<SeatId>> {
    let blocks: Vec<&[SeatId]> = runs.iter().flat_map(|run| run.windows(quantity)).collect();
    (!blocks.is_empty()).then(|| blocks[pick(blocks.len()).min(blocks.len() - 1)].to_vec())
}

/// Blocks of `quantity` free seats next to each other in one row of `hall`, each starting where a run of
/// free seats starts or where the block before it in that run ends: blocks taken side by side leave no
/// gap too narrow for the next booking of the same size. Grouped by row, in hall order.
pub fn aligned_blocks<'a>(hall: &'a [SeatId], taken: &HashSet<&SeatId>, quantity: usize) -> Vec<Vec<&'a [SeatId]>> {
    let mut rows: Vec<Vec<&[SeatId]>> = Vec::new();
    if quantity == 0 {
        return rows;
    }
    for run in free_runs(hall, taken) {
        let blocks = run.chunks_exact(quantity);
        if blocks.len() == 0 {
            continue;
        }
        match rows.last_mut() {
            Some(row) if row.first().and_then(|b| b.first()).map(SeatId::row) == run.first().map(SeatId::row) => {
                row.extend(blocks);
            }
            _ => rows.push(blocks.collect()),
        }
    }
    rows
}

/// A block of `quantity` free seats next to each other in one row of `hall`, if there is one.
pub fn adjacent_block(
    hall: &[SeatId],
    taken: &HashSet<&SeatId>,
    quantity: usize,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Option<Vec<SeatId>> {
    if quantity == 0 {
        return None;
    }
    block(&free_runs(hall, taken), quantity, pick)
}

/// Chooses `quantity` free seats of a hall whose seats are listed in hall order, preferring, in turn:
/// a block of seats next to each other in one row; seats of one row; any free seats.
///
/// `pick(n)` chooses one of `n` equally good candidates: the first on a first attempt, a random one when
/// retrying after losing a race, so that contending requests spread over the hall.
pub fn allocate(
    hall: &[SeatId],
    taken: &HashSet<&SeatId>,
    quantity: usize,
    pick: &mut dyn FnMut(usize) -> usize,
) -> Option<Vec<SeatId>> {
    if quantity == 0 {
        return None;
    }
    let runs = free_runs(hall, taken);
    if let Some(seats) = block(&runs, quantity, pick) {
        return Some(seats);
    }

    let mut rows: Vec<Vec<&SeatId>> = Vec::new();
    for run in &runs {
        match rows.last_mut() {
            Some(row) if row.first().map(|s| s.row()) == run.first().map(|s| s.row()) => row.extend(run.iter()),
            _ => rows.push(run.iter().collect()),
        }
    }
    let roomy: Vec<&Vec<&SeatId>> = rows.iter().filter(|row| row.len() >= quantity).collect();
    if !roomy.is_empty() {
        let row = roomy[pick(roomy.len()).min(roomy.len() - 1)];
        return Some(row.iter().take(quantity).map(|s| (*s).clone()).collect());
    }

    let free: Vec<&SeatId> = runs.iter().flat_map(|run| run.iter()).collect();
    (free.len() >= quantity).then(|| free.iter().take(quantity).map(|s| (*s).clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hall(rows: &[(&str, u32)]) -> Vec<SeatId> {
        rows.iter()
            .flat_map(|(row, n)| (1..=*n).map(move |i| SeatId::try_from(format!("{row}{i}")).expect("valid")))
            .collect()
    }

    fn ids(seats: &[SeatId]) -> Vec<&str> {
        seats.iter().map(SeatId::as_str).collect()
    }

    fn first(_: usize) -> usize {
        0
    }

    #[test]
    fn takes_the_first_adjacent_block() {
        let hall = hall(&[("A", 4), ("B", 4)]);
        let got = allocate(&hall, &HashSet::new(), 2, &mut first).expect("seats");
        assert_eq!(ids(&got), ["A1", "A2"]);
    }

    #[test]
    fn skips_taken_seats_and_does_not_span_rows() {
        let hall = hall(&[("A", 4), ("B", 4)]);
        let taken_ids = hall[1..=2].to_vec(); // A2, A3 taken: A1 and A4 are free but not adjacent
        let taken: HashSet<&SeatId> = taken_ids.iter().collect();
        let got = allocate(&hall, &taken, 2, &mut first).expect("seats");
        assert_eq!(ids(&got), ["B1", "B2"]);
        // A4 and B1 are next to each other in the list but not in one row.
        let taken_ids = [&hall[0..3], &hall[5..8]].concat();
        let taken: HashSet<&SeatId> = taken_ids.iter().collect();
        let got = allocate(&hall, &taken, 2, &mut first).expect("seats");
        assert_eq!(ids(&got), ["A4", "B1"], "falls back to any free seats");
    }

    #[test]
    fn rows_and_the_key_range_of_their_locks() {
        let hall = hall(&[("A", 12), ("AA", 3), ("B", 2)]);
        let rows = rows(&hall);
        assert_eq!(rows.iter().map(|r| r.len()).collect::<Vec<_>>(), [12, 3, 2]);
        // Ids sort as strings, as DynamoDB sorts them: A1 < A10 < A11 < A12 < A2 < ... < A9.
        let (first, last) = key_range(rows[0]).expect("seats");
        assert_eq!((first.as_str(), last.as_str()), ("A1", "A9"));
        let (first, last) = key_range(rows[1]).expect("seats");
        assert_eq!((first.as_str(), last.as_str()), ("AA1", "AA3"));
        assert!(key_range(&[]).is_none());
    }

    #[test]
    fn an_adjacent_block_or_nothing() {
        let hall = hall(&[("A", 5)]);
        let taken_ids = [hall[1].clone()]; // A2 taken: A1 alone, A3..A5 together
        let taken: HashSet<&SeatId> = taken_ids.iter().collect();
        let got = adjacent_block(&hall, &taken, 2, &mut first).expect("a block");
        assert_eq!(ids(&got), ["A3", "A4"]);
        assert_eq!(adjacent_block(&hall, &taken, 4, &mut first), None);
        assert_eq!(adjacent_block(&hall, &taken, 0, &mut first), None);
    }

    #[test]
    fn prefers_one_row_when_no_block_fits() {
        let hall = hall(&[("A", 3), ("B", 5)]);
        let taken_ids = [hall[1].clone(), hall[4].clone(), hall[6].clone()]; // A2, B2, B4
        let taken: HashSet<&SeatId> = taken_ids.iter().collect();
        let got = allocate(&hall, &taken, 3, &mut first).expect("seats");
        assert_eq!(ids(&got), ["B1", "B3", "B5"]);
    }

    #[test]
    fn none_when_too_few_seats_are_free() {
        let hall = hall(&[("A", 2)]);
        let taken_ids = [hall[0].clone()];
        let taken: HashSet<&SeatId> = taken_ids.iter().collect();
        assert_eq!(allocate(&hall, &taken, 2, &mut first), None);
        assert_eq!(allocate(&hall, &HashSet::new(), 0, &mut first), None);
    }

    #[test]
    fn pick_spreads_contending_requests() {
        let hall = hall(&[("A", 10)]);
        let got = allocate(&hall, &HashSet::new(), 2, &mut |n| n - 1).expect("seats");
        assert_eq!(ids(&got), ["A9", "A10"]);
    }

    #[test]
    fn a_lock_lapses_at_its_time() {
        let lock = SeatLock {
            performance_id: PerformanceId::try_from("p").expect("valid"),
            seat_id: SeatId::try_from("A1").expect("valid"),
            booking_id: BookingId::try_from("b").expect("valid"),
            user_id: UserId::try_from("u").expect("valid"),
            status: SeatState::Locked,
            locked_until: Some(Timestamp::from_millis(1_000)),
        };
        assert!(lock.blocks_seat(Timestamp::from_millis(999)));
        assert!(lock.is_lapsed(Timestamp::from_millis(1_000)));
        let sold = SeatLock {
            status: SeatState::Sold,
            locked_until: None,
            ..lock
        };
        assert!(sold.blocks_seat(Timestamp::from_millis(i64::MAX)));
    }
}
