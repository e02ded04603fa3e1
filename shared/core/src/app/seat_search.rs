//! Where a booking's seats come from: what this process has seen of the hall. A booking takes the first
//! block of seats this process saw free and sends its hold straight away; a refusal says which seats
//! were taken, and by what (the refused locks as they stand), and the next attempt chooses again from
//! what it now knows, the rows of the refused seats forgotten (read again when next needed). Once
//! refused, the process knows it sells in a crowd: for a while its bookings take a random block among
//! the first rows with room, so that concurrent clients rarely want the same. What a row read showed is
//! trusted for [`ROW_TTL_MILLIS`]. The table is read only for what the process has not
//! seen: rows it never read, one at a time until one has a free block; and, before the seats a request
//! needs are said to be sold out, the whole hall again (seats freed since, lapsed holds).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use rand::Rng;

use crate::domain::seats::{self, SeatLock};
use crate::domain::{PerformanceId, SeatId, Timestamp};
use crate::ports::{Consistency, SeatLocks, StoreError, TakenSeat};

/// In a crowd, of the rows with a free block, the random block is taken among this many, in hall
/// order: the hall still fills from the front, and concurrent bookings spread over enough blocks.
const SPREAD_ROWS: usize = 4;

/// How long after a refusal this process's bookings of the performance spread.
const CROWD_MILLIS: i64 = 30_000;

/// How long the free seats a row read showed are trusted.
const ROW_TTL_MILLIS: i64 = 60_000;

/// Per performance, what this process has seen of its hall.
#[derive(Debug, Default)]
pub(crate) struct Halls(Mutex<HashMap<PerformanceId, Seen>>);

#[derive(Debug, Default)]
struct Seen {
    /// Every seat seen: `None` free, or its lock, as last seen.
    seats: HashMap<SeatId, Option<SeatLock>>,
    /// When each row was read; a row refused since is forgotten.
    rows: HashMap<String, Timestamp>,
    /// Until when bookings spread, after a refusal.
    crowd_until: Option<Timestamp>,
}

impl Halls {
    fn with<T>(&self, performance: &PerformanceId, f: impl FnOnce(&mut Seen) -> T) -> T {
        let mut halls = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(halls.entry(performance.clone()).or_default())
    }

    fn in_crowd(&self, performance: &PerformanceId, now: Timestamp) -> bool {
        self.with(performance, |seen| seen.crowd_until.is_some_and(|until| now < until))
    }

    /// What a read at `now` found: the seats of `seats` without a lock are free.
    fn saw(&self, performance: &PerformanceId, seats: &[SeatId], locks: &[SeatLock], now: Timestamp) {
        self.with(performance, |seen| {
            for seat in seats {
                seen.seats.insert(seat.clone(), None);
                seen.rows.insert(seat.row().to_owned(), now);
            }
            for lock in locks {
                seen.seats.insert(lock.seat_id.clone(), Some(lock.clone()));
            }
        });
    }

    /// A hold this process wrote.
    pub(crate) fn held(&self, performance: &PerformanceId, locks: &[SeatLock]) {
        self.with(performance, |seen| {
            for lock in locks {
                seen.seats.insert(lock.seat_id.clone(), Some(lock.clone()));
            }
        });
    }

    /// A hold refused: the refused seats' locks as the store told them. A seat refused without one
    /// (a lapsed hold whose booking may still be paid) goes into `refused`, for this request.
    pub(crate) fn refused(
        &self,
        performance: &PerformanceId,
        taken: Vec<TakenSeat>,
        refused: &mut HashSet<SeatId>,
        now: Timestamp,
    ) {
        self.with(performance, |seen| {
            seen.crowd_until = Some(Timestamp::from_millis(now.as_millis().saturating_add(CROWD_MILLIS)));
            for seat in taken {
                // Others sell in this row: what this process saw of it is stale.
                seen.rows.remove(seat.seat_id.row());
                match seat.lock {
                    Some(lock) => {
                        seen.seats.insert(seat.seat_id, Some(lock));
                    }
                    None => {
                        refused.insert(seat.seat_id);
                    }
                }
            }
        });
    }

    /// The seats of `hall` this process saw free as of `now`, none of `refused`.
    fn free_seats<'a>(
        &self,
        performance: &PerformanceId,
        hall: &'a [SeatId],
        refused: &HashSet<SeatId>,
        now: Timestamp,
    ) -> Free<'a> {
        self.with(performance, |seen| {
            let mut free = Free::default();
            for seat in hall {
                let fresh = seen
                    .rows
                    .get(seat.row())
                    .is_some_and(|read| now.as_millis().saturating_sub(read.as_millis()) < ROW_TTL_MILLIS);
                if !fresh {
                    free.unseen_rows.insert(seat.row());
                } else if seen.seats.get(seat).is_some_and(Option::is_none) && !refused.contains(seat) {
                    free.seats.insert(seat);
                }
            }
            free
        })
    }

    /// The locks last seen on the seats of `hall`.
    fn locks_of(&self, performance: &PerformanceId, hall: &[SeatId]) -> Vec<SeatLock> {
        self.with(performance, |seen| {
            hall.iter()
                .filter_map(|seat| seen.seats.get(seat).cloned().flatten())
                .collect()
        })
    }
}

#[derive(Default)]
struct Free<'a> {
    seats: HashSet<&'a SeatId>,
    unseen_rows: HashSet<&'a str>,
}

/// The seats a booking may take: those of a performance, or of one of its sections, in hall order.
#[derive(Clone, Copy)]
pub(crate) struct Hall<'a> {
    pub(crate) performance: &'a PerformanceId,
    pub(crate) seats: &'a [SeatId],
}

/// What the search found.
pub(crate) enum SeatChoice {
    /// Seats to hold, and the lapsed locks among them that the hold takes over, as last read.
    Found {
        seats: Vec<SeatId>,
        replaces: Vec<SeatLock>,
    },
    /// Not enough free seats: how many are free.
    SoldOut { free: usize },
}

/// `quantity` seats of `hall` for a hold, as of `now`, from what `halls` knows, reading the table only
/// for what it does not; `refused` are seats this request was refused although they read free or
/// lapsed. Returns the choice and how many reads it took.
pub(crate) async fn find_seats<S: SeatLocks + ?Sized>(
    store: &S,
    hall: Hall<'_>,
    quantity: usize,
    refused: &HashSet<SeatId>,
    halls: &Halls,
    now: Timestamp,
) -> Result<(SeatChoice, usize), StoreError> {
    let mut reads = 0;
    let crowd = halls.in_crowd(hall.performance, now);
    loop {
        let free = halls.free_seats(hall.performance, hall.seats, refused, now);
        let not_free: HashSet<&SeatId> = hall.seats.iter().filter(|s| !free.seats.contains(s)).collect();
        if let Some(seats) = free_block(hall.seats, &not_free, quantity, crowd) {
            return Ok((
                SeatChoice::Found {
                    seats,
                    replaces: vec![],
                },
                reads,
            ));
        }
        // The first row this process has not seen, if any.
        let Some(row) = seats::rows(hall.seats)
            .into_iter()
            .find(|row| row.first().is_some_and(|s| free.unseen_rows.contains(s.row())))
        else {
            break;
        };
        let Some((first, last)) = seats::key_range(row) else {
            break;
        };
        let locks = store.seat_locks_between(hall.performance, first, last).await?;
        reads += 1;
        halls.saw(hall.performance, row, &locks, now);
    }
    // Every row seen, none with a free block as far as this process knows: the whole hall, afresh.
    let locks = store.seat_locks(hall.performance, Consistency::Strong).await?;
    reads += 1;
    halls.saw(hall.performance, hall.seats, &locks, now);
    let locks = halls.locks_of(hall.performance, hall.seats);
    let locked: HashSet<&SeatId> = locks.iter().map(|l| &l.seat_id).chain(refused.iter()).collect();
    let taken: HashSet<&SeatId> = locks
        .iter()
        .filter(|l| l.blocks_seat(now))
        .map(|l| &l.seat_id)
        .chain(refused.iter())
        .collect();
    let mut random = |n: usize| {
        if crowd {
            rand::rng().random_range(0..n.max(1))
        } else {
            0
        }
    };
    // Seats with no lock at all come first: a lapsed lock is free, but its booking may have been paid a
    // moment before it lapsed, and taking it over costs more writes.
    let chosen = seats::allocate(hall.seats, &locked, quantity, &mut random)
        .or_else(|| seats::allocate(hall.seats, &taken, quantity, &mut random));
    let choice = match chosen {
        Some(seats) => {
            let replaces = locks.into_iter().filter(|l| seats.contains(&l.seat_id)).collect();
            SeatChoice::Found { seats, replaces }
        }
        None => SeatChoice::SoldOut {
            free: hall.seats.len().saturating_sub(taken.len()),
        },
    };
    Ok((choice, reads))
}

/// The first of the aligned blocks of free seats; in a crowd, a random one of those of the first
/// [`SPREAD_ROWS`] rows that have one.
fn free_block(hall: &[SeatId], taken: &HashSet<&SeatId>, quantity: usize, crowd: bool) -> Option<Vec<SeatId>> {
    let rows = if crowd { SPREAD_ROWS } else { 1 };
    let blocks: Vec<&[SeatId]> = seats::aligned_blocks(hall, taken, quantity)
        .into_iter()
        .take(rows)
        .flatten()
        .collect();
    if blocks.is_empty() {
        return None;
    }
    let pick = if crowd {
        rand::rng().random_range(0..blocks.len())
    } else {
        0
    };
    Some(blocks[pick].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BookingId, SeatState};

    fn seat(id: &str) -> SeatId {
        SeatId::try_from(id).expect("valid")
    }

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    fn perf() -> PerformanceId {
        PerformanceId::try_from("p").expect("valid")
    }

    fn hall(rows: &[&str], per_row: u32) -> Vec<SeatId> {
        rows.iter()
            .flat_map(|row| (1..=per_row).map(move |i| seat(&format!("{row}{i}"))))
            .collect()
    }

    fn lock(id: &str) -> SeatLock {
        SeatLock {
            performance_id: perf(),
            seat_id: seat(id),
            booking_id: BookingId::generate(),
            user_id: crate::domain::UserId::try_from("u").expect("valid"),
            status: SeatState::Sold,
            locked_until: None,
        }
    }

    #[test]
    fn a_block_is_taken_among_the_first_rows_with_room_and_never_over_a_seen_lock() {
        let hall = hall(&["A", "B", "C", "D", "E", "F"], 4);
        let halls = Halls::default();
        halls.saw(&perf(), &hall, &[lock("A2")], at(0));
        for _ in 0..200 {
            let free = halls.free_seats(&perf(), &hall, &HashSet::new(), at(1));
            let taken: HashSet<&SeatId> = hall.iter().filter(|s| !free.seats.contains(s)).collect();
            let block = free_block(&hall, &taken, 2, true).expect("room");
            assert!(!block.contains(&seat("A2")));
            assert!(
                !block[0].row().starts_with(['E', 'F']),
                "only the first rows with room: {block:?}"
            );
            // Aligned: a run's blocks start at its first seat, two by two.
            assert!(
                ["A3", "B1", "B3", "C1", "C3", "D1", "D3"].contains(&block[0].as_str()),
                "{block:?}"
            );
        }
    }

    #[test]
    fn outside_a_crowd_the_first_block_is_taken() {
        let hall = hall(&["A", "B"], 4);
        let taken: HashSet<&SeatId> = [&hall[0]].into_iter().collect();
        assert_eq!(free_block(&hall, &taken, 2, false), Some(vec![seat("A2"), seat("A3")]));
    }

    #[test]
    fn unseen_rows_are_not_free_and_a_refusal_teaches_the_lock() {
        let hall = hall(&["A", "B"], 2);
        let halls = Halls::default();
        halls.saw(&perf(), &hall[..2], &[], at(0));
        let free = halls.free_seats(&perf(), &hall, &HashSet::new(), at(1));
        assert_eq!(free.seats.len(), 2);
        assert_eq!(free.unseen_rows, HashSet::from(["B"]));
        // Past its time, a row read is no longer trusted.
        let stale = halls.free_seats(&perf(), &hall, &HashSet::new(), at(ROW_TTL_MILLIS));
        assert!(stale.seats.is_empty());
        let mut refused = HashSet::new();
        halls.refused(
            &perf(),
            vec![
                TakenSeat {
                    seat_id: seat("A1"),
                    lock: Some(lock("A1")),
                },
                TakenSeat {
                    seat_id: seat("A2"),
                    lock: None,
                },
            ],
            &mut refused,
            at(0),
        );
        assert!(halls.in_crowd(&perf(), at(1)));
        let free = halls.free_seats(&perf(), &hall, &refused, at(1));
        assert!(free.seats.is_empty());
        assert!(free.unseen_rows.contains("A"), "a row refused in is read again");
        assert_eq!(refused, HashSet::from([seat("A2")]));
    }
}
