//! Payments the gateway processes cannot hang: after the processing timeout the gateway is asked where
//! the charge stands and its answer applied; a charge still unresolved at the deadline is voided, its
//! booking failed and its seats freed. Meanwhile the seats are held, and the seat map says so.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::StatusCode;
use ticketing_core::app::ProcessingPolicy;
use ticketing_core::domain::{BookingId, BookingStatus, IntentStatus, ManualClock, Timestamp};
use ticketing_core::ports::HoldExpiry;
use ticketing_testkit::test_app::{booking_id, Fixture, Setup, TestApp, TestStore, USER};

use crate::helpers::on_both_stores;

const T0: i64 = 1_900_000_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_millis(T0 + seconds * 1000)
}

/// A hall of 4 seats, 60-second holds; charges reconciled after 900 s and voided after 3600 s.
async fn app<S: TestStore>(fixture: Fixture<S>) -> (TestApp<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(at(0)));
    let processing = ProcessingPolicy {
        timeout: Duration::from_secs(900),
        deadline: Duration::from_secs(3600),
        simulated_delay: Duration::from_secs(1),
    };
    let app = Setup::seats(4)
        .hold_seconds(60)
        .clock(clock.clone())
        .processing(processing)
        .build(fixture)
        .await;
    (app, clock)
}

/// Books 2 seats at 0 s and pays them with `cvv` at 10 s; the gateway calls nobody back.
async fn processing<S: TestStore>(app: &TestApp<S>, clock: &ManualClock, cvv: &str) -> BookingId {
    let (_, created) = app.book(USER, 2).await;
    clock.set(at(10));
    let (code, paid) = app.pay(USER, created["bookingId"].as_str().expect("id"), cvv).await;
    assert_eq!(
        (code, paid["finalStatus"].as_str()),
        (StatusCode::OK, Some("PROCESSING")),
        "{paid}"
    );
    booking_id(&created)
}

/// The hold's expiry (or its later look) comes due at `seconds`.
async fn expiry_at<S: TestStore>(app: &TestApp<S>, clock: &ManualClock, id: &BookingId, seconds: i64) {
    clock.set(at(seconds));
    app.api
        .expire_holds
        .expire_when_due(&HoldExpiry::for_booking(&app.booking(id).await))
        .await
        .expect("the expirer ran");
}

/// The held seats of a processing charge: held on the seat map, and nobody else's.
async fn assert_held<S: TestStore>(app: &TestApp<S>) {
    let states = app.seat_states().await;
    assert_eq!(
        &states[..2],
        [
            ("A1".to_owned(), "held".to_owned()),
            ("A2".to_owned(), "held".to_owned())
        ]
    );
    let (code, refused) = app.book("someone_else", 3).await;
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEATS_UNAVAILABLE"))
    );
}

on_both_stores!(
    a_processing_charge_nobody_notifies_is_reconciled_after_its_timeout,
    a_charge_the_gateway_never_resolves_is_voided_at_its_deadline_and_its_seats_sold_again,
);

async fn a_processing_charge_nobody_notifies_is_reconciled_after_its_timeout<S: TestStore>(fixture: Fixture<S>) {
    let (app, clock) = app(fixture).await;
    let id = processing(&app, &clock, "777").await;
    // The hold lapses while the gateway processes: not expired, looked at again at the timeout.
    expiry_at(&app, &clock, &id, 61).await;
    assert_eq!(app.booking(&id).await.status, BookingStatus::Pending);
    assert_held(&app).await;
    // The timeout: the gateway says the charge succeeded; the booking is confirmed and settled.
    expiry_at(&app, &clock, &id, 910).await;
    assert_eq!(app.booking(&id).await.status, BookingStatus::Confirmed);
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Succeeded);
    assert_eq!(app.store.ledger_of(&id).await.expect("ledger").len(), 2);
    let states = app.seat_states().await;
    assert_eq!(
        &states[..2],
        [
            ("A1".to_owned(), "sold".to_owned()),
            ("A2".to_owned(), "sold".to_owned())
        ]
    );
}

async fn a_charge_the_gateway_never_resolves_is_voided_at_its_deadline_and_its_seats_sold_again<S: TestStore>(
    fixture: Fixture<S>,
) {
    let (app, clock) = app(fixture).await;
    let id = processing(&app, &clock, "778").await;
    expiry_at(&app, &clock, &id, 61).await;
    // The timeout: still processing, so looked at again at the deadline; the seats stay held.
    expiry_at(&app, &clock, &id, 910).await;
    assert_eq!(app.booking(&id).await.status, BookingStatus::Pending);
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Processing);
    clock.set(at(3000));
    assert_held(&app).await;
    // The deadline: voided. The booking fails, its seats are free and go to someone else.
    expiry_at(&app, &clock, &id, 3610).await;
    assert_eq!(app.booking(&id).await.status, BookingStatus::Failed);
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Failed);
    assert!(app.store.ledger_of(&id).await.expect("ledger").is_empty());
    assert!(app.seat_states().await.iter().all(|(_, state)| state == "available"));
    let (code, theirs) = app.book("someone_else", 4).await;
    assert_eq!(code, StatusCode::CREATED, "{theirs}");
    let (code, paid) = app
        .pay("someone_else", theirs["bookingId"].as_str().expect("id"), "120")
        .await;
    assert_eq!((code, paid["finalStatus"].as_str()), (StatusCode::OK, Some("SUCCESS")));
}
