//! [`SeatLocks`] and [`Holds`]; the DynamoDB store's `holds.rs` writes the same rules as conditions.

use async_trait::async_trait;
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{PerformanceId, SeatId, Timestamp};
use ticketing_core::ports::{Consistency, HoldError, Holds, NewHold, SeatLocks, StoreError, TakenSeat};

use super::{intent_for, MemoryStore};

#[async_trait]
impl SeatLocks for MemoryStore {
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
}

#[async_trait]
impl Holds for MemoryStore {
    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError> {
        let mut state = self.state();
        if !state.holds_claim(&hold.idempotency) {
            return Err(HoldError::KeyTaken);
        }
        let count_key = (hold.booking.user_id.clone(), hold.booking.performance_id.clone());
        let counted = state.user_seats.get(&count_key).copied().unwrap_or(0);
        let quantity = hold.booking.quantity.get();
        if hold.seat_limit.is_some_and(|limit| counted + quantity > limit) {
            return Err(HoldError::LimitReached);
        }
        if state.bookings.contains_key(&hold.booking.booking_id)
            || state.intents.contains_key(&hold.intent.payment_intent_id)
        {
            return Err(HoldError::SeatsTaken(Vec::new()));
        }
        let mut refused = Vec::new();
        for lock in &hold.locks {
            let expected = hold.replaces.iter().find(|r| r.seat_id == lock.seat_id);
            let current = state.seat(&lock.performance_id, &lock.seat_id);
            let refusal = match (current, expected) {
                (None, None) => None,
                (Some(current), Some(seen)) if current == seen && current.is_lapsed(now) => {
                    // The lock is as seen, but its booking may still be paid.
                    let lets_go =
                        intent_for(&state, &current.booking_id).is_some_and(|i| i.lets_lapsed_seats_go_at(now));
                    (!lets_go).then_some(None)
                }
                (current, _) => Some(current.cloned()),
            };
            if let Some(lock_now) = refusal {
                refused.push(TakenSeat {
                    seat_id: lock.seat_id.clone(),
                    lock: lock_now,
                });
            }
        }
        if !refused.is_empty() {
            return Err(HoldError::SeatsTaken(refused));
        }
        // The one fallible step goes first: nothing is written unless everything is.
        state.insert_booking(hold.booking.clone())?;
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
        if hold.seat_limit.is_some() {
            state.user_seats.insert(count_key, counted + quantity);
        }
        state.complete(&hold.idempotency);
        state
            .intents
            .insert(hold.intent.payment_intent_id.clone(), hold.intent.clone());
        drop(state);
        self.appended.notify_waiters();
        Ok(())
    }
}
