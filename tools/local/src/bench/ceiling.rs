//! The ceiling of the booking path: the minimal sequence a booking needs, issued directly with the SDK
//! (no application code): the hold (booking, intent, two locks in one TransactWriteItems), the
//! payment's read of the booking (a consistent GetItem), and the payment's transaction (the intent's
//! outcome and its event).

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use ticketing_aws::dynamodb::Tables;

use super::{Error, Throughput};

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn put(table: &str, item: HashMap<String, AttributeValue>, key: &str) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(format!("attribute_not_exists({key})"))
        .build()?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// One booking's minimal sequence: hold, read, pay. The items carry the attributes the application's
/// do (and so are about as large), written under the same conditions.
async fn one(client: &Client, tables: &Tables, performance: &str, n: u64) -> Result<(), Error> {
    let id = uuid::Uuid::now_v7().to_string();
    let intent = format!("pi_{id}");
    let user = "ceiling_user";
    let until = AttributeValue::N("1800000600000".to_owned());
    let at = || s("2026-11-25T00:00:00.000Z");
    let money = || {
        AttributeValue::M(item(&[
            ("amount", AttributeValue::N("60000".to_owned())),
            ("currency", s("KRW")),
        ]))
    };
    let seat_ids = || AttributeValue::L(vec![s(format!("A{n}")), s(format!("B{n}"))]);
    let booking = item(&[
        ("bookingId", s(&id)),
        ("userId", s(user)),
        ("performanceId", s(performance)),
        ("quantity", AttributeValue::N("2".to_owned())),
        ("seatIds", seat_ids()),
        ("status", s("pending")),
        ("total", money()),
        ("paymentMethod", s("CREDIT_CARD")),
        ("paymentIntentId", s(&intent)),
        ("createdAt", at()),
        ("holdExpiresAt", until.clone()),
        ("updatedAt", at()),
    ]);
    let lock = |seat: String| {
        item(&[
            ("performanceId", s(performance)),
            ("seatId", s(seat)),
            ("bookingId", s(&id)),
            ("userId", s(user)),
            ("status", s("locked")),
            ("lockedUntil", until.clone()),
        ])
    };
    let hold = vec![
        put(&tables.bookings, booking, "bookingId")?,
        put(
            &tables.payment_intents,
            item(&[
                ("paymentIntentId", s(&intent)),
                ("bookingId", s(&id)),
                ("userId", s(user)),
                ("amount", money()),
                ("paymentMethod", s("CREDIT_CARD")),
                ("status", s("pending")),
                ("holdExpiresAt", until.clone()),
                ("createdAt", at()),
                ("updatedAt", at()),
            ]),
            "paymentIntentId",
        )?,
        put(&tables.occupied_seats, lock(format!("A{n}")), "seatId")?,
        put(&tables.occupied_seats, lock(format!("B{n}")), "seatId")?,
    ];
    client
        .transact_write_items()
        .set_transact_items(Some(hold))
        .send()
        .await?;
    client
        .get_item()
        .table_name(&tables.bookings)
        .key("userId", s(user))
        .key("bookingId", s(&id))
        .consistent_read(true)
        .send()
        .await?;
    let pg = AttributeValue::M(item(&[
        ("isSuccess", AttributeValue::Bool(true)),
        ("failureCode", AttributeValue::Null(true)),
        ("processedAt", at()),
        ("refundDeclines", AttributeValue::N("0".to_owned())),
    ]));
    let update = Update::builder()
        .table_name(&tables.payment_intents)
        .key("paymentIntentId", s(&intent))
        .update_expression("SET #status = :to, pgMockData = :pg, updatedAt = :at")
        .condition_expression("#status = :pending AND holdExpiresAt > :now AND attribute_not_exists(seatsReleasedAt)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":to", s("succeeded"))
        .expression_attribute_values(":pg", pg)
        .expression_attribute_values(":at", at())
        .expression_attribute_values(":pending", s("pending"))
        .expression_attribute_values(":now", AttributeValue::N("1".to_owned()))
        .build()?;
    let pay = vec![
        TransactWriteItem::builder().update(update).build(),
        put(
            &tables.events,
            item(&[
                ("eventId", s(format!("evt_{}", uuid::Uuid::new_v4().simple()))),
                ("type", s("PAYMENT_SUCCEEDED")),
                ("bookingId", s(&id)),
                ("userId", s(user)),
                ("paymentIntentId", s(&intent)),
                ("performanceId", s(performance)),
                ("seatIds", seat_ids()),
                ("amount", money()),
                ("failureCode", AttributeValue::Null(true)),
                ("occurredAt", at()),
                ("source", s("pg-simulator")),
            ]),
            "eventId",
        )?,
    ];
    client
        .transact_write_items()
        .set_transact_items(Some(pay))
        .send()
        .await?;
    Ok(())
}

/// The bookings `clients` concurrent clients complete issuing only the minimal sequence for
/// `duration`, each on the performance `performance` (distinct seats: no conflicts; a performance
/// name serves one run), timed until the last client's last booking is done.
pub async fn ceiling(
    client: &Client,
    tables: &Tables,
    performance: &str,
    clients: usize,
    duration: Duration,
) -> Result<Throughput, Error> {
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, tables, counter) = (client.clone(), tables.clone(), Arc::clone(&counter));
        let performance = performance.to_owned();
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < until {
                one(&client, &tables, &performance, counter.fetch_add(1, Ordering::Relaxed)).await?;
                done += 1;
            }
            Ok::<u64, Error>(done)
        });
    }
    let mut bookings = 0u64;
    while let Some(joined) = tasks.join_next().await {
        bookings += joined??;
    }
    Ok(Throughput {
        bookings,
        seconds: started.elapsed().as_secs_f64(),
    })
}
