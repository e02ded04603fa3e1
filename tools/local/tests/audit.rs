//! The ledger audit over DynamoDB Local, in the library and as `make audit`'s binary: clean after real
//! flows through the events stream, and every breach written behind the application's back reported.

use ticketing_aws::events::process_stream;
use ticketing_core::audit::{self, AuditSource};
use ticketing_core::domain::BookingStatus;
use ticketing_testkit::mapping::{run_mapping, Mapping};
use ticketing_testkit::test_app::{dynamodb, dynamodb_local, EventStream, Setup, USER};

#[tokio::test]
async fn the_audit_is_clean_after_real_flows_and_reports_every_breach() {
    let app = Setup::seats(20).build(dynamodb().await).await;
    let mut shard = app.store.events_stream().await;
    let worker = run_mapping(
        &mut *shard,
        |event| async { Ok(process_stream(&app.api.settle_events, event).await) },
        Mapping::default(),
    );
    let flows = async {
        for (i, cvv) in ["120", "442", "120", "443", "120"].iter().enumerate() {
            let id = app.book_and_pay(USER, 2, cvv).await;
            app.wait_for_status(USER, &id, if i % 2 == 0 { "confirmed" } else { "failed" })
                .await;
        }
        app.book(USER, 1).await;
    };
    tokio::select! {
        () = worker => panic!("the worker never stops by itself"),
        () = flows => {}
    }
    let report = audit::run(app.store.as_ref()).await.expect("audit ran");
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
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local().endpoint())
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
    let any_booking = app.store.all_bookings().await.expect("read");
    let pending = any_booking
        .iter()
        .find(|b| b.status == BookingStatus::Pending)
        .expect("a pending booking");
    let amount = aws_sdk_dynamodb::types::AttributeValue::M(std::collections::HashMap::from([
        ("amount".to_owned(), n(999)),
        ("currency".to_owned(), s("KRW")),
    ]));
    let forged = aws_sdk_dynamodb::types::AttributeValue::M(std::collections::HashMap::from([
        ("transactionId".to_owned(), s("txn_forged")),
        ("entryId".to_owned(), s("1")),
        ("account".to_owned(), s("CUSTOMER_PAYABLE")),
        ("direction".to_owned(), s("DEBIT")),
        ("amount".to_owned(), amount),
        ("bookingId".to_owned(), s(pending.booking_id.as_str())),
        ("eventId".to_owned(), s("evt_forged")),
        ("createdAt".to_owned(), s("2026-01-01T00:00:00.000Z")),
    ]));
    client
        .put_item()
        .table_name(&tables.ledger_entries)
        .item("transactionId", s("txn_forged"))
        .item("entries", aws_sdk_dynamodb::types::AttributeValue::L(vec![forged]))
        .send()
        .await
        .expect("forged entry");
    client
        .put_item()
        .table_name(&tables.occupied_seats)
        .item("performanceId", s("perf_001"))
        .item("seatId", s("Z9"))
        .item("bookingId", s(pending.booking_id.as_str()))
        .item("userId", s(pending.user_id.as_str()))
        .item("status", s("sold"))
        .send()
        .await
        .expect("forged seat");
    // A confirmed booking loses one of its sold seats, and another's capture is rewritten in dollars.
    let confirmed: Vec<_> = any_booking
        .iter()
        .filter(|b| b.status == BookingStatus::Confirmed)
        .collect();
    let robbed = confirmed[0];
    client
        .delete_item()
        .table_name(&tables.occupied_seats)
        .key("performanceId", s(robbed.performance_id.as_str()))
        .key("seatId", s(robbed.seat_ids[0].as_str()))
        .send()
        .await
        .expect("seat deleted");
    let repriced = confirmed[1];
    let dollars = |amount: i64| {
        aws_sdk_dynamodb::types::AttributeValue::M(std::collections::HashMap::from([
            ("amount".to_owned(), n(amount)),
            ("currency".to_owned(), s("USD")),
        ]))
    };
    for entry in app.store.all_ledger_entries().await.expect("read") {
        if entry.booking_id == repriced.booking_id {
            // Both entries of the transaction, in its one item.
            client
                .update_item()
                .table_name(&tables.ledger_entries)
                .key("transactionId", s(&entry.transaction_id))
                .update_expression("SET entries[0].amount = :a, entries[1].amount = :a")
                .expression_attribute_values(":a", dollars(entry.amount.amount))
                .send()
                .await
                .expect("entry repriced");
        }
    }
    let report = audit::run(app.store.as_ref()).await.expect("audit ran");
    let text = report.to_string();
    assert!(!report.is_clean());
    assert!(
        text.contains(&format!("confirmed booking {} owns the sold seats", robbed.booking_id)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "confirmed booking {} is settled for 60000 USD, not its 60000 KRW",
            repriced.booking_id
        )),
        "{text}"
    );
    assert!(text.contains("transaction txn_forged does not balance: 999"), "{text}");
    assert!(text.contains("the ledger sums to 999"), "{text}");
    assert!(text.contains("has 1 entries"), "{text}");
    assert!(
        text.contains("pending booking") && text.contains("is settled 1 times"),
        "{text}"
    );
    assert!(text.contains("seat Z9 of perf_001 is sold to booking"), "{text}");
    assert!(binary(1).contains("audit FAILED: 7 breaches"));
}
