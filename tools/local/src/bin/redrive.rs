//! `make redrive`: hands the records of a stream's dead letters to its function again through the Lambda
//! Invoke API (`AWS_ENDPOINT_URL_LAMBDA` for the local stack), and reports what it moved: the events
//! stream's (`EVENTS_DLQ_URL`) to `process-events`, the bookings stream's (`BOOKINGS_DLQ_URL`) to
//! `schedule-expiries`. Exits 1 when some failed again.

use std::process::ExitCode;
use ticketing_aws::dynamodb::Tables;
use ticketing_local::invoke::invoke;
use ticketing_testkit::streams::StreamShards;

#[tokio::main]
async fn main() -> ExitCode {
    let tables = Tables::from_env();
    let (queue_url, table, function) = match (std::env::var("EVENTS_DLQ_URL"), std::env::var("BOOKINGS_DLQ_URL")) {
        (Ok(url), Err(_)) => (url, tables.events, "process-events"),
        (Err(_), Ok(url)) => (url, tables.bookings, "schedule-expiries"),
        _ => {
            eprintln!(
                "redrive: set EVENTS_DLQ_URL or BOOKINGS_DLQ_URL (one of them) to a stream's dead-letter queue (make dev prints them)"
            );
            return ExitCode::from(2);
        }
    };
    let config = aws_config::load_from_env().await;
    let region = config.region().map_or("us-east-1", |r| r.as_ref()).to_owned();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let stream = match StreamShards::open(&dynamodb, streams, &table, &region).await {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("redrive: {e}");
            return ExitCode::from(2);
        }
    };
    let lambda = aws_sdk_lambda::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    match ticketing_local::redrive::redrive(&sqs, &queue_url, &stream, |event| invoke(&lambda, function, event)).await {
        Ok(report) => {
            println!("{report}");
            if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("redrive: {e}");
            ExitCode::from(2)
        }
    }
}
