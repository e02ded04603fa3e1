//! What `make sam-local` and `make sam-test` run beside SAM: DynamoDB Local with the tables of
//! `template.yaml` and moto's SQS with the template's queues, reachable from the functions' containers
//! at `host.docker.internal`; an env-vars file for `sam local` that points every function at them; and
//! the two event source mappings, the events table's stream into `ProcessEventsFunction` and the expiry
//! queue into `ExpireHoldsFunction`, each batch through `sam local invoke`.
//!
//! Usage: `sam-services <env-vars file> <Docker bridge address> <parameter overrides>`. It logs
//! `ready` once the file is written; any signal that stops it stops the emulators.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use ticketing_aws::config::LOCAL_WEBHOOK_SECRET;
use ticketing_aws::dynamodb::Tables;
use ticketing_local::redrive::SqsDeadLetters;
use ticketing_local::sam::SamInvoke;
use ticketing_testkit::emulator::Emulator;
use ticketing_testkit::mapping::{run_mapping_with_dead_letters, Mapping};
use ticketing_testkit::queues;
use ticketing_testkit::streams::StreamShards;
use tokio::signal::unix::{signal, SignalKind};

const REGION: &str = "us-east-1";

fn main() -> ExitCode {
    ticketing_aws::config::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [env_vars, bridge, parameters] = args.as_slice() else {
        eprintln!("usage: sam-services <env-vars file> <Docker bridge address> <parameter overrides>");
        return ExitCode::from(2);
    };
    // Set before any thread exists; the SDK clients and `sam` read them.
    for (name, value) in [
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        std::env::set_var(name, value);
    }
    let emulators = Emulator::dynamodb_local().and_then(|dynamodb| Ok((dynamodb, Emulator::moto_on(bridge)?)));
    let (dynamodb, sqs) = match emulators {
        Ok(emulators) => emulators,
        Err(e) => {
            eprintln!("sam-services: {e}");
            return ExitCode::FAILURE;
        }
    };
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint());
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", dynamodb.endpoint());
    std::env::set_var("AWS_ENDPOINT_URL_SQS", sqs.endpoint());
    let sam = SamInvoke {
        env_vars: PathBuf::from(env_vars),
        parameter_overrides: parameters.clone(),
    };
    let code = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run(&sam, &dynamodb, &sqs)),
        Err(e) => {
            eprintln!("sam-services: {e}");
            ExitCode::FAILURE
        }
    };
    drop((dynamodb, sqs));
    code
}

/// `url` as a function's container reaches it.
fn from_container(url: &str, emulator: &Emulator) -> String {
    let local = emulator.endpoint();
    let inside = format!("http://host.docker.internal:{}", emulator.port());
    url.replacen(&local, &inside, 1)
        .replacen(&format!("http://127.0.0.1:{}", emulator.port()), &inside, 1)
}

async fn run(sam: &SamInvoke, dynamodb_local: &Emulator, moto: &Emulator) -> ExitCode {
    let mut terminate = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(term), Ok(int), Ok(hup)) => (term, int, hup),
        _ => {
            eprintln!("sam-services: cannot handle signals");
            return ExitCode::FAILURE;
        }
    };
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let tables = Tables::from_env();
    let setup = async {
        ticketing_testkit::tables::create_all(&dynamodb, &ticketing_testkit::tables::template_path(), &tables)
            .await
            .map_err(|e| e.to_string())?;
        let expiries = queues::create_with_dead_letters(&sqs, "hold-expiries", Duration::from_secs(30)).await?;
        let dead_letters = sqs
            .create_queue()
            .queue_name("events-dlq")
            .send()
            .await
            .map_err(queues::err)?
            .queue_url
            .ok_or("the events dead-letter queue has no URL")?;
        Ok::<_, String>((expiries, dead_letters))
    };
    let (expiries, dead_letters) = match setup.await {
        Ok(urls) => urls,
        Err(e) => {
            eprintln!("sam-services: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env_vars = json!({
        "Parameters": {
            "AWS_ENDPOINT_URL_DYNAMODB": from_container(&dynamodb_local.endpoint(), dynamodb_local),
            "AWS_ENDPOINT_URL_SQS": from_container(&moto.endpoint(), moto),
            "HOLD_EXPIRY_QUEUE_URL": from_container(&expiries, moto),
            "BOOKINGS_TABLE": tables.bookings,
            "PAYMENT_INTENTS_TABLE": tables.payment_intents,
            "EVENTS_TABLE": tables.events,
            "LEDGER_ENTRIES_TABLE": tables.ledger_entries,
            "OCCUPIED_SEATS_TABLE": tables.occupied_seats,
            "IDEMPOTENCY_KEYS_TABLE": tables.idempotency_keys,
            "USER_SEATS_TABLE": tables.user_seats,
            "AUTH_MODE": "header",
            "PG_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
            "HOLD_SECONDS": std::env::var("HOLD_SECONDS").unwrap_or_else(|_| "600".to_owned()),
        }
    });
    if let Err(e) = std::fs::write(&sam.env_vars, env_vars.to_string()) {
        eprintln!("sam-services: cannot write {}: {e}", sam.env_vars.display());
        return ExitCode::FAILURE;
    }
    tracing::info!(
        dynamodb = %dynamodb_local.endpoint(),
        sqs = %moto.endpoint(),
        env_vars = %sam.env_vars.display(),
        "ready: the local services, their tables and queues"
    );
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let stream_mapping = async {
        let mut shard = StreamShards::open_when_ready(&dynamodb, streams.clone(), &tables.events, REGION).await;
        let dead_letters = SqsDeadLetters {
            client: sqs.clone(),
            queue_url: dead_letters.clone(),
        };
        let deliver = |event| async move { sam.invoke("ProcessEventsFunction", &event).await };
        run_mapping_with_dead_letters(&mut shard, deliver, Mapping::default(), &dead_letters).await;
    };
    let queue_mapping = queues::run_mapping(&sqs, &expiries, REGION, 10, |event| async move {
        sam.invoke("ExpireHoldsFunction", &event).await
    });
    tokio::select! {
        () = stream_mapping => ExitCode::FAILURE,
        () = queue_mapping => ExitCode::FAILURE,
        _ = terminate.0.recv() => ExitCode::SUCCESS,
        _ = terminate.1.recv() => ExitCode::SUCCESS,
        _ = terminate.2.recv() => ExitCode::SUCCESS,
    }
}
