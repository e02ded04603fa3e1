//! A way back: a customer cancels a booking; a paid one is refunded through the gateway, the refund's
//! answers are events the worker applies once, a declined refund is tried again until it succeeds, and
//! the ledger gets a reversal naming what it reverses; a payment that succeeded after its booking ended
//! is refunded the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::{Method, StatusCode};
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use ticketing_core::app::InboxEvent;
use ticketing_core::audit;
use ticketing_core::domain::ledger::Account;
use ticketing_core::domain::payment::{PaymentEvent, PaymentEventType};
use ticketing_core::domain::refund::{RefundAnswer, RefundEvent};
use ticketing_core::domain::{BookingId, BookingStatus, Clock, IntentStatus, ManualClock, SystemClock};
use ticketing_core::ports::HoldExpiry;
use ticketing_testkit::test_app::{
    booking_id, memory, request, webhook, with_key, Fixture, Setup, TestApp, TestStore, SECRET, USER,
};

use crate::helpers::{on_both_stores, with_worker};

async fn cancel<S: TestStore>(app: &TestApp<S>, user: &str, id: &str) -> (StatusCode, Value) {
    app.call(request(
        Method::POST,
        &format!("/bookings/{id}/cancel"),
        Some(user),
        None,
    ))
    .await
}

fn code(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or(""))
}

/// The booking as `GET /bookings/my` shows it.
async fn listed<S: TestStore>(app: &TestApp<S>, user: &str, id: &str) -> Value {
    app.my_bookings(user)
        .await
        .as_array()
        .and_then(|list| list.iter().find(|b| b["bookingId"] == id).cloned())
        .expect("listed")
}

/// Polls `GET /bookings/my` until the booking's refund reads `status` (20 s at most).
async fn wait_for_refund<S: TestStore>(app: &TestApp<S>, user: &str, id: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let booking = listed(app, user, id).await;
        if booking["refund"]["status"] == status {
            return booking;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "refund never {status}: {booking}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The booking's ledger entries into `account`.
async fn entries<S: TestStore>(app: &TestApp<S>, id: &BookingId, account: Account) -> usize {
    app.store
        .all_ledger_entries()
        .await
        .expect("ledger")
        .iter()
        .filter(|e| &e.booking_id == id && e.account == account)
        .count()
}

async fn a_pending_booking_is_cancelled_at_once_and_its_seats_are_free<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(2).build(fixture).await;
    let (_, created) = app.book(USER, 2).await;
    let id = booking_id(&created);
    let (status, answer) = cancel(&app, USER, id.as_str()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"bookingId": id.as_str(), "status": "cancelled", "refund": null})
    );
    assert_eq!(app.intent_of(&id).await.status, IntentStatus::Cancelled);
    assert!(app.locks().await.is_empty(), "its seats are free");
    let late = app.pay(USER, id.as_str(), "120").await;
    assert_eq!(
        late.0,
        StatusCode::CONFLICT,
        "a cancelled booking cannot be paid: {}",
        late.1
    );
    assert_eq!(
        app.book("another_user", 2).await.0,
        StatusCode::CREATED,
        "the seats sell again"
    );
}

async fn a_confirmed_booking_is_cancelled_its_seats_sold_again_and_refunded_once<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(2).build(fixture).await;
    with_worker(&app, async {
        let id = app.book_and_pay(USER, 2, "120").await;
        app.wait_for_status(USER, &id, "confirmed").await;
        let (status, answer) = cancel(&app, USER, &id).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["status"], "cancelled");
        let refund = &answer["refund"];
        assert_eq!(
            (&refund["amount"], &refund["currency"]),
            (&json!(60_000), &json!("KRW"))
        );
        assert!(
            refund["status"] == "pending" || refund["status"] == "succeeded",
            "{refund}"
        );
        let shown = wait_for_refund(&app, USER, &id, "succeeded").await;
        assert_eq!(shown["status"], "cancelled");
        assert_eq!(shown["refund"]["refundId"], refund["refundId"]);
        assert_eq!(
            app.book("another_user", 2).await.0,
            StatusCode::CREATED,
            "its seats sell again"
        );
    })
    .await;
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.reversals, report.refunds_in_progress.len()), (1, 0));
    assert_eq!(report.ledger_total, 0);
}

#[tokio::test]
async fn cancelling_twice_someone_elses_or_an_ended_booking_is_refused() {
    let app = Setup::seats(6).build(memory()).await;
    let (_, created) = app.book(USER, 1).await;
    let id = booking_id(&created);
    let theirs = cancel(&app, "someone_else", id.as_str()).await;
    assert_eq!(code(&theirs), (StatusCode::NOT_FOUND, "BOOKING_NOT_FOUND"));
    assert_eq!(cancel(&app, USER, id.as_str()).await.0, StatusCode::OK);
    let again = cancel(&app, USER, id.as_str()).await;
    assert_eq!(code(&again), (StatusCode::CONFLICT, "BOOKING_NOT_CANCELLABLE"));
    with_worker(&app, async {
        let failed = app.book_and_pay(USER, 1, "442").await;
        app.wait_for_status(USER, &failed, "failed").await;
        let refused = cancel(&app, USER, &failed).await;
        assert_eq!(code(&refused), (StatusCode::CONFLICT, "BOOKING_NOT_CANCELLABLE"));
    })
    .await;
    let unknown = cancel(&app, USER, "no-such-booking").await;
    assert_eq!(code(&unknown), (StatusCode::NOT_FOUND, "BOOKING_NOT_FOUND"));
    let bad = cancel(&app, USER, "bad%20id").await;
    assert_eq!(code(&bad), (StatusCode::BAD_REQUEST, "INVALID_BOOKING_ID"));
    let anonymous = app
        .call(request(Method::POST, &format!("/bookings/{id}/cancel"), None, None))
        .await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    let wrong_method = app
        .call(request(
            Method::GET,
            &format!("/bookings/{id}/cancel"),
            Some(USER),
            None,
        ))
        .await;
    assert_eq!(wrong_method.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_retried_cancellation_with_its_key_is_replayed() {
    let app = Setup::seats(2).build(memory()).await;
    let (_, created) = app.book(USER, 1).await;
    let id = booking_id(&created);
    let path = format!("/bookings/{id}/cancel");
    let (first, answer, replayed) = app.call_raw(with_key(Method::POST, &path, USER, "cancel-1", "")).await;
    assert_eq!((first, replayed), (StatusCode::OK, false));
    let (again, same, replayed) = app.call_raw(with_key(Method::POST, &path, USER, "cancel-1", "")).await;
    assert_eq!((again, replayed), (StatusCode::OK, true));
    assert_eq!(same, answer);
}

#[tokio::test]
async fn bookings_cannot_be_cancelled_within_the_cutoff_before_the_performance() {
    let app = Setup::seats(1)
        .cancel_cutoff(Duration::from_secs(24 * 3600))
        .build(memory())
        .await;
    let now = SystemClock.now();
    let starts = now.plus_seconds(3600);
    let show = json!({"performanceId": "soon", "title": "T", "venue": "V", "startsAt": starts.to_rfc3339(),
        "salesOpenAt": "2020-01-01T00:00:00Z", "salesCloseAt": starts.to_rfc3339(), "currency": "KRW",
        "maxSeatsPerBooking": 2, "sections": [{"name": "A", "price": 1000, "rows": [{"row": "A", "seats": 4}]}]});
    let operator = |method: Method, path: &str, body: &Value| {
        let mut req = request(method, path, Some("op"), Some(&body.to_string()));
        req.headers_mut()
            .insert("x-user-roles", "operator".parse().expect("header"));
        req
    };
    assert_eq!(
        app.call(operator(Method::POST, "/performances", &show)).await.0,
        StatusCode::CREATED
    );
    let publish = operator(Method::PATCH, "/performances/soon", &json!({"status": "on_sale"}));
    assert_eq!(app.call(publish).await.0, StatusCode::OK);
    let body = json!({"performanceId": "soon", "quantity": 1, "paymentMethod": "CREDIT_CARD"}).to_string();
    let (status, created) = app
        .call(request(Method::POST, "/bookings", Some(USER), Some(&body)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let closed = cancel(&app, USER, created["bookingId"].as_str().expect("id")).await;
    assert_eq!(code(&closed), (StatusCode::CONFLICT, "CANCELLATION_CLOSED"));
}

async fn a_declined_refund_shows_failed_and_is_tried_again_until_it_succeeds<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(2).build(fixture).await;
    with_worker(&app, async {
        // CVV 445: the gateway declines the refund's first attempt.
        let id = app.book_and_pay(USER, 1, "445").await;
        app.wait_for_status(USER, &id, "confirmed").await;
        assert_eq!(cancel(&app, USER, &id).await.0, StatusCode::OK);
        let failed = wait_for_refund(&app, USER, &id, "failed").await;
        assert_eq!(failed["status"], "cancelled");
        // Its follow-up comes due: the refund is asked again, and succeeds.
        let booking = BookingId::try_from(id.as_str()).expect("valid");
        app.api
            .expire_holds
            .expire_when_due(&HoldExpiry::for_booking(&app.booking(&booking).await))
            .await
            .expect("followed up");
        wait_for_refund(&app, USER, &id, "succeeded").await;
    })
    .await;
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.reversals, 1, "refunded once");
}

async fn a_refunds_answers_delivered_three_times_in_any_order_book_one_reversal<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(2).build(fixture).await;
    let mut id = String::new();
    with_worker(&app, async {
        id = app.book_and_pay(USER, 1, "445").await;
        app.wait_for_status(USER, &id, "confirmed").await;
    })
    .await;
    // Cancelled with the worker stopped: the first attempt's answer waits in the inbox.
    assert_eq!(cancel(&app, USER, &id).await.0, StatusCode::OK);
    let booking_id = BookingId::try_from(id.as_str()).expect("valid");
    let booking = app.booking(&booking_id).await;
    let refund = booking.refund.clone().expect("a refund");
    let now = app.clock.now();
    let declined = RefundEvent::of(
        &booking,
        &refund,
        1,
        &RefundAnswer::Declined("REFUND_DECLINED".to_owned()),
        now,
    );
    let succeeded = RefundEvent::of(&booking, &refund, 2, &RefundAnswer::Succeeded, now);
    app.store
        .put_event(&succeeded.event_id, &succeeded)
        .await
        .expect("stored");
    let mut deliveries: Vec<RefundEvent> = [&declined, &succeeded]
        .iter()
        .flat_map(|e| std::iter::repeat_n((*e).clone(), 3))
        .collect();
    deliveries.shuffle(&mut rand::rng());
    for event in deliveries {
        app.api
            .settle_events
            .apply(&InboxEvent::Refund(event))
            .await
            .expect("applied");
    }
    let after = app.booking(&booking_id).await;
    assert_eq!(after.refund.map(|r| r.status.as_str()), Some("succeeded"));
    assert_eq!(
        entries(&app, &booking_id, Account::MerchantBalance).await,
        2,
        "the capture and its reversal"
    );
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.reversals, 1);
}

async fn a_refund_answer_redelivered_after_a_worker_crash_is_booked_once<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(2).build(fixture).await;
    let mut id = String::new();
    with_worker(&app, async {
        id = app.book_and_pay(USER, 1, "120").await;
        app.wait_for_status(USER, &id, "confirmed").await;
    })
    .await;
    assert_eq!(cancel(&app, USER, &id).await.0, StatusCode::OK);
    let booking_id = BookingId::try_from(id.as_str()).expect("valid");
    let booking = app.booking(&booking_id).await;
    let refund = booking.refund.clone().expect("a refund");
    let answer = RefundEvent::of(&booking, &refund, 1, &RefundAnswer::Succeeded, app.clock.now());
    // The worker dies after booking the reversal, before the stream learns it: the record comes again.
    for _ in 0..2 {
        app.api
            .settle_events
            .apply(&InboxEvent::Refund(answer.clone()))
            .await
            .expect("applied");
    }
    // And the stream itself delivers it (and the rest) once more.
    with_worker(&app, async {
        wait_for_refund(&app, USER, &id, "succeeded").await;
    })
    .await;
    assert_eq!(
        entries(&app, &booking_id, Account::CustomerPayable).await,
        2,
        "one capture, one reversal"
    );
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
}

async fn a_payment_that_succeeded_after_its_booking_ended_is_refunded_once<S: TestStore>(fixture: Fixture<S>) {
    let clock = Arc::new(ManualClock::at(SystemClock.now()));
    let app = Setup::seats(4)
        .hold_seconds(1)
        .clock(clock.clone())
        .build(fixture)
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
    let late = PaymentEvent::of(
        &booking,
        PaymentEventType::PaymentSucceeded,
        None,
        clock.now(),
        "pg-webhook",
    );
    assert!(app.store.put_event(&late.event_id, &late).await.expect("stored"));
    with_worker(&app, async {
        wait_for_refund(&app, USER, id.as_str(), "succeeded").await;
    })
    .await;
    let ended = app.booking(&id).await;
    assert_eq!(ended.status, BookingStatus::Expired, "the booking stays expired");
    assert_eq!(
        entries(&app, &id, Account::RefundsPayable).await,
        2,
        "owed, then paid out"
    );
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    assert!(report.refunds_owed.is_empty(), "nothing owed any more: {report}");
    assert_eq!(report.reversals, 1);
}

/// Pays and, while the worker confirms, cancels: every time, one consistent end, cancelled and
/// refunded (the cancellation waits for the confirmation of a payment already taken).
async fn a_cancellation_raced_against_the_confirmation_ends_cancelled_and_refunded<S: TestStore>(
    fixture: Fixture<S>,
    rounds: usize,
) {
    let app = Setup::seats(2).build(fixture).await;
    with_worker(&app, async {
        for round in 0..rounds {
            let user = format!("racer_{round}");
            let id = app.book_and_pay(&user, 1, "120").await;
            let (status, answer) = cancel(&app, &user, &id).await;
            assert_eq!(status, StatusCode::OK, "round {round}: {answer}");
            assert_eq!(answer["status"], "cancelled");
            assert!(
                answer["refund"]["refundId"].is_string(),
                "round {round}: paid, so refunded: {answer}"
            );
            wait_for_refund(&app, &user, &id, "succeeded").await;
        }
    })
    .await;
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.reversals, report.confirmed), (rounds, 0));
    assert!(app.locks().await.is_empty(), "a cancelled booking owns no seat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_raced_200_times_against_the_confirmation_in_memory() {
    a_cancellation_raced_against_the_confirmation_ends_cancelled_and_refunded(memory(), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_raced_200_times_against_the_confirmation_on_dynamodb_local() {
    let fixture = ticketing_testkit::test_app::dynamodb().await;
    a_cancellation_raced_against_the_confirmation_ends_cancelled_and_refunded(fixture, 200).await;
}

on_both_stores!(
    a_pending_booking_is_cancelled_at_once_and_its_seats_are_free,
    a_confirmed_booking_is_cancelled_its_seats_sold_again_and_refunded_once,
    a_declined_refund_shows_failed_and_is_tried_again_until_it_succeeds,
    a_refunds_answers_delivered_three_times_in_any_order_book_one_reversal,
    a_refund_answer_redelivered_after_a_worker_crash_is_booked_once,
    a_payment_that_succeeded_after_its_booking_ended_is_refunded_once,
);

/// A show of 1,000 seats (ten rows of 100), sold out in bookings of `seats_per_booking`, one in ten left
/// unpaid; then cancelled by an operator: the worker cancels every booking in bounded batches and refunds
/// every paid one, and the sales figures show how far it got.
async fn a_cancelled_show_of_1000_seats_is_cancelled_and_refunded_completely<S: TestStore>(
    fixture: Fixture<S>,
    seats_per_booking: u32,
) {
    let app = Setup::seats(1).build(fixture).await;
    let rows: Vec<Value> = "ABCDEFGHIJ"
        .chars()
        .map(|r| json!({"row": r.to_string(), "seats": 100}))
        .collect();
    let show = json!({"performanceId": "gala", "title": "Gala", "venue": "Arena", "startsAt": "2099-12-31T19:00:00Z",
        "salesOpenAt": "2020-01-01T00:00:00Z", "salesCloseAt": "2099-12-31T18:00:00Z", "currency": "KRW",
        "maxSeatsPerBooking": 10, "sections": [{"name": "Floor", "price": 1000, "rows": rows}]});
    let operator = |method: Method, path: &str, body: Option<&Value>| {
        let body = body.map(Value::to_string);
        let mut req = request(method, path, Some("op"), body.as_deref());
        req.headers_mut()
            .insert("x-user-roles", "operator".parse().expect("header"));
        req
    };
    assert_eq!(
        app.call(operator(Method::POST, "/performances", Some(&show))).await.0,
        StatusCode::CREATED
    );
    let publish = json!({"status": "on_sale"});
    assert_eq!(
        app.call(operator(Method::PATCH, "/performances/gala", Some(&publish)))
            .await
            .0,
        StatusCode::OK
    );
    let bookings = 1000 / seats_per_booking;
    let body =
        json!({"performanceId": "gala", "quantity": seats_per_booking, "paymentMethod": "CREDIT_CARD"}).to_string();
    with_worker(&app, async {
        let mut paid = Vec::new();
        for i in 0..bookings {
            let user = format!("fan_{i}");
            let (status, created) = app
                .call(request(Method::POST, "/bookings", Some(&user), Some(&body)))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let id = created["bookingId"].as_str().expect("id").to_owned();
            if i % 10 != 0 {
                assert_eq!(app.pay(&user, &id, "120").await.0, StatusCode::OK);
                paid.push((user, id));
            }
        }
        for (user, id) in &paid {
            app.wait_for_status(user, id, "confirmed").await;
        }
        let cancel = json!({"status": "cancelled"});
        assert_eq!(
            app.call(operator(Method::PATCH, "/performances/gala", Some(&cancel)))
                .await
                .0,
            StatusCode::OK
        );
        let started = Instant::now();
        loop {
            let (_, sales) = app.call(operator(Method::GET, "/performances/gala/sales", None)).await;
            if sales["cancellation"]["finished"] == true {
                assert_eq!(sales["cancellation"]["bookingsCancelled"], bookings);
                assert_eq!(sales["total"]["sold"], 0);
                assert_eq!(sales["total"]["available"], 1000);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "never finished: {sales}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (user, id) in &paid {
            wait_for_refund(&app, user, id, "succeeded").await;
        }
    })
    .await;
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    let paid = usize::try_from(bookings - bookings.div_ceil(10)).expect("a count");
    assert_eq!(
        (report.reversals, report.confirmed, report.refunds_in_progress.len()),
        (paid, 0, 0)
    );
    assert_eq!(report.ledger_total, 0);
    assert!(app.locks().await.is_empty(), "every seat is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_show_of_1000_seats_is_refunded_completely_in_memory() {
    a_cancelled_show_of_1000_seats_is_cancelled_and_refunded_completely(memory(), 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_show_of_1000_seats_is_refunded_completely_on_dynamodb_local() {
    let fixture = ticketing_testkit::test_app::dynamodb().await;
    a_cancelled_show_of_1000_seats_is_cancelled_and_refunded_completely(fixture, 10).await;
}

async fn a_refund_a_gateway_answers_later_by_webhook_is_applied_once<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(2).build(fixture).await;
    let mut id = String::new();
    let mut charge = String::new();
    with_worker(&app, async {
        let (_, created) = app.book(USER, 1).await;
        id = created["bookingId"].as_str().expect("id").to_owned();
        let (_, paid) = app.pay(USER, &id, "120").await;
        charge = paid["pgMockData"]["chargeId"].as_str().expect("a charge").to_owned();
        app.wait_for_status(USER, &id, "confirmed").await;
    })
    .await;
    let (_, cancelled) = cancel(&app, USER, &id).await;
    let refund_id = cancelled["refund"]["refundId"].as_str().expect("a refund").to_owned();
    let signed_at = app.clock.now().as_millis() / 1000;
    let body = |event: &str, amount: i64| {
        json!({"id": event, "type": "refund.succeeded", "created": signed_at,
            "data": {"bookingId": id, "chargeId": charge, "refundId": refund_id, "amount": amount, "currency": "KRW"}})
        .to_string()
    };
    for (event, amount) in [
        ("evt_refund_late_1", 60_000),
        ("evt_refund_late_1", 60_000),
        ("evt_refund_wrong", 1),
    ] {
        let req = webhook(&body(event, amount), SECRET, signed_at);
        let (status, answer) = app.call(req).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    with_worker(&app, async {
        wait_for_refund(&app, USER, &id, "succeeded").await;
        // The gateway's own answer and the webhook's both said so: one reversal.
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let booking_id = BookingId::try_from(id.as_str()).expect("valid");
    assert_eq!(
        entries(&app, &booking_id, Account::CustomerPayable).await,
        2,
        "one capture, one reversal"
    );
    let wrong = app
        .store
        .event(&ticketing_core::domain::EventId::try_from("evt_refund_wrong").expect("valid"))
        .await
        .expect("read")
        .expect("stored");
    assert!(format!("{wrong:?}").contains("NOTIFICATION_MISMATCH"), "{wrong:?}");
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
}

on_both_stores!(a_refund_a_gateway_answers_later_by_webhook_is_applied_once);
