//! The worker: each event of the inbox applied once, however often and in whatever order it is
//! delivered, and whatever kills the worker half-way.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use serde_dynamo::{AttributeValue, Item};
use ticketing_aws::events::process_stream;
use ticketing_core::app::InboxEvent;
use ticketing_core::audit;
use ticketing_core::domain::payment::{PaymentEvent, PaymentEventType};
use ticketing_core::domain::{Clock, ManualClock};
use ticketing_core::ports::{HoldExpiry, Inbox};
use ticketing_testkit::inspect::Inspect;
use ticketing_testkit::mapping::batch;
use ticketing_testkit::test_app::{booking_id, memory, Fixture, Setup, TestApp, TestStore, USER};

use crate::helpers::{assert_settled_once, on_both_stores, paid_mix};

/// Books and pays 2 seats per CVV without a worker running; the ids and the stream records.
async fn paid_bookings<S: TestStore>(
    app: &TestApp<S>,
    cvvs: &[&str],
) -> (Vec<String>, Vec<aws_lambda_events::event::dynamodb::EventRecord>) {
    let mut ids = Vec::new();
    for cvv in cvvs {
        ids.push(app.book_and_pay(USER, 2, cvv).await);
    }
    let mut shard = app.store.events_stream().await;
    let mut records = Vec::new();
    while records.len() < cvvs.len() {
        records.extend(shard.read(100).await.expect("records"));
    }
    (ids, records)
}

on_both_stores!(
    the_same_events_delivered_twice_change_nothing,
    every_event_replayed_three_times_in_random_order_changes_nothing,
    a_worker_killed_mid_batch_loses_and_doubles_nothing,
);

async fn the_same_events_delivered_twice_change_nothing<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let (ids, records) = paid_bookings(&app, &["120", "442", "120"]).await;
    assert_eq!(records.len(), 3, "a payment event per booking");
    let state = || async {
        let mut ledger = Vec::new();
        for id in &ids {
            let id = booking_id(&serde_json::json!({ "bookingId": id }));
            ledger.extend(app.store.ledger_of(&id).await.expect("ledger"));
        }
        (app.my_bookings(USER).await, app.locks().await, ledger)
    };
    let first = process_stream(&app.api.settle_events, batch(records.clone())).await;
    assert!(first.batch_item_failures.is_empty());
    let once = state().await;
    assert_eq!(once.2.len(), 4, "two confirmed bookings, two entries each");
    let second = process_stream(&app.api.settle_events, batch(records)).await;
    assert!(second.batch_item_failures.is_empty());
    assert_eq!(state().await, once);
}

/// Every event delivered three times, in random order, in random batches: the same end as once.
async fn every_event_replayed_three_times_in_random_order_changes_nothing<S: TestStore>(fixture: Fixture<S>) {
    const COUNT: usize = 200;
    let app = Setup::seats(COUNT).build(fixture).await;
    let mut shard = app.store.events_stream().await;
    let (expected, records) = paid_mix(&app, &mut *shard, COUNT).await;
    let mut deliveries: Vec<_> = [records.clone(), records.clone(), records].concat();
    deliveries.shuffle(&mut rand::rng());
    let total = deliveries.len();
    while !deliveries.is_empty() {
        let size = rand::rng().random_range(1..=50).min(deliveries.len());
        let chunk: Vec<_> = deliveries.drain(..size).collect();
        let response = process_stream(&app.api.settle_events, batch(chunk)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
    }
    println!("replay: {COUNT} bookings, {total} deliveries (every event 3 times, shuffled)");
    assert_settled_once(&app, &expected).await;
}

/// The worker killed at random points between reading a batch and acknowledging it: the mapping
/// delivers the batch again, and nothing is lost or doubled.
async fn a_worker_killed_mid_batch_loses_and_doubles_nothing<S: TestStore>(fixture: Fixture<S>) {
    const COUNT: usize = 100;
    let app = Setup::seats(COUNT).build(fixture).await;
    let mut shard = app.store.events_stream().await;
    let (expected, records) = paid_mix(&app, &mut *shard, COUNT).await;
    let mut kills = 0;
    let mut pending: VecDeque<_> = records.into();
    while !pending.is_empty() {
        let size = rand::rng().random_range(1..=10).min(pending.len());
        let mut chunk: Vec<_> = pending.iter().take(size).cloned().collect();
        // Most of the time a crash: the worker dies after a random number of the batch's records, at a
        // random instant of the next one, even inside a DynamoDB call; nothing is acknowledged.
        if rand::rng().random_bool(0.6) {
            chunk.truncate(rand::rng().random_range(0..=size));
            let budget = Duration::from_micros(rand::rng().random_range(0..20_000));
            let _ = tokio::time::timeout(budget, process_stream(&app.api.settle_events, batch(chunk))).await;
            kills += 1;
            continue;
        }
        let response = process_stream(&app.api.settle_events, batch(chunk)).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
        pending.drain(..size);
    }
    println!("crash: {COUNT} bookings, the worker killed {kills} times mid-batch");
    assert!(kills > 0, "the fault was injected");
    assert_settled_once(&app, &expected).await;
}

#[tokio::test]
async fn a_poisoned_record_is_the_only_one_reported() {
    let app = Setup::seats(20).build(memory()).await;
    let (ids, mut records) = paid_bookings(&app, &["120", "442"]).await;
    let mut poison = records[0].clone();
    poison.change.sequence_number = Some("999".to_owned());
    poison.change.new_image = Item::from(HashMap::from([(
        "eventId".to_owned(),
        AttributeValue::S("evt_poison".to_owned()),
    )]));
    records.insert(1, poison);
    let mut modify = records[0].clone();
    modify.event_name = "MODIFY".to_owned();
    modify.change.sequence_number = Some("1000".to_owned());
    records.push(modify);
    let response = process_stream(&app.api.settle_events, batch(records)).await;
    let failed: Vec<Option<&str>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref())
        .collect();
    assert_eq!(failed, [Some("999")]);
    app.wait_for_status(USER, &ids[0], "confirmed").await;
    app.wait_for_status(USER, &ids[1], "failed").await;
}

#[tokio::test]
async fn a_late_success_for_an_expired_booking_is_booked_as_a_refund_owed_not_applied() {
    let clock = Arc::new(ManualClock::at(ticketing_core::domain::SystemClock.now()));
    let app = Setup::seats(4)
        .hold_seconds(1)
        .clock(clock.clone())
        .build(memory())
        .await;
    let (_, created) = app.book(USER, 2).await;
    let id = booking_id(&created);
    let booking = app.booking(&id).await;
    clock.set(booking.hold_expires_at);
    app.api
        .expire_holds
        .expire_when_due(&HoldExpiry::for_booking(&booking))
        .await
        .expect("expired");
    // A success event the gateway delivered itself (as a webhook will), after the hold lapsed.
    let event = PaymentEvent::of(
        &booking,
        PaymentEventType::PaymentSucceeded,
        None,
        clock.now(),
        "pg-webhook",
    );
    assert!(app.store.put_event(&event.event_id, &event).await.expect("stored"));
    for _ in 0..2 {
        app.api
            .settle_events
            .apply(&InboxEvent::Payment(event.clone()))
            .await
            .expect("recorded");
    }
    app.wait_for_status(USER, id.as_str(), "expired").await;
    assert!(
        app.store.ledger_of(&id).await.expect("ledger").is_empty(),
        "no capture: not applied"
    );
    let stored = app.store.event(&event.event_id).await.expect("read").expect("exists");
    let note = match stored.get("note") {
        Some(AttributeValue::S(note)) => note.clone(),
        other => panic!("no note: {other:?}"),
    };
    assert!(note.starts_with("REFUND_OWED"), "{note}");
    // The money is in the books at once, once, however often the event came.
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.refunds_owed, [(id.clone(), 60_000, "KRW".to_owned())]);
    assert_eq!((report.ledger_transactions, report.ledger_total), (1, 0));
}
