//! The in-memory store: the same conditional semantics as the DynamoDB store, one lock for the whole
//! state, and a change stream of the events table for the in-process worker.

use super::{
    Applied, BookingHistory, Consistency, HoldError, IdempotencyKeys, Inbox, Inspect, NewHold, PaymentOutcome,
    PaymentRecords, RecordError, Release, SeatHolds, Settlement, Settlements, StoreError,
};
use crate::domain::ledger::LedgerEntry;
use crate::domain::payment::PaymentIntent;
use crate::domain::seats::SeatLock;
use crate::domain::{
    Booking, BookingId, BookingStatus, EventId, IntentStatus, PaymentIntentId, PerformanceId, SeatId, SeatState,
    Timestamp, UserId,
};
use crate::idempotency::{Claimed, Completion, KeyRecord, KeyState};
use async_trait::async_trait;
use serde::Serialize;
use serde_dynamo::Item;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// One record of the events table's change stream: an inserted item and its sequence number.
#[derive(Clone, Debug)]
pub struct StreamedItem {
    pub sequence_number: u64,
    pub new_image: Item,
}

#[derive(Default)]
struct State {
    bookings: HashMap<BookingId, Booking>,
    intents: HashMap<PaymentIntentId, PaymentIntent>,
    seats: HashMap<PerformanceId, BTreeMap<SeatId, SeatLock>>,
    events: HashMap<String, Item>,
    stream: Vec<StreamedItem>,
    ledger: BTreeMap<(String, String), LedgerEntry>,
    keys: HashMap<String, KeyRecord>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    appended: Notify,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves no half-applied write (every write checks all its
        // conditions before it changes anything), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stream records after `sequence_number`, oldest first, at most `max`.
    pub fn stream_after(&self, sequence_number: u64, max: usize) -> Vec<StreamedItem> {
        let state = self.state();
        let start = state.stream.partition_point(|r| r.sequence_number <= sequence_number);
        state.stream[start..].iter().take(max).cloned().collect()
    }

    /// Waits until a record is appended to the stream after this call began.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// Every ledger entry, for audits in tests.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.state().ledger.values().cloned().collect()
    }
}

impl State {
    fn seat(&self, performance: &PerformanceId, seat: &SeatId) -> Option<&SeatLock> {
        self.seats.get(performance)?.get(seat)
    }

    fn seat_mut(&mut self, performance: &PerformanceId, seat: &SeatId) -> Option<&mut SeatLock> {
        self.seats.get_mut(performance)?.get_mut(seat)
    }
}

impl State {
    /// Whether `completion` may complete its key: the claim it names still holds it.
    fn holds_claim(&self, completion: &Option<Completion>) -> bool {
        completion.as_ref().is_none_or(|c| {
            self.keys
                .get(&c.key)
                .is_some_and(|r| r.state == KeyState::InFlight && r.claim_token == c.claim_token)
        })
    }

    /// Stores an event and appends it to the change stream.
    fn append_event(&mut self, id: String, item: Item) {
        let sequence_number = self.stream.last().map_or(1, |r| r.sequence_number + 1);
        self.events.insert(id, item.clone());
        self.stream.push(StreamedItem {
            sequence_number,
            new_image: item,
        });
    }

    fn complete(&mut self, completion: &Option<Completion>) {
        if let Some(c) = completion {
            if let Some(record) = self.keys.get_mut(&c.key) {
                record.state = KeyState::Completed;
                record.response = Some(c.response.clone());
            }
        }
    }
}

fn intent_for<'a>(state: &'a State, booking: &BookingId) -> Option<&'a PaymentIntent> {
    state.intents.get(&booking.payment_intent_id())
}

#[async_trait]
impl SeatHolds for MemoryStore {
    async fn seat_locks(&self, performance: &PerformanceId, _: Consistency) -> Result<Vec<SeatLock>, StoreError> {
        let state = self.state();
        Ok(state
            .seats
            .get(performance)
            .map(|seats| seats.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn seat_locks_between(
        &self,
        performance: &PerformanceId,
        first: &SeatId,
        last: &SeatId,
    ) -> Result<Vec<SeatLock>, StoreError> {
        let state = self.state();
        Ok(state
            .seats
            .get(performance)
            .map(|seats| {
                seats
                    .values()
                    .filter(|lock| (first..=last).contains(&&lock.seat_id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError> {
        let mut state = self.state();
        if !state.holds_claim(&hold.idempotency) {
            return Err(HoldError::KeyTaken);
        }
        if state.bookings.contains_key(&hold.booking.booking_id)
            || state.intents.contains_key(&hold.intent.payment_intent_id)
        {
            return Err(HoldError::SeatsTaken(Vec::new()));
        }
        let mut refused = Vec::new();
        for lock in &hold.locks {
            let expected = hold.replaces.iter().find(|r| r.seat_id == lock.seat_id);
            let free = match (state.seat(&lock.performance_id, &lock.seat_id), expected) {
                (None, None) => true,
                (Some(current), Some(seen)) if current == seen && current.is_lapsed(now) => {
                    intent_for(&state, &current.booking_id).is_some_and(|i| i.lets_lapsed_seats_go_at(now))
                }
                _ => false,
            };
            if !free {
                refused.push(lock.seat_id.clone());
            }
        }
        if !refused.is_empty() {
            return Err(HoldError::SeatsTaken(refused));
        }
        for old in &hold.replaces {
            if let Some(intent) = state.intents.get_mut(&old.booking_id.payment_intent_id()) {
                intent.seats_released_at = Some(now);
            }
        }
        for lock in &hold.locks {
            state
                .seats
                .entry(lock.performance_id.clone())
                .or_default()
                .insert(lock.seat_id.clone(), lock.clone());
        }
        state.complete(&hold.idempotency);
        state
            .bookings
            .insert(hold.booking.booking_id.clone(), hold.booking.clone());
        state
            .intents
            .insert(hold.intent.payment_intent_id.clone(), hold.intent.clone());
        Ok(())
    }
}

#[async_trait]
impl PaymentRecords for MemoryStore {
    async fn booking(&self, id: &BookingId) -> Result<Option<Booking>, StoreError> {
        Ok(self.state().bookings.get(id).cloned())
    }

    async fn record_payment(&self, outcome: &PaymentOutcome, now: Timestamp) -> Result<(), RecordError> {
        let event = match &outcome.event {
            Some(event) => {
                let item: Item = serde_dynamo::to_item(event).map_err(|e| StoreError::Malformed(e.to_string()))?;
                Some((event.event_id.to_string(), item))
            }
            None => None,
        };
        {
            let mut state = self.state();
            if !state.holds_claim(&outcome.idempotency) {
                return Err(RecordError::KeyTaken);
            }
            let intent = state
                .intents
                .get(&outcome.payment_intent_id)
                .ok_or(RecordError::NotFound)?;
            if !intent.is_payable_at(now) || !outcome.status.reachable_from().contains(&intent.status) {
                return Err(RecordError::NotPayable(Box::new(intent.clone())));
            }
            if let Some((event_id, _)) = event.as_ref().filter(|(id, _)| state.events.contains_key(id)) {
                return Err(RecordError::Store(StoreError::Malformed(format!(
                    "event {event_id} exists"
                ))));
            }
            if let Some(intent) = state.intents.get_mut(&outcome.payment_intent_id) {
                intent.status = outcome.status;
                intent.pg_mock_data = Some(outcome.pg.clone());
                intent.updated_at = now;
            }
            state.complete(&outcome.idempotency);
            if let Some((event_id, item)) = event {
                state.append_event(event_id, item);
            }
        }
        self.appended.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl IdempotencyKeys for MemoryStore {
    async fn claim_key(&self, record: &KeyRecord, now: Timestamp) -> Result<Claimed, StoreError> {
        let mut state = self.state();
        if let Some(holder) = state.keys.get(&record.idempotency_key).filter(|r| !r.is_free_at(now)) {
            return Ok(Claimed::Taken(holder.clone()));
        }
        state.keys.insert(record.idempotency_key.clone(), record.clone());
        Ok(Claimed::Fresh(record.clone()))
    }

    async fn complete_key(&self, completion: &Completion) -> Result<bool, StoreError> {
        let mut state = self.state();
        let completion = Some(completion.clone());
        if !state.holds_claim(&completion) {
            return Ok(false);
        }
        state.complete(&completion);
        Ok(true)
    }

    async fn release_key(&self, key: &str, claim_token: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        if state
            .keys
            .get(key)
            .is_some_and(|r| r.state == KeyState::InFlight && r.claim_token == claim_token)
        {
            state.keys.remove(key);
        }
        Ok(())
    }

    async fn key_record(&self, key: &str) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.state().keys.get(key).cloned())
    }
}

#[async_trait]
impl Inbox for MemoryStore {
    async fn put_event<T: Serialize + Sync>(&self, id: &EventId, event: &T) -> Result<bool, StoreError> {
        let item: Item = serde_dynamo::to_item(event).map_err(|e| StoreError::Malformed(e.to_string()))?;
        {
            let mut state = self.state();
            let id = id.to_string();
            if state.events.contains_key(&id) {
                return Ok(false);
            }
            state.append_event(id, item);
        }
        self.appended.notify_waiters();
        Ok(true)
    }
}

#[async_trait]
impl BookingHistory for MemoryStore {
    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError> {
        let state = self.state();
        let mut mine: Vec<Booking> = state
            .bookings
            .values()
            .filter(|b| &b.user_id == user)
            .cloned()
            .collect();
        mine.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        mine.truncate(limit);
        Ok(mine)
    }
}

/// Moves an intent to `to` if it may come from where it is (and, to succeed, still has its seats).
fn move_intent(state: &mut State, id: &PaymentIntentId, to: IntentStatus, at: Timestamp) -> bool {
    let Some(intent) = state.intents.get_mut(id) else {
        return false;
    };
    let movable = to.reachable_from().contains(&intent.status)
        && (to != IntentStatus::Succeeded || intent.seats_released_at.is_none());
    if movable {
        intent.status = to;
        intent.updated_at = at;
    }
    movable
}

/// Checks a booking may move to `to`; `Err` carries what to answer when it may not.
fn check_transition(state: &State, id: &BookingId, to: BookingStatus) -> Result<(), Applied> {
    match state.bookings.get(id) {
        None => Err(Applied::NoSuchBooking),
        Some(b) if !b.status.can_become(to) => Err(Applied::AlreadyFinal(b.status)),
        Some(_) => Ok(()),
    }
}

fn set_status(state: &mut State, id: &BookingId, to: BookingStatus, at: Timestamp) {
    if let Some(b) = state.bookings.get_mut(id) {
        b.status = to;
        b.updated_at = at;
    }
}

#[async_trait]
impl Settlements for MemoryStore {
    async fn read_booking(&self, id: &BookingId, _: Consistency) -> Result<Option<Booking>, StoreError> {
        Ok(self.state().bookings.get(id).cloned())
    }

    async fn settle(&self, s: &Settlement) -> Result<Applied, StoreError> {
        let mut state = self.state();
        if let Err(answer) = check_transition(&state, &s.booking_id, BookingStatus::Confirmed) {
            return Ok(answer);
        }
        if let Some(intent_id) = &s.intent {
            let movable = state.intents.get(intent_id).is_some_and(|i| {
                IntentStatus::Succeeded.reachable_from().contains(&i.status) && i.seats_released_at.is_none()
            });
            if !movable {
                return Ok(Applied::PaymentRecorded);
            }
        }
        for seat in &s.seat_ids {
            let ours = state
                .seat(&s.performance_id, seat)
                .is_some_and(|l| l.booking_id == s.booking_id);
            if !ours {
                return Err(StoreError::Malformed(format!(
                    "seat {seat} is not locked for booking {}",
                    s.booking_id
                )));
            }
        }
        if s.entries.iter().any(|e| {
            state
                .ledger
                .contains_key(&(e.transaction_id.clone(), e.entry_id.clone()))
        }) {
            return Err(StoreError::Malformed(format!(
                "booking {} already has a capture",
                s.booking_id
            )));
        }
        if let Some(id) = &s.intent {
            move_intent(&mut state, id, IntentStatus::Succeeded, s.at);
        }
        set_status(&mut state, &s.booking_id, BookingStatus::Confirmed, s.at);
        for seat in &s.seat_ids {
            if let Some(lock) = state.seat_mut(&s.performance_id, seat) {
                lock.status = SeatState::Sold;
                lock.locked_until = None;
            }
        }
        for e in &s.entries {
            state
                .ledger
                .insert((e.transaction_id.clone(), e.entry_id.clone()), e.clone());
        }
        Ok(Applied::Done)
    }

    async fn release(&self, r: &Release) -> Result<Applied, StoreError> {
        let mut state = self.state();
        if let Err(answer) = check_transition(&state, &r.booking_id, r.to) {
            return Ok(answer);
        }
        if r.to == BookingStatus::Expired {
            let lapsed = state
                .bookings
                .get(&r.booking_id)
                .is_some_and(|b| b.hold_expires_at <= r.at);
            if !lapsed {
                return Ok(Applied::NotDue);
            }
        }
        if let Some((intent_id, to)) = &r.intent {
            if !move_intent(&mut state, intent_id, *to, r.at) {
                return Ok(Applied::PaymentRecorded);
            }
        }
        set_status(&mut state, &r.booking_id, r.to, r.at);
        for seat in &r.seat_ids {
            // A lapsed lock may already have gone to another booking: only our own locks are freed.
            if state
                .seat(&r.performance_id, seat)
                .is_some_and(|l| l.booking_id == r.booking_id)
            {
                if let Some(seats) = state.seats.get_mut(&r.performance_id) {
                    seats.remove(seat);
                }
            }
        }
        Ok(Applied::Done)
    }

    async fn annotate_event(&self, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError> {
        let mut state = self.state();
        let item = state
            .events
            .get_mut(event.as_str())
            .ok_or_else(|| StoreError::Malformed(format!("no event {event} to annotate")))?;
        item.insert("note".to_owned(), serde_dynamo::AttributeValue::S(note.to_owned()));
        item.insert("notedAt".to_owned(), serde_dynamo::AttributeValue::S(at.to_rfc3339()));
        Ok(())
    }
}

#[async_trait]
impl Inspect for MemoryStore {
    async fn event(&self, id: &EventId) -> Result<Option<Item>, StoreError> {
        Ok(self.state().events.get(id.as_str()).cloned())
    }

    async fn payment_intent(&self, id: &PaymentIntentId) -> Result<Option<PaymentIntent>, StoreError> {
        Ok(self.state().intents.get(id).cloned())
    }

    async fn ledger_of(&self, booking: &BookingId) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self
            .state()
            .ledger
            .values()
            .filter(|e| &e.booking_id == booking)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl crate::audit::AuditSource for MemoryStore {
    async fn all_bookings(&self) -> Result<Vec<Booking>, StoreError> {
        Ok(self.state().bookings.values().cloned().collect())
    }

    async fn all_ledger_entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self.ledger())
    }

    async fn all_seat_locks(&self) -> Result<Vec<SeatLock>, StoreError> {
        Ok(self
            .state()
            .seats
            .values()
            .flat_map(|seats| seats.values().cloned())
            .collect())
    }
}
