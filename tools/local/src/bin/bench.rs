//! `make bench`: measures the booking path on DynamoDB Local and writes BENCHMARKS.md.
//! 1. Requests and capacity per booking: one complete flow (book 2 seats, pay, the worker confirms, the
//!    expiry comes due) with every DynamoDB request read off the wire and costed by DynamoDB's rules.
//! 2. Throughput against the ceiling: C concurrent processes (1, 8, 32) booking 2 seats and paying, each
//!    on its own 5,000-seat performance, then all on one (on sale), in turns with the minimal sequence
//!    a booking needs issued directly with the SDK.
//! 3. Cold start: each function's release binary, its size and the time from process start to its first
//!    poll of the Lambda runtime API (a stand-in), median of 20.
//! 4. Asynchronous latency and memory: 500 bookings through the release binaries of the functions, the
//!    events stream fed to `process-events`; payment's 200 to `confirmed` in GET /bookings/my, and each
//!    function's peak RSS.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::Method;
use ticketing_aws::dynamodb::{DynamoStore, Tables};
use ticketing_aws::events::{process_stream, schedule_expiries};
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
use ticketing_local::bench::requests::{item_size, key_string, Action, Cost, Request, RequestLog, Rules};
use ticketing_local::bench::{quantile, through_functions, Error, Throughput};
use ticketing_local::functions;
use ticketing_testkit::emulator::Emulator;
use ticketing_testkit::local::{route, LocalApi, Parts};
use ticketing_testkit::mapping::{batch, ShardReader};
use ticketing_testkit::streams::StreamShards;
use ticketing_testkit::tables::TableSpec;
use ticketing_testkit::test_app::with_key;

/// On-demand prices (us-east-1, per million request units) used for the cost figures.
const WRITE_PRICE: f64 = 0.625;
const READ_PRICE: f64 = 0.125;
const LEVELS: [usize; 3] = [1, 8, 32];
const PER_LEVEL: Duration = Duration::from_secs(8);
/// The windows each level's time is cut into, the application's and the ceiling's in turn.
const WINDOWS: u32 = 8;
/// The clients of the unmeasured run before the first level.
const WARM_UP_CLIENTS: usize = 8;
const COLD_STARTS: usize = 20;
const FIRST_INVOCATIONS: usize = 5;
/// The functions' size, crate by crate, before and after the size-tuned profile (`cargo bloat`).
const SIZES: &str = include_str!("../bench/sizes.md");
/// What was changed because of these figures, with the figures before and after, as measured then.
const CHANGES: &str = include_str!("../bench/changes.md");

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

async fn pay(app: &LocalApi<DynamoStore>, user: &UserId, booking: &Booking) -> Result<(), Error> {
    let payment = PaymentRequest {
        booking_id: booking.booking_id.clone(),
        token: PaymentMethodToken::try_from("tok_visa_creditCard")?,
        cvv: Cvv::try_from("120")?,
    };
    app.execute_payment.pay(user, payment, None).await?;
    Ok(())
}

async fn book_and_pay(app: &LocalApi<DynamoStore>, user: &UserId, performance: &str) -> Result<Booking, Error> {
    let booking = app
        .create_booking
        .create(user.clone(), request(performance)?, None)
        .await?;
    pay(app, user, &booking).await?;
    Ok(booking)
}

/// Each process's first booking of its performance, at once: the cold path (reading the performance,
/// locking its layout, reading the row it books in), run before a level's windows so that they time
/// the processes' steady state; the on-sale run keeps it, as the moment of sale.
async fn first_bookings(processes: &[Arc<LocalApi<DynamoStore>>], performances: &[String]) -> Result<(), Error> {
    load(processes, performances, Duration::ZERO).await.map(|_| ())
}

/// Each process books 2 seats of its performance and pays, in a loop, for `duration` (at least once);
/// timed until the last process's last booking is done.
async fn load(
    processes: &[Arc<LocalApi<DynamoStore>>],
    performances: &[String],
    duration: Duration,
) -> Result<Throughput, Error> {
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (c, (app, performance)) in processes.iter().zip(performances).enumerate() {
        let (app, performance) = (Arc::clone(app), performance.clone());
        tasks.spawn(async move {
            let user = UserId::try_from(format!("bench_{c}")).map_err(|e| e.to_string())?;
            let mut done = 0u64;
            loop {
                book_and_pay(&app, &user, &performance)
                    .await
                    .map_err(|e| e.to_string())?;
                done += 1;
                if Instant::now() >= until {
                    return Ok::<u64, String>(done);
                }
            }
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

/// The application's processes and the ceiling, each loaded for [`PER_LEVEL`] in all, in
/// [`WINDOWS`] alternating windows (application, ceiling, ceiling, application, …): DynamoDB Local
/// drifts over a run (its JIT warming, its tables growing, its collector), and one side measured
/// wholly before the other would carry that drift into the ratio. The ceiling's clients book a
/// performance of their own per window (`{ceiling}_{window}`). Each window's (application, ceiling).
async fn against_ceiling(
    processes: &[Arc<LocalApi<DynamoStore>>],
    performances: &[String],
    sdk: (&aws_sdk_dynamodb::Client, &Tables),
    ceiling: &str,
) -> Result<Vec<(Throughput, Throughput)>, Error> {
    let window = PER_LEVEL / WINDOWS;
    let mut windows = Vec::new();
    for w in 0..WINDOWS {
        let (mut application, mut sdk_only) = (Throughput::default(), Throughput::default());
        let application_first = w % 2 == 0;
        for application_turn in [application_first, !application_first] {
            if application_turn {
                application = load(processes, performances, window).await?;
            } else {
                let (client, tables) = sdk;
                let performance = format!("{ceiling}_{w}");
                sdk_only =
                    ticketing_local::bench::ceiling(client, tables, &performance, processes.len(), window).await?;
            }
        }
        windows.push((application, sdk_only));
    }
    Ok(windows)
}

/// The application's and the ceiling's throughput over all `windows`.
fn totals(windows: &[(Throughput, Throughput)]) -> (Throughput, Throughput) {
    windows
        .iter()
        .fold(Default::default(), |(mut application, mut sdk_only), (a, c)| {
            application += *a;
            sdk_only += *c;
            (application, sdk_only)
        })
}

fn booking_body(performance: &str) -> String {
    format!(r#"{{"performanceId": "{performance}", "quantity": 2, "paymentMethod": "CREDIT_CARD"}}"#)
}

/// Each table's primary key attributes.
fn key_names(specs: &BTreeMap<String, TableSpec>) -> BTreeMap<String, Vec<String>> {
    specs
        .iter()
        .map(|(t, spec)| {
            (
                t.clone(),
                spec.key_schema.iter().map(|k| k.attribute_name.clone()).collect(),
            )
        })
        .collect()
}

/// An item's attribute value as DynamoDB's JSON writes it (`{"S": "…"}`).
fn typed_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::json;
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::B(b) => json!({ "B": "x".repeat(b.as_ref().len()) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(typed_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => {
            json!({ "M": m.iter().map(|(k, v)| (k.clone(), typed_json(v))).collect::<serde_json::Map<_, _>>() })
        }
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        _ => json!({ "NULL": true }),
    }
}

/// The size of every item the requests wrote, by (table, key): a put's as written, an updated or
/// deleted item's as large as it was (read now, after the flow, with a client the log does not see).
async fn item_sizes(
    client: &aws_sdk_dynamodb::Client,
    specs: &BTreeMap<String, TableSpec>,
    requests: &[&Request],
) -> Result<HashMap<(String, String), usize>, Error> {
    let keys = key_names(specs);
    let mut sizes: HashMap<(String, String), usize> = HashMap::new();
    for t in requests.iter().flat_map(|r| r.touched.iter()) {
        let Some(names) = keys.get(&t.table) else {
            continue;
        };
        let id = (t.table.clone(), key_string(&t.item, names));
        let size = match t.action {
            Action::Put => item_size(&t.item),
            Action::Update | Action::Delete | Action::Check => {
                let key: HashMap<String, AttributeValue> = names
                    .iter()
                    .filter_map(|n| {
                        let (kind, v) = t.item.get(n)?.as_object()?.iter().next()?;
                        let v = v.as_str()?.to_owned();
                        Some((
                            n.clone(),
                            if kind == "N" {
                                AttributeValue::N(v)
                            } else {
                                AttributeValue::S(v)
                            },
                        ))
                    })
                    .collect();
                let now = client
                    .get_item()
                    .table_name(&t.table)
                    .set_key(Some(key.clone()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| format!("reading {} {key:?}: {e:?}", t.table))?;
                now.item.map_or(0, |item| {
                    item_size(&item.iter().map(|(k, v)| (k.clone(), typed_json(v))).collect())
                })
            }
            Action::Read => continue,
        };
        let entry = sizes.entry(id).or_insert(0);
        *entry = (*entry).max(size);
    }
    Ok(sizes)
}

/// The items of a request, by table and action.
fn describe(request: &Request) -> String {
    let mut parts: Vec<String> = Vec::new();
    for t in &request.touched {
        let table = t.table.strip_prefix("bench_").unwrap_or(&t.table);
        let part = match t.action {
            Action::Read => continue,
            Action::Put => format!("put {table}"),
            Action::Update => format!("update {table}"),
            Action::Delete => format!("delete {table}"),
            Action::Check => format!("check {table}"),
        };
        parts.push(part);
    }
    let read = request.touched.iter().filter(|t| t.action == Action::Read).count();
    if read > 0 || parts.is_empty() {
        parts.push(format!("{read} item(s) read"));
    }
    parts.join(", ")
}

/// The sizes of the items a request wrote or read, in bytes.
fn bytes(request: &Request, sizes: &HashMap<(String, String), usize>, keys: &BTreeMap<String, Vec<String>>) -> String {
    request
        .touched
        .iter()
        .map(|t| match t.action {
            Action::Put | Action::Read => item_size(&t.item),
            _ => keys
                .get(&t.table)
                .and_then(|names| sizes.get(&(t.table.clone(), key_string(&t.item, names))))
                .copied()
                .unwrap_or(0),
        })
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// One process of the application (one execution environment of each function) over `store`: what
/// it knows of the halls is its own.
fn process(store: &Arc<DynamoStore>, queue: &Arc<Scheduled>) -> Arc<LocalApi<DynamoStore>> {
    Arc::new(LocalApi::new(Parts {
        store: Arc::clone(store),
        catalog_ttl: DEFAULT_CATALOG_TTL,
        clock: Arc::new(SystemClock),
        policy: HoldPolicy::default(),
        processing: ProcessingPolicy::default(),
        cancel: CancelPolicy::default(),
        expiries: queue.clone(),
        secret: WebhookSecret::new(ticketing_aws::config::LOCAL_WEBHOOK_SECRET.to_owned()),
        gateway: Gateway::Notifies,
        auth: AuthMode::Header,
    }))
}

/// The expiries the scheduler sends, kept to be applied when the bench says they are due.
#[derive(Default)]
struct Scheduled(std::sync::Mutex<Vec<HoldExpiry>>);

impl Scheduled {
    /// The expiry sent for `booking`, if it was.
    fn take(&self, booking: &BookingId) -> Option<HoldExpiry> {
        let mut scheduled = self.0.lock().ok()?;
        let at = scheduled.iter().position(|e| &e.booking_id == booking)?;
        Some(scheduled.swap_remove(at))
    }
}

/// The scheduler sends the expiries of the bookings stream's new records until `booking`'s is sent.
async fn expiry_of(
    app: &LocalApi<DynamoStore>,
    shard: &mut StreamShards,
    queue: &Scheduled,
    booking: &Booking,
) -> Result<HoldExpiry, Error> {
    let started = Instant::now();
    loop {
        if let Some(expiry) = queue.take(&booking.booking_id) {
            return Ok(expiry);
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("no expiry was sent for booking {}", booking.booking_id).into());
        }
        let records = shard.read(100).await?;
        if records.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else if !schedule_expiries(&app.schedule_expiries, batch(records))
            .await
            .batch_item_failures
            .is_empty()
        {
            return Err("the scheduler failed".into());
        }
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

/// The Query requests logged since the last take, and their read units by the rules.
fn queries(log: &RequestLog) -> (usize, f64) {
    let reads: Vec<Request> = log.take().into_iter().filter(|r| r.operation == "Query").collect();
    let (indexes, sizes) = (BTreeMap::new(), HashMap::new());
    let rules = Rules {
        indexes: &indexes,
        sizes: &sizes,
    };
    let units = reads.iter().map(|r| rules.cost(r, &BTreeMap::new()).reads).sum();
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
                user_id: UserId::try_from("bench_fill")?,
                status: SeatState::Sold,
                locked_until: None,
            };
            let put = PutRequest::builder()
                .set_item(Some(serde_dynamo::to_item(&lock)?))
                .build()?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut pending = Some(HashMap::from([(tables.occupied_seats.clone(), requests)]));
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
    // The application's requests go through a client that logs each one.
    let log = RequestLog::default();
    log.detailed(true);
    let logged = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let store = Arc::new(DynamoStore::new(logged.clone(), tables.clone()));
    let queue = Arc::new(Scheduled::default());
    // bench_0: the flow; bench_1: the fill; bench_2: the on-sale run; then one per throughput client,
    // then the warm-up's.
    load_catalog(
        store.as_ref(),
        &catalog(4 + LEVELS.iter().sum::<usize>())?,
        SystemClock.now(),
    )
    .await?;
    let app = process(&store, &queue);
    let mut report = String::new();

    // 1. One complete flow, request by request, once this process knows the performance (its first
    // booking of it reads the performance, locks its layout and reads the row it books in).
    let user = UserId::try_from("bench_user")?;
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let mut shard = StreamShards::open(&client, streams.clone(), &tables.events, "us-east-1").await?;
    let mut new_bookings = StreamShards::open(&client, streams.clone(), &tables.bookings, "us-east-1").await?;
    let warm_up = book_and_pay(&app, &UserId::try_from("bench_warm_up")?, "bench_0").await?;
    settle_next(&app, &mut shard).await?;
    expiry_of(&app, &mut new_bookings, &queue, &warm_up).await?;
    log.take();
    let booking = app
        .create_booking
        .create(user.clone(), request("bench_0")?, None)
        .await?;
    let book = log.take();
    pay(&app, &user, &booking).await?;
    let paid = log.take();
    settle_next(&app, &mut shard).await?;
    let settled = log.take();
    // Every hold's expiry comes due, paid or not: the paid booking's, at its time, sent by the scheduler
    // from the bookings stream (no DynamoDB request).
    let expiry = expiry_of(&app, &mut new_bookings, &queue, &booking).await?;
    let at_due = ExpireHolds::new(
        store.clone(),
        Arc::new(ManualClock::at(booking.hold_expires_at)),
        queue.clone(),
        ProcessingPolicy::default(),
    );
    at_due.expire_when_due(&expiry).await?;
    let expired = log.take();
    // The same booking and payment under an Idempotency-Key each, through the HTTP routes.
    let keyed_book = route(
        &app,
        with_key(
            Method::POST,
            "/bookings",
            "bench_keys",
            "book-1",
            &booking_body("bench_0"),
        ),
    )
    .await;
    let created: serde_json::Value = serde_json::from_slice(keyed_book.body().as_ref())?;
    let keyed_booking = log.take();
    let keyed_id = created["bookingId"].as_str().ok_or("the keyed booking has no id")?;
    let pay_body = format!(r#"{{"bookingId": "{keyed_id}", "paymentMethodToken": "tok_visa", "cvv": "120"}}"#);
    route(
        &app,
        with_key(Method::POST, "/payments/execute", "bench_keys", "pay-1", &pay_body),
    )
    .await;
    let keyed_payment = log.take();
    settle_next(&app, &mut shard).await?;
    log.take();

    let specs = ticketing_testkit::tables::specs(&ticketing_testkit::tables::template_path(), &tables)?;
    let steps = [
        ("book", &book),
        ("pay", &paid),
        ("worker", &settled),
        ("expiry", &expired),
    ];
    let all: Vec<&Request> = steps.iter().flat_map(|(_, r)| r.iter()).collect();
    let sizes = item_sizes(&client, &specs, &all).await?;
    let indexes = specs
        .iter()
        .map(|(t, spec)| (t.clone(), spec.global_secondary_indexes.clone()))
        .collect();
    let keys = key_names(&specs);
    let rules = Rules {
        indexes: &indexes,
        sizes: &sizes,
    };
    writeln!(
        report,
        "## Requests and capacity per booking\n\n\
         One complete flow on DynamoDB Local: book 2 seats (a performance of 5,000 seats that this process\n\
         has booked once before), pay (CVV 120), the worker applies the stream record (PAYMENT_SUCCEEDED),\n\
         the hold's expiry comes due. Every DynamoDB request the flow made, read off the wire by an SDK\n\
         interceptor, and its cost by DynamoDB's documented rules derived from that request: the items it\n\
         wrote (an update at the item's size after the flow), their sizes, the index entries they touched\n\
         (`template.yaml`'s indexes), the items a read answered. Prices: on-demand ${WRITE_PRICE}/M write\n\
         units, ${READ_PRICE}/M read units.\n\n\
         | step | request | items | bytes | write units (items + indexes) | read units |\n\
         |---|---|---|---|---|---|"
    )?;
    let mut total = Cost::default();
    for (step, requests) in steps {
        for request in requests.iter() {
            let cost = rules.cost(request, &keys);
            total += cost;
            writeln!(
                report,
                "| {step} | {}{} | {} | {} | {} ({} + {}) | {} |",
                request.operation,
                if request.consistent { " (consistent)" } else { "" },
                describe(request),
                bytes(request, &sizes, &keys),
                cost.writes(),
                cost.item_writes,
                cost.index_writes,
                cost.reads
            )?;
        }
    }
    let requests = all.len();
    let per_million = total.writes() * WRITE_PRICE + total.reads * READ_PRICE;
    let booking_requests = book.len();
    let payment_requests = paid.len();
    writeln!(
        report,
        "\nPer confirmed 2-seat booking: **{requests} requests ({booking_requests} to book, {payment_requests} to pay), \
         {} write units ({} for items, {} for indexes), {} read units**, i.e. **${per_million:.2} per million \
         bookings** in DynamoDB request units.",
        total.writes(),
        total.item_writes,
        total.index_writes,
        total.reads
    )?;
    writeln!(
        report,
        "With an `Idempotency-Key` on each POST (through the HTTP routes): **{} request(s) to book, {} to pay** \
         (the payment's key is claimed before the gateway is called; the booking's, in its hold transaction).",
        keyed_booking.len(),
        keyed_payment.len()
    )?;
    writeln!(
        report,
        "Besides DynamoDB, each booking's expiry is one SQS message, sent by `schedule-expiries` from the \
         bookings table's stream (up to ten per `SendMessageBatch`), received and deleted by the expiry \
         queue's mapping: at most 3 SQS requests ($1.20 per million bookings at $0.40 per million \
         requests), fewer when bookings come together; the stream's reads cost nothing.\n"
    )?;

    // 1b. The seat-lock read as the hall fills.
    let fill_performance = "bench_1".to_owned();
    writeln!(
        report,
        "### The seat-lock read as the hall fills\n\n\
         The figures above are for an empty hall. A booking chooses from what its process saw of the hall\n\
         and reads a row only when it has not seen it (or its hold was refused in it). With the hall filled\n\
         (sold seats written directly, in hall order, behind the process's back), the first booking after\n\
         the fill is refused on seats it thought free, then reads the rows again from the front until one has\n\
         2 free seats side by side; the next one reads nothing. The seat map reads every lock. Query requests\n\
         and their read units by the rules:\n\n\
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
            // (An empty sum of floats is -0.)
            cells.push(format!(
                "{reads}, {}, {:.1} ms",
                units + 0.0,
                took.as_secs_f64() * 1000.0
            ));
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

    // 2. Throughput and its ceiling; then the on-sale run: every client on one performance. The log
    // counts requests only.
    log.detailed(false);
    writeln!(report, "## Throughput against the ceiling\n")?;
    writeln!(
        report,
        "C clients, each its own process of the application (what it knows of a hall is its own, as in\n\
         one Lambda execution environment), booking 2 seats and paying in a loop for {} s, each on its own\n\
         5,000-seat performance; the ceiling issues the minimal sequence a booking needs (the hold\n\
         transaction with its 2 locks, the payment's consistent read of the booking, the payment\n\
         transaction with its event) directly with the SDK, with no application code. The two take turns\n\
         in {WINDOWS} windows of {} s each (application, ceiling, ceiling, application, …), each rate\n\
         timed to its last booking's end, so that DynamoDB Local's drift over the run weighs on both\n\
         alike; before the first level both run as long unmeasured ({WARM_UP_CLIENTS} processes of the\n\
         application on one performance), while DynamoDB Local compiles its hot paths. The ceiling's\n\
         client counts its requests through the same interceptor as the application's. Requests per\n\
         booking as the log of the run counts them. Each process has booked its performance once before\n\
         the level's windows, unmeasured: the windows time processes selling a performance they know, as\n\
         warm execution environments do; a cold process's first booking (the performance read, its layout\n\
         locked and a row read: three requests more) is timed in the on-sale run's moment of sale below.\n\n\
         | C | bookings/s (application) | bookings/s (SDK ceiling) | ratio | DynamoDB requests per booking |\n\
         |---|---|---|---|---|",
        PER_LEVEL.as_secs(),
        (PER_LEVEL / WINDOWS).as_secs_f64()
    )?;
    let clients_of = |clients: usize| (0..clients).map(|_| process(&store, &queue)).collect::<Vec<_>>();
    // The ceiling's requests go through the same (request-counting) interceptor as the application's,
    // into a log of their own: the instrument weighs on both sides alike.
    let sdk_only = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(RequestLog::default())
            .build(),
    );
    // DynamoDB Local compiles its hot paths (its JIT) for a long while: both sides run unmeasured
    // first, the application's processes all on one performance, so that its refusals and row reads
    // are among the paths warmed.
    let warm_up = vec![format!("bench_{}", 3 + LEVELS.iter().sum::<usize>()); WARM_UP_CLIENTS];
    against_ceiling(
        &clients_of(WARM_UP_CLIENTS),
        &warm_up,
        (&sdk_only, &tables),
        "ceiling_warm_up",
    )
    .await?;
    for (level, clients) in LEVELS.iter().enumerate() {
        let first = 3 + LEVELS[..level].iter().sum::<usize>();
        let performances: Vec<String> = (0..*clients).map(|c| format!("bench_{}", first + c)).collect();
        let processes = clients_of(*clients);
        first_bookings(&processes, &performances).await?;
        log.take();
        let (run, ceiling) = totals(
            &against_ceiling(
                &processes,
                &performances,
                (&sdk_only, &tables),
                &format!("ceiling_{clients}"),
            )
            .await?,
        );
        let requests = log.take();
        writeln!(
            report,
            "| {clients} | {:.1} | {:.1} | {:.0} % | {:.2} |",
            run.per_second(),
            ceiling.per_second(),
            100.0 * run.per_second() / ceiling.per_second(),
            requests.len() as f64 / run.bookings as f64
        )?;
    }
    let crowd = *LEVELS.last().unwrap_or(&32);
    log.take();
    let windows = against_ceiling(
        &clients_of(crowd),
        &vec!["bench_2".to_owned(); crowd],
        (&sdk_only, &tables),
        "ceiling_onsale",
    )
    .await?;
    let (run, ceiling) = totals(&windows);
    let (first, first_ceiling) = windows.first().copied().unwrap_or_default();
    let (rest, rest_ceiling) = totals(windows.get(1..).unwrap_or_default());
    let requests = log.take();
    // Every booking's payment is one transaction, never refused here; the other transactions are holds.
    let transactions = requests.iter().filter(|r| r.operation == "TransactWriteItems").count();
    let holds = transactions.saturating_sub(usize::try_from(run.bookings).unwrap_or(usize::MAX));
    let refused = requests
        .iter()
        .filter(|r| r.operation == "TransactWriteItems" && r.refused)
        .count();
    let reads = requests.iter().filter(|r| r.operation == "Query").count();
    writeln!(
        report,
        "\n### On sale: {crowd} clients on one performance\n\n\
         The same loop, every client (each its own process) booking the same 5,000-seat performance from\n\
         the moment it goes on sale, for {} s (in turns with the ceiling, as above). A hold refused\n\
         because a seat was taken meanwhile is a conflict; the process then books in a home row of its\n\
         own (chosen at random among the rows not known to be full; one it never saw is held blind, not\n\
         read, while most seats it saw are free), walking it block by block from a random seat, moves to\n\
         another after a refusal in it, and retries. So does a process whose first booking finds, as it\n\
         locks the layout, that another locked it since its read, from its first hold.\n\n\
         | bookings/s (application) | bookings/s (SDK ceiling, C = {crowd}) | ratio | hold transactions per booking | conflicts per booking | seat-lock reads per booking | DynamoDB requests per booking |\n\
         |---|---|---|---|---|---|---|\n\
         | {:.1} | {:.1} | {:.0} % | {:.2} | {:.3} | {:.3} | {:.2} |\n\n\
         The first window holds the moment of sale: {crowd} processes start cold together, which the\n\
         ceiling's clients do not do: each reads the performance and locks its layout (two requests the\n\
         ceiling does not make); those whose lock finds it locked since their read spread out at once,\n\
         the others read the front row, and all but one of those are refused on their first block. That\n\
         window: {:.1} against {:.1} bookings/s ({:.0} %); the windows after it: {:.1} against {:.1}\n\
         ({:.0} %).\n",
        PER_LEVEL.as_secs(),
        run.per_second(),
        ceiling.per_second(),
        100.0 * run.per_second() / ceiling.per_second(),
        holds as f64 / run.bookings as f64,
        refused as f64 / run.bookings as f64,
        reads as f64 / run.bookings as f64,
        requests.len() as f64 / run.bookings as f64,
        first.per_second(),
        first_ceiling.per_second(),
        100.0 * first.per_second() / first_ceiling.per_second(),
        rest.per_second(),
        rest_ceiling.per_second(),
        100.0 * rest.per_second() / rest_ceiling.per_second(),
    )?;
    // 3. Cold start and binary size of each function. The functions' runs get a DynamoDB Local of
    // their own: the one that served the throughput runs keeps every stream record of their tables, and
    // answers even other tables' stream reads far more slowly for it (the payment's 200 to `confirmed`
    // took 2.4 s at the median in a run that shared it, 0.2 s on its own), which says nothing of
    // DynamoDB, whose streams are per table.
    drop(emulator);
    let emulator = Emulator::dynamodb_local()?;
    let config = emulator.sdk_config();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
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
    load_catalog(&flow_store, &Catalog::builtin(), SystemClock.now()).await?;
    writeln!(
        report,
        "## Cold start\n\n\
         Size: each function's deployment artifact as `sam build` and `cargo lambda build --release --arm64`\n\
         make it (`target/lambda/<function>/bootstrap`, built by `make bench` through `make build-lambda`;\n\
         the release profile is tuned for size, see below), against the budget of 6 MB. Start: each\n\
         function's host build in the faster `bench` profile, timed from spawning the process to its first\n\
         poll of the Lambda runtime API (a stand-in; reading the configuration, the SDK clients) over\n\
         {COLD_STARTS} starts, and to the runtime API receiving its answer to a first invocation with its\n\
         sample event of `events/` (the handler and its first requests to DynamoDB Local and the queue,\n\
         connections included) over {FIRST_INVOCATIONS} starts.\n\n\
         | function | arm64 artifact | host binary | first poll, median | first poll, max | first invocation answered, median | max |\n\
         |---|---|---|---|---|---|---|"
    )?;
    for function in functions::ALL {
        let size = std::fs::metadata(functions::host_binary(function))?.len();
        let mut starts = Vec::with_capacity(COLD_STARTS);
        for _ in 0..COLD_STARTS {
            starts.push(functions::cold_start(function, &env).await?);
        }
        starts.sort();
        let event = serde_json::to_vec(&through_functions::sample_event(function)?)?;
        let mut firsts = Vec::with_capacity(FIRST_INVOCATIONS);
        for _ in 0..FIRST_INVOCATIONS {
            firsts.push(functions::first_invocation(function, &env, event.clone()).await?);
        }
        firsts.sort();
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let arm64 = functions::arm64_artifact_size(function).map_or("not built".to_owned(), |bytes| {
            format!("{:.2} MB ({:.2} MiB)", bytes as f64 / 1e6, mib(bytes))
        });
        writeln!(
            report,
            "| {function} | {arm64} | {:.1} MiB | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            mib(size),
            ms(quantile(&starts, 0.5)),
            ms(starts.last().copied()),
            ms(quantile(&firsts, 0.5)),
            ms(firsts.last().copied()),
        )?;
    }
    writeln!(report, "\n{SIZES}")?;

    // 4. Asynchronous latency and memory, through the functions' binaries.
    let figures = through_functions::run(
        through_functions::Setup {
            env: &env,
            dynamodb: &client,
            streams,
            events_table: &flow_tables.events,
            bookings_table: &flow_tables.bookings,
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
        "stream is fed to one `process-events`, and the bookings stream to one `schedule-expiries`, as\n\
         the event source mappings do (batches of up to 100; an empty read waits 100 ms before the next,\n\
         where Lambda polls a shard about 4 times a second).\n\n\
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
        "# Benchmarks\n\nMachine: {cores} cores ({machine}); DynamoDB Local 3.3.1 in memory on the same machine.\nDate: {date}.\nCommand: `make bench` (the bench and the host builds in the `fast` profile, the functions for Lambda in the release profile).\n\n{report}\n{CHANGES}"
    );
    std::fs::write(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md"),
        &document,
    )?;
    print!("{document}");
    Ok(())
}
