//! The in-memory store: the contract of `ticketing_core::ports` kept with one lock for the whole state,
//! and the change streams of the events table (for the in-process worker) and of the bookings table
//! (its inserts, for the in-process expiry scheduler). One file per port, named as the
//! DynamoDB store's: each rule written here as Rust is a condition expression there, and the storage
//! contract suite keeps the two in step.

mod bookings;
mod holds;
mod inbox;
mod keys;
mod payments;
mod performances;
mod refunds;
mod scan;
mod settlements;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde_dynamo::Item;
use ticketing_core::catalog::PerformanceRecord;
use ticketing_core::domain::ledger::LedgerEntry;
use ticketing_core::domain::payment::PaymentIntent;
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{Booking, BookingId, PaymentIntentId, PerformanceId, SeatId, UserId};
use ticketing_core::idempotency::{Completion, KeyRecord, KeyState};
use ticketing_core::ports::StoreError;
use tokio::sync::Notify;

/// One record of a change stream: an inserted item and its sequence number.
#[derive(Clone, Debug)]
pub struct StreamedItem {
    pub sequence_number: u64,
    pub new_image: Item,
}

/// The tables whose inserts the store streams, as the template's do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streamed {
    Events,
    Bookings,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) bookings: HashMap<BookingId, Booking>,
    pub(super) intents: HashMap<PaymentIntentId, PaymentIntent>,
    pub(super) seats: HashMap<PerformanceId, BTreeMap<SeatId, SeatLock>>,
    pub(super) events: HashMap<String, Item>,
    pub(super) stream: Vec<StreamedItem>,
    pub(super) bookings_stream: Vec<StreamedItem>,
    pub(super) ledger: BTreeMap<(String, String), LedgerEntry>,
    pub(super) keys: HashMap<String, KeyRecord>,
    /// Per user and performance, how many seats the user holds or has bought.
    pub(super) user_seats: HashMap<(UserId, PerformanceId), u32>,
    pub(super) performances: HashMap<PerformanceId, PerformanceRecord>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    pub(super) appended: Notify,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves no half-applied write (every write checks all its
        // conditions before it changes anything), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records of `table`'s stream after `sequence_number`, oldest first, at most `max`.
    pub fn stream_after(&self, table: Streamed, sequence_number: u64, max: usize) -> Vec<StreamedItem> {
        let state = self.state();
        let stream = match table {
            Streamed::Events => &state.stream,
            Streamed::Bookings => &state.bookings_stream,
        };
        let start = stream.partition_point(|r| r.sequence_number <= sequence_number);
        stream[start..].iter().take(max).cloned().collect()
    }

    /// Waits until a record is appended to a stream after this call began.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// Every ledger entry, for audits in tests.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.state().ledger.values().cloned().collect()
    }
}

impl State {
    pub(super) fn seat(&self, performance: &PerformanceId, seat: &SeatId) -> Option<&SeatLock> {
        self.seats.get(performance)?.get(seat)
    }

    pub(super) fn seat_mut(&mut self, performance: &PerformanceId, seat: &SeatId) -> Option<&mut SeatLock> {
        self.seats.get_mut(performance)?.get_mut(seat)
    }
}

impl State {
    /// Whether `completion` may complete its key: the claim it names still holds it.
    pub(super) fn holds_claim(&self, completion: &Option<Completion>) -> bool {
        completion.as_ref().is_none_or(|c| match c {
            Completion::Claimed { key, claim_token, .. } => self
                .keys
                .get(key)
                .is_some_and(|r| r.state == KeyState::InFlight && &r.claim_token == claim_token),
            Completion::InEffect(record) => self
                .keys
                .get(&record.idempotency_key)
                .is_none_or(|held| held.is_free_at(record.created_at)),
        })
    }

    /// Stores an event and appends it to the change stream.
    pub(super) fn append_event(&mut self, id: String, item: Item) {
        self.events.insert(id, item.clone());
        append(&mut self.stream, item);
    }

    /// Stores a new booking and appends its item, as the DynamoDB store writes it, to the bookings
    /// stream.
    pub(super) fn insert_booking(&mut self, booking: Booking) -> Result<(), StoreError> {
        let item: Item = serde_dynamo::to_item(&booking).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.bookings.insert(booking.booking_id.clone(), booking);
        append(&mut self.bookings_stream, item);
        Ok(())
    }

    pub(super) fn complete(&mut self, completion: &Option<Completion>) {
        match completion {
            None => {}
            Some(Completion::Claimed { key, response, .. }) => {
                if let Some(record) = self.keys.get_mut(key) {
                    record.state = KeyState::Completed;
                    record.response = Some(response.clone());
                }
            }
            Some(Completion::InEffect(record)) => {
                self.keys.insert(record.idempotency_key.clone(), record.clone());
            }
        }
    }
}

fn append(stream: &mut Vec<StreamedItem>, new_image: Item) {
    let sequence_number = stream.last().map_or(1, |r| r.sequence_number + 1);
    stream.push(StreamedItem {
        sequence_number,
        new_image,
    });
}

pub(super) fn intent_for<'a>(state: &'a State, booking: &BookingId) -> Option<&'a PaymentIntent> {
    state.intents.get(&booking.payment_intent_id())
}
