//! `POST /webhooks/pg`, on both stores: signed notifications stored once and applied once; forged,
//! stale and unsigned ones refused with nothing stored.

use lambda_http::http::{Method, StatusCode};
use serde_dynamo::{AttributeValue, Item};
use ticketing_aws::events::process_stream;
use ticketing_core::domain::{EventId, IntentStatus};
use ticketing_testkit::mapping::{batch, record, Insert, StreamSource};
use ticketing_testkit::test_app::{
    booking_id, notification, request, webhook, Fixture, Setup, TestApp, TestStore, SECRET, USER,
};

use crate::helpers::on_both_stores;

const SUCCEEDED: &str = "payment_intent.succeeded";
const FAILED: &str = "payment_intent.payment_failed";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

async fn stored<S: TestStore>(app: &TestApp<S>, id: &str) -> Option<Item> {
    app.store
        .event(&EventId::try_from(id).expect("valid"))
        .await
        .expect("read")
}

/// Hands the stored notification `id` to the worker as its stream record would (twice with `again`).
async fn apply_stored<S: TestStore>(app: &TestApp<S>, id: &str, times: usize) {
    let item = stored(app, id).await.expect("stored");
    let records = (0..times)
        .map(|n| {
            record(
                &StreamSource::local("events"),
                Insert {
                    event_id: format!("{id}-{n}"),
                    sequence_number: format!("{n}"),
                    keys: Item::default(),
                    new_image: item.clone(),
                    created_at_millis: 0,
                    size_bytes: 0,
                },
            )
        })
        .collect();
    let applied = process_stream(&app.api.settle_events, batch(records)).await;
    assert!(
        applied.batch_item_failures.is_empty(),
        "{:?}",
        applied.batch_item_failures
    );
}

/// A booking of 2 seats paid with CVV 777 (the gateway processes it): the booking and the charge.
async fn processing<S: TestStore>(app: &TestApp<S>) -> (String, String) {
    let (_, created) = app.book(USER, 2).await;
    let booking = created["bookingId"].as_str().expect("id").to_owned();
    let (code, paid) = app.pay(USER, &booking, "777").await;
    assert_eq!(code, StatusCode::OK, "{paid}");
    let charge = paid["pgMockData"]["chargeId"].as_str().expect("a chargeId").to_owned();
    (booking, charge)
}

/// A booking whose payment is processing, and a signed notification about its charge accepted.
async fn notified<S: TestStore>(app: &TestApp<S>, event: &str, kind: &str, failure: Option<&str>) -> (String, String) {
    let (booking, charge) = processing(app).await;
    let body = notification(event, kind, &booking, &charge, 60_000, failure);
    assert_eq!(app.call(webhook(&body, SECRET, now())).await.0, StatusCode::OK);
    (booking, charge)
}

/// The note the worker left on stored event `id`.
async fn note_of<S: TestStore>(app: &TestApp<S>, id: &str) -> String {
    match stored(app, id).await.expect("stored").get("note") {
        Some(AttributeValue::S(note)) => note.clone(),
        other => panic!("no note on {id}: {other:?}"),
    }
}

on_both_stores!(
    forged_stale_unsigned_and_tampered_notifications_are_refused_with_nothing_stored,
    notifications_of_other_kinds_are_acknowledged_and_not_stored,
    a_valid_notification_is_stored_once_however_often_delivered,
    a_success_confirms_the_booking_and_its_intent_once,
    a_failure_after_a_success_changes_nothing_and_is_noted_as_a_contradiction,
    a_failure_fails_a_pending_booking_and_its_intent,
    a_notification_for_an_unknown_booking_is_parked_and_the_records_behind_it_apply,
    a_notification_for_another_charge_amount_or_currency_is_recorded_not_applied,
    a_signed_success_for_a_booking_nobody_paid_confirms_nothing,
);

async fn forged_stale_unsigned_and_tampered_notifications_are_refused_with_nothing_stored<S: TestStore>(
    fixture: Fixture<S>,
) {
    let app = Setup::seats(20).build(fixture).await;
    let (booking, charge) = processing(&app).await;
    let body = notification("evt_ok_1", SUCCEEDED, &booking, &charge, 60_000, None);
    let (code, answer) = app.call(webhook(&body, "whsec_not_the_secret", now())).await;
    assert_eq!(
        (code, answer["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("INVALID_SIGNATURE"))
    );
    assert_eq!(
        app.call(webhook(&body, SECRET, now() - 301)).await.0,
        StatusCode::UNAUTHORIZED,
        "stale"
    );
    let unsigned = request(Method::POST, "/webhooks/pg", None, Some(&body));
    assert_eq!(app.call(unsigned).await.0, StatusCode::BAD_REQUEST, "unsigned");
    let mut tampered = webhook(&body, SECRET, now());
    *tampered.body_mut() = lambda_http::Body::Text(body.replace("succeeded", "payment_failed"));
    assert_eq!(
        app.call(tampered).await.0,
        StatusCode::UNAUTHORIZED,
        "body changed after signing"
    );
    let (code, _) = app.call(webhook("{not json", SECRET, now())).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "signed garbage is still garbage");
    assert!(
        stored(&app, "evt_ok_1").await.is_none(),
        "nothing stored for refused notifications"
    );
}

async fn notifications_of_other_kinds_are_acknowledged_and_not_stored<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let refund = r#"{"id": "evt_other", "type": "charge.refunded", "created": 0, "data": {}}"#;
    let (code, ignored) = app.call(webhook(refund, SECRET, now())).await;
    assert_eq!((code, ignored["ignored"].as_bool()), (StatusCode::OK, Some(true)));
    assert!(stored(&app, "evt_other").await.is_none());
}

async fn a_valid_notification_is_stored_once_however_often_delivered<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let (booking, charge) = processing(&app).await;
    let body = notification("evt_ok_1", SUCCEEDED, &booking, &charge, 60_000, None);
    let (code, first) = app.call(webhook(&body, SECRET, now())).await;
    assert_eq!((code, first["duplicate"].as_bool()), (StatusCode::OK, Some(false)));
    let (code, again) = app.call(webhook(&body, SECRET, now() + 1)).await;
    assert_eq!((code, again["duplicate"].as_bool()), (StatusCode::OK, Some(true)));
    assert!(stored(&app, "evt_ok_1").await.is_some());
}

async fn a_success_confirms_the_booking_and_its_intent_once<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let (booking, _) = notified(&app, "evt_ok_1", SUCCEEDED, None).await;
    apply_stored(&app, "evt_ok_1", 2).await;
    app.wait_for_status(USER, &booking, "confirmed").await;
    let id = booking_id(&serde_json::json!({ "bookingId": booking }));
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Succeeded);
    assert_eq!(app.store.ledger_of(&id).await.expect("ledger").len(), 2, "settled once");
}

async fn a_failure_after_a_success_changes_nothing_and_is_noted_as_a_contradiction<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let (booking, charge) = notified(&app, "evt_ok_1", SUCCEEDED, None).await;
    apply_stored(&app, "evt_ok_1", 1).await;
    let failed = notification("evt_late_fail", FAILED, &booking, &charge, 60_000, Some("DECLINE_2"));
    assert_eq!(app.call(webhook(&failed, SECRET, now())).await.0, StatusCode::OK);
    apply_stored(&app, "evt_late_fail", 1).await;
    app.wait_for_status(USER, &booking, "confirmed").await;
    let noted = stored(&app, "evt_late_fail").await.expect("stored");
    assert!(
        matches!(noted.get("note"), Some(AttributeValue::S(note)) if note.starts_with("CONTRADICTED")),
        "{noted:?}"
    );
}

async fn a_failure_fails_a_pending_booking_and_its_intent<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let (booking, _) = notified(&app, "evt_fail_2", FAILED, Some("DECLINE_2")).await;
    apply_stored(&app, "evt_fail_2", 1).await;
    app.wait_for_status(USER, &booking, "failed").await;
    let id = booking_id(&serde_json::json!({ "bookingId": booking }));
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Failed);
    assert!(
        app.locks().await.iter().all(|l| l.booking_id != id),
        "its seats are free"
    );
}

/// The notification is kept with a note on first sight, not reported for a retry, and the records
/// behind it in the same batch are applied at once.
async fn a_notification_for_an_unknown_booking_is_parked_and_the_records_behind_it_apply<S: TestStore>(
    fixture: Fixture<S>,
) {
    let app = Setup::seats(20).build(fixture).await;
    let ghost = notification("evt_ghost", SUCCEEDED, "no-such-booking", "ch_ghost", 60_000, None);
    assert_eq!(app.call(webhook(&ghost, SECRET, now())).await.0, StatusCode::OK);
    let (booking, _) = notified(&app, "evt_ok_1", SUCCEEDED, None).await;
    let mut records = Vec::new();
    for (n, id) in ["evt_ghost", "evt_ok_1"].iter().enumerate() {
        records.push(record(
            &StreamSource::local("events"),
            Insert {
                event_id: format!("rec-{n}"),
                sequence_number: format!("{n}"),
                keys: Item::default(),
                new_image: stored(&app, id).await.expect("stored"),
                created_at_millis: 0,
                size_bytes: 0,
            },
        ));
    }
    let applied = process_stream(&app.api.settle_events, batch(records)).await;
    assert!(
        applied.batch_item_failures.is_empty(),
        "parked, not retried: {:?}",
        applied.batch_item_failures
    );
    app.wait_for_status(USER, &booking, "confirmed").await;
    let parked = stored(&app, "evt_ghost").await.expect("kept");
    assert!(
        matches!(parked.get("note"), Some(AttributeValue::S(note)) if note.starts_with("PARKED")),
        "{parked:?}"
    );
}

/// Whatever is signed, a notification applies only to the charge the booking's intent recorded, for
/// what it asked: another charge, amount or currency is noted and counted, never applied.
async fn a_notification_for_another_charge_amount_or_currency_is_recorded_not_applied<S: TestStore>(
    fixture: Fixture<S>,
) {
    let app = Setup::seats(20).build(fixture).await;
    let (booking, charge) = processing(&app).await;
    let wrong = [
        (
            "evt_other_charge",
            notification("evt_other_charge", SUCCEEDED, &booking, "ch_other", 60_000, None),
        ),
        (
            "evt_other_amount",
            notification("evt_other_amount", SUCCEEDED, &booking, &charge, 1, None),
        ),
        (
            "evt_other_currency",
            notification("evt_other_currency", SUCCEEDED, &booking, &charge, 60_000, None).replace("KRW", "USD"),
        ),
    ];
    for (id, body) in &wrong {
        assert_eq!(app.call(webhook(body, SECRET, now())).await.0, StatusCode::OK);
        apply_stored(&app, id, 1).await;
        assert!(note_of(&app, id).await.starts_with("NOTIFICATION_MISMATCH"), "{id}");
    }
    app.wait_for_status(USER, &booking, "pending").await;
    let id = booking_id(&serde_json::json!({ "bookingId": booking }));
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Processing);
    assert!(app.store.ledger_of(&id).await.expect("ledger").is_empty());
    // The right one still applies.
    let right = notification("evt_right", SUCCEEDED, &booking, &charge, 60_000, None);
    assert_eq!(app.call(webhook(&right, SECRET, now())).await.0, StatusCode::OK);
    apply_stored(&app, "evt_right", 1).await;
    app.wait_for_status(USER, &booking, "confirmed").await;
}

async fn a_signed_success_for_a_booking_nobody_paid_confirms_nothing<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(20).build(fixture).await;
    let (_, created) = app.book(USER, 2).await;
    let booking = created["bookingId"].as_str().expect("id").to_owned();
    let body = notification("evt_unpaid", SUCCEEDED, &booking, "ch_invented", 60_000, None);
    assert_eq!(app.call(webhook(&body, SECRET, now())).await.0, StatusCode::OK);
    apply_stored(&app, "evt_unpaid", 1).await;
    assert!(note_of(&app, "evt_unpaid")
        .await
        .starts_with("NOTIFICATION_MISMATCH: no charge was made"));
    app.wait_for_status(USER, &booking, "pending").await;
}
