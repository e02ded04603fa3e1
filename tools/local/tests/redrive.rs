//! Dead letters of the events stream on DynamoDB Local and moto: what the mapping gives up goes to the
//! dead-letter queue, and the redrive applies it once the worker is back.

use std::sync::atomic::{AtomicBool, Ordering};

use ticketing_aws::events::process_stream;
use ticketing_core::audit;
use ticketing_core::domain::{BookingId, ChargeId, Currency, EventId, Timestamp};
use ticketing_core::ports::Inbox;
use ticketing_core::webhook::{Notification, NotificationData, NotificationType, StoredNotification};
use ticketing_local::redrive::{redrive, SqsDeadLetters};
use ticketing_testkit::mapping::{run_mapping_with_dead_letters, Mapping, StreamFailure};
use ticketing_testkit::streams::StreamShards;
use ticketing_testkit::test_app::{dynamodb, dynamodb_local, moto, EventStream, Setup, USER};

/// An outage of the worker: records given up after their retries go to the dead-letter queue with the
/// reason; the redrive applies them once the worker is back. A poison record fails again and stays.
#[tokio::test]
async fn given_up_records_go_to_the_dead_letter_queue_and_redrive_applies_them() {
    let moto = moto();
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let name = format!("events-dlq-{}", uuid::Uuid::new_v4().simple());
    let dlq = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let app = Setup::seats(10).build(dynamodb().await).await;

    // Two paid bookings while the worker is down, and a notification for a booking that never existed.
    let ids = [
        app.book_and_pay(USER, 1, "120").await,
        app.book_and_pay(USER, 1, "120").await,
    ];
    let ghost = Notification {
        id: EventId::try_from("evt_ghost").expect("valid"),
        kind: NotificationType::PaymentSucceeded,
        created: 0,
        data: NotificationData {
            booking_id: BookingId::try_from("no-such-booking").expect("valid"),
            charge_id: ChargeId::generate(),
            amount: 30_000,
            currency: Currency::try_from("KRW".to_owned()).expect("valid"),
            failure_code: None,
            refund_id: None,
        },
    };
    let stored = StoredNotification::of(&ghost, Timestamp::from_millis(0));
    app.store.put_event(&ghost.id, &stored).await.expect("stored");
    // And a record no worker can read: the poison.
    let poison = EventId::try_from("evt_poison").expect("valid");
    let unreadable = serde_json::json!({"type": "PAYMENT_SUCCEEDED", "bookingId": "whatever"});
    app.store.put_event(&poison, &unreadable).await.expect("stored");

    let down = AtomicBool::new(true);
    let deliver = |event| {
        let down = down.load(Ordering::SeqCst);
        let app = &app;
        async move {
            if down {
                return Err("the function is unavailable".to_owned());
            }
            Ok(process_stream(&app.api.settle_events, event).await)
        }
    };
    let mapping = Mapping {
        batch_size: 10,
        maximum_retry_attempts: 2,
        retry_delay: std::time::Duration::from_millis(5),
        inserts_only: false,
    };
    let dead_letters = SqsDeadLetters::new(&sqs, &dlq);
    let mut shard = app.store.events_stream().await;
    let outage = run_mapping_with_dead_letters(&mut *shard, deliver, mapping, &dead_letters);
    let given_up = async {
        // 2 payments, the notification and the poison: every one is given up while the function is down.
        loop {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&dlq)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .expect("attributes");
            let count = attributes
                .attributes
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                        .cloned()
                })
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            if count >= 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        () = outage => panic!("the mapping never stops by itself"),
        () = given_up => {}
    }
    let peek = sqs
        .receive_message()
        .queue_url(&dlq)
        .visibility_timeout(0)
        .send()
        .await
        .expect("receive");
    let letter: StreamFailure =
        serde_json::from_str(peek.messages.unwrap_or_default()[0].body.as_deref().unwrap_or_default())
            .expect("a dead letter");
    assert_eq!(letter.request_context.condition, "RetryAttemptsExhausted");
    assert_eq!(letter.response_context.function_error, "the function is unavailable");
    for id in &ids {
        app.wait_for_status(USER, id, "pending").await;
    }

    // The worker is back: the redrive applies what was given up (the notification for no booking is
    // parked, which applies it), except the poison record.
    let streams = aws_sdk_dynamodbstreams::Client::new(&dynamodb_local().sdk_config());
    let stream = StreamShards::open(app.store.client(), streams, &app.store.tables().events, "us-east-1")
        .await
        .expect("stream opens");
    let deliver = |event| async { Ok(process_stream(&app.api.settle_events, event).await) };
    let report = redrive(&sqs, &dlq, &stream, deliver).await.expect("redrive ran");
    println!("{report}");
    assert_eq!((report.moved, report.failed), (3, 1), "{report}");
    for id in &ids {
        app.wait_for_status(USER, id, "confirmed").await;
    }
    // The poison record's dead letter stays on the queue.
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    let count = |name: &A| attributes.get(name).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    assert_eq!(
        count(&A::ApproximateNumberOfMessages) + count(&A::ApproximateNumberOfMessagesNotVisible),
        1
    );
    assert!(audit::run(app.store.as_ref()).await.expect("audit").is_clean());
}
