//! [`Refunds`]; the DynamoDB store's `refunds.rs` writes the same rules as conditions.

use async_trait::async_trait;
use ticketing_core::domain::refund::RefundStatus;
use ticketing_core::domain::{BookingId, BookingStatus, SeatState, Timestamp, UserId};
use ticketing_core::ports::{Applied, Cancellation, RefundApplied, Refunds, StoreError};

use super::MemoryStore;

#[async_trait]
impl Refunds for MemoryStore {
    async fn cancel_paid(&self, c: &Cancellation) -> Result<Applied, StoreError> {
        let mut state = self.state();
        match state.bookings.get(&c.booking_id) {
            None => return Ok(Applied::NoSuchBooking),
            Some(b) if b.status != BookingStatus::Confirmed => return Ok(Applied::AlreadyFinal(b.status)),
            Some(_) => {}
        }
        if !state.holds_claim(&c.idempotency) {
            return Ok(Applied::KeyTaken);
        }
        for seat in &c.seat_ids {
            let sold_to_it = state
                .seat(&c.performance_id, seat)
                .is_some_and(|l| l.booking_id == c.booking_id && l.status == SeatState::Sold);
            if !sold_to_it {
                return Err(StoreError::Malformed(format!(
                    "seat {seat} is not sold to booking {}",
                    c.booking_id
                )));
            }
        }
        state.complete(&c.idempotency);
        if let Some(booking) = state.bookings.get_mut(&c.booking_id) {
            booking.status = BookingStatus::Cancelled;
            booking.refund = Some(c.refund.clone());
            booking.updated_at = c.at;
        }
        if let Some(seats) = state.seats.get_mut(&c.performance_id) {
            for seat in &c.seat_ids {
                seats.remove(seat);
            }
        }
        let released = u32::try_from(c.seat_ids.len()).unwrap_or(u32::MAX);
        if let Some(count) = state
            .user_seats
            .get_mut(&(c.user_id.clone(), c.performance_id.clone()))
            .filter(|_| c.counted)
        {
            *count = count.saturating_sub(released);
        }
        Ok(Applied::Done)
    }

    async fn apply_refund(
        &self,
        user: &UserId,
        booking: &BookingId,
        refund_id: &str,
        applied: &RefundApplied,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let open = state
            .bookings
            .get(booking)
            .filter(|b| &b.user_id == user)
            .and_then(|b| b.refund.as_ref())
            .filter(|r| r.refund_id == refund_id && r.status != RefundStatus::Succeeded)
            .map(|r| r.attempts);
        let Some(attempts) = open else {
            return Ok(false);
        };
        match applied {
            RefundApplied::Succeeded { entries } => {
                if entries.iter().any(|e| {
                    state
                        .ledger
                        .contains_key(&(e.transaction_id.clone(), e.entry_id.clone()))
                }) {
                    return Ok(false);
                }
                for e in entries.iter() {
                    state
                        .ledger
                        .insert((e.transaction_id.clone(), e.entry_id.clone()), e.clone());
                }
                if let Some(refund) = state.bookings.get_mut(booking).and_then(|b| b.refund.as_mut()) {
                    refund.status = RefundStatus::Succeeded;
                    refund.failure_code = None;
                }
            }
            RefundApplied::Declined { attempt, failure_code } => {
                if *attempt <= attempts {
                    return Ok(false);
                }
                if let Some(refund) = state.bookings.get_mut(booking).and_then(|b| b.refund.as_mut()) {
                    refund.status = RefundStatus::Failed;
                    refund.attempts = *attempt;
                    refund.failure_code = Some(failure_code.clone());
                }
            }
        }
        if let Some(b) = state.bookings.get_mut(booking) {
            b.updated_at = at;
        }
        Ok(true)
    }
}
