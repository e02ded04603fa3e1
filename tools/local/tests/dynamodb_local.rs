//! The whole flow on the official DynamoDB Local: the storage contract, the seed's scenarios with the
//! worker fed by the events table's real stream, contention for seats, and repeated delivery.

mod common;

use common::*;
use lambda_http::http::StatusCode;
use std::collections::HashSet;
use std::sync::Arc;
use ticketing::booking::{App, Settings};
use ticketing::domain::{BookingId, PerformanceId, SeatState, SystemClock};
use ticketing::store::{DynamoStore, Inspect};
use ticketing::stream::{run_mapping, Mapping, ShardReader};
use ticketing_local::emulator::Emulator;
use ticketing_local::poller::StreamShards;

async fn app(emulator: &Emulator, catalog: ticketing::catalog::Catalog) -> App<DynamoStore> {
    let (queue, _) = ticketing::expiry::InProcessQueue::new();
    App::new(
        dynamo_store(emulator).await,
        catalog,
        Arc::new(SystemClock),
        Settings::default(),
    )
    .with_expiries(Arc::new(queue))
}

async fn events_stream(emulator: &Emulator, store: &DynamoStore) -> StreamShards {
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk_config(emulator));
    StreamShards::open(store.client(), streams, &store.tables().events, "us-east-1")
        .await
        .expect("stream opens")
}

#[tokio::test]
async fn storage_contract() {
    let emulator = emulator();
    contract::run(&dynamo_store(&emulator).await).await;
}

#[tokio::test]
async fn seed_scenarios_confirm_and_fail_through_the_stream() {
    ticketing::wiring::init_tracing();
    let emulator = emulator();
    let app = app(&emulator, ticketing::catalog::Catalog::builtin()).await;
    let mut shard = events_stream(&emulator, &app.store).await;
    let deliver = |event| async { Ok(ticketing::worker::process_batch(&app, event).await) };
    let worker = run_mapping(&mut shard, deliver, Mapping::default());
    let scenarios = async {
        let perf = PerformanceId::try_from("perf_001").expect("valid");
        let (code, created) = book(&app, USER, 2).await;
        assert_eq!(code, StatusCode::CREATED, "{created}");
        assert_eq!(created["totalAmount"], 60000);
        let id = created["bookingId"].as_str().expect("id").to_owned();
        let (code, paid) = pay(&app, USER, &id, "120").await;
        assert_eq!(
            (code, paid["finalStatus"].as_str()),
            (StatusCode::OK, Some("SUCCESS")),
            "{paid}"
        );
        let confirmed = wait_for_status(&app, USER, &id, "confirmed").await;
        assert_eq!(confirmed["seatIds"], serde_json::json!(["A1", "A2"]));
        let booking = BookingId::try_from(id.as_str()).expect("valid");
        let locks = locks_of(&app.store, &perf).await;
        let mine: Vec<_> = locks.iter().filter(|l| l.booking_id == booking).collect();
        assert_eq!(mine.len(), 2);
        assert!(mine
            .iter()
            .all(|l| l.status == SeatState::Sold && l.locked_until.is_none()));
        let entries = app.store.ledger_of(&booking).await.expect("ledger");
        assert_eq!(entries.len(), 2);
        assert_eq!(ticketing::domain::ledger::balance(&entries), 0);
        let intent = intent_of(&app, &booking).await;
        assert_eq!(intent.status, ticketing::domain::IntentStatus::Succeeded);

        let (_, created) = book(&app, USER, 2).await;
        let id2 = created["bookingId"].as_str().expect("id").to_owned();
        let (code, declined) = pay(&app, USER, &id2, "442").await;
        assert_eq!(
            (code, declined["pgMockData"]["failureCode"].as_str()),
            (StatusCode::OK, Some("DECLINE_2"))
        );
        wait_for_status(&app, USER, &id2, "failed").await;
        let booking2 = BookingId::try_from(id2.as_str()).expect("valid");
        assert!(locks_of(&app.store, &perf)
            .await
            .iter()
            .all(|l| l.booking_id != booking2));
        assert!(app.store.ledger_of(&booking2).await.expect("ledger").is_empty());
        let (code, again) = pay(&app, USER, &id, "120").await;
        assert_eq!(
            (code, again["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("BOOKING_NOT_PENDING"))
        );
    };
    tokio::select! {
        () = worker => panic!("the worker never stops by itself"),
        () = scenarios => {}
    }
}

/// `requests` concurrent bookings of `quantity` seats on a hall of `seats`.
async fn contend(requests: usize, quantity: u32, seats: usize) {
    let emulator = emulator();
    let app = Arc::new(app(&emulator, small_catalog(seats)).await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..requests {
        let app = Arc::clone(&app);
        tasks.spawn(async move { book(&app, &format!("user_{i}"), quantity).await });
    }
    let mut won: Vec<serde_json::Value> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (code, body) = joined.expect("task ran");
        match code {
            StatusCode::CREATED => won.push(body),
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "SEATS_UNAVAILABLE", "{body}")
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let expected_winners = seats / quantity as usize;
    assert_eq!(won.len(), expected_winners, "every seat is sold, to one booking each");
    let held: Vec<String> = won
        .iter()
        .flat_map(|b| b["seatIds"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let distinct: HashSet<&String> = held.iter().collect();
    assert_eq!(distinct.len(), held.len(), "no seat held by two bookings: {held:?}");
    assert_eq!(held.len(), expected_winners * quantity as usize);
    let locks = perf_001_locks(&app.store).await;
    assert_eq!(locks.len(), held.len());
    let winners: HashSet<&str> = won.iter().filter_map(|b| b["bookingId"].as_str()).collect();
    assert!(locks.iter().all(|l| winners.contains(l.booking_id.as_str())));
}

#[tokio::test]
async fn fifty_concurrent_bookings_for_ten_seats() {
    contend(50, 1, 10).await;
}

#[tokio::test]
async fn fifty_concurrent_pair_bookings_for_ten_seats() {
    contend(50, 2, 10).await;
}

#[tokio::test]
async fn the_same_stream_batch_twice_changes_nothing() {
    let emulator = emulator();
    let app = app(&emulator, small_catalog(20)).await;
    let mut ids = Vec::new();
    for cvv in ["120", "442", "120"] {
        let (_, created) = book(&app, USER, 2).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(pay(&app, USER, &id, cvv).await.0, StatusCode::OK);
        ids.push(id);
    }
    let mut shard = events_stream(&emulator, &app.store).await;
    let mut records = Vec::new();
    while records.len() < 3 {
        records.extend(shard.read(100).await.expect("records"));
    }
    let batch = ticketing::stream::batch(records);
    let first = ticketing::worker::process_batch(&app, batch.clone()).await;
    assert!(first.batch_item_failures.is_empty());
    let perf = PerformanceId::try_from("perf_001").expect("valid");
    let state = |app: &App<DynamoStore>| {
        let ids = ids.clone();
        let perf = perf.clone();
        let store = app.store.clone();
        async move {
            let mut bookings = Vec::new();
            let mut ledger = Vec::new();
            for id in &ids {
                let id = BookingId::try_from(id.as_str()).expect("valid");
                bookings.push(
                    ticketing::store::PaymentRecords::booking(&store, &id)
                        .await
                        .expect("read"),
                );
                ledger.extend(store.ledger_of(&id).await.expect("ledger"));
            }
            (bookings, locks_of(&store, &perf).await, ledger)
        }
    };
    let once = state(&app).await;
    assert_eq!(once.2.len(), 4);
    let second = ticketing::worker::process_batch(&app, batch).await;
    assert!(second.batch_item_failures.is_empty());
    assert_eq!(state(&app).await, once);
}

#[tokio::test]
async fn concurrent_payments_of_one_booking_charge_once() {
    let emulator = emulator();
    let app = Arc::new(app(&emulator, small_catalog(10)).await);
    let (_, created) = book(&app, USER, 2).await;
    let id = created["bookingId"].as_str().expect("id").to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let app = Arc::clone(&app);
        let id = id.clone();
        tasks.spawn(async move { pay(&app, USER, &id, "120").await });
    }
    let mut codes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (code, body) = joined.expect("task ran");
        assert!(
            code == StatusCode::OK || body["error"]["code"] == "ALREADY_PAID",
            "{code}: {body}"
        );
        codes.push(code);
    }
    assert_eq!(codes.iter().filter(|c| **c == StatusCode::OK).count(), 1, "{codes:?}");
}

#[tokio::test]
async fn a_lapsed_hold_expires_through_the_sqs_delay_queue() {
    let emulator = emulator();
    let moto = moto();
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&moto));
    let name = format!("expiries-{}", uuid::Uuid::new_v4().simple());
    let url = ticketing_local::queues::create_with_dead_letters(&sqs, &name, std::time::Duration::from_secs(5))
        .await
        .expect("queue created");
    let queue: Arc<dyn ticketing::expiry::ExpiryQueue> =
        Arc::new(ticketing::expiry::SqsExpiryQueue::new(sqs.clone(), url.clone()));
    let app = App::new(
        dynamo_store(&emulator).await,
        small_catalog(4),
        Arc::new(SystemClock),
        Settings { hold_seconds: 2 },
    )
    .with_expiries(queue.clone());
    let deliver = |event| async { Ok(ticketing::expiry::process_batch(&app, event).await) };
    let consumer = ticketing_local::queues::run_mapping(&sqs, &url, "us-east-1", 10, deliver);
    // The booking sends the delayed message itself, before its hold is written: no worker runs here.
    let scenario = async {
        let (_, created) = book(&app, USER, 2).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        // Nothing touches the performance: the delayed message alone expires the booking.
        wait_for_status(&app, USER, &id, "expired").await;
        assert!(perf_001_locks(&app.store).await.is_empty(), "the seats are released");
        let (code, late) = pay(&app, USER, &id, "120").await;
        assert_eq!(
            (code, late["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("HOLD_EXPIRED"))
        );
    };
    tokio::select! {
        () = consumer => panic!("the consumer never stops by itself"),
        () = scenario => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_against_expiry_raced_200_times() {
    let emulator = emulator();
    let (payment, expiry) = race_payment_against_expiry(dynamo_store(&emulator).await, 200).await;
    println!("on DynamoDB Local: the payment won {payment} times, the expiry {expiry} times");
    assert_eq!(payment + expiry, 200);
}

/// Bookings for a few seats for three seconds while 1-second holds lapse and expire: for every seat, the
/// holds granted on it never overlap in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_while_holds_lapse_never_holds_a_seat_twice() {
    let emulator = emulator();
    let (queue, due) = ticketing::expiry::InProcessQueue::new();
    let queue: Arc<dyn ticketing::expiry::ExpiryQueue> = Arc::new(queue);
    let app = Arc::new(
        App::new(
            dynamo_store(&emulator).await,
            small_catalog(10),
            Arc::new(SystemClock),
            Settings { hold_seconds: 1 },
        )
        .with_expiries(queue.clone()),
    );
    let expirer = {
        let app = Arc::clone(&app);
        tokio::spawn(async move { ticketing::expiry::run_in_process(due, &app.store, app.clock.as_ref(), queue).await })
    };
    let mut shard = events_stream(&emulator, &app.store).await;
    let worker = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let deliver = |event| async { Ok(ticketing::worker::process_batch(&app, event).await) };
            run_mapping(&mut shard, deliver, Mapping::default()).await
        })
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..20 {
        let app = Arc::clone(&app);
        clients.spawn(async move {
            let mut granted = Vec::new();
            let mut refused = 0;
            while std::time::Instant::now() < until {
                let (code, body) = book(&app, &format!("user_{c}"), 1).await;
                match code {
                    StatusCode::CREATED => granted.push(body),
                    StatusCode::CONFLICT => refused += 1,
                    other => panic!("unexpected {other}: {body}"),
                }
            }
            (granted, refused)
        });
    }
    let mut holds: Vec<(String, i64, i64)> = Vec::new();
    let mut refused = 0;
    while let Some(joined) = clients.join_next().await {
        let (granted, lost) = joined.expect("client ran");
        refused += lost;
        for body in granted {
            let until = ticketing::domain::Timestamp::parse_rfc3339(body["holdExpiresAt"].as_str().expect("until"))
                .expect("timestamp")
                .as_millis();
            let seat = body["seatIds"][0].as_str().expect("seat").to_owned();
            holds.push((seat, until - 1000, until));
        }
    }
    expirer.abort();
    worker.abort();
    holds.sort();
    for pair in holds.windows(2) {
        let ((seat_a, _, until_a), (seat_b, from_b, _)) = (&pair[0], &pair[1]);
        if seat_a == seat_b {
            assert!(from_b >= until_a, "{seat_a} held twice: {pair:?}");
        }
    }
    println!(
        "{} holds granted on 10 seats in 3 s ({} refused), none overlapping",
        holds.len(),
        refused
    );
    assert!(holds.len() >= 20, "lapsed seats are booked again: {}", holds.len());
}

#[tokio::test]
async fn idempotency_keys() {
    let emulator = emulator();
    idempotency_suite(dynamo_store(&emulator).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_sent_concurrently_books_once() {
    let emulator = emulator();
    same_key_concurrently(dynamo_store(&emulator).await).await;
}

#[tokio::test]
async fn signed_webhooks() {
    let emulator = emulator();
    webhook_suite(dynamo_store(&emulator).await).await;
}

#[tokio::test]
async fn the_audit_is_clean_after_real_flows_and_reports_every_breach() {
    use ticketing::audit;
    let emulator = emulator();
    let app = app(&emulator, small_catalog(20)).await;
    let mut shard = events_stream(&emulator, &app.store).await;
    let worker = run_mapping(
        &mut shard,
        |event| async { Ok(ticketing::worker::process_batch(&app, event).await) },
        Mapping::default(),
    );
    let flows = async {
        for (i, cvv) in ["120", "442", "120", "443", "120"].iter().enumerate() {
            let (_, created) = book(&app, USER, 2).await;
            let id = created["bookingId"].as_str().expect("id").to_owned();
            assert_eq!(pay(&app, USER, &id, cvv).await.0, StatusCode::OK);
            wait_for_status(&app, USER, &id, if i % 2 == 0 { "confirmed" } else { "failed" }).await;
        }
        book(&app, USER, 1).await;
    };
    tokio::select! {
        () = worker => panic!("the worker never stops by itself"),
        () = flows => {}
    }
    let report = audit::run(&app.store).await.expect("audit ran");
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (
            report.bookings,
            report.confirmed,
            report.ledger_transactions,
            report.sold_seats
        ),
        (6, 3, 3, 6)
    );

    // The binary agrees, and exits 0.
    let tables = app.store.tables();
    let binary = |expect: i32| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_audit"))
            .env("AWS_ENDPOINT_URL_DYNAMODB", emulator.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("BOOKINGS_TABLE", &tables.bookings)
            .env("LEDGER_ENTRIES_TABLE", &tables.ledger_entries)
            .env("OCCUPIED_SEATS_TABLE", &tables.occupied_seats)
            .output()
            .expect("audit runs");
        assert_eq!(
            output.status.code(),
            Some(expect),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(binary(0).contains("audit clean"));

    // Breaches written behind the application's back are all reported.
    let client = app.store.client();
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    let n = |v: i64| aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
    let any_booking = audit::AuditSource::all_bookings(&app.store).await.expect("read");
    let pending = any_booking
        .iter()
        .find(|b| b.status == ticketing::domain::BookingStatus::Pending)
        .expect("a pending booking");
    let amount = aws_sdk_dynamodb::types::AttributeValue::M(std::collections::HashMap::from([
        ("amount".to_owned(), n(999)),
        ("currency".to_owned(), s("KRW")),
    ]));
    client
        .put_item()
        .table_name(&tables.ledger_entries)
        .item("transactionId", s("txn_forged"))
        .item("entryId", s("1"))
        .item("account", s("CUSTOMER_PAYABLE"))
        .item("direction", s("DEBIT"))
        .item("amount", amount)
        .item("bookingId", s(pending.booking_id.as_str()))
        .item("eventId", s("evt_forged"))
        .item("createdAt", s("2026-01-01T00:00:00.000Z"))
        .send()
        .await
        .expect("forged entry");
    client
        .put_item()
        .table_name(&tables.occupied_seats)
        .item("performanceId", s("perf_001"))
        .item("seatId", s("Z9"))
        .item("bookingId", s(pending.booking_id.as_str()))
        .item("status", s("sold"))
        .send()
        .await
        .expect("forged seat");
    let report = audit::run(&app.store).await.expect("audit ran");
    let text = report.to_string();
    assert!(!report.is_clean());
    assert!(text.contains("transaction txn_forged does not balance: 999"), "{text}");
    assert!(text.contains("the ledger sums to 999"), "{text}");
    assert!(text.contains("has 1 entries"), "{text}");
    assert!(
        text.contains("pending booking") && text.contains("is settled 1 times"),
        "{text}"
    );
    assert!(text.contains("seat Z9 of perf_001 is sold to booking"), "{text}");
    assert!(binary(1).contains("audit FAILED: 5 breaches"));
}

#[tokio::test]
async fn replaying_every_event_three_times_in_random_order_changes_nothing() {
    let emulator = emulator();
    let app = app(&emulator, small_catalog(200)).await;
    let mut shard = events_stream(&emulator, &app.store).await;
    replay_suite(&app, &mut shard, 200).await;
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_and_doubles_nothing() {
    let emulator = emulator();
    let app = app(&emulator, small_catalog(100)).await;
    let mut shard = events_stream(&emulator, &app.store).await;
    crash_suite(&app, &mut shard, 100).await;
}

/// An outage of the worker: records given up after their retries go to the dead-letter queue with the
/// reason; the redrive applies them once the worker is back. A poison record fails again and stays.
#[tokio::test]
async fn given_up_records_go_to_the_dead_letter_queue_and_redrive_applies_them() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use ticketing::stream::run_mapping_with_dead_letters;
    use ticketing_local::redrive::{redrive, SqsDeadLetters};
    let emulator = emulator();
    let moto = moto();
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&moto));
    let name = format!("events-dlq-{}", uuid::Uuid::new_v4().simple());
    let dlq = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let app = app(&emulator, small_catalog(10)).await;

    // Two paid bookings while the worker is down, and a notification for a booking that never existed.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, created) = book(&app, USER, 1).await;
        let id = created["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(pay(&app, USER, &id, "120").await.0, StatusCode::OK);
        ids.push(id);
    }
    let ghost = ticketing::webhook::Notification {
        id: ticketing::domain::EventId::try_from("evt_ghost").expect("valid"),
        kind: ticketing::webhook::NotificationType::PaymentSucceeded,
        created: 0,
        data: ticketing::webhook::NotificationData {
            booking_id: ticketing::domain::BookingId::try_from("no-such-booking").expect("valid"),
            failure_code: None,
        },
    };
    let stored = ticketing::webhook::StoredNotification::of(&ghost, ticketing::domain::Timestamp::from_millis(0));
    ticketing::store::Inbox::put_event(&app.store, &ghost.id, &stored)
        .await
        .expect("stored");

    let down = AtomicBool::new(true);
    let deliver = |event| {
        let down = down.load(Ordering::SeqCst);
        let app = &app;
        async move {
            if down {
                return Err("the function is unavailable".to_owned());
            }
            Ok(ticketing::worker::process_batch(app, event).await)
        }
    };
    let mapping = Mapping {
        batch_size: 10,
        maximum_retry_attempts: 2,
        retry_delay: std::time::Duration::from_millis(5),
    };
    let dead_letters = SqsDeadLetters {
        client: sqs.clone(),
        queue_url: dlq.clone(),
    };
    let mut shard = events_stream(&emulator, &app.store).await;
    let outage = run_mapping_with_dead_letters(&mut shard, deliver, mapping, &dead_letters);
    let given_up = async {
        // 2 payments and the notification: every one is given up while the function is down.
        loop {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&dlq)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .expect("attributes");
            let count = attributes
                .attributes
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                        .cloned()
                })
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            if count >= 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        () = outage => panic!("the mapping never stops by itself"),
        () = given_up => {}
    }
    let peek = sqs
        .receive_message()
        .queue_url(&dlq)
        .visibility_timeout(0)
        .send()
        .await
        .expect("receive");
    let letter: ticketing::stream::StreamFailure =
        serde_json::from_str(peek.messages.unwrap_or_default()[0].body.as_deref().unwrap_or_default())
            .expect("a dead letter");
    assert_eq!(letter.request_context.condition, "RetryAttemptsExhausted");
    assert_eq!(letter.response_context.function_error, "the function is unavailable");
    for id in &ids {
        wait_for_status(&app, USER, id, "pending").await;
    }

    // The worker is back: the redrive applies what was given up, except the poison record.
    let stream = events_stream(&emulator, &app.store).await;
    let deliver = |event| async { Ok(ticketing::worker::process_batch(&app, event).await) };
    let report = redrive(&sqs, &dlq, &stream, deliver).await.expect("redrive ran");
    println!("{report}");
    assert_eq!((report.moved, report.failed), (2, 1), "{report}");
    for id in &ids {
        wait_for_status(&app, USER, id, "confirmed").await;
    }
    // The poison record's dead letter stays on the queue.
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    let count = |name: &A| attributes.get(name).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    assert_eq!(
        count(&A::ApproximateNumberOfMessages) + count(&A::ApproximateNumberOfMessagesNotVisible),
        1
    );
    assert!(ticketing::audit::run(&app.store).await.expect("audit").is_clean());
}
