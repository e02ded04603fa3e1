//! The simulated gateway's notifications as the deployed stack delivers them: `execute-payment`
//! schedules each on an SQS delay queue (moto), `deliver-notifications` posts it, signed, to the API's
//! `POST /webhooks/pg` over HTTP, and the worker applies it.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use ticketing_aws::events::deliver_notifications;
use ticketing_aws::gateway::{Notifier, QueuedCallback};
use ticketing_core::app::Gateway;
use ticketing_core::domain::EventId;
use ticketing_testkit::http_server::serve;
use ticketing_testkit::inspect::Inspect;
use ticketing_testkit::local::route;
use ticketing_testkit::mapping::{run_worker, Mapping};
use ticketing_testkit::memory::MemoryStore;
use ticketing_testkit::queues;
use ticketing_testkit::test_app::{memory, moto, notification, Setup, TestApp, SECRET, USER};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// `app` served on a free local port; the webhook's URL and the server's task.
async fn served(app: &Arc<TestApp<MemoryStore>>) -> (hyper::Uri, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}/webhooks/pg", listener.local_addr().expect("bound"));
    let app = Arc::clone(app);
    let server = tokio::spawn(serve(listener, move |req| {
        let app = Arc::clone(&app);
        async move { route(&app.api, req).await }
    }));
    (url.parse().expect("a URL"), server)
}

/// An SQS batch of one message with `body`.
fn batch(body: &str) -> SqsEvent {
    let mut message = SqsMessage::default();
    message.message_id = Some("msg-1".to_owned());
    message.body = Some(body.to_owned());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test]
async fn a_processing_payment_is_confirmed_through_the_delay_queue_and_the_webhook() {
    let moto = moto();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let name = format!("notifications-{}", uuid::Uuid::new_v4().simple());
    let queue = queues::create_with_dead_letters(&sqs, &name, Duration::from_secs(5))
        .await
        .expect("queue");
    let callback = QueuedCallback::new(sqs.clone(), queue.clone(), Duration::from_millis(2000));
    let app = Arc::new(
        Setup::seats(4)
            .gateway(Gateway::Simulated(Arc::new(callback)))
            .build(memory())
            .await,
    );
    let (url, server) = served(&app).await;

    let id = app.book_and_pay(USER, 1, "777").await;
    let pending = app.my_bookings(USER).await;
    assert_eq!(pending[0]["status"], "pending", "{pending}");
    let early = sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(0)
        .send()
        .await
        .expect("receive");
    assert!(
        early.messages.unwrap_or_default().is_empty(),
        "the notification waits out the processing delay"
    );

    let notifier = Notifier::new(url, SECRET.to_owned()).expect("trusted certificates");
    let delivery = queues::run_mapping(&sqs, &queue, "us-east-1", 10, |event| {
        let notifier = &notifier;
        async move { Ok(deliver_notifications(notifier, event).await) }
    });
    let worker = run_worker(&app.store, &app.api.settle_events, Mapping::default());
    tokio::select! {
        confirmed = app.wait_for_status(USER, &id, "confirmed") => {
            assert_eq!(confirmed["status"], "confirmed");
        }
        () = delivery => panic!("the queue mapping stopped"),
        () = worker => panic!("the worker stopped"),
    }
    server.abort();
}

#[tokio::test]
async fn a_notification_the_webhook_refuses_is_reported_for_another_delivery() {
    let app = Arc::new(Setup::seats(4).build(memory()).await);
    let (url, server) = served(&app).await;
    let body = notification(
        "evt_refused_1",
        "payment_intent.succeeded",
        "bk_x",
        "ch_x",
        60_000,
        None,
    );

    let forger = Notifier::new(url.clone(), "whsec_not_the_secret".to_owned()).expect("certificates");
    let refused = deliver_notifications(&forger, batch(&body)).await;
    assert_eq!(
        failed_ids(&refused),
        ["msg-1"],
        "a bad signature is refused, so retried"
    );

    let notifier = Notifier::new(url, SECRET.to_owned()).expect("certificates");
    let malformed = deliver_notifications(&notifier, batch("{\"not\": \"a notification\"}")).await;
    assert_eq!(failed_ids(&malformed), ["msg-1"], "kept for the dead-letter queue");
    let delivered = deliver_notifications(&notifier, batch(&body)).await;
    assert!(failed_ids(&delivered).is_empty());
    let stored = app
        .store
        .event(&EventId::try_from("evt_refused_1").expect("an event id"))
        .await
        .expect("read");
    assert!(stored.is_some(), "the delivered notification is in the inbox");
    server.abort();
}

#[tokio::test]
async fn a_notification_to_an_unreachable_webhook_is_reported_for_another_delivery() {
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port")
        .local_addr()
        .expect("bound")
        .port();
    let url = format!("http://127.0.0.1:{port}/webhooks/pg").parse().expect("a URL");
    let notifier = Notifier::new(url, SECRET.to_owned()).expect("certificates");
    let body = notification(
        "evt_unreachable_1",
        "payment_intent.succeeded",
        "bk_x",
        "ch_x",
        60_000,
        None,
    );
    let response = deliver_notifications(&notifier, batch(&body)).await;
    assert_eq!(failed_ids(&response), ["msg-1"]);
}
