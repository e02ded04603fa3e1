//! `make dev`: the real Lambda code path on one machine. DynamoDB Local with the tables of
//! `template.yaml` and moto's SQS with its queues (each unless `AWS_ENDPOINT_URL_DYNAMODB` /
//! `AWS_ENDPOINT_URL_SQS` names one already), the functions under `cargo lambda watch` on
//! 127.0.0.1:$PORT (default 3000), and the four event source mappings: the events table's stream into
//! `process-events`, the bookings table's into `schedule-expiries`, the expiry queue into `expire-holds`
//! and the gateway's notification queue into `deliver-notifications` (which posts them to this API's
//! webhook), through the Lambda Invoke API. It reports
//! `ready` once every function is built and has answered. Any signal that stops it (Ctrl-C, `kill`,
//! a closed terminal) stops all of it.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ticketing_aws::dynamodb::Tables;
use ticketing_local::functions;
use ticketing_local::invoke::invoke;
use ticketing_local::redrive::{run_stream_mapping, SqsDeadLetters};
use ticketing_local::stack;
use ticketing_testkit::emulator::{Emulator, EmulatorError};
use ticketing_testkit::mapping::Mapping;
use ticketing_testkit::queues;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, Signal, SignalKind};

const WORKER: &str = "process-events";
const SCHEDULER: &str = "schedule-expiries";
const EXPIRER: &str = "expire-holds";
const NOTIFIER: &str = "deliver-notifications";

/// Starts an emulator unless the environment names an endpoint for it already; points the SDK at it.
fn emulator(
    endpoint_var: &str,
    start: fn() -> Result<Emulator, EmulatorError>,
) -> Result<Option<Emulator>, EmulatorError> {
    if std::env::var_os(endpoint_var).is_some() {
        return Ok(None);
    }
    let emulator = start()?;
    std::env::set_var(endpoint_var, emulator.endpoint());
    Ok(Some(emulator))
}

fn main() -> ExitCode {
    ticketing_aws::config::init_tracing();
    let port = ticketing_aws::config::port();
    // Set before any thread exists: the functions under watch and the SDK clients here read these.
    let defaults = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("PG_WEBHOOK_SECRET", ticketing_aws::config::LOCAL_WEBHOOK_SECRET),
        // The caller names itself in x-user-id: one machine only.
        ("AUTH_MODE", "header"),
    ];
    for (name, value) in defaults {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
    let emulators = emulator("AWS_ENDPOINT_URL_DYNAMODB", Emulator::dynamodb_local)
        .and_then(|dynamodb| Ok((dynamodb, emulator("AWS_ENDPOINT_URL_SQS", Emulator::moto)?)));
    let emulators = match emulators {
        Ok(emulators) => emulators,
        Err(e) => {
            eprintln!("dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The stream is read from the same DynamoDB, whose Streams API the SDK knows as another service.
    if let (None, Some(dynamodb)) = (
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB_STREAMS"),
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB"),
    ) {
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", dynamodb);
    }
    std::env::set_var("AWS_ENDPOINT_URL_LAMBDA", format!("http://127.0.0.1:{port}"));
    // The simulated gateway's notifications are posted to this API's webhook route.
    if std::env::var_os("PG_WEBHOOK_URL").is_none() {
        std::env::set_var("PG_WEBHOOK_URL", format!("http://127.0.0.1:{port}/webhooks/pg"));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(port));
    drop(emulators);
    code
}

/// The signals that ask `dev` to stop, each of which stops everything it started. Installed before
/// anything is started, so none of them can kill `dev` and leave its children behind.
struct Stop {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    quit: Signal,
}

impl Stop {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    /// Which signal arrived.
    async fn requested(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
            _ = self.quit.recv() => "SIGQUIT",
        }
    }
}

async fn run(port: u16) -> ExitCode {
    let mut stop = match Stop::install() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("dev: cannot handle signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let tables = Tables::from_env();
    let catalog = match ticketing_aws::config::catalog() {
        Ok(catalog) => catalog,
        Err(e) => {
            eprintln!("dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    let queues = match stack::create(&dynamodb, &sqs, &tables, &catalog, Duration::from_secs(10)).await {
        Ok(queues) => queues,
        Err(e) => {
            eprintln!("dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The functions under watch inherit this environment.
    std::env::set_var("HOLD_EXPIRY_QUEUE_URL", &queues.expiries);
    std::env::set_var("PG_NOTIFICATION_QUEUE_URL", &queues.notifications);
    let started = Instant::now();
    tokio::select! {
        built = build_functions() => match built {
            Ok(status) if status.success() => {}
            other => {
                eprintln!("dev: cannot build the functions: {other:?}");
                return ExitCode::FAILURE;
            }
        },
        name = stop.requested() => {
            tracing::info!(signal = name, "stopped while building the functions");
            return ExitCode::SUCCESS;
        }
    }
    let mut watch = match start_watch(port) {
        Ok(child) => child,
        Err(e) => {
            eprintln!("dev: cannot start `cargo lambda watch` (run `make tools`): {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(url = %format!("http://127.0.0.1:{port}"), "API served by cargo lambda watch");
    tracing::info!(
        queue = %queues.events_dead_letters,
        "events stream dead letters; redrive them with: EVENTS_DLQ_URL=<queue> AWS_ENDPOINT_URL_DYNAMODB=... AWS_ENDPOINT_URL_DYNAMODB_STREAMS=... AWS_ENDPOINT_URL_SQS=... AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:<PORT> make redrive"
    );
    tracing::info!(
        queue = %queues.bookings_dead_letters,
        "bookings stream dead letters; redrive them with: BOOKINGS_DLQ_URL=<queue> (and the endpoints above) make redrive"
    );
    if let Some(endpoint) = std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB") {
        tracing::info!(
            endpoint = %endpoint.to_string_lossy(),
            "DynamoDB; audit it with: AWS_ENDPOINT_URL_DYNAMODB=<endpoint> AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local make audit"
        );
    }

    let region = config.region().map_or("us-east-1", |r| r.as_ref()).to_owned();
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let stream_mapping = run_stream_mapping(
        &dynamodb,
        streams.clone(),
        (&tables.events, &region),
        (
            Mapping::default(),
            SqsDeadLetters::new(&sqs, &queues.events_dead_letters),
        ),
        |event| invoke(&lambda, WORKER, event),
    );
    let schedule_mapping = run_stream_mapping(
        &dynamodb,
        streams.clone(),
        (&tables.bookings, &region),
        (
            Mapping::new_bookings(),
            SqsDeadLetters::new(&sqs, &queues.bookings_dead_letters),
        ),
        |event| invoke(&lambda, SCHEDULER, event),
    );
    let expiry_mapping = queues::run_mapping(&sqs, &queues.expiries, &region, 10, |event| {
        invoke(&lambda, EXPIRER, event)
    });
    let notification_mapping = queues::run_mapping(&sqs, &queues.notifications, &region, 10, |event| {
        invoke(&lambda, NOTIFIER, event)
    });
    let ready = async {
        match warm_up(&lambda).await {
            Ok(()) => {
                tracing::info!(
                    url = %format!("http://127.0.0.1:{port}"),
                    seconds = started.elapsed().as_secs_f64(),
                    "ready: every function built and answering"
                );
                std::future::pending().await
            }
            Err(e) => {
                eprintln!("dev: {e}");
                ExitCode::FAILURE
            }
        }
    };
    let code = tokio::select! {
        code = ready => code,
        () = stream_mapping => ExitCode::FAILURE,
        () = schedule_mapping => ExitCode::FAILURE,
        () = expiry_mapping => ExitCode::FAILURE,
        () = notification_mapping => ExitCode::FAILURE,
        status = watch.wait() => {
            eprintln!("dev: cargo lambda watch exited: {status:?}");
            ExitCode::FAILURE
        }
        name = stop.requested() => {
            tracing::info!(signal = name, "stopping everything dev started");
            ExitCode::SUCCESS
        }
    };
    stop_watch(&mut watch).await;
    code
}

/// Builds every function, as `cargo lambda watch` would on its first invocation: a client's first
/// request after `ready` never waits for a compiler.
async fn build_functions() -> std::io::Result<std::process::ExitStatus> {
    let mut command = Command::new("cargo");
    command
        .args(["build", "--quiet"])
        .args(functions::ALL.iter().flat_map(|f| ["-p", f]))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .kill_on_drop(true);
    command.status().await
}

/// Invokes every function once, harmlessly (an `OPTIONS` request is answered 405 before anything is
/// read; an empty batch applies nothing), so that each is running before `dev` reports ready.
async fn warm_up(lambda: &aws_sdk_lambda::Client) -> Result<(), String> {
    let mut http: serde_json::Value = serde_json::from_str(WARM_UP_REQUEST).map_err(|e| e.to_string())?;
    http["requestContext"]["http"]["method"] = "OPTIONS".into();
    for function in functions::ALL {
        let event = match function {
            WORKER | SCHEDULER | EXPIRER | NOTIFIER => serde_json::json!({ "Records": [] }),
            _ => http.clone(),
        };
        // `cargo lambda watch` may not listen yet: its address is tried again for a while.
        let mut attempts = 0;
        loop {
            match invoke::<_, serde_json::Value>(lambda, function, event.clone()).await {
                Ok(_) => break,
                Err(e) if attempts < WARM_UP_ATTEMPTS && e.to_string().contains("dispatch failure") => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(format!("{function} did not answer its warm-up: {e}")),
            }
        }
    }
    Ok(())
}

/// How many times a warm-up is tried while nothing listens on the invoke address (half a second apart).
const WARM_UP_ATTEMPTS: u32 = 120;

/// An API Gateway request as the functions receive it (the seat map's sample event).
const WARM_UP_REQUEST: &str = include_str!("../../../../events/get-seat-map.json");

fn start_watch(port: u16) -> std::io::Result<Child> {
    let mut command = Command::new("cargo");
    command
        .args([
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .kill_on_drop(true)
        // Its own process group, so that stopping it stops the functions it runs too.
        .process_group(0);
    command.spawn()
}

/// Stops `cargo lambda watch` and the functions it started: the whole process group, politely first.
async fn stop_watch(watch: &mut Child) {
    if let Some(pid) = watch.id() {
        let group = format!("-{pid}");
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status().await;
        if tokio::time::timeout(Duration::from_secs(5), watch.wait())
            .await
            .is_err()
        {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status().await;
        }
    }
    let _ = watch.wait().await;
}
