//! `make bench`: measures the booking path on DynamoDB Local and writes BENCHMARKS.md.
//! 1. Requests and capacity per booking: one complete flow (book 2 seats, pay, the worker confirms) with
//!    every DynamoDB request and the capacity DynamoDB reports for it (`ReturnConsumedCapacity`).
//! 2. Throughput against the ceiling: C concurrent clients (1, 8, 32) booking 2 seats and paying on a
//!    performance of 5,000 seats, and the same TransactWriteItems shapes issued directly with the SDK.
//! 3. Cold start: each function's release binary, its size and the time from process start to its first
//!    poll of the Lambda runtime API (a stand-in), median of 20.
//! 4. Asynchronous latency and memory: 500 bookings through the release binaries of the functions, the
//!    events stream fed to `process-events`; payment's 200 to `confirmed` in GET /bookings/my, and each
//!    function's peak RSS.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ticketing_aws::dynamodb::{CapacityLog, DynamoStore, Tables};
use ticketing_aws::events::process_stream;
use ticketing_aws::http::AuthMode;
use ticketing_core::app::{
    load_catalog, BookingRequest, CancelPolicy, ExpireHolds, Gateway, HoldPolicy, PaymentRequest, ProcessingPolicy,
    WebhookSecret, DEFAULT_CATALOG_TTL,
};
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::payment::{Cvv, PaymentMethodToken};
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{
    Booking, BookingId, Clock, ManualClock, PaymentMethod, PerformanceId, Quantity, SeatId, SeatState, SystemClock,
    UserId,
};
use ticketing_core::ports::{ExpiryQueue, HoldExpiry, QueueError};
use ticketing_local::bench::{quantile, through_functions, Error};
use ticketing_local::functions;
use ticketing_testkit::emulator::Emulator;
use ticketing_testkit::local::{LocalApi, Parts};
use ticketing_testkit::mapping::{batch, ShardReader};
use ticketing_testkit::streams::StreamShards;

/// On-demand prices (us-east-1, per million request units) used for the cost figures.
const WRITE_PRICE: f64 = 0.625;
const READ_PRICE: f64 = 0.125;
const LEVELS: [usize; 3] = [1, 8, 32];
const PER_LEVEL: Duration = Duration::from_secs(8);
const COLD_STARTS: usize = 20;
/// What was changed because of these figures, with the figures before and after, as measured then.
const CHANGES: &str = include_str!("../bench/changes.md");

/// One confirmed 2-seat booking's requests costed by DynamoDB's documented rules: (request, items
/// written, write units, read units, note).
const RULES: [(&str, &str, f64, f64, &str); 7] = [
    (
        "Query a row's seat locks",
        "-",
        0.0,
        1.0,
        " (consistent, up to 4 KB: a row of 100 seats)",
    ),
    (
        "hold transaction",
        "booking (+ byUser GSI), intent, 2 locks, the customer's seat count",
        11.0,
        0.0,
        "",
    ),
    ("GetItem booking", "-", 0.0, 1.0, ""),
    ("payment transaction", "intent, PAYMENT_SUCCEEDED", 4.0, 0.0, ""),
    (
        "settle transaction",
        "booking (+ byUser GSI), 2 locks, 2 ledger entries",
        11.0,
        0.0,
        "",
    ),
    (
        "GetItem performance after the settlement",
        "-",
        0.0,
        0.5,
        " (eventually consistent: was the show cancelled meanwhile?)",
    ),
    ("GetItem booking at expiry", "-", 0.0, 0.5, " (eventually consistent)"),
];
const BUDGET: &str = "Budget: 5 requests and 20 write units. The sixth request is the worker's read of
the performance after it confirms a booking (a booking confirmed for a show cancelled meanwhile is
cancelled and refunded at once); the seventh is the hold's expiry, due for every hold, paid or not (a
read of the booking, where it was a 4-item transaction that the conditions refused). A process's first
booking of a performance also reads the performance (GetItem) and, once per performance, locks its
layout (UpdateItem); the table above is measured after one such booking. 6 write units over: the byUser GSI written twice (insert, then the status), 2;
the ledger's two entries as two items, 2; the customer's seat count (maxSeatsPerUser), 2. Besides DynamoDB, each booking's expiry is one SQS message
(send, receive, delete: 3 requests, $1.20 per million bookings at $0.40 per million requests).";
const FLOW_BOOKINGS: usize = 500;
const FLOW_CLIENTS: usize = 8;

/// The seats of a bench performance in hall order: 50 rows of 100 seats, rows A..Z, then AA..AX.
fn hall() -> Vec<String> {
    let rows: Vec<String> = (0..50u8)
        .map(|r| {
            if r < 26 {
                ((b'A' + r) as char).to_string()
            } else {
                format!("A{}", (b'A' + (r - 26)) as char)
            }
        })
        .collect();
    rows.iter()
        .flat_map(|row| (1..=100).map(move |n| format!("{row}{n}")))
        .collect()
}

fn catalog_json(performances: usize) -> serde_json::Value {
    let seats = hall();
    let list: Vec<serde_json::Value> = (0..performances)
        .map(|p| serde_json::json!({"performanceId": format!("bench_{p}"), "title": "Bench", "price": 30000, "currency": "KRW", "seats": seats}))
        .collect();
    serde_json::json!({ "performances": list })
}

fn catalog(performances: usize) -> Result<Catalog, Error> {
    Ok(Catalog::from_json(&catalog_json(performances).to_string())?)
}

/// The environment of the functions' processes, as `template.yaml` gives it to them in AWS.
fn function_env(dynamodb: &str, sqs: &str, queue_url: &str, tables: &Tables) -> Vec<(String, String)> {
    let env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb),
        ("AWS_ENDPOINT_URL_SQS", sqs),
        ("HOLD_EXPIRY_QUEUE_URL", queue_url),
        ("PG_WEBHOOK_SECRET", ticketing_aws::config::LOCAL_WEBHOOK_SECRET),
        // Where deliver-notifications posts (it starts without being invoked here).
        ("PG_WEBHOOK_URL", "http://127.0.0.1:9/webhooks/pg"),
        ("AUTH_MODE", "header"),
        ("RUST_LOG", "info"),
        ("BOOKINGS_TABLE", &tables.bookings),
        ("PAYMENT_INTENTS_TABLE", &tables.payment_intents),
        ("EVENTS_TABLE", &tables.events),
        ("LEDGER_ENTRIES_TABLE", &tables.ledger_entries),
        ("OCCUPIED_SEATS_TABLE", &tables.occupied_seats),
        ("IDEMPOTENCY_KEYS_TABLE", &tables.idempotency_keys),
        ("USER_SEATS_TABLE", &tables.user_seats),
        ("PERFORMANCES_TABLE", &tables.performances),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    env
}

fn request(performance: &str) -> Result<BookingRequest, Error> {
    Ok(BookingRequest {
        performance_id: PerformanceId::try_from(performance)?,
        quantity: Quantity::try_from(2)?,
        payment_method: PaymentMethod::CreditCard,
        section: None,
    })
}

/// The worker applies the next record of the events stream.
async fn settle_next(app: &LocalApi<DynamoStore>, shard: &mut StreamShards) -> Result<(), Error> {
    let mut records = Vec::new();
    while records.is_empty() {
        records.extend(shard.read(1).await?);
    }
    let response = process_stream(&app.settle_events, batch(records)).await;
    if response.batch_item_failures.is_empty() {
        Ok(())
    } else {
        Err("the worker failed".into())
    }
}

async fn book_and_pay(app: &LocalApi<DynamoStore>, user: &UserId, performance: &str) -> Result<Booking, Error> {
    let booking = app
        .create_booking
        .create(user.clone(), request(performance)?, None)
        .await?;
    let payment = PaymentRequest {
        booking_id: booking.booking_id.clone(),
        token: PaymentMethodToken::try_from("tok_visa_creditCard")?,
        cvv: Cvv::try_from("120")?,
    };
    app.execute_payment.pay(user, payment, None).await?;
    Ok(booking)
}

/// The expiries the bookings schedule, kept to be applied when the bench says they are due.
#[derive(Default)]
struct Scheduled(std::sync::Mutex<Vec<HoldExpiry>>);

impl Scheduled {
    fn take(&self) -> Option<HoldExpiry> {
        self.0.lock().ok()?.pop()
    }
}

#[async_trait::async_trait]
impl ExpiryQueue for Scheduled {
    async fn schedule(&self, expiry: &HoldExpiry, _delay: Duration) -> Result<(), QueueError> {
        if let Ok(mut scheduled) = self.0.lock() {
            scheduled.push(expiry.clone());
        }
        Ok(())
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The Query requests logged since the last take, and the read units they consumed.
fn queries(log: &CapacityLog) -> (usize, f64) {
    let reads: Vec<_> = log.take().into_iter().filter(|r| r.operation == "Query").collect();
    let units = reads
        .iter()
        .flat_map(|r| r.tables.iter().map(|(_, read, _)| read))
        .sum();
    (reads.len(), units)
}

/// Writes `seats` of `performance` as sold, 25 to a request.
async fn fill(
    client: &aws_sdk_dynamodb::Client,
    tables: &Tables,
    performance: &str,
    seats: &[String],
) -> Result<(), Error> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let booking = BookingId::generate();
    for chunk in seats.chunks(25) {
        let mut requests = Vec::with_capacity(chunk.len());
        for seat in chunk {
            let lock = SeatLock {
                performance_id: PerformanceId::try_from(performance)?,
                seat_id: SeatId::try_from(seat.as_str())?,
                booking_id: booking.clone(),
                status: SeatState::Sold,
                locked_until: None,
            };
            let put = PutRequest::builder()
                .set_item(Some(serde_dynamo::to_item(&lock)?))
                .build()?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut pending = Some(std::collections::HashMap::from([(
            tables.occupied_seats.clone(),
            requests,
        )]));
        while let Some(items) = pending.filter(|p| !p.is_empty()) {
            let out = client.batch_write_item().set_request_items(Some(items)).send().await?;
            pending = out.unprocessed_items;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let emulator = Emulator::dynamodb_local()?;
    let config = emulator.sdk_config();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let tables = Tables::prefixed("bench_");
    ticketing_testkit::tables::create_all(&client, &ticketing_testkit::tables::template_path(), &tables).await?;
    let log = Arc::new(CapacityLog::default());
    let store = Arc::new(DynamoStore::new(client.clone(), tables.clone()).with_capacity_log(log.clone()));
    let queue = Arc::new(Scheduled::default());
    load_catalog(store.as_ref(), &catalog(2 + LEVELS.len())?, SystemClock.now()).await?;
    let app = Arc::new(LocalApi::new(Parts {
        store: store.clone(),
        catalog_ttl: DEFAULT_CATALOG_TTL,
        clock: Arc::new(SystemClock),
        policy: HoldPolicy::default(),
        processing: ProcessingPolicy::default(),
        cancel: CancelPolicy::default(),
        expiries: queue.clone(),
        secret: WebhookSecret::new(ticketing_aws::config::LOCAL_WEBHOOK_SECRET.to_owned()),
        gateway: Gateway::Notifies,
        auth: AuthMode::Header,
    }));
    let mut report = String::new();

    // 1. One complete flow, request by request, once this process knows the performance (its first
    // booking of it reads the performance and locks its layout).
    let user = UserId::try_from("bench_user")?;
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let mut shard = StreamShards::open(&client, streams.clone(), &tables.events, "us-east-1").await?;
    book_and_pay(&app, &UserId::try_from("bench_warm_up")?, "bench_0").await?;
    settle_next(&app, &mut shard).await?;
    queue.take().ok_or("the warm-up booking scheduled no expiry")?;
    log.take();
    let booking = book_and_pay(&app, &user, "bench_0").await?;
    settle_next(&app, &mut shard).await?;
    // Every hold's expiry comes due, paid or not: the paid booking's, at its time.
    let expiry = queue.take().ok_or("the booking scheduled no expiry")?;
    let at_due = ExpireHolds::new(
        store.clone(),
        Arc::new(ManualClock::at(booking.hold_expires_at)),
        queue.clone(),
        ProcessingPolicy::default(),
    );
    at_due.expire_when_due(&expiry).await?;
    let requests = log.take();
    writeln!(
        report,
        "## Requests and capacity per booking\n\n\
         One complete flow on DynamoDB Local: book 2 seats (perf of 5,000 seats, none held), pay (CVV 120),\n\
         the worker applies the stream record (PAYMENT_SUCCEEDED), the hold's expiry comes due. Capacity as DynamoDB reports it\n\
         with `ReturnConsumedCapacity`; prices: on-demand ${WRITE_PRICE}/M write units, ${READ_PRICE}/M read units.\n\n\
         | # | step | operation | table | read units | write units |\n\
         |---|---|---|---|---|---|"
    )?;
    let steps = [
        "book: read the seat locks",
        "book: hold transaction",
        "pay: read the booking",
        "pay: outcome + event",
        "worker: settle",
        "worker: the show's status",
        "expiry: read the booking",
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
        "booking. It counts a transaction's writes per table, not per item, so it under-reports: by DynamoDB's\n\
         documented rules (a transactional write of an item up to 1 KB is 2 write units, a GSI write 1, a\n\
         strongly consistent read up to 4 KB 1 read unit, an eventually consistent one half) the same requests cost:\n\n\
         | request | items written | write units | read units |\n\
         |---|---|---|---|"
    )?;
    let mut model = (0.0, 0.0);
    for (request, items, w, r, note) in RULES {
        writeln!(report, "| {request} | {items} | {w} | {r}{note} |")?;
        model = (model.0 + w, model.1 + r);
    }
    let (model_writes, model_reads) = model;
    let cost = model_writes * WRITE_PRICE + model_reads * READ_PRICE;
    writeln!(
        report,
        "\nTotal by the rules: **{} requests, {model_writes} write units, {model_reads} read units**, i.e. **${cost:.2}",
        RULES.len()
    )?;
    writeln!(report, "per million bookings** in DynamoDB request units.\n{BUDGET}\n")?;

    // 1b. The seat-lock read as the hall fills.
    let fill_performance = format!("bench_{}", 1 + LEVELS.len());
    writeln!(
        report,
        "### The seat-lock read as the hall fills\n\n\
         The figures above are for an empty hall. A booking reads the seat locks row by row, from the row where\n\
         its process last found seats, until a row has 2 free seats side by side. With the hall filled (sold\n\
         seats written directly, in hall order, behind the process's back), the first booking after the fill\n\
         walks the rows filled since, the next one reads one row. The seat map reads every lock. As DynamoDB Local\n\
         reports them:\n\n\
         | hall filled | locks in the table | first booking: reads, read units, time | next booking: reads, read units, time | seat map: reads, read units |\n\
         |---|---|---|---|---|"
    )?;
    let seats = hall();
    let mut written = 0;
    for percent in [0usize, 25, 50, 90] {
        let target = seats.len() * percent / 100;
        // Sold seats overwrite the locks of the previous level's bookings, which lie in this range.
        fill(&client, &tables, &fill_performance, &seats[written..target]).await?;
        written = target;
        let mut cells = Vec::new();
        for _ in 0..2 {
            log.take();
            let began = Instant::now();
            app.create_booking
                .create(user.clone(), request(&fill_performance)?, None)
                .await?;
            let took = began.elapsed();
            let (reads, units) = queries(&log);
            cells.push(format!("{reads}, {units}, {:.1} ms", took.as_secs_f64() * 1000.0));
        }
        log.take();
        app.seat_map
            .of(&PerformanceId::try_from(fill_performance.as_str())?, false)
            .await?;
        let (reads, units) = queries(&log);
        writeln!(
            report,
            "| {percent} % | {target} | {} | {} | {reads}, {units} |",
            cells[0], cells[1]
        )?;
    }
    writeln!(report)?;

    // 2. Throughput and its ceiling.
    writeln!(report, "## Throughput against the ceiling\n")?;
    writeln!(
        report,
        "C clients, each booking 2 seats and paying in a loop for {} s on its own 5,000-seat performance;",
        PER_LEVEL.as_secs()
    )?;
    writeln!(
        report,
        "the ceiling issues the same two TransactWriteItems shapes (the hold with its 2 locks,\n\
         the payment outcome with its event) directly with the SDK, with no reads and no application code.\n\n\
         | C | bookings/s (application) | bookings/s (SDK ceiling) | ratio |\n\
         |---|---|---|---|"
    )?;
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
    writeln!(report)?;
    // 3. Cold start and binary size of each function.
    let work = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&work)?;
    let moto = Emulator::moto()?;
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let queue_url =
        ticketing_testkit::queues::create_with_dead_letters(&sqs, "bench-hold-expiries", Duration::from_secs(10))
            .await?;
    let flow_tables = Tables::prefixed("flow_");
    ticketing_testkit::tables::create_all(&client, &ticketing_testkit::tables::template_path(), &flow_tables).await?;
    let flow_store = DynamoStore::new(client.clone(), flow_tables.clone());
    load_catalog(&flow_store, &catalog(1)?, SystemClock.now()).await?;
    let env = function_env(&emulator.endpoint(), &moto.endpoint(), &queue_url, &flow_tables);
    writeln!(
        report,
        "## Cold start\n\n\
         Each function's release binary as this command builds it (`cargo build --release`, host target\n\
         x86_64: the arm64 cross build, `make build-lambda`, works here but takes 10 minutes on 2 cores, past\n\
         this command's budget; its sizes are shown when `target/lambda` holds it). Start: from spawning the\n\
         process to its first poll of the Lambda runtime API (a stand-in in the bench; reading the\n\
         configuration, the SDK clients, the catalog), {COLD_STARTS} starts each.\n\n\
         | function | binary size (x86_64) | arm64 (`make build-lambda`) | start, median | start, max |\n\
         |---|---|---|---|---|"
    )?;
    for function in functions::ALL {
        let size = std::fs::metadata(functions::release_binary(function))?.len();
        let mut starts = Vec::with_capacity(COLD_STARTS);
        for _ in 0..COLD_STARTS {
            starts.push(functions::cold_start(function, &env).await?);
        }
        starts.sort();
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let arm64 = functions::arm64_artifact_size(function)
            .map_or("not built".to_owned(), |bytes| format!("{:.1} MiB", mib(bytes)));
        writeln!(
            report,
            "| {function} | {:.1} MiB | {arm64} | {:.1} ms | {:.1} ms |",
            mib(size),
            ms(quantile(&starts, 0.5)),
            ms(starts.last().copied()),
        )?;
    }

    // 4. Asynchronous latency and memory, through the functions' binaries.
    let figures = through_functions::run(
        through_functions::Setup {
            env: &env,
            dynamodb: &client,
            streams,
            events_table: &flow_tables.events,
            performance: "bench_0",
            logs: &work,
        },
        FLOW_BOOKINGS,
        FLOW_CLIENTS,
    )
    .await?;
    let ms = |q: f64| quantile(&figures.latencies, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    writeln!(
        report,
        "\n## Asynchronous latency\n\n\
         {FLOW_BOOKINGS} bookings through the release binaries, each process polling a runtime-API stand-in:\n\
         {FLOW_CLIENTS} clients (users of one booking each; every tenth first reads the seat map) book 2 seats, pay"
    )?;
    writeln!(
        report,
        "(CVV 120), then ask GET /bookings/my every {} ms until the booking reads `confirmed`. The events",
        through_functions::POLL_EVERY.as_millis()
    )?;
    writeln!(
        report,
        "stream is fed to one `process-events` as the event source mapping does (batches of up to 100; an\n\
         empty read waits 100 ms before the next, where Lambda polls a shard about 4 times a second).\n\n\
         | payment's 200 to `confirmed` visible | p50 | p99 | max |\n\
         |---|---|---|---|"
    )?;
    writeln!(
        report,
        "| over {} bookings | {:.0} ms | {:.0} ms | {:.0} ms |",
        figures.latencies.len(),
        ms(0.5),
        ms(0.99),
        ms(1.0)
    )?;
    writeln!(
        report,
        "\nThe run completed {:.1} bookings/s (booking, payment and the wait for `confirmed`).\n",
        figures.bookings_per_second
    )?;
    writeln!(
        report,
        "## Memory\n\n\
         Peak resident set (`VmHWM`) of each function's processes over the run above (256 MB configured);\n\
         receive-webhook and expire-holds, off the booking path, after handling their sample event once.\n\n\
         | function | processes | peak RSS (largest process) |\n\
         |---|---|---|"
    )?;
    for (function, processes, kib) in &figures.memory {
        let rss = kib.map_or("unknown".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        writeln!(report, "| {function} | {processes} | {rss} |")?;
    }
    drop(moto);

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
    let date = SystemClock.now().to_rfc3339();
    let document = format!(
        "# Benchmarks\n\nMachine: {cores} cores ({machine}); DynamoDB Local 3.3.1 in memory on the same machine.\nDate: {date}.\nCommand: `make bench` (the bench binary built in release).\n\n{report}\n{CHANGES}"
    );
    std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md"),
        &document,
    )?;
    print!("{document}");
    Ok(())
}
