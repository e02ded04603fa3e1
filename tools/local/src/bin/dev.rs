//! `make dev`: the real Lambda code path on one machine. DynamoDB Local with the tables of
//! `template.yaml` and moto's SQS with the hold-expiry queue (each unless `AWS_ENDPOINT_URL_DYNAMODB` /
//! `AWS_ENDPOINT_URL_SQS` names one already), the functions under `cargo lambda watch` on
//! 127.0.0.1:$PORT (default 3000), and the two event source mappings: the events table's stream into
//! `process-events` and the expiry queue into `expire-holds`, through the Lambda Invoke API.
//! Ctrl-C stops all of it.

use std::process::ExitCode;
use std::time::Duration;
use ticketing::store::Tables;
use ticketing::stream::{run_mapping_with_dead_letters, Mapping};
use ticketing_local::emulator::{Emulator, EmulatorError};
use ticketing_local::poller::{invoke, StreamShards};
use ticketing_local::queues;
use ticketing_local::redrive::SqsDeadLetters;
use tokio::process::{Child, Command};

const WORKER: &str = "process-events";
const EXPIRER: &str = "expire-holds";
const EXPIRY_QUEUE: &str = "hold-expiries";
const EVENTS_DLQ: &str = "events-dlq";

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
    ticketing::wiring::init_tracing();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    // Set before any thread exists: the functions under watch and the SDK clients here read these.
    let defaults = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("PG_WEBHOOK_SECRET", ticketing::wiring::LOCAL_WEBHOOK_SECRET),
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
    // The simulated gateway (in execute-payment) calls the webhook route back for asynchronous payments.
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

async fn run(port: u16) -> ExitCode {
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let tables = Tables::from_env();
    if let Err(e) =
        ticketing_local::tables::create_all(&dynamodb, &ticketing_local::tables::template_path(), &tables).await
    {
        eprintln!("dev: {e}");
        return ExitCode::FAILURE;
    }
    let queue_url = match queues::create_with_dead_letters(&sqs, EXPIRY_QUEUE, Duration::from_secs(10)).await {
        Ok(url) => url,
        Err(e) => {
            eprintln!("dev: cannot create the expiry queue: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dead_letters = match sqs
        .create_queue()
        .queue_name(EVENTS_DLQ)
        .send()
        .await
        .map(|q| q.queue_url)
    {
        Ok(Some(url)) => url,
        other => {
            eprintln!("dev: cannot create the events dead-letter queue: {other:?}");
            return ExitCode::FAILURE;
        }
    };
    // The functions under watch inherit this environment.
    std::env::set_var("HOLD_EXPIRY_QUEUE_URL", &queue_url);
    let mut watch = match start_watch(port) {
        Ok(child) => child,
        Err(e) => {
            eprintln!("dev: cannot start `cargo lambda watch` (run `make tools`): {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(url = %format!("http://127.0.0.1:{port}"), "API served by cargo lambda watch");
    tracing::info!(
        queue = %dead_letters,
        "events stream dead letters; redrive them with: EVENTS_DLQ_URL=<queue> AWS_ENDPOINT_URL_DYNAMODB=... AWS_ENDPOINT_URL_DYNAMODB_STREAMS=... AWS_ENDPOINT_URL_SQS=... AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:<PORT> make redrive"
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
    let stream_mapping = async {
        let mut shard = loop {
            match StreamShards::open(&dynamodb, streams.clone(), &tables.events, &region).await {
                Ok(shard) => break shard,
                Err(e) => {
                    tracing::warn!(error = %e, "events stream not ready");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let dead_letters = SqsDeadLetters {
            client: sqs.clone(),
            queue_url: dead_letters.clone(),
        };
        let deliver = |event| invoke(&lambda, WORKER, event);
        run_mapping_with_dead_letters(&mut shard, deliver, Mapping::default(), &dead_letters).await;
    };
    let queue_mapping = queues::run_mapping(&sqs, &queue_url, &region, 10, |event| invoke(&lambda, EXPIRER, event));
    let code = tokio::select! {
        () = stream_mapping => ExitCode::FAILURE,
        () = queue_mapping => ExitCode::FAILURE,
        status = watch.wait() => {
            eprintln!("dev: cargo lambda watch exited: {status:?}");
            ExitCode::FAILURE
        }
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    };
    stop(&mut watch).await;
    code
}

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
async fn stop(watch: &mut Child) {
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
