//! `make bench`: measures the booking path on DynamoDB Local and writes BENCHMARKS.md.
//! 1. Requests and capacity per booking: one complete flow (book 2 seats, pay, the worker confirms) with
//!    every DynamoDB request and the capacity DynamoDB reports for it (`ReturnConsumedCapacity`).
//! 2. Throughput against the ceiling: C concurrent clients (1, 8, 32) booking 2 seats and paying on a
//!    performance of 5,000 seats, and the same TransactWriteItems shapes issued directly with the SDK.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ticketing::booking::{App, BookingRequest, PaymentRequest, Settings};
use ticketing::catalog::Catalog;
use ticketing::domain::payment::{Cvv, PaymentMethodToken};
use ticketing::domain::{PaymentMethod, PerformanceId, Quantity, SystemClock, UserId};
use ticketing::store::dynamodb::CapacityLog;
use ticketing::store::{DynamoStore, Tables};
use ticketing::stream::ShardReader;
use ticketing_local::emulator::Emulator;
use ticketing_local::poller::StreamShards;

/// On-demand prices (us-east-1, per million request units) used for the cost figures.
const WRITE_PRICE: f64 = 0.625;
const READ_PRICE: f64 = 0.125;
const LEVELS: [usize; 3] = [1, 8, 32];
const PER_LEVEL: Duration = Duration::from_secs(8);

type Error = Box<dyn std::error::Error + Send + Sync>;

fn catalog(performances: usize) -> Result<Catalog, Error> {
    // 50 rows of 100 seats: rows A..Z, then AA..AX.
    let rows: Vec<String> = (0..50)
        .map(|r| {
            if r < 26 {
                ((b'A' + r as u8) as char).to_string()
            } else {
                format!("A{}", (b'A' + (r - 26) as u8) as char)
            }
        })
        .collect();
    let seats: Vec<String> = rows
        .iter()
        .flat_map(|row| (1..=100).map(move |n| format!("{row}{n}")))
        .collect();
    let list: Vec<serde_json::Value> = (0..performances)
        .map(|p| serde_json::json!({"performanceId": format!("bench_{p}"), "title": "Bench", "price": 30000, "currency": "KRW", "seats": seats}))
        .collect();
    Ok(Catalog::from_json(
        &serde_json::json!({ "performances": list }).to_string(),
    )?)
}

fn config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "bench"),
        ))
        .build()
}

fn request(performance: &str) -> Result<BookingRequest, Error> {
    Ok(BookingRequest {
        performance_id: PerformanceId::try_from(performance)?,
        quantity: Quantity::try_from(2)?,
        payment_method: PaymentMethod::CreditCard,
    })
}

async fn book_and_pay(app: &App<DynamoStore>, user: &UserId, performance: &str) -> Result<(), Error> {
    let booking = app.create_booking(user.clone(), request(performance)?, None).await?;
    let payment = PaymentRequest {
        booking_id: booking.booking_id,
        token: PaymentMethodToken::try_from("tok_visa_creditCard")?,
        cvv: Cvv::try_from("120")?,
    };
    app.execute_payment(user, payment, None).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let emulator = Emulator::dynamodb_local()?;
    let config = config(&emulator.endpoint());
    let client = aws_sdk_dynamodb::Client::new(&config);
    let tables = Tables::prefixed("bench_");
    ticketing_local::tables::create_all(&client, &ticketing_local::tables::template_path(), &tables).await?;
    let log = Arc::new(CapacityLog::default());
    let store = DynamoStore::new(client.clone(), tables.clone()).with_capacity_log(log.clone());
    let (queue, _due) = ticketing::expiry::InProcessQueue::new();
    let app = Arc::new(
        App::new(
            store,
            catalog(1 + LEVELS.len())?,
            Arc::new(SystemClock),
            Settings::default(),
        )
        .with_expiries(Arc::new(queue)),
    );
    let mut report = String::new();

    // 1. One complete flow, request by request.
    let user = UserId::try_from("bench_user")?;
    book_and_pay(&app, &user, "bench_0").await?;
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let mut shard = StreamShards::open(&client, streams, &tables.events, "us-east-1").await?;
    let mut records = Vec::new();
    while records.len() < 2 {
        records.extend(shard.read(100).await?);
    }
    let response = ticketing::worker::process_batch(&app, ticketing::stream::batch(records)).await;
    if !response.batch_item_failures.is_empty() {
        return Err("the worker failed".into());
    }
    let requests = log.take();
    writeln!(report, "## Requests and capacity per booking\n")?;
    writeln!(
        report,
        "One complete flow on DynamoDB Local: book 2 seats (perf of 5,000 seats, none held), pay (CVV 120),"
    )?;
    writeln!(
        report,
        "the worker applies the stream records (HOLD_PLACED, PAYMENT_SUCCEEDED). Capacity as DynamoDB reports it"
    )?;
    writeln!(
        report,
        "with `ReturnConsumedCapacity`; prices: on-demand ${WRITE_PRICE}/M write units, ${READ_PRICE}/M read units.\n"
    )?;
    writeln!(report, "| # | step | operation | table | read units | write units |")?;
    writeln!(report, "|---|---|---|---|---|---|")?;
    let steps = [
        "book: read the seat locks",
        "book: hold transaction",
        "pay: read the booking",
        "pay: outcome + event",
        "worker: settle",
    ];
    let (mut reads, mut writes) = (0.0, 0.0);
    for (i, request) in requests.iter().enumerate() {
        for (table, r, w) in &request.tables {
            let table = table.strip_prefix("bench_").unwrap_or(table);
            writeln!(
                report,
                "| {} | {} | {} | {table} | {r} | {w} |",
                i + 1,
                steps.get(i).unwrap_or(&""),
                request.operation
            )?;
            reads += r;
            writes += w;
        }
    }
    writeln!(
        report,
        "\nDynamoDB Local reports: **{} requests, {reads} read units, {writes} write units** per confirmed 2-seat",
        requests.len()
    )?;
    writeln!(
        report,
        "booking. It counts a transaction's writes per table, not per item, so it under-reports: by DynamoDB's"
    )?;
    writeln!(
        report,
        "documented rules (a transactional write of an item up to 1 KB is 2 write units, a GSI write 1, a"
    )?;
    writeln!(
        report,
        "strongly consistent read up to 4 KB 1 read unit) the same requests cost:\n"
    )?;
    writeln!(report, "| request | items written | write units | read units |")?;
    writeln!(report, "|---|---|---|---|")?;
    writeln!(
        report,
        "| Query seat locks | - | 0 | 1 (consistent; more as a hall fills: 1 per 4 KB of locks) |"
    )?;
    writeln!(
        report,
        "| hold transaction | booking (+ byUser GSI), intent, 2 locks, HOLD_PLACED | 2+1+2+4+2 = 11 | 0 |"
    )?;
    writeln!(report, "| GetItem booking | - | 0 | 1 |")?;
    writeln!(report, "| payment transaction | intent, PAYMENT_SUCCEEDED | 4 | 0 |")?;
    writeln!(
        report,
        "| settle transaction | booking (+ byUser GSI), 2 locks, 2 ledger entries | 2+1+4+4 = 11 | 0 |"
    )?;
    let (model_writes, model_reads) = (26.0, 2.0);
    let cost = model_writes * WRITE_PRICE + model_reads * READ_PRICE;
    writeln!(report, "\nTotal by the rules: **5 requests, {model_writes} write units, {model_reads} read units**, i.e. **${cost:.2} per million")?;
    writeln!(
        report,
        "bookings** in DynamoDB request units. Budget: 5 requests (met) and 20 write units (6 over: the"
    )?;
    writeln!(
        report,
        "HOLD_PLACED outbox item, 2; the byUser GSI written twice, 2; the ledger's two entries as two items, 2).\n"
    )?;

    // 2. Throughput and its ceiling.
    writeln!(report, "## Throughput against the ceiling\n")?;
    writeln!(
        report,
        "C clients, each booking 2 seats and paying in a loop for {} s on its own 5,000-seat performance;",
        PER_LEVEL.as_secs()
    )?;
    writeln!(
        report,
        "the ceiling issues the same two TransactWriteItems shapes (the hold with 2 locks and HOLD_PLACED,"
    )?;
    writeln!(
        report,
        "the payment outcome with its event) directly with the SDK, with no reads and no application code.\n"
    )?;
    writeln!(
        report,
        "| C | bookings/s (application) | bookings/s (SDK ceiling) | ratio |"
    )?;
    writeln!(report, "|---|---|---|---|")?;
    for (level, clients) in LEVELS.iter().enumerate() {
        let performance = format!("bench_{}", level + 1);
        let app_rate = {
            let until = Instant::now() + PER_LEVEL;
            let mut tasks = tokio::task::JoinSet::new();
            for c in 0..*clients {
                let (app, performance) = (Arc::clone(&app), performance.clone());
                tasks.spawn(async move {
                    let user = UserId::try_from(format!("bench_{c}")).map_err(|e| e.to_string())?;
                    let mut done = 0u32;
                    while Instant::now() < until {
                        book_and_pay(&app, &user, &performance)
                            .await
                            .map_err(|e| e.to_string())?;
                        done += 1;
                    }
                    Ok::<u32, String>(done)
                });
            }
            let mut total = 0u32;
            while let Some(joined) = tasks.join_next().await {
                total += joined??;
            }
            f64::from(total) / PER_LEVEL.as_secs_f64()
        };
        log.take();
        let ceiling = ticketing_local::bench::ceiling(&client, &tables, *clients, PER_LEVEL).await?;
        writeln!(
            report,
            "| {clients} | {app_rate:.1} | {ceiling:.1} | {:.0} % |",
            100.0 * app_rate / ceiling
        )?;
    }
    writeln!(report, "\nRun time: {:.0} s.", started.elapsed().as_secs_f64())?;
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let date = ticketing::domain::Clock::now(&SystemClock).to_rfc3339();
    let document = format!(
        "# Benchmarks\n\nMachine: {cores} cores ({machine}); DynamoDB Local 3.3.1 in memory on the same machine.\nDate: {date}.\nCommand: `make bench` (the bench binary built in release).\n\n{report}"
    );
    std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md"),
        &document,
    )?;
    print!("{document}");
    Ok(())
}
