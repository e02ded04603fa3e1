//! [`Payments`]; the DynamoDB store's `payments.rs` writes the same rules as conditions.

use async_trait::async_trait;
use serde_dynamo::Item;
use ticketing_core::domain::payment::PaymentIntent;
use ticketing_core::domain::{PaymentIntentId, SeatState, Timestamp};
use ticketing_core::ports::{PaymentOutcome, Payments, RecordError, StoreError};

use super::MemoryStore;

#[async_trait]
impl Payments for MemoryStore {
    async fn payment_intent(&self, id: &PaymentIntentId) -> Result<Option<PaymentIntent>, StoreError> {
        Ok(self.state().intents.get(id).cloned())
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
            if let Some(held) = &outcome.locks_held_until {
                let ours = held.seat_ids.iter().all(|seat| {
                    state
                        .seat(&held.performance_id, seat)
                        .is_some_and(|l| l.booking_id == held.booking_id && l.status == SeatState::Locked)
                });
                if !ours {
                    return Err(RecordError::Store(StoreError::Malformed(format!(
                        "a seat of booking {} is not locked for it",
                        held.booking_id
                    ))));
                }
                for seat in &held.seat_ids {
                    if let Some(lock) = state.seat_mut(&held.performance_id, seat) {
                        lock.locked_until = Some(held.until);
                    }
                }
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
