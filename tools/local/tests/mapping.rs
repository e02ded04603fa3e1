//! The in-process stream mapping: the same batching, retries and giving up as the event source mapping
//! `template.yaml` configures.

use serde_json::json;
use ticketing_aws::events::process_stream;
use ticketing_testkit::mapping::{
    record, run_mapping, Insert, Mapping, MemoryShard, ShardReader, StreamError, StreamSource,
};
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
        inserts_only: false,
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

/// A shard of fixed records, read once.
struct Fixed(Vec<aws_lambda_events::event::dynamodb::EventRecord>);

#[async_trait::async_trait]
impl ShardReader for Fixed {
    async fn read(&mut self, max: usize) -> Result<Vec<aws_lambda_events::event::dynamodb::EventRecord>, StreamError> {
        let n = max.min(self.0.len());
        Ok(self.0.drain(..n).collect())
    }
    async fn rewind_to(&mut self, _: &aws_lambda_events::event::dynamodb::EventRecord) -> Result<(), StreamError> {
        Ok(())
    }
    async fn skip_past(&mut self, _: &aws_lambda_events::event::dynamodb::EventRecord) -> Result<(), StreamError> {
        Ok(())
    }
    async fn idle(&mut self) {
        std::future::pending::<()>().await;
    }
    fn shard_id(&self) -> String {
        "fixed".to_owned()
    }
}

#[tokio::test]
async fn the_new_bookings_mapping_passes_only_inserts_to_its_function() {
    let source = StreamSource::local("bookings");
    let change = |n: u64, name: &str| {
        let mut r = record(
            &source,
            Insert {
                event_id: n.to_string(),
                sequence_number: n.to_string(),
                keys: Default::default(),
                new_image: Default::default(),
                created_at_millis: 0,
                size_bytes: 0,
            },
        );
        r.event_name = name.to_owned();
        r
    };
    let mut shard = Fixed(vec![
        change(1, "INSERT"),
        change(2, "MODIFY"),
        change(3, "REMOVE"),
        change(4, "INSERT"),
    ]);
    let delivered = std::sync::Mutex::new(Vec::new());
    let deliver = |event: aws_lambda_events::event::dynamodb::Event| {
        delivered
            .lock()
            .expect("lock")
            .extend(event.records.iter().map(|r| (r.event_id.clone(), r.event_name.clone())));
        async { Ok(Default::default()) }
    };
    let run = run_mapping(&mut shard, deliver, Mapping::new_bookings());
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), run).await;
    assert_eq!(
        delivered.into_inner().expect("lock"),
        [
            ("1".to_owned(), "INSERT".to_owned()),
            ("4".to_owned(), "INSERT".to_owned())
        ]
    );
}
