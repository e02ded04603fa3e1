//! `GET /performances/{performanceId}/seats`.

use lambda_http::http::{Method, StatusCode};
use ticketing_aws::events::process_stream;
use ticketing_testkit::mapping::batch;
use ticketing_testkit::test_app::{memory, request, EventStream, Setup, USER};

#[tokio::test]
async fn the_seat_map_shows_held_sold_and_lapsed_seats() {
    let app = Setup::seats(6).hold_seconds(1).build(memory()).await;
    let (_, sold) = app.book(USER, 2).await;
    let sold_id = sold["bookingId"].as_str().expect("id").to_owned();
    assert_eq!(app.pay(USER, &sold_id, "120").await.0, StatusCode::OK);
    let records = app.store.events_stream().await.read(10).await.expect("records");
    process_stream(&app.api.settle_events, batch(records)).await;
    app.book(USER, 1).await;
    let expected: Vec<(String, String)> = [
        ("A1", "sold"),
        ("A2", "sold"),
        ("A3", "held"),
        ("A4", "available"),
        ("A5", "available"),
        ("A6", "available"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(app.seat_states().await, expected);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.seat_states().await[2],
        ("A3".to_owned(), "available".to_owned()),
        "a lapsed hold reads available"
    );
}

#[tokio::test]
async fn an_unknown_performance_has_no_seat_map() {
    let app = Setup::seats(6).build(memory()).await;
    let (code, body) = app
        .call(request(Method::GET, "/performances/perf_404/seats", Some(USER), None))
        .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("PERFORMANCE_NOT_FOUND"))
    );
}

#[tokio::test]
async fn the_seat_map_needs_a_caller_and_a_get() {
    let app = Setup::seats(6).build(memory()).await;
    let (code, _) = app
        .call(request(Method::GET, "/performances/perf_001/seats", None, None))
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = app
        .call(request(
            Method::POST,
            "/performances/perf_001/seats",
            Some(USER),
            Some("{}"),
        ))
        .await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
}
