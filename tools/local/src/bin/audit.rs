//! `make audit`: the ledger audit over the DynamoDB tables the environment names (table names as for the
//! functions; `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local). Prints the report; exits 1 on any breach,
//! 2 when the tables cannot be read.

use std::process::ExitCode;
use ticketing_aws::dynamodb::{DynamoStore, Tables};

#[tokio::main]
async fn main() -> ExitCode {
    let config = aws_config::load_from_env().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), Tables::from_env());
    match ticketing_core::audit::run(&store).await {
        Ok(report) => {
            print!("{report}");
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("audit: {e}");
            ExitCode::from(2)
        }
    }
}
