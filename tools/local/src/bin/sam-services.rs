//! What `make sam-local` and `make sam-test` run beside SAM: DynamoDB Local with the tables of
//! `template.yaml` and moto's SQS with the template's queues, reachable from the functions' containers
//! at `host.docker.internal`; an env-vars file for `sam local` that points every function at them; the
//! four event source mappings, the events table's stream into `ProcessEventsFunction`, the bookings
//! table's into `ScheduleExpiriesFunction`, the expiry queue into `ExpireHoldsFunction` and the gateway's
//! notification queue into `DeliverNotificationsFunction`, each batch through `sam local invoke`; and a relay from the Docker
//! bridge to `sam local start-api` on 127.0.0.1:<API port>, through which the notifications reach the
//! API's webhook from their container, as the deployed function reaches the API's public URL.
//!
//! Usage: `sam-services <env-vars file> <Docker bridge address> <parameter overrides> <API port>`. It
//! logs `ready` once the file is written; any signal that stops it stops the emulators.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use ticketing_aws::config::LOCAL_WEBHOOK_SECRET;
use ticketing_aws::dynamodb::Tables;
use ticketing_local::redrive::{run_stream_mapping, SqsDeadLetters};
use ticketing_local::sam::SamInvoke;
use ticketing_local::stack;
use ticketing_testkit::emulator::Emulator;
use ticketing_testkit::mapping::Mapping;
use ticketing_testkit::queues;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};

const REGION: &str = "us-east-1";

fn main() -> ExitCode {
    ticketing_aws::config::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [env_vars, bridge, parameters, api_port] = args.as_slice() else {
        eprintln!("usage: sam-services <env-vars file> <Docker bridge address> <parameter overrides> <API port>");
        return ExitCode::from(2);
    };
    let Ok(api_port) = api_port.parse::<u16>() else {
        eprintln!("sam-services: the API port must be a port number, not {api_port:?}");
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
        Ok(runtime) => runtime.block_on(run(&sam, &dynamodb, &sqs, Api { bridge, port: api_port })),
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

/// Where `sam local start-api` listens (127.0.0.1:`port`), and the bridge its relay listens on.
struct Api<'a> {
    bridge: &'a str,
    port: u16,
}

/// Relays every connection to `bridge` (on a port of its own) to 127.0.0.1:`port`; the relay's URL
/// as a container reaches it.
async fn relay(api: &Api<'_>) -> std::io::Result<(String, impl std::future::Future<Output = ()>)> {
    let listener = TcpListener::bind((api.bridge, 0)).await?;
    let url = format!("http://host.docker.internal:{}", listener.local_addr()?.port());
    let target = ("127.0.0.1", api.port);
    let relaying = async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                match TcpStream::connect(target).await {
                    Ok(mut outbound) => {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "the API is not answering; connection dropped"),
                }
            });
        }
    };
    Ok((url, relaying))
}

async fn run(sam: &SamInvoke, dynamodb_local: &Emulator, moto: &Emulator, api: Api<'_>) -> ExitCode {
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
    let (api_url, relaying) = match relay(&api).await {
        Ok(relay) => relay,
        Err(e) => {
            eprintln!("sam-services: cannot relay to the API: {e}");
            return ExitCode::FAILURE;
        }
    };
    let catalog = match ticketing_aws::config::catalog() {
        Ok(catalog) => catalog,
        Err(e) => {
            eprintln!("sam-services: {e}");
            return ExitCode::FAILURE;
        }
    };
    let queues = match stack::create(&dynamodb, &sqs, &tables, &catalog, Duration::from_secs(30)).await {
        Ok(queues) => queues,
        Err(e) => {
            eprintln!("sam-services: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env_vars = json!({
        "Parameters": {
            "AWS_ENDPOINT_URL_DYNAMODB": from_container(&dynamodb_local.endpoint(), dynamodb_local),
            "AWS_ENDPOINT_URL_SQS": from_container(&moto.endpoint(), moto),
            "HOLD_EXPIRY_QUEUE_URL": from_container(&queues.expiries, moto),
            "PG_NOTIFICATION_QUEUE_URL": from_container(&queues.notifications, moto),
            "PG_WEBHOOK_URL": format!("{api_url}/webhooks/pg"),
            "BOOKINGS_TABLE": tables.bookings,
            "PAYMENT_INTENTS_TABLE": tables.payment_intents,
            "EVENTS_TABLE": tables.events,
            "LEDGER_ENTRIES_TABLE": tables.ledger_entries,
            "OCCUPIED_SEATS_TABLE": tables.occupied_seats,
            "IDEMPOTENCY_KEYS_TABLE": tables.idempotency_keys,
            "USER_SEATS_TABLE": tables.user_seats,
            "PERFORMANCES_TABLE": tables.performances,
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
    let stream_mapping = run_stream_mapping(
        &dynamodb,
        streams.clone(),
        (&tables.events, REGION),
        (
            Mapping::default(),
            SqsDeadLetters::new(&sqs, &queues.events_dead_letters),
        ),
        |event| async move { sam.invoke("ProcessEventsFunction", &event).await },
    );
    let schedule_mapping = run_stream_mapping(
        &dynamodb,
        streams.clone(),
        (&tables.bookings, REGION),
        (
            Mapping::new_bookings(),
            SqsDeadLetters::new(&sqs, &queues.bookings_dead_letters),
        ),
        |event| async move { sam.invoke("ScheduleExpiriesFunction", &event).await },
    );
    let expiry_mapping = queues::run_mapping(&sqs, &queues.expiries, REGION, 10, |event| async move {
        sam.invoke("ExpireHoldsFunction", &event).await
    });
    let notification_mapping = queues::run_mapping(&sqs, &queues.notifications, REGION, 10, |event| async move {
        sam.invoke("DeliverNotificationsFunction", &event).await
    });
    tokio::select! {
        () = stream_mapping => ExitCode::FAILURE,
        () = schedule_mapping => ExitCode::FAILURE,
        () = expiry_mapping => ExitCode::FAILURE,
        () = notification_mapping => ExitCode::FAILURE,
        () = relaying => ExitCode::FAILURE,
        _ = terminate.0.recv() => ExitCode::SUCCESS,
        _ = terminate.1.recv() => ExitCode::SUCCESS,
        _ = terminate.2.recv() => ExitCode::SUCCESS,
    }
}
