//! What several features' tests share: a test on both stores, a paid mix of bookings, and the check
//! that every booking ended as its payment said.

use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::EventRecord;
use ticketing_aws::events::process_stream;
use ticketing_core::audit;
use ticketing_testkit::mapping::{run_mapping, Mapping, ShardReader};
use ticketing_testkit::test_app::{booking_id, TestApp, TestStore};

/// One test per store for an `async fn case(fixture)`: `case::in_memory` and `case::on_dynamodb_local`.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn in_memory() {
                    super::$case(ticketing_testkit::test_app::memory()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_dynamodb_local() {
                    super::$case(ticketing_testkit::test_app::dynamodb().await).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;

/// What each CVV of the replay and crash tests must end as.
const OUTCOMES: [(&str, &str); 4] = [
    ("120", "confirmed"),
    ("442", "failed"),
    ("443", "failed"),
    ("1234", "confirmed"),
];

/// Books and pays `count` bookings with mixed outcomes (no worker running), and reads every record of
/// the events stream they produced.
pub(crate) async fn paid_mix<S: TestStore>(
    app: &TestApp<S>,
    shard: &mut (dyn ShardReader + '_),
    count: usize,
) -> (Vec<(String, &'static str)>, Vec<EventRecord>) {
    let mut expected = Vec::new();
    for i in 0..count {
        let (cvv, status) = OUTCOMES[i % OUTCOMES.len()];
        let user = format!("mix_{}", i % 7);
        expected.push((app.book_and_pay(&user, 1, cvv).await, status));
    }
    let mut records = Vec::new();
    let started = Instant::now();
    while records.len() < count {
        let batch = shard.read(1000).await.expect("stream read");
        if batch.is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "only {} stream records",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        records.extend(batch);
    }
    (expected, records)
}

/// Every booking ended as its payment said, with one capture per confirmed booking, and the audit is
/// clean.
pub(crate) async fn assert_settled_once<S: TestStore>(app: &TestApp<S>, expected: &[(String, &'static str)]) {
    for (id, status) in expected {
        let booking_id = booking_id(&serde_json::json!({ "bookingId": id }));
        let booking = app.booking(&booking_id).await;
        assert_eq!(booking.status.as_str(), *status, "booking {id}");
        let ledger = app.store.ledger_of(&booking_id).await.expect("ledger");
        let captures = if *status == "confirmed" { 2 } else { 0 };
        assert_eq!(ledger.len(), captures, "booking {id}");
        assert!(ledger.iter().all(|e| e.amount == booking.total));
    }
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    println!("{}", report.to_string().replace('\n', "; "));
}

/// Runs `scenario` while the worker applies the store's events stream, as the event source mapping
/// feeds `process-events`.
pub(crate) async fn with_worker<S: TestStore>(app: &TestApp<S>, scenario: impl std::future::Future<Output = ()>) {
    let mut shard = app.store.events_stream().await;
    let deliver = |event| async { Ok(process_stream(&app.api.settle_events, event).await) };
    let worker = run_mapping(&mut *shard, deliver, Mapping::default());
    tokio::select! {
        () = worker => panic!("the worker never stops by itself"),
        () = scenario => {}
    }
}
