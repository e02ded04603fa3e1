//! [`SeatLocks`] and [`Holds`]: the seat locks of a performance, and the hold transaction.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{BookingId, IntentStatus, PerformanceId, SeatId, SeatState, Timestamp};
use ticketing_core::ports::{Consistency, HoldError, Holds, NewHold, SeatLocks, StoreError, TakenSeat};

use super::expr::{built, from_item, key, n, put_new, s, status_in, to_item, user_seats_key};
use super::keys::complete_key_item;
use super::tx::{Cancelled, Tx};
use super::DynamoStore;

/// What each item of a hold transaction stands for.
#[derive(Clone, Debug)]
enum Part {
    Booking,
    Intent,
    Lock(SeatId),
    /// The intent of a lapsed booking whose seats are taken over.
    LapsedIntent(BookingId),
    UserSeats,
    Key,
}

#[async_trait]
impl SeatLocks for DynamoStore {
    async fn seat_locks(
        &self,
        performance: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Vec<SeatLock>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("performanceId = :p")
            .expression_attribute_values(":p", s(performance.as_str()));
        self.locks(query, consistency).await
    }

    async fn seat_locks_between(
        &self,
        performance: &PerformanceId,
        first: &SeatId,
        last: &SeatId,
    ) -> Result<Vec<SeatLock>, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("performanceId = :p AND seatId BETWEEN :first AND :last")
            .expression_attribute_values(":p", s(performance.as_str()))
            .expression_attribute_values(":first", s(first.as_str()))
            .expression_attribute_values(":last", s(last.as_str()));
        self.locks(query, Consistency::Strong).await
    }
}

#[async_trait]
impl Holds for DynamoStore {
    async fn hold(&self, hold: &NewHold, now: Timestamp) -> Result<(), HoldError> {
        let mut tx = Tx::new();
        tx.push(
            Part::Booking,
            put_new(&self.tables.bookings, to_item(&hold.booking)?, "bookingId")?,
        );
        tx.push(
            Part::Intent,
            put_new(&self.tables.payment_intents, to_item(&hold.intent)?, "paymentIntentId")?,
        );
        for lock in &hold.locks {
            tx.push(Part::Lock(lock.seat_id.clone()), self.lock_item(hold, lock, now)?);
        }
        // A lapsed hold's seats may go only if its payment did not and cannot go through; marking its
        // intent makes sure a late payment of it fails.
        let previous: BTreeSet<&BookingId> = hold.replaces.iter().map(|r| &r.booking_id).collect();
        for booking in previous {
            tx.push(Part::LapsedIntent(booking.clone()), self.let_go_item(booking, now)?);
        }
        if let Some(limit) = hold.seat_limit {
            tx.push(Part::UserSeats, self.count_seats_item(hold, limit)?);
        }
        if let Some(completion) = &hold.idempotency {
            tx.push(Part::Key, complete_key_item(&self.tables, completion)?);
        }
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Refused(refusal)) if refusal.failed_on(|p| matches!(p, Part::Key)).is_some() => {
                Err(HoldError::KeyTaken)
            }
            Err(Cancelled::Refused(refusal)) if refusal.failed_on(|p| matches!(p, Part::UserSeats)).is_some() => {
                Err(HoldError::LimitReached)
            }
            Err(Cancelled::Refused(refusal)) if refusal.lost_race() => {
                // A refused lock comes back as it stands (`ALL_OLD`): the next attempt knows who holds
                // the seat without reading it.
                let refused = refusal
                    .failed()
                    .flat_map(|(part, reason)| match part {
                        Part::Lock(seat) => vec![TakenSeat {
                            seat_id: seat.clone(),
                            lock: reason.item().and_then(|item| from_item(item.clone()).ok()),
                        }],
                        Part::LapsedIntent(booking) => hold
                            .replaces
                            .iter()
                            .filter(|r| &r.booking_id == booking)
                            .map(|r| TakenSeat {
                                seat_id: r.seat_id.clone(),
                                lock: None,
                            })
                            .collect(),
                        Part::Booking | Part::Intent | Part::UserSeats | Part::Key => vec![],
                    })
                    .collect();
                Err(HoldError::SeatsTaken(refused))
            }
            Err(Cancelled::Refused(refusal)) => Err(refusal.into_error().into()),
            Err(Cancelled::Other(e)) => Err(e.into()),
        }
    }
}

impl DynamoStore {
    /// The lock of one seat: on a seat nobody locked, or over the lapsed lock exactly as it was read.
    fn lock_item(&self, hold: &NewHold, lock: &SeatLock, now: Timestamp) -> Result<TransactWriteItem, StoreError> {
        let put = match hold.replaces.iter().find(|r| r.seat_id == lock.seat_id) {
            None => Put::builder().condition_expression("attribute_not_exists(seatId)"),
            Some(seen) => {
                let until = seen.locked_until.map_or(0, Timestamp::as_millis);
                Put::builder()
                    .condition_expression(
                        "bookingId = :old AND #status = :locked AND lockedUntil = :until AND lockedUntil <= :now",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":old", s(seen.booking_id.as_str()))
                    .expression_attribute_values(":locked", s(SeatState::Locked.as_str()))
                    .expression_attribute_values(":until", n(until))
                    .expression_attribute_values(":now", n(now.as_millis()))
            }
        };
        let put = built(
            put.table_name(&self.tables.occupied_seats)
                .set_item(Some(to_item(lock)?))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Adds the booking's seats to its user's count for the performance, within the limit:
    /// `seats <= limit - quantity` before the addition.
    fn count_seats_item(&self, hold: &NewHold, limit: u32) -> Result<TransactWriteItem, StoreError> {
        let b = &hold.booking;
        let quantity = i64::from(b.quantity.get());
        let update = Update::builder()
            .table_name(&self.tables.user_seats)
            .set_key(Some(user_seats_key(&b.user_id, &b.performance_id)))
            .update_expression("ADD seats :q")
            .expression_attribute_values(":q", n(quantity))
            .condition_expression("attribute_not_exists(seats) OR seats <= :room")
            .expression_attribute_values(":room", n(i64::from(limit) - quantity));
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    /// Marks a lapsed booking's intent as having let its seats go, if it may.
    fn let_go_item(&self, booking: &BookingId, now: Timestamp) -> Result<TransactWriteItem, StoreError> {
        let letting_go: Vec<&str> = IntentStatus::ALL
            .iter()
            .filter(|st| st.lets_lapsed_seats_go())
            .map(|st| st.as_str())
            .collect();
        let mut values = HashMap::from([
            (":now".to_owned(), n(now.as_millis())),
            (":at".to_owned(), s(now.to_rfc3339())),
        ]);
        let condition = format!("holdExpiresAt <= :now AND {}", status_in(&letting_go, &mut values));
        let update = built(
            Update::builder()
                .table_name(&self.tables.payment_intents)
                .set_key(Some(key("paymentIntentId", booking.payment_intent_id().as_str())))
                .update_expression("SET seatsReleasedAt = :at")
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
