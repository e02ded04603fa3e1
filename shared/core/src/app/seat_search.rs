//! Where a booking's seats come from: what this process has seen of the hall. A booking takes the first
//! block of seats this process saw free and sends its hold straight away; a refusal says which seats
//! were taken, and by what (the refused locks as they stand), and the rows of the refused seats are read
//! again when next needed. Once refused, the process knows it sells in a crowd (so does a first booking
//! whose lock of the layout finds that another booking locked it since the performance was read: the
//! sale has just opened, and others book this instant): for a while it books in a home row of its own,
//! chosen at random among the rows not known to be full, walking it block by block from a seat chosen at
//! random (wrapping at its end), so that two processes that share a row meet only when one reaches where
//! the other began; when its home row is full, or it is refused there (another process books in it too),
//! it moves to another. A home row this process has never seen is not read first while most seats it has
//! seen are free (the moment of a sale): its block is held blind, as if a read had found the row empty,
//! and a refusal tells what is taken there. What a row read showed is trusted for [`ROW_TTL_MILLIS`].
//! The table is read only for what the process has not seen (a row at a time), and, before the seats a
//! request needs are said to be sold out, the whole hall again (seats freed since, lapsed holds). Each
//! row's count of seats seen free lets a search pass over full rows without looking at their seats: a
//! booking costs the same CPU in an empty hall and a full one.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use rand::Rng;

use crate::domain::seats::{self, SeatLock};
use crate::domain::{PerformanceId, SeatId, Timestamp};
use crate::ports::{Consistency, SeatLocks, StoreError, TakenSeat};

/// How long after a refusal (or a sign of others booking at the same instant) this process books the
/// performance in a home row of its own.
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
    /// How many seats of each row are in `seats` as free: a row with fewer than a booking needs is
    /// passed over without looking at its seats.
    free: HashMap<String, usize>,
    /// When each row was read; a row refused in since is forgotten.
    rows: HashMap<String, Timestamp>,
    /// Until when the process books in its home row, after a refusal or a sign of a crowd.
    crowd_until: Option<Timestamp>,
    /// The row it books in meanwhile.
    home: Option<String>,
    /// Where in the home row its walk began (a seat's place in the row).
    start: usize,
}

impl Seen {
    fn fresh(&self, row: &str, now: Timestamp) -> bool {
        self.rows
            .get(row)
            .is_some_and(|read| now.as_millis().saturating_sub(read.as_millis()) < ROW_TTL_MILLIS)
    }

    /// Records what `seat` was seen as (`None`: free), keeping its row's count of free seats.
    fn set(&mut self, seat: SeatId, state: Option<SeatLock>) {
        let free = state.is_none();
        let was_free = self.seats.get(&seat).map(Option::is_none);
        if was_free != Some(free) {
            // The row's name is stored once per row, not per seat seen.
            if !self.free.contains_key(seat.row()) {
                self.free.insert(seat.row().to_owned(), 0);
            }
            if let Some(count) = self.free.get_mut(seat.row()) {
                if free {
                    *count += 1;
                } else if was_free == Some(true) {
                    *count = count.saturating_sub(1);
                }
            }
        }
        self.seats.insert(seat, state);
    }

    /// Books in a home row from `now` for [`CROWD_MILLIS`].
    fn crowd(&mut self, now: Timestamp) {
        self.crowd_until = Some(Timestamp::from_millis(now.as_millis().saturating_add(CROWD_MILLIS)));
    }

    /// Whether no seat of `row` was ever seen.
    fn never_seen(&self, row: &str) -> bool {
        !self.free.contains_key(row)
    }

    /// Whether at most half of the seats seen were taken: a row not seen yet is likely free.
    fn mostly_free(&self) -> bool {
        let free: usize = self.free.values().sum();
        free * 2 >= self.seats.len()
    }

    /// Takes `row` as free, as if read at `now` with no lock: a hold there is refused if it is not.
    fn assume_free(&mut self, row: &[SeatId], now: Timestamp) {
        self.rows.insert(row[0].row().to_owned(), now);
        for seat in row {
            self.set(seat.clone(), None);
        }
    }

    /// Whether `row` may hold `quantity` free seats, by its count alone.
    fn may_have_room(&self, row: &str, quantity: usize) -> bool {
        self.free.get(row).is_some_and(|free| *free >= quantity)
    }

    /// The aligned blocks of `quantity` seats of `row` seen free, none of `refused`.
    fn blocks<'a>(&self, row: &'a [SeatId], quantity: usize, refused: &HashSet<SeatId>) -> Vec<&'a [SeatId]> {
        let taken: HashSet<&SeatId> = row
            .iter()
            .filter(|s| refused.contains(*s) || !self.seats.get(*s).is_some_and(Option::is_none))
            .collect();
        seats::aligned_blocks(row, &taken, quantity)
            .into_iter()
            .flatten()
            .collect()
    }
}

/// What the process's knowledge of a hall points to.
#[derive(Debug, PartialEq, Eq)]
enum Next<'a> {
    /// Seats to hold.
    Block(Vec<SeatId>),
    /// A row to read first.
    Read(&'a [SeatId]),
    /// Every row seen, none with room as far as the process knows.
    Nothing,
}

fn random<T>(items: &[T]) -> Option<&T> {
    (!items.is_empty()).then(|| &items[rand::rng().random_range(0..items.len())])
}

/// The first of `blocks` (of `row`, in row order) that begins at or after the seat at `start` of the
/// row, or else the first of them: a walk along the row from `start` that wraps at its end.
fn walk<'a>(row: &[SeatId], blocks: &[&'a [SeatId]], start: usize) -> Option<&'a [SeatId]> {
    let place = |block: &[SeatId]| row.iter().position(|seat| Some(seat) == block.first());
    blocks
        .iter()
        .find(|block| place(block).is_some_and(|at| at >= start))
        .or_else(|| blocks.first())
        .copied()
}

impl Halls {
    fn with<T>(&self, performance: &PerformanceId, f: impl FnOnce(&mut Seen) -> T) -> T {
        let mut halls = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(halls.entry(performance.clone()).or_default())
    }

    /// What a read at `now` found: the seats of `seats` without a lock are free.
    fn saw(&self, performance: &PerformanceId, seats: &[SeatId], locks: &[SeatLock], now: Timestamp) {
        self.with(performance, |seen| {
            for row in seats.chunk_by(|a, b| a.row() == b.row()) {
                seen.rows.insert(row[0].row().to_owned(), now);
            }
            let locked: HashSet<&SeatId> = locks.iter().map(|l| &l.seat_id).collect();
            for seat in seats.iter().filter(|seat| !locked.contains(seat)) {
                seen.set(seat.clone(), None);
            }
            for lock in locks {
                seen.set(lock.seat_id.clone(), Some(lock.clone()));
            }
        });
    }

    /// A hold this process wrote.
    pub(crate) fn held(&self, performance: &PerformanceId, locks: &[SeatLock]) {
        self.with(performance, |seen| {
            for lock in locks {
                seen.set(lock.seat_id.clone(), Some(lock.clone()));
            }
        });
    }

    /// Others book the performance at `now`, as a refusal would tell: book in a home row for a while.
    pub(crate) fn crowded(&self, performance: &PerformanceId, now: Timestamp) {
        self.with(performance, |seen| seen.crowd(now));
    }

    /// A hold refused at `now`: the refused seats' locks as the store told them. A seat refused
    /// without one (a lapsed hold whose booking may still be paid) goes into `refused`, for this
    /// request.
    pub(crate) fn refused(
        &self,
        performance: &PerformanceId,
        taken: Vec<TakenSeat>,
        refused: &mut HashSet<SeatId>,
        now: Timestamp,
    ) {
        self.with(performance, |seen| {
            seen.crowd(now);
            for seat in taken {
                // Others book in this row: what this process saw of it is stale.
                seen.rows.remove(seat.seat_id.row());
                match seat.lock {
                    Some(lock) => seen.set(seat.seat_id, Some(lock)),
                    None => {
                        refused.insert(seat.seat_id);
                    }
                }
            }
        });
    }

    /// Where `quantity` seats of `hall` are to be found, as this process knows it at `now`: outside a
    /// crowd, the first block of the first row with room (reading a row not seen only when no seen
    /// row has room); in a crowd, a random block of the home row.
    fn next<'a>(
        &self,
        performance: &PerformanceId,
        hall: &'a [SeatId],
        quantity: usize,
        refused: &HashSet<SeatId>,
        now: Timestamp,
    ) -> Next<'a> {
        let rows = || hall.chunk_by(|a, b| a.row() == b.row());
        self.with(performance, |seen| {
            let crowd = seen.crowd_until.is_some_and(|until| now < until);
            if !crowd {
                let mut unseen = None;
                for row in rows() {
                    let name = row[0].row();
                    if !seen.fresh(name, now) {
                        unseen = unseen.or(Some(row));
                    } else if seen.may_have_room(name, quantity) {
                        if let Some(first) = seen.blocks(row, quantity, refused).first() {
                            return Next::Block(first.to_vec());
                        }
                    }
                }
                return unseen.map_or(Next::Nothing, Next::Read);
            }
            // The home row while it is known (a refusal in it makes it unknown: another process books
            // there too) and has room.
            let home = seen
                .home
                .as_deref()
                .and_then(|home| rows().find(|row| row[0].row() == home));
            if let Some(row) = home.filter(|row| seen.fresh(row[0].row(), now)) {
                if let Some(block) = walk(row, &seen.blocks(row, quantity, refused), seen.start) {
                    return Next::Block(block.to_vec());
                }
            }
            // A new home, at random among the other rows not known to be full: processes that met in a
            // row part, rather than read it again and keep meeting there.
            let candidates = |others: bool| -> Vec<&'a [SeatId]> {
                rows()
                    .filter(|row| !others || Some(*row) != home)
                    .filter(|row| {
                        let name = row[0].row();
                        !seen.fresh(name, now)
                            || seen.may_have_room(name, quantity) && !seen.blocks(row, quantity, refused).is_empty()
                    })
                    .collect()
            };
            let mut rooms = candidates(true);
            if rooms.is_empty() {
                rooms = candidates(false);
            }
            let Some(home) = random(&rooms).copied() else {
                return Next::Nothing;
            };
            seen.home = Some(home[0].row().to_owned());
            seen.start = rand::rng().random_range(0..home.len());
            if !seen.fresh(home[0].row(), now) {
                if !(seen.never_seen(home[0].row()) && seen.mostly_free()) {
                    return Next::Read(home);
                }
                seen.assume_free(home, now);
            }
            walk(home, &seen.blocks(home, quantity, refused), seen.start)
                .map_or(Next::Nothing, |block| Next::Block(block.to_vec()))
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
    loop {
        match halls.next(hall.performance, hall.seats, quantity, refused, now) {
            Next::Block(seats) => {
                return Ok((
                    SeatChoice::Found {
                        seats,
                        replaces: vec![],
                    },
                    reads,
                ))
            }
            Next::Read(row) => {
                let Some((first, last)) = seats::key_range(row) else {
                    break;
                };
                let locks = store.seat_locks_between(hall.performance, first, last).await?;
                reads += 1;
                halls.saw(hall.performance, row, &locks, now);
            }
            Next::Nothing => break,
        }
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
    let mut first = |_: usize| 0;
    // Seats with no lock at all come first: a lapsed lock is free, but its booking may have been paid a
    // moment before it lapsed, and taking it over costs more writes.
    let chosen = seats::allocate(hall.seats, &locked, quantity, &mut first)
        .or_else(|| seats::allocate(hall.seats, &taken, quantity, &mut first));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BookingId, SeatState, UserId};

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
            user_id: UserId::try_from("u").expect("valid"),
            status: SeatState::Sold,
            locked_until: None,
        }
    }

    fn taken(id: &str) -> TakenSeat {
        TakenSeat {
            seat_id: seat(id),
            lock: Some(lock(id)),
        }
    }

    #[test]
    fn outside_a_crowd_the_first_aligned_block_of_the_first_row_with_room_is_taken() {
        let hall = hall(&["A", "B"], 4);
        let halls = Halls::default();
        halls.saw(&perf(), &hall, &[lock("A1")], at(0));
        let none = HashSet::new();
        assert_eq!(
            halls.next(&perf(), &hall, 2, &none, at(1)),
            Next::Block(vec![seat("A2"), seat("A3")])
        );
        halls.saw(&perf(), &hall, &[lock("A2"), lock("A3")], at(2));
        assert_eq!(
            halls.next(&perf(), &hall, 2, &none, at(3)),
            Next::Block(vec![seat("B1"), seat("B2")]),
            "A4 alone is too narrow"
        );
    }

    #[test]
    fn each_row_counts_the_seats_seen_free_through_reads_holds_and_refusals() {
        let hall = hall(&["A", "B"], 4);
        let halls = Halls::default();
        let free = |row: &str| halls.with(&perf(), |seen| seen.free.get(row).copied().unwrap_or(0));
        halls.saw(&perf(), &hall, &[lock("A1")], at(0));
        assert_eq!((free("A"), free("B")), (3, 4));
        halls.held(&perf(), &[lock("A2"), lock("A3")]);
        halls.held(&perf(), &[lock("A2")]);
        assert_eq!(free("A"), 1, "a seat counted once");
        halls.refused(&perf(), vec![taken("B1")], &mut HashSet::new(), at(1));
        assert_eq!(free("B"), 3);
        halls.saw(&perf(), &hall[..4], &[], at(2));
        assert_eq!(free("A"), 4, "a read frees what it finds unlocked");
        assert!(
            halls.with(&perf(), |seen| !seen.may_have_room("C", 1)),
            "a row never seen"
        );
    }

    #[test]
    fn a_row_not_seen_or_past_its_time_is_read_first() {
        let hall = hall(&["A", "B"], 2);
        let halls = Halls::default();
        let none = HashSet::new();
        assert_eq!(halls.next(&perf(), &hall, 2, &none, at(0)), Next::Read(&hall[..2]));
        halls.saw(&perf(), &hall[..2], &[lock("A1")], at(0));
        assert_eq!(halls.next(&perf(), &hall, 2, &none, at(1)), Next::Read(&hall[2..]));
        halls.saw(&perf(), &hall[2..], &[], at(1));
        assert_eq!(
            halls.next(&perf(), &hall, 2, &none, at(2)),
            Next::Block(vec![seat("B1"), seat("B2")])
        );
        assert_eq!(
            halls.next(&perf(), &hall, 2, &none, at(ROW_TTL_MILLIS + 1)),
            Next::Read(&hall[..2]),
            "trusted for a while only"
        );
    }

    #[test]
    fn in_a_crowd_a_process_books_in_a_home_row_and_moves_after_a_refusal_in_it() {
        let hall = hall(&["A", "B", "C", "D", "E", "F"], 8);
        let halls = Halls::default();
        halls.saw(&perf(), &hall, &[], at(0));
        let mut refused = HashSet::new();
        halls.refused(&perf(), vec![taken("A1")], &mut refused, at(1));
        assert!(refused.is_empty(), "the refusal told the lock");
        // Row A read again: every row is known, and a home is chosen among those with room.
        halls.saw(&perf(), &hall[..8], &[lock("A1")], at(1));
        let Next::Block(first) = halls.next(&perf(), &hall, 2, &refused, at(2)) else {
            panic!("a block of a home row");
        };
        let home = first[0].row().to_owned();
        for _ in 0..20 {
            match halls.next(&perf(), &hall, 2, &refused, at(3)) {
                Next::Block(block) => {
                    assert_eq!(block[0].row(), home, "the same home row");
                    assert_eq!(block.len(), 2);
                }
                other => panic!("a block of the home row, got {other:?}"),
            }
        }
        // Refused in its home row: another process books there; this one moves to another row (every
        // other row is known, with room), without reading.
        let refused_seat = format!("{home}3");
        halls.refused(&perf(), vec![taken(&refused_seat)], &mut refused, at(4));
        let Next::Block(moved) = halls.next(&perf(), &hall, 2, &refused, at(5)) else {
            panic!("a block of another known row");
        };
        let new_home = moved[0].row().to_owned();
        assert_ne!(new_home, home, "a new home");
        assert!(matches!(halls.next(&perf(), &hall, 2, &refused, at(6)), Next::Block(b) if b[0].row() == new_home));
    }

    #[test]
    fn in_a_crowd_a_row_never_seen_is_held_blind_while_most_seats_seen_are_free() {
        let hall = hall(&["A", "B", "C"], 4);
        for _ in 0..20 {
            let halls = Halls::default();
            halls.saw(&perf(), &hall[..8], &[], at(0));
            let mut refused = HashSet::new();
            halls.refused(&perf(), vec![taken("A1")], &mut refused, at(1));
            halls.saw(
                &perf(),
                &hall[..4],
                &[lock("A1"), lock("A2"), lock("A3"), lock("A4")],
                at(1),
            );
            // Row A full, row B seen free, row C never seen: a home at random, and no read either way.
            let Next::Block(block) = halls.next(&perf(), &hall, 2, &refused, at(2)) else {
                panic!("a block of row B or C, without a read");
            };
            assert_ne!(block[0].row(), "A");
            if block[0].row() == "C" {
                // Refused there: what the refusal told is kept; the row is read before it is tried again.
                halls.refused(&perf(), vec![taken(block[0].as_str())], &mut refused, at(3));
                let home = halls.with(&perf(), |seen| seen.home.clone());
                assert_eq!(home.as_deref(), Some("C"));
                assert!(!halls.with(&perf(), |seen| seen.never_seen("C")));
                return;
            }
        }
        panic!("row C was never chosen in 20 tries");
    }

    #[test]
    fn in_a_crowd_a_row_never_seen_is_read_first_once_most_seats_seen_are_taken() {
        let hall = hall(&["A", "B", "C"], 4);
        let halls = Halls::default();
        let locks: Vec<SeatLock> = hall[..8].iter().map(|s| lock(s.as_str())).collect();
        halls.saw(&perf(), &hall[..8], &locks, at(0));
        let mut refused = HashSet::new();
        halls.refused(&perf(), vec![taken("A1")], &mut refused, at(1));
        halls.saw(&perf(), &hall[..4], &locks[..4], at(1));
        assert_eq!(halls.next(&perf(), &hall, 2, &refused, at(2)), Next::Read(&hall[8..]));
    }

    #[test]
    fn in_a_crowd_a_process_walks_its_home_row_block_by_block_from_a_random_seat() {
        let hall = hall(&["A", "B"], 8);
        let halls = Halls::default();
        halls.saw(&perf(), &hall, &[lock("B1"), lock("B2"), lock("B3"), lock("B4")], at(0));
        let mut refused = HashSet::new();
        halls.refused(&perf(), vec![taken("B5")], &mut refused, at(1));
        let row_b: Vec<SeatLock> = ["B1", "B2", "B3", "B4", "B5", "B7"].map(lock).to_vec();
        halls.saw(&perf(), &hall[8..], &row_b, at(1));
        // Row B has no block of two left: row A is the home, and all of its four blocks come, each the
        // next along the row after the one before, wrapping once at its end.
        let mut places = Vec::new();
        for _ in 0..4 {
            let Next::Block(block) = halls.next(&perf(), &hall, 2, &refused, at(2)) else {
                panic!("a block of row A");
            };
            assert_eq!(block[0].row(), "A");
            places.push(hall.iter().position(|s| *s == block[0]).expect("in the hall"));
            let locks: Vec<SeatLock> = block.iter().map(|s| lock(s.as_str())).collect();
            halls.held(&perf(), &locks);
        }
        let wraps = places.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(wraps <= 1, "{places:?}");
        let mut sorted = places.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 2, 4, 6]);
    }

    #[test]
    fn in_a_crowd_the_last_row_with_room_is_read_again_after_a_refusal() {
        let hall = hall(&["A", "B"], 4);
        let halls = Halls::default();
        halls.saw(&perf(), &hall, &[lock("B1"), lock("B2"), lock("B3"), lock("B4")], at(0));
        let mut refused = HashSet::new();
        halls.refused(&perf(), vec![taken("A1")], &mut refused, at(1));
        assert_eq!(halls.next(&perf(), &hall, 2, &refused, at(2)), Next::Read(&hall[..4]));
        halls.saw(&perf(), &hall[..4], &[lock("A1")], at(2));
        let Next::Block(block) = halls.next(&perf(), &hall, 2, &refused, at(3)) else {
            panic!("a block of row A");
        };
        assert_eq!(block, vec![seat("A2"), seat("A3")]);
        halls.refused(&perf(), vec![taken("A2")], &mut refused, at(4));
        assert_eq!(
            halls.next(&perf(), &hall, 2, &refused, at(5)),
            Next::Read(&hall[..4]),
            "no other row has room"
        );
    }

    #[test]
    fn a_seat_refused_without_its_lock_is_kept_out_for_the_request() {
        let hall = hall(&["A"], 2);
        let halls = Halls::default();
        halls.saw(&perf(), &hall, &[], at(0));
        let mut refused = HashSet::new();
        halls.refused(
            &perf(),
            vec![TakenSeat {
                seat_id: seat("A2"),
                lock: None,
            }],
            &mut refused,
            at(1),
        );
        assert_eq!(refused, HashSet::from([seat("A2")]));
    }
}
