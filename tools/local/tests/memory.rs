//! The whole flow on the in-memory store: the seed's scenarios through the HTTP handlers with the
//! in-process worker, the worker's delivery guarantees, bad input, and the storage contract.

mod common;

use common::*;
use lambda_http::http::{Method, StatusCode};
use serde_json::json;
use ticketing::domain::{BookingId, SeatState};
use ticketing::store::Inspect;
use ticketing::stream::{run_in_process, Mapping};

#[tokio::test]
async fn storage_contract() {
    contract::run(&ticketing::store::MemoryStore::new()).await;
}

#[tokio::test]
async fn seed_scenarios_confirm_and_fail() {
    let app = memory_app(ticketing::catalog::Catalog::builtin());
    let worker = async { run_in_process(&app.store, &app, Mapping::default()).await };
    let scenarios = async {
        // Scenario 1: CVV 120 → confirmed, seats sold, ledger balanced.
        let (code, created) = book(&app, USER, 2).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["message"],
            "Booking and payment intent created. Please proceed to payment execution."
        );
        assert_eq!(created["totalAmount"], 60000);
        let id = created["bookingId"].as_str().expect("bookingId").to_owned();
        let (code, paid) = pay(&app, USER, &id, "120").await;
        assert_eq!(code, StatusCode::OK, "{paid}");
        assert_eq!(paid["message"], "Payment simulation finished with status: SUCCESS");
        assert_eq!(paid["finalStatus"], "SUCCESS");
        assert_eq!(paid["bookingId"], id.as_str());
        assert_eq!(paid["pgMockData"]["isSuccess"], true);
        assert_eq!(paid["pgMockData"]["failureCode"], json!(null));
        let confirmed = wait_for_status(&app, USER, &id, "confirmed").await;
        assert_eq!(confirmed["userId"], USER);
        assert_eq!(confirmed["performanceId"], "perf_001");
        assert_eq!(confirmed["quantity"], 2);
        assert_eq!(confirmed["seatIds"], json!(["A1", "A2"]));
        let booking = BookingId::try_from(id.as_str()).expect("valid");
        let locks = perf_001_locks(&app.store).await;
        assert!(locks
            .iter()
            .filter(|l| l.booking_id == booking)
            .all(|l| l.status == SeatState::Sold));
        assert_eq!(locks.iter().filter(|l| l.booking_id == booking).count(), 2);
        let entries = app.store.ledger_of(&booking).await.expect("ledger");
        assert_eq!(entries.len(), 2);
        assert_eq!(ticketing::domain::ledger::balance(&entries), 0);
        assert!(entries.iter().all(|e| e.amount.amount == 60000));

        // Scenario 2: CVV 442 → failed with DECLINE_2, seats released, nothing in the ledger.
        let (_, created) = book(&app, USER, 2).await;
        let id2 = created["bookingId"].as_str().expect("bookingId").to_owned();
        assert_eq!(created["seatIds"], json!(["A3", "A4"]));
        let (code, declined) = pay(&app, USER, &id2, "442").await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(declined["message"], "Payment simulation finished with status: FAILURE");
        assert_eq!(declined["finalStatus"], "FAILURE");
        assert_eq!(declined["pgMockData"]["isSuccess"], false);
        assert_eq!(declined["pgMockData"]["failureCode"], "DECLINE_2");
        wait_for_status(&app, USER, &id2, "failed").await;
        let booking2 = BookingId::try_from(id2.as_str()).expect("valid");
        let locks = perf_001_locks(&app.store).await;
        assert!(
            locks.iter().all(|l| l.booking_id != booking2),
            "a failed booking's seats are free"
        );
        assert!(app.store.ledger_of(&booking2).await.expect("ledger").is_empty());

        // The freed seats go to the next booking; paying a final booking is a conflict.
        let (_, next) = book(&app, USER, 2).await;
        assert_eq!(next["seatIds"], json!(["A3", "A4"]));
        let (code, again) = pay(&app, USER, &id, "120").await;
        assert_eq!(
            (code, again["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("BOOKING_NOT_PENDING"))
        );
        let (code, again) = pay(&app, USER, &id2, "120").await;
        assert_eq!(
            (code, again["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("BOOKING_NOT_PENDING"))
        );

        // My bookings: newest first.
        let (_, mine) = call(&app, request(Method::GET, "/bookings/my", Some(USER), None)).await;
        let ids: Vec<&str> = mine
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|b| b["bookingId"].as_str())
            .collect();
        assert_eq!(
            ids,
            [next["bookingId"].as_str().expect("id"), id2.as_str(), id.as_str()]
        );
    };
    tokio::select! {
        () = worker => panic!("the worker never stops by itself"),
        () = scenarios => {}
    }
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_errors() {
    let app = memory_app(small_catalog(10));
    let post = |path: &str, user: Option<&str>, body: &str| request(Method::POST, path, user, Some(body));
    let good = r#"{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CREDIT_CARD"}"#;
    let cases: Vec<(lambda_http::Request, StatusCode, &str)> = vec![
        (
            post("/bookings", None, good),
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            post("/bookings", Some("  "), good),
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            post("/bookings", Some("bad user"), good),
            StatusCode::BAD_REQUEST,
            "INVALID_USER_ID",
        ),
        (
            post("/bookings", Some(USER), "{"),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post("/bookings", Some(USER), ""),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post("/bookings", Some(USER), "[]"),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": 2}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": "2", "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": 0, "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": 11, "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": -1, "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": 1e30, "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CASH"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_PAYMENT_METHOD",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "", "quantity": 2, "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_PERFORMANCE_ID",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_404", "quantity": 2, "paymentMethod": "CREDIT_CARD"}"#,
            ),
            StatusCode::NOT_FOUND,
            "PERFORMANCE_NOT_FOUND",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &format!(
                    r#"{{"performanceId": "{}", "quantity": 2, "paymentMethod": "CREDIT_CARD"}}"#,
                    "x".repeat(20_000)
                ),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            post("/payments/execute", None, "{}"),
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            post(
                "/payments/execute",
                Some(USER),
                r#"{"bookingId": "nope", "paymentMethodToken": "tok_visa", "cvv": "120"}"#,
            ),
            StatusCode::NOT_FOUND,
            "BOOKING_NOT_FOUND",
        ),
        (
            post(
                "/payments/execute",
                Some(USER),
                r#"{"bookingId": "../x", "paymentMethodToken": "tok_visa", "cvv": "120"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_BOOKING_ID",
        ),
        (
            post(
                "/payments/execute",
                Some(USER),
                r#"{"bookingId": "b", "paymentMethodToken": "tok_visa", "cvv": "12"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_CVV",
        ),
        (
            post(
                "/payments/execute",
                Some(USER),
                r#"{"bookingId": "b", "paymentMethodToken": "visa", "cvv": "120"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_PAYMENT_METHOD_TOKEN",
        ),
        (
            post("/payments/execute", Some(USER), r#"{"bookingId": "b", "cvv": "120"}"#),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            request(Method::GET, "/bookings/my", None, None),
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            request(Method::GET, "/bookings", Some(USER), None),
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            request(Method::DELETE, "/bookings/my", Some(USER), None),
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            request(Method::GET, "/nowhere", Some(USER), None),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri().path());
        let (got, body) = call(&app, req).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
}

#[tokio::test]
async fn another_users_booking_is_unknown() {
    let app = memory_app(small_catalog(10));
    let (_, created) = book(&app, USER, 1).await;
    let id = created["bookingId"].as_str().expect("id");
    let (code, body) = pay(&app, "someone_else", id, "120").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BOOKING_NOT_FOUND"))
    );
    let (_, theirs) = call(&app, request(Method::GET, "/bookings/my", Some("someone_else"), None)).await;
    assert_eq!(theirs, json!([]));
}

#[tokio::test]
async fn sold_out_is_a_conflict() {
    let app = memory_app(small_catalog(3));
    assert_eq!(book(&app, USER, 2).await.0, StatusCode::CREATED);
    let (code, body) = book(&app, USER, 2).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEATS_UNAVAILABLE"))
    );
    assert_eq!(book(&app, USER, 1).await.0, StatusCode::CREATED);
}

/// Books and pays without a worker running, and returns the stream records the payments produced.
async fn paid_bookings(
    app: &ticketing::booking::App<ticketing::store::MemoryStore>,
    cvvs: &[&str],
) -> (Vec<String>, Vec<aws_lambda_events::event::dynamodb::EventRecord>) {
    use ticketing::stream::ShardReader;
    let mut ids = Vec::new();
    for cvv in cvvs {
        let (_, created) = book(app, USER, 2).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(pay(app, USER, &id, cvv).await.0, StatusCode::OK);
        ids.push(id);
    }
    let mut shard = ticketing::stream::MemoryShard::new(&app.store);
    (ids, shard.read(100).await.expect("records"))
}

async fn snapshot(
    app: &ticketing::booking::App<ticketing::store::MemoryStore>,
) -> (
    serde_json::Value,
    Vec<ticketing::domain::seats::SeatLock>,
    Vec<ticketing::domain::ledger::LedgerEntry>,
) {
    let (_, mine) = call(app, request(Method::GET, "/bookings/my", Some(USER), None)).await;
    let locks = perf_001_locks(&app.store).await;
    (mine, locks, app.store.ledger())
}

#[tokio::test]
async fn the_worker_fed_the_same_events_twice_changes_nothing() {
    let app = memory_app(small_catalog(20));
    let (_, records) = paid_bookings(&app, &["120", "442", "120"]).await;
    assert_eq!(records.len(), 3, "a payment event per booking");
    let batch = ticketing::stream::batch(records);
    let first = ticketing::worker::process_batch(&app, batch.clone()).await;
    assert!(first.batch_item_failures.is_empty());
    let after_once = snapshot(&app).await;
    assert_eq!(after_once.2.len(), 4, "two confirmed bookings, two entries each");
    let second = ticketing::worker::process_batch(&app, batch).await;
    assert!(second.batch_item_failures.is_empty());
    assert_eq!(snapshot(&app).await, after_once);
}

#[tokio::test]
async fn a_poisoned_record_is_the_only_one_reported() {
    let app = memory_app(small_catalog(20));
    let (ids, mut records) = paid_bookings(&app, &["120", "442"]).await;
    let mut poison = records[0].clone();
    poison.change.sequence_number = Some("999".to_owned());
    poison.change.new_image = serde_dynamo::Item::from(std::collections::HashMap::from([(
        "eventId".to_owned(),
        serde_dynamo::AttributeValue::S("evt_poison".to_owned()),
    )]));
    records.insert(1, poison);
    let mut modify = records[0].clone();
    modify.event_name = "MODIFY".to_owned();
    modify.change.sequence_number = Some("1000".to_owned());
    records.push(modify);
    let response = ticketing::worker::process_batch(&app, ticketing::stream::batch(records)).await;
    let failed: Vec<Option<&str>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref())
        .collect();
    assert_eq!(failed, [Some("999")]);
    wait_for_status(&app, USER, &ids[0], "confirmed").await;
    wait_for_status(&app, USER, &ids[1], "failed").await;
}

#[tokio::test]
async fn the_in_process_mapping_retries_then_moves_past_a_poisoned_record() {
    use ticketing::stream::{run_mapping, Mapping, MemoryShard};
    let app = memory_app(small_catalog(20));
    let (ids, _) = paid_bookings(&app, &["120", "120"]).await;
    let deliveries = std::sync::atomic::AtomicU32::new(0);
    let mapping = Mapping {
        batch_size: 1,
        maximum_retry_attempts: 2,
        retry_delay: std::time::Duration::from_millis(1),
    };
    let mut shard = MemoryShard::new(&app.store);
    // The function fails every invocation that contains the first booking's event.
    let deliver = |event: aws_lambda_events::event::dynamodb::Event| {
        deliveries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let app = &app;
        let first = ids[0].clone();
        async move {
            let poisoned = event.records.iter().any(|r| {
                let image = &r.change.new_image;
                matches!(image.get("bookingId"), Some(serde_dynamo::AttributeValue::S(b)) if *b == first)
                    && matches!(image.get("type"), Some(serde_dynamo::AttributeValue::S(t)) if t == "PAYMENT_SUCCEEDED")
            });
            if poisoned {
                return Err("function error".to_owned());
            }
            Ok(ticketing::worker::process_batch(app, event).await)
        }
    };
    let run = run_mapping(&mut shard, deliver, mapping);
    tokio::select! {
        () = run => panic!("the mapping never stops by itself"),
        _ = wait_for_status(&app, USER, &ids[1], "confirmed") => {}
    }
    assert_eq!(
        deliveries.load(std::sync::atomic::Ordering::Relaxed),
        4,
        "the first payment three times (a try, two retries), then the next record"
    );
    let (_, mine) = call(&app, request(Method::GET, "/bookings/my", Some(USER), None)).await;
    let first = mine
        .as_array()
        .and_then(|a| a.iter().find(|b| b["bookingId"] == ids[0].as_str()))
        .cloned();
    assert_eq!(first.map(|b| b["status"].clone()), Some(json!("pending")));
}

#[tokio::test]
async fn a_paid_hold_that_lapsed_before_the_worker_ran_keeps_its_seats() {
    let mut app = memory_app(small_catalog(3));
    app.settings.hold_seconds = 1;
    let (_, first) = book(&app, USER, 2).await;
    let id = first["bookingId"].as_str().expect("id");
    assert_eq!(pay(&app, USER, id, "120").await.0, StatusCode::OK);
    // No worker runs: the locks still read `locked`, and lapse.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, second) = book(&app, "another_user", 1).await;
    assert_eq!(code, StatusCode::CREATED, "{second}");
    assert_eq!(second["seatIds"], json!(["A3"]), "the paid seats are not given away");
    let (code, third) = book(&app, "another_user", 1).await;
    assert_eq!(
        (code, third["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEATS_UNAVAILABLE"))
    );
}

#[tokio::test]
async fn paying_twice_after_a_decline_is_a_conflict() {
    let app = memory_app(small_catalog(10));
    let (_, created) = book(&app, USER, 1).await;
    let id = created["bookingId"].as_str().expect("id");
    assert_eq!(pay(&app, USER, id, "442").await.0, StatusCode::OK);
    let (code, body) = pay(&app, USER, id, "120").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("BOOKING_NOT_PENDING"))
    );
}

async fn seat_states(app: &ticketing::booking::App<ticketing::store::MemoryStore>) -> Vec<(String, String)> {
    let (code, map) = call(
        app,
        request(Method::GET, "/performances/perf_001/seats", Some(USER), None),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{map}");
    map["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .map(|s| {
            (
                s["seatId"].as_str().unwrap_or_default().to_owned(),
                s["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_seat_map_shows_held_sold_and_lapsed_seats() {
    let mut app = memory_app(small_catalog(6));
    app.settings.hold_seconds = 1;
    let (_, sold) = book(&app, USER, 2).await;
    let sold_id = sold["bookingId"].as_str().expect("id").to_owned();
    assert_eq!(pay(&app, USER, &sold_id, "120").await.0, StatusCode::OK);
    let records = {
        use ticketing::stream::ShardReader;
        ticketing::stream::MemoryShard::new(&app.store)
            .read(10)
            .await
            .expect("records")
    };
    ticketing::worker::process_batch(&app, ticketing::stream::batch(records)).await;
    book(&app, USER, 1).await;
    let states = seat_states(&app).await;
    let expect = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states,
        expect(&[
            ("A1", "sold"),
            ("A2", "sold"),
            ("A3", "held"),
            ("A4", "available"),
            ("A5", "available"),
            ("A6", "available")
        ])
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        seat_states(&app).await[2],
        ("A3".to_owned(), "available".to_owned()),
        "a lapsed hold reads available"
    );
    let (code, body) = call(
        &app,
        request(Method::GET, "/performances/perf_404/seats", Some(USER), None),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("PERFORMANCE_NOT_FOUND"))
    );
    let (code, _) = call(&app, request(Method::GET, "/performances/perf_001/seats", None, None)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = call(
        &app,
        request(Method::POST, "/performances/perf_001/seats", Some(USER), Some("{}")),
    )
    .await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_lapsed_hold_expires_by_itself_and_a_late_payment_is_refused() {
    let (app, due) = memory_app_with_expiries(small_catalog(4), ticketing::booking::Settings { hold_seconds: 2 });
    let queue = app.expiries.clone().expect("a queue");
    let expirer = ticketing::expiry::run_in_process(due, &app.store, app.clock.as_ref(), queue);
    let worker = run_in_process(&app.store, &app, Mapping::default());
    let scenario = async {
        let (_, created) = book(&app, USER, 2).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(seat_states(&app).await[0].1, "held");
        // Nothing touches the performance: the expiry alone does it.
        wait_for_status(&app, USER, &id, "expired").await;
        assert!(perf_001_locks(&app.store).await.is_empty(), "the seats are released");
        assert!(seat_states(&app).await.iter().all(|(_, state)| state == "available"));
        let (code, late) = pay(&app, USER, &id, "120").await;
        assert_eq!(
            (code, late["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("HOLD_EXPIRED"))
        );
        let booking = BookingId::try_from(id.as_str()).expect("valid");
        let intent = intent_of(&app, &booking).await;
        assert_eq!(intent.status, ticketing::domain::IntentStatus::Cancelled);
    };
    tokio::select! {
        () = expirer => panic!("the expiry consumer never stops by itself"),
        () = worker => panic!("the worker never stops by itself"),
        () = scenario => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_against_expiry_raced_200_times() {
    let (payment, expiry) = race_payment_against_expiry(ticketing::store::MemoryStore::new(), 200).await;
    println!("in memory: the payment won {payment} times, the expiry {expiry} times");
    assert_eq!(payment + expiry, 200);
}

#[tokio::test]
async fn a_late_success_for_an_expired_booking_is_recorded_not_applied() {
    use ticketing::store::Inspect;
    let (app, _) = memory_app_with_expiries(small_catalog(4), ticketing::booking::Settings { hold_seconds: 1 });
    let (_, created) = book(&app, USER, 2).await;
    let id = created["bookingId"].as_str().expect("id").to_owned();
    let booking_id = BookingId::try_from(id.as_str()).expect("valid");
    // A success event the gateway delivered itself (as a webhook will), after the hold lapsed.
    let booking = ticketing::store::PaymentRecords::booking(&app.store, &booking_id)
        .await
        .expect("read")
        .expect("exists");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expiry = ticketing::expiry::HoldExpiry::for_booking(&booking.booking_id);
    let queue = app.expiries.clone().expect("a queue");
    ticketing::expiry::expire_when_due(&app.store, app.clock.as_ref(), queue.as_ref(), &expiry)
        .await
        .expect("expired");
    let event = ticketing::domain::payment::PaymentEvent::of(
        &booking,
        ticketing::domain::payment::PaymentEventType::PaymentSucceeded,
        None,
        app.clock.now(),
        "pg-webhook",
    );
    assert!(ticketing::store::Inbox::put_event(&app.store, &event.event_id, &event)
        .await
        .expect("stored"));
    ticketing::worker::apply(&app.store, app.clock.as_ref(), &event)
        .await
        .expect("recorded");
    wait_for_status(&app, USER, &id, "expired").await;
    assert!(
        app.store.ledger_of(&booking_id).await.expect("ledger").is_empty(),
        "not applied"
    );
    let stored = app.store.event(&event.event_id).await.expect("read").expect("exists");
    let note = match stored.get("note") {
        Some(serde_dynamo::AttributeValue::S(note)) => note.clone(),
        other => panic!("no note: {other:?}"),
    };
    assert!(note.starts_with("REFUND_OWED"), "{note}");
}

#[tokio::test]
async fn idempotency_keys() {
    idempotency_suite(ticketing::store::MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_sent_concurrently_books_once() {
    same_key_concurrently(ticketing::store::MemoryStore::new()).await;
}

#[tokio::test]
async fn signed_webhooks() {
    webhook_suite(ticketing::store::MemoryStore::new()).await;
}

#[tokio::test]
async fn a_processing_payment_keeps_its_seats_until_the_gateway_answers() {
    let mut app = memory_app(small_catalog(2));
    app.settings.hold_seconds = 1;
    let (_, created) = book(&app, USER, 2).await;
    let id = created["bookingId"].as_str().expect("id").to_owned();
    let (code, paid) = pay(&app, USER, &id, "777").await;
    assert_eq!(
        (code, paid["finalStatus"].as_str()),
        (StatusCode::OK, Some("PROCESSING"))
    );
    assert_eq!(paid["pgMockData"]["isSuccess"], json!(null));
    let booking = BookingId::try_from(id.as_str()).expect("valid");
    let intent = intent_of(&app, &booking).await;
    assert_eq!(intent.status, ticketing::domain::IntentStatus::Processing);
    // The hold lapses while the gateway processes: the seats stay, and the expiry leaves it alone.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, _) = book(&app, "someone_else", 1).await;
    assert_eq!(code, StatusCode::CONFLICT, "a processing payment's seats are not free");
    let stored = ticketing::store::PaymentRecords::booking(&app.store, &booking)
        .await
        .expect("read")
        .expect("exists");
    let queue = app.expiries.clone().expect("a queue");
    ticketing::expiry::expire_when_due(
        &app.store,
        app.clock.as_ref(),
        queue.as_ref(),
        &ticketing::expiry::HoldExpiry::for_booking(&stored.booking_id),
    )
    .await
    .expect("expiry ran");
    wait_for_status(&app, USER, &id, "pending").await;
    let (code, again) = pay(&app, USER, &id, "120").await;
    assert_eq!(
        (code, again["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("HOLD_EXPIRED"))
    );
}

#[tokio::test]
async fn the_audit_is_clean_after_the_seed_scenarios_and_expiries() {
    let (app, due) = memory_app_with_expiries(small_catalog(20), ticketing::booking::Settings { hold_seconds: 1 });
    let queue = app.expiries.clone().expect("a queue");
    let expirer = ticketing::expiry::run_in_process(due, &app.store, app.clock.as_ref(), queue);
    let worker = run_in_process(&app.store, &app, Mapping::default());
    let flows = async {
        for (i, cvv) in ["120", "442", "120", "444"].iter().enumerate() {
            let (_, created) = book(&app, USER, 2).await;
            let id = created["bookingId"].as_str().expect("id").to_owned();
            pay(&app, USER, &id, cvv).await;
            wait_for_status(&app, USER, &id, if i % 2 == 0 { "confirmed" } else { "failed" }).await;
        }
        let (_, lapsing) = book(&app, USER, 2).await;
        wait_for_status(&app, USER, lapsing["bookingId"].as_str().expect("id"), "expired").await;
    };
    tokio::select! {
        () = worker => panic!("the worker never stops by itself"),
        () = expirer => panic!("the expirer never stops by itself"),
        () = flows => {}
    }
    let report = ticketing::audit::run(&app.store).await.expect("audit ran");
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (
            report.confirmed,
            report.ledger_transactions,
            report.ledger_total,
            report.sold_seats
        ),
        (2, 2, 0, 4)
    );
}

#[tokio::test]
async fn replaying_every_event_three_times_in_random_order_changes_nothing() {
    let app = memory_app(small_catalog(200));
    let mut shard = ticketing::stream::MemoryShard::new(&app.store);
    replay_suite(&app, &mut shard, 200).await;
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_and_doubles_nothing() {
    let app = memory_app(small_catalog(100));
    let mut shard = ticketing::stream::MemoryShard::new(&app.store);
    crash_suite(&app, &mut shard, 100).await;
}
