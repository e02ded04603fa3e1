//! [`Payments`]: a charge's outcome on its payment intent, with the event that publishes it.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use ticketing_core::domain::payment::PaymentIntent;
use ticketing_core::domain::{PaymentIntentId, SeatState, Timestamp};
use ticketing_core::ports::{Consistency, PaymentOutcome, Payments, RecordError, StoreError};

use super::expr::{built, from_item, key, n, put_new, s, seat_key, status_in, to_item};
use super::keys::complete_key_item;
use super::tx::{Cancelled, Tx};
use super::DynamoStore;

/// What each item of a payment transaction stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Intent,
    Event,
    Lock,
    Key,
}

#[async_trait]
impl Payments for DynamoStore {
    async fn payment_intent(&self, id: &PaymentIntentId) -> Result<Option<PaymentIntent>, StoreError> {
        self.get(
            &self.tables.payment_intents,
            key("paymentIntentId", id.as_str()),
            Consistency::Strong,
        )
        .await
    }

    async fn record_payment(&self, outcome: &PaymentOutcome, now: Timestamp) -> Result<(), RecordError> {
        let payable: Vec<&str> = outcome
            .status
            .reachable_from()
            .iter()
            .filter(|st| st.is_payable())
            .map(|st| st.as_str())
            .collect();
        let mut values = HashMap::from([
            (":to".to_owned(), s(outcome.status.as_str())),
            (":pg".to_owned(), AttributeValue::M(to_item(&outcome.pg)?)),
            (":now".to_owned(), n(now.as_millis())),
            (":at".to_owned(), s(now.to_rfc3339())),
        ]);
        let condition = format!(
            "{} AND holdExpiresAt > :now AND attribute_not_exists(seatsReleasedAt)",
            status_in(&payable, &mut values)
        );
        let update = built(
            Update::builder()
                .table_name(&self.tables.payment_intents)
                .set_key(Some(key("paymentIntentId", outcome.payment_intent_id.as_str())))
                .update_expression("SET #status = :to, pgMockData = :pg, updatedAt = :at")
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build(),
        )?;
        let mut tx = Tx::new();
        tx.push(Part::Intent, TransactWriteItem::builder().update(update).build());
        if let Some(event) = &outcome.event {
            tx.push(Part::Event, put_new(&self.tables.events, to_item(event)?, "eventId")?);
        }
        if let Some(held) = &outcome.locks_held_until {
            for seat in &held.seat_ids {
                let update = built(
                    Update::builder()
                        .table_name(&self.tables.occupied_seats)
                        .set_key(Some(seat_key(&held.performance_id, seat)))
                        .update_expression("SET lockedUntil = :until")
                        .condition_expression("bookingId = :b AND #status = :locked")
                        .expression_attribute_names("#status", "status")
                        .expression_attribute_values(":until", n(held.until.as_millis()))
                        .expression_attribute_values(":b", s(held.booking_id.as_str()))
                        .expression_attribute_values(":locked", s(SeatState::Locked.as_str()))
                        .build(),
                )?;
                tx.push(Part::Lock, TransactWriteItem::builder().update(update).build());
            }
        }
        if let Some(completion) = &outcome.idempotency {
            tx.push(Part::Key, complete_key_item(&self.tables, completion)?);
        }
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Refused(refusal)) if refusal.failed_on(|p| *p == Part::Key).is_some() => {
                Err(RecordError::KeyTaken)
            }
            Err(Cancelled::Refused(refusal)) => match refusal.failed_on(|p| *p == Part::Intent) {
                Some(reason) => match reason.item() {
                    Some(item) => Err(RecordError::NotPayable(Box::new(from_item(item.clone())?))),
                    None => Err(RecordError::NotFound),
                },
                None => Err(refusal.into_error().into()),
            },
            Err(Cancelled::Other(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use ticketing_core::domain::payment::{PaymentEvent, PaymentEventType, PgResult};
    use ticketing_core::domain::{BookingId, Currency, EventId, IntentStatus, Money, PerformanceId, UserId};
    use ticketing_core::ports::StoreError;

    use super::super::tx::CONFLICT_RETRIES;
    use super::super::Tables;
    use super::*;

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .set_cancellation_reasons(Some(reasons))
                .build(),
        )
    }

    fn outcome() -> PaymentOutcome {
        let booking = BookingId::try_from("b-1").expect("valid");
        let money = Money::new(60_000, Currency::try_from("KRW".to_owned()).expect("valid"));
        let at = Timestamp::from_millis(1_000);
        PaymentOutcome {
            payment_intent_id: booking.payment_intent_id(),
            status: IntentStatus::Succeeded,
            pg: PgResult {
                charge_id: None,
                is_success: Some(true),
                failure_code: None,
                processed_at: at,
                resolves_at: None,
                refund_declines: 0,
            },
            event: Some(PaymentEvent {
                event_id: EventId::generate(),
                event_type: PaymentEventType::PaymentSucceeded,
                booking_id: booking.clone(),
                user_id: UserId::try_from("u").expect("valid"),
                payment_intent_id: booking.payment_intent_id(),
                performance_id: PerformanceId::try_from("p").expect("valid"),
                seat_ids: vec![],
                amount: money,
                failure_code: None,
                occurred_at: at,
                source: PaymentEvent::SOURCE_PG_SIMULATOR.to_owned(),
                seats_counted: false,
            }),
            locks_held_until: None,
            idempotency: None,
        }
    }

    #[tokio::test]
    async fn a_transaction_that_only_conflicted_is_tried_again() {
        let conflict = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(|| cancelled(&["TransactionConflict", "None"]));
        let success = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_output(|| TransactWriteItemsOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&conflict, &success]);
        let store = DynamoStore::new(client, Tables::prefixed("t_"));
        assert!(store
            .record_payment(&outcome(), Timestamp::from_millis(1_000))
            .await
            .is_ok());
        assert_eq!((conflict.num_calls(), success.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn endless_conflicts_give_up_as_a_store_error_not_a_refusal() {
        let conflict = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(|| cancelled(&["TransactionConflict", "None"]));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&conflict]);
        let store = DynamoStore::new(client, Tables::prefixed("t_"));
        let result = store.record_payment(&outcome(), Timestamp::from_millis(1_000)).await;
        assert!(
            matches!(result, Err(RecordError::Store(StoreError::Unavailable(_)))),
            "{result:?}"
        );
        assert_eq!(conflict.num_calls(), CONFLICT_RETRIES + 1);
    }

    #[tokio::test]
    async fn a_failed_condition_on_the_intent_says_how_it_stands() {
        let refused = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .then_error(|| cancelled(&["ConditionalCheckFailed", "None"]));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&refused]);
        let store = DynamoStore::new(client, Tables::prefixed("t_"));
        // No item came back with the refusal: there is no such intent.
        let result = store.record_payment(&outcome(), Timestamp::from_millis(1_000)).await;
        assert!(matches!(result, Err(RecordError::NotFound)), "{result:?}");
        assert_eq!(refused.num_calls(), 1, "a refusal is not retried");
    }
}
