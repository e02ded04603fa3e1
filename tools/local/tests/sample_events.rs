//! The sample events of `events/` (what `cargo lambda invoke --data-file` sends) drive the real
//! handlers: they parse as Lambda delivers them and do what the README says.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::StatusCode;
use ticketing_aws::config::LOCAL_WEBHOOK_SECRET;
use ticketing_aws::events::{deliver_notifications, process_expiries, process_stream, schedule_expiries};
use ticketing_aws::gateway::Notifier;
use ticketing_aws::http::{self, AuthMode};
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::EventId;
use ticketing_core::ports::{ExpiryQueue, HoldExpiry, QueueError};
use ticketing_testkit::http_server::serve;
use ticketing_testkit::inspect::Inspect;
use ticketing_testkit::local::route;
use ticketing_testkit::test_app::{memory, Setup};
use tokio::net::TcpListener;

fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn body(response: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

#[tokio::test]
async fn every_sample_event_drives_its_function() {
    let app = Setup::with_catalog(Catalog::builtin()).build(memory()).await;

    let req = lambda_http::request::from_str(&sample("create-booking.json")).expect("API Gateway v2 event");
    let created = http::create_booking(&app.api.create_booking, &app.api.auth, req).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let booking = body(&created)["bookingId"].as_str().expect("id").to_owned();

    let req = lambda_http::request::from_str(&sample("execute-payment.json")).expect("API Gateway v2 event");
    assert_eq!(
        http::execute_payment(&app.api.execute_payment, &app.api.auth, req)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "placeholder id"
    );
    let with_id = sample("execute-payment.json").replace("REPLACE-WITH-A-BOOKING-ID", &booking);
    let paid = http::execute_payment(
        &app.api.execute_payment,
        &app.api.auth,
        lambda_http::request::from_str(&with_id).expect("event"),
    )
    .await;
    assert_eq!(paid.status(), StatusCode::OK);

    let stream: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&sample("process-events.json")).expect("DynamoDB stream event");
    let unknown = process_stream(&app.api.settle_events, stream).await;
    assert_eq!(
        unknown.batch_item_failures.len(),
        1,
        "the placeholder booking does not exist"
    );
    let stream: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&sample("process-events.json").replace("REPLACE-WITH-A-BOOKING-ID", &booking))
            .expect("event");
    let applied = process_stream(&app.api.settle_events, stream).await;
    assert!(applied.batch_item_failures.is_empty());

    let req = lambda_http::request::from_str(&sample("list-my-bookings.json")).expect("API Gateway v2 event");
    let listed = body(&http::list_my_bookings(&app.api.list_bookings, &app.api.auth, req).await);
    assert_eq!(listed[0]["bookingId"], booking.as_str());
    assert_eq!(listed[0]["status"], "confirmed");
}

#[tokio::test]
async fn the_seat_map_and_expiry_samples_drive_their_functions() {
    let app = Setup::with_catalog(Catalog::builtin()).build(memory()).await;
    let req = lambda_http::request::from_str(&sample("get-seat-map.json")).expect("API Gateway v2 event");
    let map = http::seat_map(&app.api.seat_map, &app.api.auth, req).await;
    assert_eq!(map.status(), StatusCode::OK);
    assert_eq!(body(&map)["seats"].as_array().map(Vec::len), Some(200));

    let req = lambda_http::request::from_str(&sample("create-booking.json")).expect("API Gateway v2 event");
    let booking = body(&http::create_booking(&app.api.create_booking, &app.api.auth, req).await)["bookingId"]
        .as_str()
        .expect("id")
        .to_owned();
    let unknown: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&sample("expire-holds.json")).expect("SQS event");
    let dropped = process_expiries(&app.api.expire_holds, unknown).await;
    assert!(
        dropped.batch_item_failures.is_empty(),
        "the placeholder booking does not exist: a hold never written has nothing to expire"
    );
    // The booking's own hold decides: it has ten minutes to go, so the booking stays pending (and its
    // expiry is looked at again later).
    let early: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&sample("expire-holds.json").replace("REPLACE-WITH-A-BOOKING-ID", &booking))
            .expect("event");
    let answered = process_expiries(&app.api.expire_holds, early).await;
    assert!(answered.batch_item_failures.is_empty());
    app.wait_for_status("user_test_001", &booking, "pending").await;
}

/// Keeps what is scheduled.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<(HoldExpiry, Duration)>>);

#[async_trait::async_trait]
impl ExpiryQueue for Recorded {
    async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError> {
        self.0.lock().expect("lock").push((expiry.clone(), delay));
        Ok(())
    }
}

#[tokio::test]
async fn the_bookings_stream_sample_schedules_its_booking_s_expiry_and_nothing_else() {
    let recorded = Arc::new(Recorded::default());
    let app = Setup::with_catalog(Catalog::builtin())
        .expiries(recorded.clone())
        .build(memory())
        .await;
    let stream: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&sample("schedule-expiries.json")).expect("DynamoDB stream event");
    let answered = schedule_expiries(&app.api.schedule_expiries, stream).await;
    assert!(answered.batch_item_failures.is_empty());
    let sent = recorded.0.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.booking_id.as_str(), "REPLACE-WITH-A-BOOKING-ID");
    assert_eq!(sent[0].0.user_id.as_str(), "user_test_001");
    // A status change is nothing to schedule; an image that is no booking is reported for retry.
    let modified = sample("schedule-expiries.json").replace(r#""eventName": "INSERT""#, r#""eventName": "MODIFY""#);
    let stream: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&modified).expect("event");
    assert!(schedule_expiries(&app.api.schedule_expiries, stream)
        .await
        .batch_item_failures
        .is_empty());
    let malformed = sample("schedule-expiries.json").replace(r#""N": "2""#, r#""S": "two""#);
    let stream: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&malformed).expect("event");
    let failed = schedule_expiries(&app.api.schedule_expiries, stream).await;
    assert_eq!(failed.batch_item_failures.len(), 1);
    assert_eq!(recorded.0.lock().expect("lock").len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn the_webhook_sample_is_refused_until_signed_afresh() {
    let app = Setup::with_catalog(Catalog::builtin())
        .secret("whsec_sample")
        .build(memory())
        .await;
    let req = lambda_http::request::from_str(&sample("receive-webhook.json")).expect("API Gateway v2 event");
    assert_eq!(
        http::receive_webhook(&app.api.receive_webhook, req).await.status(),
        StatusCode::BAD_REQUEST,
        "placeholder"
    );
    // Signed now with the secret, as the README shows with openssl, it is stored.
    let mut event: serde_json::Value = serde_json::from_str(&sample("receive-webhook.json")).expect("JSON");
    let raw = event["body"].as_str().expect("body").to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    event["headers"]["pg-signature"] = ticketing_core::webhook::sign(b"whsec_sample", now, raw.as_bytes()).into();
    let req = lambda_http::request::from_str(&event.to_string()).expect("event");
    let stored = http::receive_webhook(&app.api.receive_webhook, req).await;
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(body(&stored)["duplicate"], false);
}

#[tokio::test]
async fn the_samples_carry_the_authorizers_claims_and_answer_the_same_under_jwt() {
    let app = Setup::with_catalog(Catalog::builtin())
        .auth(AuthMode::cognito())
        .build(memory())
        .await;
    let req = lambda_http::request::from_str(&sample("create-booking.json")).expect("API Gateway v2 event");
    let created = http::create_booking(&app.api.create_booking, &app.api.auth, req).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let booking = body(&created)["bookingId"].as_str().expect("id").to_owned();
    // The header names somebody else: the token's subject decides.
    let spoofed =
        sample("list-my-bookings.json").replace(r#""x-user-id": "user_test_001""#, r#""x-user-id": "mallory""#);
    let req = lambda_http::request::from_str(&spoofed).expect("API Gateway v2 event");
    let listed = body(&http::list_my_bookings(&app.api.list_bookings, &app.api.auth, req).await);
    assert_eq!(listed[0]["bookingId"], booking.as_str());
    assert_eq!(listed[0]["userId"], "user_test_001");
    let req = lambda_http::request::from_str(&sample("get-seat-map.json")).expect("API Gateway v2 event");
    assert_eq!(
        http::seat_map(&app.api.seat_map, &app.api.auth, req).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_missing_token_sample_is_unauthenticated_in_both_modes() {
    for auth in [AuthMode::Header, AuthMode::cognito()] {
        let app = Setup::with_catalog(Catalog::builtin())
            .auth(auth.clone())
            .build(memory())
            .await;
        let req = lambda_http::request::from_str(&sample("missing-token.json")).expect("API Gateway v2 event");
        let answer = http::list_my_bookings(&app.api.list_bookings, &app.api.auth, req).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body(&answer)["error"]["code"], "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn the_notification_sample_is_posted_to_the_webhook_and_stored() {
    let app = Arc::new(
        Setup::with_catalog(Catalog::builtin())
            .secret(LOCAL_WEBHOOK_SECRET)
            .build(memory())
            .await,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}/webhooks/pg", listener.local_addr().expect("bound"));
    let served = Arc::clone(&app);
    let server = tokio::spawn(serve(listener, move |req| {
        let app = Arc::clone(&served);
        async move { route(&app.api, req).await }
    }));
    let notifier = Notifier::new(url.parse().expect("a URL"), LOCAL_WEBHOOK_SECRET.to_owned()).expect("certificates");
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&sample("deliver-notifications.json")).expect("SQS event");
    let delivered = deliver_notifications(&notifier, event).await;
    assert!(delivered.batch_item_failures.is_empty(), "signed afresh, so accepted");
    let stored = app
        .store
        .event(&EventId::try_from("evt_pg_sample_delivery_0001").expect("an event id"))
        .await
        .expect("read");
    assert!(stored.is_some(), "in the inbox, for the worker");
    server.abort();
}

#[tokio::test]
async fn the_performance_samples_create_a_draft_and_list_what_is_on_sale_in_both_modes() {
    for auth in [AuthMode::Header, AuthMode::cognito()] {
        let app = Setup::with_catalog(Catalog::builtin()).auth(auth).build(memory()).await;
        let req = lambda_http::request::from_str(&sample("create-performance.json")).expect("API Gateway v2 event");
        let created = http::performances(&app.api.manage_performances, &app.api.auth, req).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(body(&created)["status"], "draft");
        assert_eq!(body(&created)["totalSeats"], 50);

        let req = lambda_http::request::from_str(&sample("list-performances.json")).expect("API Gateway v2 event");
        let listed = http::performances(&app.api.manage_performances, &app.api.auth, req).await;
        assert_eq!(listed.status(), StatusCode::OK);
        let ids: Vec<String> = body(&listed)["performances"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|p| p["performanceId"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(ids, ["perf_001", "perf_002"], "the draft is not on sale");
    }
}

#[tokio::test]
async fn the_cancel_sample_cancels_the_booking_it_names() {
    let app = Setup::with_catalog(Catalog::builtin()).build(memory()).await;
    let req = lambda_http::request::from_str(&sample("create-booking.json")).expect("API Gateway v2 event");
    let created = body(&http::create_booking(&app.api.create_booking, &app.api.auth, req).await);
    let booking = created["bookingId"].as_str().expect("id");
    let req = lambda_http::request::from_str(&sample("cancel-booking.json")).expect("API Gateway v2 event");
    let placeholder = http::cancel_booking(&app.api.cancel_booking, &app.api.auth, req).await;
    assert_eq!(placeholder.status(), StatusCode::NOT_FOUND, "placeholder id");
    let named = sample("cancel-booking.json").replace("REPLACE-WITH-A-BOOKING-ID", booking);
    let req = lambda_http::request::from_str(&named).expect("event");
    let cancelled = http::cancel_booking(&app.api.cancel_booking, &app.api.auth, req).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(body(&cancelled)["status"], "cancelled");
}
