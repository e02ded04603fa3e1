//! [`Settlements`]: a booking confirmed with its seats sold and its ledger written, or ended with its
//! seats freed, each in one transaction that only a `pending` booking passes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, Delete, TransactWriteItem, Update};
use ticketing_core::domain::{
    Booking, BookingId, BookingStatus, EventId, IntentStatus, PaymentIntentId, PerformanceId, SeatId, SeatState,
    Timestamp, UserId,
};
use ticketing_core::ports::{Applied, RefundOwed, Release, Settlement, Settlements, StoreError};

use super::expr::{
    booking_key, built, from_item, key, n, put_ledger, s, seat_key, to_item, user_seats_key, StatusUpdate,
};
use super::keys::complete_key_item;
use super::tx::{Cancelled, Tx};
use super::{unavailable, DynamoStore};

/// What each item of a settlement, release or refund owed stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Booking,
    Intent,
    Seat(SeatId),
    Ledger,
    Event,
    UserSeats,
    Key,
}

#[async_trait]
impl Settlements for DynamoStore {
    async fn settle(&self, st: &Settlement) -> Result<Applied, StoreError> {
        let mut tx = Tx::new();
        tx.push(
            Part::Booking,
            self.booking_transition(&st.user_id, &st.booking_id, BookingStatus::Confirmed, st.at, None)?,
        );
        if let Some(intent) = &st.intent {
            tx.push(
                Part::Intent,
                self.intent_transition(intent, IntentStatus::Succeeded, st.at)?,
            );
        }
        for seat in &st.seat_ids {
            let update = built(
                Update::builder()
                    .table_name(&self.tables.occupied_seats)
                    .set_key(Some(seat_key(&st.performance_id, seat)))
                    .update_expression("SET #status = :sold REMOVE lockedUntil")
                    .condition_expression("bookingId = :b")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":sold", s(SeatState::Sold.as_str()))
                    .expression_attribute_values(":b", s(st.booking_id.as_str()))
                    .build(),
            )?;
            tx.push(
                Part::Seat(seat.clone()),
                TransactWriteItem::builder().update(update).build(),
            );
        }
        tx.push(Part::Ledger, put_ledger(&self.tables.ledger_entries, &st.entries)?);
        match self.transact(tx).await {
            Ok(()) => Ok(Applied::Done),
            Err(Cancelled::Refused(refusal)) => {
                if let Some(reason) = refusal.failed_on(|p| *p == Part::Booking) {
                    return transition_refused(reason);
                }
                if refusal.failed_on(|p| *p == Part::Intent).is_some() {
                    return Ok(Applied::IntentSettledOtherwise);
                }
                Err(refusal.into_error())
            }
            Err(Cancelled::Other(e)) => Err(e),
        }
    }

    async fn release(&self, r: &Release) -> Result<Applied, StoreError> {
        // A lapsed lock that went to another booking (or is gone) is not ours to free: each refusal
        // drops the seats it names, so this ends within one try per seat.
        let mut seats: Vec<&SeatId> = r.seat_ids.iter().collect();
        loop {
            let lapsed_by = (r.to == BookingStatus::Expired).then_some(r.at);
            let mut tx = Tx::new();
            tx.push(
                Part::Booking,
                self.booking_transition(&r.user_id, &r.booking_id, r.to, r.at, lapsed_by)?,
            );
            if let Some((intent, to)) = &r.intent {
                tx.push(Part::Intent, self.intent_transition(intent, *to, r.at)?);
            }
            // The booking's seats leave its user's count, all of them (some may have gone to others).
            if r.counted {
                tx.push(
                    Part::UserSeats,
                    self.uncount_item(&r.user_id, &r.performance_id, r.seat_ids.len())?,
                );
            }
            if let Some(completion) = &r.idempotency {
                tx.push(Part::Key, complete_key_item(&self.tables, completion)?);
            }
            for seat in &seats {
                let delete = built(
                    Delete::builder()
                        .table_name(&self.tables.occupied_seats)
                        .set_key(Some(seat_key(&r.performance_id, seat)))
                        .condition_expression("bookingId = :b")
                        .expression_attribute_values(":b", s(r.booking_id.as_str()))
                        .build(),
                )?;
                tx.push(
                    Part::Seat((*seat).clone()),
                    TransactWriteItem::builder().delete(delete).build(),
                );
            }
            match self.transact(tx).await {
                Ok(()) => return Ok(Applied::Done),
                Err(Cancelled::Refused(refusal)) => {
                    if let Some(reason) = refusal.failed_on(|p| *p == Part::Booking) {
                        return transition_refused(reason);
                    }
                    if refusal.failed_on(|p| *p == Part::Intent).is_some() {
                        return Ok(Applied::IntentSettledOtherwise);
                    }
                    if refusal.failed_on(|p| *p == Part::Key).is_some() {
                        return Ok(Applied::KeyTaken);
                    }
                    let gone: Vec<&SeatId> = refusal
                        .failed()
                        .filter_map(|(part, _)| match part {
                            Part::Seat(seat) => Some(seat),
                            _ => None,
                        })
                        .collect();
                    if gone.is_empty() {
                        return Err(refusal.into_error());
                    }
                    seats.retain(|seat| !gone.contains(seat));
                }
                Err(Cancelled::Other(e)) => return Err(e),
            }
        }
    }

    async fn owe_refund(&self, owed: &RefundOwed) -> Result<bool, StoreError> {
        let mut tx = Tx::new();
        tx.push(Part::Ledger, put_ledger(&self.tables.ledger_entries, &owed.entries)?);
        let note = self.note_update(&owed.event_id, &owed.note, owed.at)?;
        tx.push(Part::Event, TransactWriteItem::builder().update(note).build());
        // The booking's refund of the money, unless it has one (a booking ended once has one refund).
        if let Some(entry) = owed.entries.first() {
            let refund = built(
                Update::builder()
                    .table_name(&self.tables.bookings)
                    .set_key(Some(booking_key(&owed.user_id, &entry.booking_id)))
                    .update_expression("SET refund = if_not_exists(refund, :refund)")
                    .condition_expression("attribute_exists(bookingId)")
                    .expression_attribute_values(":refund", AttributeValue::M(to_item(&owed.refund)?))
                    .build(),
            )?;
            tx.push(Part::Booking, TransactWriteItem::builder().update(refund).build());
        }
        match self.transact(tx).await {
            Ok(()) => Ok(true),
            // Booked by an earlier delivery of the same event.
            Err(Cancelled::Refused(refusal)) if refusal.failed_on(|p| *p == Part::Ledger).is_some() => Ok(false),
            Err(Cancelled::Refused(refusal)) => Err(refusal.into_error()),
            Err(Cancelled::Other(e)) => Err(e),
        }
    }

    async fn annotate_event(&self, event: &EventId, note: &str, at: Timestamp) -> Result<(), StoreError> {
        // The same update as in a refund owed's transaction, sent on its own.
        let u = self.note_update(event, note, at)?;
        self.client
            .update_item()
            .table_name(u.table_name())
            .set_key(Some(u.key().clone()))
            .update_expression(u.update_expression())
            .set_condition_expression(u.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(u.expression_attribute_values().cloned())
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

impl DynamoStore {
    /// Leaves `note` on a stored inbox event.
    fn note_update(&self, event: &EventId, note: &str, at: Timestamp) -> Result<Update, StoreError> {
        built(
            Update::builder()
                .table_name(&self.tables.events)
                .set_key(Some(key("eventId", event.as_str())))
                .update_expression("SET note = :note, notedAt = :at")
                .condition_expression("attribute_exists(eventId)")
                .expression_attribute_values(":note", s(note))
                .expression_attribute_values(":at", s(at.to_rfc3339()))
                .build(),
        )
    }
}

impl DynamoStore {
    /// Takes `seats` seats off `user`'s count for `performance` (a release, a cancellation).
    pub(super) fn uncount_item(
        &self,
        user: &UserId,
        performance: &PerformanceId,
        seats: usize,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = built(
            Update::builder()
                .table_name(&self.tables.user_seats)
                .set_key(Some(user_seats_key(user, performance)))
                .update_expression("ADD seats :minus")
                .expression_attribute_values(":minus", n(-i64::try_from(seats).unwrap_or(0)))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Moves a booking to `to` from `pending` (a settlement or a release: the booking's payment is
    /// decided); on refusal, returns the old item. With `lapsed_by`, the booking's hold must also have
    /// lapsed by then.
    pub(super) fn booking_transition(
        &self,
        user: &UserId,
        id: &BookingId,
        to: BookingStatus,
        at: Timestamp,
        lapsed_by: Option<Timestamp>,
    ) -> Result<TransactWriteItem, StoreError> {
        StatusUpdate {
            table: &self.tables.bookings,
            key: booking_key(user, id),
            to: to.as_str(),
            from: to
                .reachable_from()
                .iter()
                .filter(|st| **st == BookingStatus::Pending)
                .map(|st| st.as_str())
                .collect(),
            at,
            also: lapsed_by.map(|t| {
                (
                    "holdExpiresAt <= :lapsed",
                    HashMap::from([(":lapsed".to_owned(), n(t.as_millis()))]),
                )
            }),
            // On refusal the old item tells why: already final, or not due yet.
            return_old: true,
        }
        .item()
    }

    /// Moves a payment intent to `to` from the states it may come from; an intent whose seats were
    /// given away can no longer succeed.
    fn intent_transition(
        &self,
        id: &PaymentIntentId,
        to: IntentStatus,
        at: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        StatusUpdate {
            table: &self.tables.payment_intents,
            key: key("paymentIntentId", id.as_str()),
            to: to.as_str(),
            from: to.reachable_from().iter().map(|st| st.as_str()).collect(),
            at,
            also: (to == IntentStatus::Succeeded).then(|| ("attribute_not_exists(seatsReleasedAt)", HashMap::new())),
            return_old: false,
        }
        .item()
    }
}

/// What a refused transition found: the booking had already moved on, or does not exist.
fn transition_refused(reason: &CancellationReason) -> Result<Applied, StoreError> {
    match reason.item() {
        None => Ok(Applied::NoSuchBooking),
        Some(item) => {
            let booking: Booking = from_item(item.clone())?;
            Ok(match booking.status {
                BookingStatus::Pending => Applied::NotDue,
                status => Applied::AlreadyFinal(status),
            })
        }
    }
}
