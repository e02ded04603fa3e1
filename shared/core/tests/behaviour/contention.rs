//! Many bookings for few seats on DynamoDB Local: every seat goes to one booking at a time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use ticketing_core::domain::Timestamp;
use ticketing_testkit::in_process::run_expiries;
use ticketing_testkit::test_app::{dynamodb, Setup};

use crate::helpers::with_worker;

/// `requests` concurrent bookings of `quantity` seats on a hall of `seats`.
async fn contend(requests: usize, quantity: u32, seats: usize) {
    let app = Arc::new(Setup::seats(seats).build(dynamodb().await).await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..requests {
        let app = Arc::clone(&app);
        tasks.spawn(async move { app.book(&format!("user_{i}"), quantity).await });
    }
    let mut won: Vec<serde_json::Value> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (code, body) = joined.expect("task ran");
        match code {
            StatusCode::CREATED => won.push(body),
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "SEATS_UNAVAILABLE", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let quantity = usize::try_from(quantity).expect("small");
    let expected_winners = seats / quantity;
    assert_eq!(won.len(), expected_winners, "every seat is sold, to one booking each");
    let held: Vec<String> = won
        .iter()
        .flat_map(|b| b["seatIds"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let distinct: HashSet<&String> = held.iter().collect();
    assert_eq!(distinct.len(), held.len(), "no seat held by two bookings: {held:?}");
    assert_eq!(held.len(), expected_winners * quantity);
    let locks = app.locks().await;
    assert_eq!(locks.len(), held.len());
    let winners: HashSet<&str> = won.iter().filter_map(|b| b["bookingId"].as_str()).collect();
    assert!(locks.iter().all(|l| winners.contains(l.booking_id.as_str())));
}

#[tokio::test]
async fn fifty_concurrent_bookings_for_ten_seats() {
    contend(50, 1, 10).await;
}

#[tokio::test]
async fn fifty_concurrent_pair_bookings_for_ten_seats() {
    contend(50, 2, 10).await;
}

/// Bookings for a few seats for three seconds while 1-second holds lapse and expire: for every seat,
/// the holds granted on it never overlap in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_while_holds_lapse_never_holds_a_seat_twice() {
    let app = Arc::new(Setup::seats(10).hold_seconds(1).build(dynamodb().await).await);
    let expirer = run_expiries(app.due_expiries(), &app.api.expire_holds, app.api.expiries.as_ref());
    let until = Instant::now() + Duration::from_secs(3);
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..20 {
        let app = Arc::clone(&app);
        clients.spawn(async move {
            let mut granted = Vec::new();
            let mut refused = 0;
            while Instant::now() < until {
                let (code, body) = app.book(&format!("user_{c}"), 1).await;
                match code {
                    StatusCode::CREATED => granted.push(body),
                    StatusCode::CONFLICT => refused += 1,
                    other => panic!("unexpected {other}: {body}"),
                }
            }
            (granted, refused)
        });
    }
    let collect = async {
        let mut holds: Vec<(String, i64, i64)> = Vec::new();
        let mut refused = 0;
        while let Some(joined) = clients.join_next().await {
            let (granted, lost) = joined.expect("client ran");
            refused += lost;
            for body in granted {
                let until = Timestamp::parse_rfc3339(body["holdExpiresAt"].as_str().expect("until"))
                    .expect("timestamp")
                    .as_millis();
                let seat = body["seatIds"][0].as_str().expect("seat").to_owned();
                holds.push((seat, until - 1000, until));
            }
        }
        holds.sort();
        for pair in holds.windows(2) {
            let ((seat_a, _, until_a), (seat_b, from_b, _)) = (&pair[0], &pair[1]);
            if seat_a == seat_b {
                assert!(from_b >= until_a, "{seat_a} held twice: {pair:?}");
            }
        }
        println!(
            "{} holds granted on 10 seats in 3 s ({} refused), none overlapping",
            holds.len(),
            refused
        );
        assert!(holds.len() >= 20, "lapsed seats are booked again: {}", holds.len());
    };
    tokio::select! {
        () = expirer => panic!("the expirer never stops by itself"),
        () = with_worker(&app, collect) => {}
    }
}
