//! The sample events of `events/` (what `cargo lambda invoke --data-file` sends) drive the real
//! handlers: they parse as Lambda delivers them and do what the README says.

mod common;

use common::*;
use lambda_http::http::StatusCode;
use std::path::Path;
use ticketing::catalog::Catalog;

fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn body(response: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

#[tokio::test]
async fn every_sample_event_drives_its_function() {
    let app = memory_app(Catalog::builtin());

    let req = lambda_http::request::from_str(&sample("create-booking.json")).expect("API Gateway v2 event");
    let created = ticketing::api::create_booking(&app, req).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let booking = body(&created)["bookingId"].as_str().expect("id").to_owned();

    let req = lambda_http::request::from_str(&sample("execute-payment.json")).expect("API Gateway v2 event");
    assert_eq!(
        ticketing::api::execute_payment(&app, req).await.status(),
        StatusCode::NOT_FOUND,
        "placeholder id"
    );
    let with_id = sample("execute-payment.json").replace("REPLACE-WITH-A-BOOKING-ID", &booking);
    let paid = ticketing::api::execute_payment(&app, lambda_http::request::from_str(&with_id).expect("event")).await;
    assert_eq!(paid.status(), StatusCode::OK);

    let stream: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&sample("process-events.json")).expect("DynamoDB stream event");
    let unknown = ticketing::worker::process_batch(&app, stream).await;
    assert_eq!(
        unknown.batch_item_failures.len(),
        1,
        "the placeholder booking does not exist"
    );
    let stream: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&sample("process-events.json").replace("REPLACE-WITH-A-BOOKING-ID", &booking))
            .expect("event");
    let applied = ticketing::worker::process_batch(&app, stream).await;
    assert!(applied.batch_item_failures.is_empty());

    let req = lambda_http::request::from_str(&sample("list-my-bookings.json")).expect("API Gateway v2 event");
    let listed = body(&ticketing::api::list_my_bookings(&app, req).await);
    assert_eq!(listed[0]["bookingId"], booking.as_str());
    assert_eq!(listed[0]["status"], "confirmed");
}

#[tokio::test]
async fn the_seat_map_and_expiry_samples_drive_their_functions() {
    let app = memory_app(Catalog::builtin());
    let req = lambda_http::request::from_str(&sample("get-seat-map.json")).expect("API Gateway v2 event");
    let map = ticketing::api::seat_map(&app, req).await;
    assert_eq!(map.status(), StatusCode::OK);
    assert_eq!(body(&map)["seats"].as_array().map(Vec::len), Some(200));

    let req = lambda_http::request::from_str(&sample("create-booking.json")).expect("API Gateway v2 event");
    let booking = body(&ticketing::api::create_booking(&app, req).await)["bookingId"]
        .as_str()
        .expect("id")
        .to_owned();
    let unknown: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&sample("expire-holds.json")).expect("SQS event");
    let dropped = ticketing::expiry::process_batch(&app, unknown).await;
    assert!(
        dropped.batch_item_failures.is_empty(),
        "the placeholder booking does not exist: a hold never written has nothing to expire"
    );
    // The booking's own hold decides: it has ten minutes to go, so the booking stays pending (and its
    // expiry is looked at again later).
    let early: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&sample("expire-holds.json").replace("REPLACE-WITH-A-BOOKING-ID", &booking))
            .expect("event");
    let answered = ticketing::expiry::process_batch(&app, early).await;
    assert!(answered.batch_item_failures.is_empty());
    wait_for_status(&app, "user_test_001", &booking, "pending").await;
}

#[tokio::test]
async fn the_webhook_sample_is_refused_until_signed_afresh() {
    let app = memory_app(Catalog::builtin()).with_webhook_secret("whsec_sample".to_owned());
    let req = lambda_http::request::from_str(&sample("receive-webhook.json")).expect("API Gateway v2 event");
    assert_eq!(
        ticketing::api::receive_webhook(&app, req).await.status(),
        StatusCode::BAD_REQUEST,
        "placeholder"
    );
    // Signed now with the secret, as the README shows with openssl, it is stored.
    let mut event: serde_json::Value = serde_json::from_str(&sample("receive-webhook.json")).expect("JSON");
    let raw = event["body"].as_str().expect("body").to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    event["headers"]["pg-signature"] = ticketing::webhook::sign(b"whsec_sample", now, raw.as_bytes()).into();
    let req = lambda_http::request::from_str(&event.to_string()).expect("event");
    let stored = ticketing::api::receive_webhook(&app, req).await;
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(body(&stored)["duplicate"], false);
}
