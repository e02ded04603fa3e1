//! [`Settlements`]; the DynamoDB store's `settlements.rs` writes the same rules as conditions.

use async_trait::async_trait;
use ticketing_core::domain::{BookingId, BookingStatus, EventId, IntentStatus, PaymentIntentId, SeatState, Timestamp};
use ticketing_core::ports::{Applied, RefundOwed, Release, Settlement, Settlements, StoreError};

use super::{MemoryStore, State};

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

/// Checks a pending booking may move to `to` (a settlement or a release: its payment is decided);
/// `Err` carries what to answer when it may not.
fn check_transition(state: &State, id: &BookingId, to: BookingStatus) -> Result<(), Applied> {
    match state.bookings.get(id) {
        None => Err(Applied::NoSuchBooking),
        Some(b) if b.status != BookingStatus::Pending || !b.status.can_become(to) => {
            Err(Applied::AlreadyFinal(b.status))
        }
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
                return Ok(Applied::IntentSettledOtherwise);
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
        if !state.holds_claim(&r.idempotency) {
            return Ok(Applied::KeyTaken);
        }
        if let Some((intent_id, to)) = &r.intent {
            if !move_intent(&mut state, intent_id, *to, r.at) {
                return Ok(Applied::IntentSettledOtherwise);
            }
        }
        state.complete(&r.idempotency);
        set_status(&mut state, &r.booking_id, r.to, r.at);
        let released = u32::try_from(r.seat_ids.len()).unwrap_or(u32::MAX);
        if let Some(count) = state
            .user_seats
            .get_mut(&(r.user_id.clone(), r.performance_id.clone()))
            .filter(|_| r.counted)
        {
            *count = count.saturating_sub(released);
        }
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

    async fn owe_refund(&self, owed: &RefundOwed) -> Result<bool, StoreError> {
        let mut state = self.state();
        let booked = owed.entries.iter().any(|e| {
            state
                .ledger
                .contains_key(&(e.transaction_id.clone(), e.entry_id.clone()))
        });
        if booked {
            return Ok(false);
        }
        note_event(&mut state, &owed.event_id, &owed.note, owed.at)?;
        for e in &owed.entries {
            state
                .ledger
                .insert((e.transaction_id.clone(), e.entry_id.clone()), e.clone());
        }
        if let Some(booking) = owed.entries.first().and_then(|e| state.bookings.get_mut(&e.booking_id)) {
            booking.refund.get_or_insert_with(|| owed.refund.clone());
        }
        Ok(true)
    }

    async fn annotate_event(&self, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError> {
        note_event(&mut self.state(), event, note, at)
    }
}

/// Leaves `note` on a stored event, as the DynamoDB store's `note_update` does.
fn note_event(state: &mut State, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError> {
    let item = state
        .events
        .get_mut(event.as_str())
        .ok_or_else(|| StoreError::Malformed(format!("no event {event} to note")))?;
    item.insert("note".to_owned(), serde_dynamo::AttributeValue::S(note.to_owned()));
    item.insert("notedAt".to_owned(), serde_dynamo::AttributeValue::S(at.to_rfc3339()));
    Ok(())
}
