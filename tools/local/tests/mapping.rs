//! The in-process stream mapping: the same batching, retries and giving up as the event source mapping
//! `template.yaml` configures.

use serde_json::json;
use ticketing_aws::events::process_stream;
use ticketing_testkit::mapping::{run_mapping, Mapping, MemoryShard};
use ticketing_testkit::test_app::{memory, Setup, USER};

#[tokio::test]
async fn the_in_process_mapping_retries_then_moves_past_a_poisoned_record() {
    let app = Setup::seats(20).build(memory()).await;
    let ids = [
        app.book_and_pay(USER, 2, "120").await,
        app.book_and_pay(USER, 2, "120").await,
    ];
    let deliveries = std::sync::atomic::AtomicU32::new(0);
    let mapping = Mapping {
        batch_size: 1,
        maximum_retry_attempts: 2,
        retry_delay: std::time::Duration::from_millis(1),
    };
    let mut shard = MemoryShard::events(&app.store);
    // The function fails every invocation that contains the first booking's event.
    let deliver = |event: aws_lambda_events::event::dynamodb::Event| {
        deliveries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let app = &app;
        let first = ids[0].clone();
        async move {
            let poisoned = event.records.iter().any(|r| {
                let image = &r.change.new_image;
                matches!(image.get("bookingId"), Some(serde_dynamo::AttributeValue::S(b)) if *b == first)
                    && matches!(image.get("type"), Some(serde_dynamo::AttributeValue::S(t)) if t == "PAYMENT_SUCCEEDED")
            });
            if poisoned {
                return Err("function error".to_owned());
            }
            Ok(process_stream(&app.api.settle_events, event).await)
        }
    };
    let run = run_mapping(&mut shard, deliver, mapping);
    tokio::select! {
        () = run => panic!("the mapping never stops by itself"),
        _ = app.wait_for_status(USER, &ids[1], "confirmed") => {}
    }
    assert_eq!(
        deliveries.load(std::sync::atomic::Ordering::Relaxed),
        4,
        "the first payment three times (a try, two retries), then the next record"
    );
    let mine = app.my_bookings(USER).await;
    let first = mine
        .as_array()
        .and_then(|a| a.iter().find(|b| b["bookingId"] == ids[0].as_str()))
        .cloned();
    assert_eq!(first.map(|b| b["status"].clone()), Some(json!("pending")));
}
