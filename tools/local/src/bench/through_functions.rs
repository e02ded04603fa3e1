//! Bookings through the release binaries of the functions, each a process polling a runtime-API
//! stand-in, with the events stream fed to `process-events` and the bookings stream to
//! `schedule-expiries` as the event source mappings do: the
//! asynchronous latency (payment's 200 to `confirmed` in GET /bookings/my) and each function's peak
//! memory under that load.

use super::Error;
use crate::functions::Function;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use ticketing_testkit::mapping::{run_mapping, Mapping};
use ticketing_testkit::streams::StreamShards;

/// How often a client asks GET /bookings/my whether its booking is confirmed.
pub const POLL_EVERY: Duration = Duration::from_millis(20);
/// How long a client waits for `confirmed` before the run fails.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// What the run measured.
pub struct Figures {
    /// Payment's 200 to `confirmed` visible, one per booking, sorted.
    pub latencies: Vec<Duration>,
    pub bookings_per_second: f64,
    /// Per function: its processes, and the largest peak RSS among them in KiB.
    pub memory: Vec<(&'static str, usize, Option<u64>)>,
}

/// Where the run's processes and data live.
pub struct Setup<'a> {
    /// The environment of every function process (endpoints, tables, catalog, secrets).
    pub env: &'a [(String, String)],
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub events_table: &'a str,
    pub bookings_table: &'a str,
    pub performance: &'a str,
    /// Where the functions' logs are written.
    pub logs: &'a Path,
}

#[derive(Deserialize)]
struct HttpResponse {
    #[serde(rename = "statusCode")]
    status: u16,
    #[serde(default)]
    body: Option<String>,
}

/// The sample event of `events/` for `function` (`sam local invoke` uses the same).
pub fn sample_event(function: &str) -> Result<Value, Error> {
    let name = match function {
        "manage-performances" => "list-performances",
        other => other,
    };
    let path = events_dir().join(format!("{name}.json"));
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// An HTTP API event for `function` built on its sample in `events/`, from `user`, with `body`.
fn http_event(template: &Value, user: &str, body: Option<&Value>) -> Result<Vec<u8>, Error> {
    let mut event = template.clone();
    event["headers"]["x-user-id"] = json!(user);
    event["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    Ok(serde_json::to_vec(&event)?)
}

async fn call(function: &Function, event: Vec<u8>, expect: u16) -> Result<Value, Error> {
    let response: HttpResponse = serde_json::from_slice(&function.invoke(event).await?)?;
    let body: Value = serde_json::from_str(response.body.as_deref().unwrap_or("null"))?;
    if response.status != expect {
        return Err(format!("expected {expect}, got {}: {body}", response.status).into());
    }
    Ok(body)
}

struct Fleet {
    create: Function,
    pay: Function,
    list: Function,
    seat_map: Function,
    templates: [Value; 4],
}

impl Fleet {
    /// One booking of 2 seats by `user`, paid; returns it and how long `confirmed` took to show after
    /// the 200.
    async fn book_pay_and_wait(&self, user: &str, performance: &str, look: bool) -> Result<(String, Duration), Error> {
        let [create, pay, list, seat_map] = &self.templates;
        if look {
            let mut event = seat_map.clone();
            event["pathParameters"]["performanceId"] = json!(performance);
            event["rawPath"] = json!(format!("/performances/{performance}/seats"));
            call(&self.seat_map, http_event(&event, user, None)?, 200).await?;
        }
        let booked = json!({"performanceId": performance, "quantity": 2, "paymentMethod": "CREDIT_CARD"});
        let booking = call(&self.create, http_event(create, user, Some(&booked))?, 201).await?;
        let id = booking["bookingId"].as_str().ok_or("no bookingId")?.to_owned();
        let payment = json!({"bookingId": id, "paymentMethodToken": "tok_visa_creditCard", "cvv": "120"});
        call(&self.pay, http_event(pay, user, Some(&payment))?, 200).await?;
        let paid = Instant::now();
        loop {
            let mine = call(&self.list, http_event(list, user, None)?, 200).await?;
            let status = mine
                .as_array()
                .and_then(|all| all.iter().find(|b| b["bookingId"] == json!(id)))
                .and_then(|b| b["status"].as_str().map(str::to_owned));
            match status.as_deref() {
                Some("confirmed") => return Ok((id, paid.elapsed())),
                Some("pending") | None if paid.elapsed() < CONFIRM_TIMEOUT => tokio::time::sleep(POLL_EVERY).await,
                other => return Err(format!("booking {id} is {other:?} after {:?}", paid.elapsed()).into()),
            }
        }
    }
}

/// `bookings` bookings by `clients` concurrent clients, each with its own execution environment of the
/// HTTP functions (as Lambda scales them); one `process-events` for the stream's one shard. Every tenth
/// booking the client first looks at the seat map.
pub async fn run(setup: Setup<'_>, bookings: usize, clients: usize) -> Result<Figures, Error> {
    let start = |name: &'static str, processes: usize| Function::start(name, setup.env, processes, setup.logs);
    let fleet = Arc::new(Fleet {
        create: start("create-booking", clients).await?,
        pay: start("execute-payment", clients).await?,
        list: start("list-my-bookings", clients).await?,
        seat_map: start("get-seat-map", 1).await?,
        templates: [
            sample_event("create-booking")?,
            sample_event("execute-payment")?,
            sample_event("list-my-bookings")?,
            sample_event("get-seat-map")?,
        ],
    });
    let worker = Arc::new(start("process-events", 1).await?);
    let scheduler = Arc::new(start("schedule-expiries", 1).await?);
    let webhook = start("receive-webhook", 1).await?;
    let expirer = start("expire-holds", 1).await?;

    let shard = |table| StreamShards::open(setup.dynamodb, setup.streams.clone(), table, "us-east-1");
    let mappings = [
        feed(
            shard(setup.events_table).await?,
            Arc::clone(&worker),
            Mapping::default(),
        ),
        feed(
            shard(setup.bookings_table).await?,
            Arc::clone(&scheduler),
            Mapping::new_bookings(),
        ),
    ];

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (fleet, next, performance) = (Arc::clone(&fleet), Arc::clone(&next), setup.performance.to_owned());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= bookings {
                    return Ok::<_, Error>(done);
                }
                let user = format!("flow_user_{n}");
                done.push(fleet.book_pay_and_wait(&user, &performance, n % 10 == 0).await?);
            }
        });
    }
    let mut done = Vec::with_capacity(bookings);
    while let Some(joined) = tasks.join_next().await {
        done.extend(joined??);
    }
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = done.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();

    // The two functions off the booking path handle their sample event once, about a booking of the
    // run (a late notification and a due expiry of a confirmed booking: both leave it as it is).
    let booking = done.first().map(|(id, _)| id.as_str()).ok_or("no booking was made")?;
    webhook.invoke(signed_webhook(setup.env, booking)?).await?;
    expirer
        .invoke(for_booking(&sample_event("expire-holds")?, booking)?)
        .await?;

    let memory = vec![
        ("create-booking", clients, fleet.create.peak_rss_kib()),
        ("execute-payment", clients, fleet.pay.peak_rss_kib()),
        ("list-my-bookings", clients, fleet.list.peak_rss_kib()),
        ("get-seat-map", 1, fleet.seat_map.peak_rss_kib()),
        ("process-events", 1, worker.peak_rss_kib()),
        ("schedule-expiries", 1, scheduler.peak_rss_kib()),
        ("receive-webhook", 1, webhook.peak_rss_kib()),
        ("expire-holds", 1, expirer.peak_rss_kib()),
    ];
    for mapping in mappings {
        mapping.abort();
        let _ = mapping.await;
    }
    if let Ok(fleet) = Arc::try_unwrap(fleet) {
        for function in [fleet.create, fleet.pay, fleet.list, fleet.seat_map] {
            function.stop().await;
        }
    }
    for function in [worker, scheduler] {
        if let Ok(function) = Arc::try_unwrap(function) {
            function.stop().await;
        }
    }
    webhook.stop().await;
    expirer.stop().await;
    Ok(Figures {
        latencies,
        bookings_per_second: bookings as f64 / elapsed.as_secs_f64(),
        memory,
    })
}

/// Delivers a stream's records to `function` in batches, as its event source mapping does, until aborted.
fn feed(mut shard: StreamShards, function: Arc<Function>, mapping: Mapping) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let deliver = |event: Event| {
            let function = Arc::clone(&function);
            async move {
                let payload = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
                let response = function.invoke(payload).await.map_err(|e| e.to_string())?;
                serde_json::from_slice::<DynamoDbEventResponse>(&response).map_err(|e| e.to_string())
            }
        };
        run_mapping(&mut shard, deliver, mapping).await;
    })
}

/// A sample event of `events/` about `booking`.
fn for_booking(sample: &Value, booking: &str) -> Result<Vec<u8>, Error> {
    let text = serde_json::to_string(sample)?.replace(SAMPLE_BOOKING, booking);
    Ok(text.into_bytes())
}

/// What the samples of `events/` put where a booking id goes.
const SAMPLE_BOOKING: &str = "REPLACE-WITH-A-BOOKING-ID";

/// The sample webhook of `events/` about `booking`, signed now with the secret the functions run with.
fn signed_webhook(env: &[(String, String)], booking: &str) -> Result<Vec<u8>, Error> {
    let secret = env
        .iter()
        .find(|(k, _)| k == "PG_WEBHOOK_SECRET")
        .map(|(_, v)| v.as_str())
        .ok_or("PG_WEBHOOK_SECRET is not set")?;
    let mut event = sample_event("receive-webhook")?;
    let body = event["body"]
        .as_str()
        .ok_or("the sample has no body")?
        .replace(SAMPLE_BOOKING, booking);
    event["body"] = json!(body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .try_into()?;
    event["headers"]["pg-signature"] = json!(ticketing_core::webhook::sign(secret.as_bytes(), now, body.as_bytes()));
    Ok(serde_json::to_vec(&event)?)
}
