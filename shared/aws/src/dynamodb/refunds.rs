//! [`Refunds`]: a paid booking cancelled with its seats back on sale and its refund asked, and the
//! gateway's answers to refund attempts, each in one transaction whose conditions make a redelivery
//! change nothing.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use ticketing_core::domain::refund::RefundStatus;
use ticketing_core::domain::{Booking, BookingId, BookingStatus, SeatId, SeatState, Timestamp, UserId};
use ticketing_core::ports::{Applied, Cancellation, RefundApplied, Refunds, StoreError};

use super::expr::{booking_key, built, conditional, from_item, n, put_ledger, s, seat_key, to_item};
use super::keys::complete_key_item;
use super::tx::{Cancelled, Tx};
use super::DynamoStore;

/// What each item of a cancellation or a refund's answer stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Booking,
    Seat(SeatId),
    UserSeats,
    Ledger,
    Key,
}

#[async_trait]
impl Refunds for DynamoStore {
    async fn cancel_paid(&self, c: &Cancellation) -> Result<Applied, StoreError> {
        let mut tx = Tx::new();
        let booking = built(
            Update::builder()
                .table_name(&self.tables.bookings)
                .set_key(Some(booking_key(&c.user_id, &c.booking_id)))
                .update_expression("SET #status = :cancelled, refund = :refund, updatedAt = :at")
                .condition_expression("#status = :confirmed")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":cancelled", s(BookingStatus::Cancelled.as_str()))
                .expression_attribute_values(":confirmed", s(BookingStatus::Confirmed.as_str()))
                .expression_attribute_values(":refund", AttributeValue::M(to_item(&c.refund)?))
                .expression_attribute_values(":at", s(c.at.to_rfc3339()))
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        tx.push(Part::Booking, TransactWriteItem::builder().update(booking).build());
        for seat in &c.seat_ids {
            let delete = built(
                Delete::builder()
                    .table_name(&self.tables.occupied_seats)
                    .set_key(Some(seat_key(&c.performance_id, seat)))
                    .condition_expression("bookingId = :b AND #status = :sold")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":b", s(c.booking_id.as_str()))
                    .expression_attribute_values(":sold", s(SeatState::Sold.as_str()))
                    .build(),
            )?;
            tx.push(
                Part::Seat(seat.clone()),
                TransactWriteItem::builder().delete(delete).build(),
            );
        }
        if c.counted {
            tx.push(
                Part::UserSeats,
                self.uncount_item(&c.user_id, &c.performance_id, c.seat_ids.len())?,
            );
        }
        if let Some(completion) = &c.idempotency {
            tx.push(Part::Key, complete_key_item(&self.tables, completion)?);
        }
        match self.transact(tx).await {
            Ok(()) => Ok(Applied::Done),
            Err(Cancelled::Refused(refusal)) => match refusal.failed_on(|p| *p == Part::Booking) {
                Some(reason) => match reason.item() {
                    None => Ok(Applied::NoSuchBooking),
                    Some(item) => Ok(Applied::AlreadyFinal(from_item::<Booking>(item.clone())?.status)),
                },
                None if refusal.failed_on(|p| *p == Part::Key).is_some() => Ok(Applied::KeyTaken),
                None => Err(refusal.into_error()),
            },
            Err(Cancelled::Other(e)) => Err(e),
        }
    }

    async fn apply_refund(
        &self,
        user: &UserId,
        booking: &BookingId,
        refund_id: &str,
        applied: &RefundApplied,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let open = "refund.refundId = :refund AND refund.#rstatus <> :succeeded";
        match applied {
            RefundApplied::Succeeded { entries } => {
                let mut tx = Tx::new();
                let update = built(
                    Update::builder()
                        .table_name(&self.tables.bookings)
                        .set_key(Some(booking_key(user, booking)))
                        .update_expression(
                            "SET refund.#rstatus = :succeeded, updatedAt = :at REMOVE refund.failureCode",
                        )
                        .condition_expression(open)
                        .expression_attribute_names("#rstatus", "status")
                        .expression_attribute_values(":refund", s(refund_id))
                        .expression_attribute_values(":succeeded", s(RefundStatus::Succeeded.as_str()))
                        .expression_attribute_values(":at", s(at.to_rfc3339()))
                        .build(),
                )?;
                tx.push(Part::Booking, TransactWriteItem::builder().update(update).build());
                tx.push(Part::Ledger, put_ledger(&self.tables.ledger_entries, entries.as_ref())?);
                match self.transact(tx).await {
                    Ok(()) => Ok(true),
                    // A condition failed: applied by an earlier delivery, or the booking's refund is
                    // another. (Conflicts alone are retried by the stream.)
                    Err(Cancelled::Refused(refusal)) if refusal.failed().next().is_some() => Ok(false),
                    Err(Cancelled::Refused(refusal)) => Err(refusal.into_error()),
                    Err(Cancelled::Other(e)) => Err(e),
                }
            }
            RefundApplied::Declined { attempt, failure_code } => {
                let update = self
                    .client
                    .update_item()
                    .table_name(&self.tables.bookings)
                    .set_key(Some(booking_key(user, booking)))
                    .update_expression(
                        "SET refund.#rstatus = :failed, refund.attempts = :attempt, refund.failureCode = :code, updatedAt = :at",
                    )
                    .condition_expression(format!("{open} AND refund.attempts < :attempt"))
                    .expression_attribute_names("#rstatus", "status")
                    .expression_attribute_values(":refund", s(refund_id))
                    .expression_attribute_values(":succeeded", s(RefundStatus::Succeeded.as_str()))
                    .expression_attribute_values(":failed", s(RefundStatus::Failed.as_str()))
                    .expression_attribute_values(":attempt", n(i64::from(*attempt)))
                    .expression_attribute_values(":code", s(failure_code))
                    .expression_attribute_values(":at", s(at.to_rfc3339()))
                    .send()
                    .await;
                conditional(update)
            }
        }
    }
}
