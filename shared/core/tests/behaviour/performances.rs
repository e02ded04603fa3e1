//! Performances as data: operators create, publish, change, close and cancel them and watch them sell;
//! anyone lists what is on sale; bookings follow their status, window, limits, sections and prices.

use std::sync::Arc;

use lambda_http::http::{Method, StatusCode};
use lambda_http::Request;
use serde_json::{json, Value};
use ticketing_core::audit;
use ticketing_core::domain::{ManualClock, Timestamp};
use ticketing_testkit::test_app::{memory, request, with_key, Fixture, Setup, TestApp, TestStore, USER};

use crate::helpers::{on_both_stores, with_worker};

const OPERATOR: &str = "op_1";

/// `req` from an operator (on one machine: `x-user-roles: operator`).
fn as_operator(mut req: Request) -> Request {
    req.headers_mut()
        .insert("x-user-roles", "operator".parse().expect("header value"));
    req
}

fn operator(method: Method, path: &str, body: Option<&Value>) -> Request {
    let body = body.map(Value::to_string);
    as_operator(request(method, path, Some(OPERATOR), body.as_deref()))
}

/// A show on sale from 2020 to 2099: `VIP` (row A, 4 seats at 100,000) and `R` (rows B and C, 6
/// seats each at 50,000), at most 4 seats per booking.
fn show(id: &str) -> Value {
    json!({
        "performanceId": id,
        "title": "Swan Lake",
        "venue": "Grand Hall",
        "startsAt": "2099-12-31T19:00:00Z",
        "salesOpenAt": "2020-01-01T00:00:00Z",
        "salesCloseAt": "2099-12-31T18:00:00Z",
        "currency": "KRW",
        "maxSeatsPerBooking": 4,
        "maxSeatsPerUser": 8,
        "sections": [
            {"name": "VIP", "price": 100000, "rows": [{"row": "A", "seats": 4}]},
            {"name": "R", "price": 50000, "rows": [{"row": "B", "seats": 6}, {"row": "C", "seats": 6}]}
        ]
    })
}

async fn app<S: TestStore>(fixture: Fixture<S>) -> TestApp<S> {
    Setup::seats(1).build(fixture).await
}

async fn create<S: TestStore>(app: &TestApp<S>, body: &Value) -> (StatusCode, Value) {
    app.call(operator(Method::POST, "/performances", Some(body))).await
}

async fn patch<S: TestStore>(app: &TestApp<S>, id: &str, body: Value) -> (StatusCode, Value) {
    app.call(operator(Method::PATCH, &format!("/performances/{id}"), Some(&body)))
        .await
}

/// Creates `body` and puts it on sale.
async fn on_sale<S: TestStore>(app: &TestApp<S>, body: &Value) -> String {
    let (code, created) = create(app, body).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let id = created["performanceId"].as_str().expect("an id").to_owned();
    let (code, published) = patch(app, &id, json!({"status": "on_sale"})).await;
    assert_eq!(code, StatusCode::OK, "{published}");
    id
}

async fn book<S: TestStore>(
    app: &TestApp<S>,
    user: &str,
    id: &str,
    quantity: u32,
    section: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"performanceId": id, "quantity": quantity, "paymentMethod": "CREDIT_CARD"});
    if let Some(section) = section {
        body["section"] = json!(section);
    }
    app.call(request(Method::POST, "/bookings", Some(user), Some(&body.to_string())))
        .await
}

fn code(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or(""))
}

async fn a_created_performance_is_a_draft_only_operators_see<S: TestStore>(fixture: Fixture<S>) {
    let app = app(fixture).await;
    let (status, created) = create(&app, &show("swan_1")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "draft");
    assert_eq!(created["totalSeats"], 16);
    assert_eq!(created["sections"][1]["rows"][1], json!({"row": "C", "seats": 6}));

    let customer = app
        .call(request(Method::GET, "/performances/swan_1", Some(USER), None))
        .await;
    assert_eq!(code(&customer), (StatusCode::NOT_FOUND, "PERFORMANCE_NOT_FOUND"));
    let (status, seen) = app.call(operator(Method::GET, "/performances/swan_1", None)).await;
    assert_eq!((status, &seen["title"]), (StatusCode::OK, &json!("Swan Lake")));
    let (_, listed) = app.call(request(Method::GET, "/performances", None, None)).await;
    assert!(listed["performances"]
        .as_array()
        .expect("a list")
        .iter()
        .all(|p| p["performanceId"] != "swan_1"));
    let refused = book(&app, USER, "swan_1", 1, None).await;
    assert_eq!(code(&refused), (StatusCode::CONFLICT, "PERFORMANCE_NOT_ON_SALE"));
}

async fn a_published_performance_sells_each_seat_at_its_sections_price<S: TestStore>(fixture: Fixture<S>) {
    let app = app(fixture).await;
    let id = on_sale(&app, &show("swan_2")).await;
    let (_, listed) = app.call(request(Method::GET, "/performances", None, None)).await;
    assert!(listed["performances"]
        .as_array()
        .expect("a list")
        .iter()
        .any(|p| p["performanceId"] == id.as_str() && p["status"] == "on_sale"));

    let (status, vip) = book(&app, USER, &id, 2, Some("VIP")).await;
    assert_eq!(status, StatusCode::CREATED, "{vip}");
    assert_eq!(vip["seatIds"], json!(["A1", "A2"]));
    assert_eq!(vip["totalAmount"], 200_000);
    let (status, r) = book(&app, USER, &id, 3, Some("R")).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert!(r["seatIds"]
        .as_array()
        .expect("seats")
        .iter()
        .all(|s| s.as_str().is_some_and(|s| s.starts_with('B') || s.starts_with('C'))));
    assert_eq!(r["totalAmount"], 150_000);
    // Without a section, four seats next to each other wherever they are, each at its section's price.
    let (status, mixed) = book(&app, "another_user", &id, 4, None).await;
    assert_eq!(status, StatusCode::CREATED, "{mixed}");
    let seats: Vec<&str> = mixed["seatIds"]
        .as_array()
        .expect("seats")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let vip_seats = seats.iter().filter(|s| s.starts_with('A')).count() as i64;
    assert_eq!(mixed["totalAmount"], vip_seats * 100_000 + (4 - vip_seats) * 50_000);
}

#[tokio::test]
async fn every_invalid_field_has_its_own_code() {
    let app = app(memory()).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/title", json!(""), "INVALID_TITLE"),
        ("/title", json!(7), "INVALID_TITLE"),
        ("/venue", Value::Null, "INVALID_VENUE"),
        ("/startsAt", json!("tomorrow"), "INVALID_STARTS_AT"),
        ("/salesOpenAt", json!("2020-13-01T00:00:00Z"), "INVALID_SALES_OPEN_AT"),
        (
            "/salesCloseAt",
            json!("2019-01-01T00:00:00Z"),
            "SALES_CLOSE_BEFORE_OPEN",
        ),
        ("/startsAt", json!("2099-12-31T17:00:00Z"), "STARTS_BEFORE_SALES_CLOSE"),
        ("/currency", json!("won"), "INVALID_CURRENCY"),
        ("/maxSeatsPerBooking", json!(0), "INVALID_MAX_SEATS_PER_BOOKING"),
        ("/maxSeatsPerBooking", json!(11), "INVALID_MAX_SEATS_PER_BOOKING"),
        ("/maxSeatsPerUser", json!(0), "INVALID_MAX_SEATS_PER_USER"),
        ("/performanceId", json!("has space"), "INVALID_PERFORMANCE_ID"),
        ("/sections", json!([]), "NO_SEATS"),
        ("/sections", json!("VIP"), "INVALID_SECTIONS"),
        ("/sections/0/rows", json!([]), "NO_SEATS"),
        ("/sections/0/price", json!(0), "INVALID_PRICE"),
        ("/sections/0/price", json!(-5), "INVALID_PRICE"),
        ("/sections/0/price", json!(1.5), "INVALID_PRICE"),
        ("/sections/0/name", json!(""), "INVALID_SECTION_NAME"),
        ("/sections/1/name", json!("VIP"), "DUPLICATE_SECTION"),
        ("/sections/1/rows/0/row", json!("A"), "DUPLICATE_ROW"),
        ("/sections/0/rows/0/row", json!("A1"), "INVALID_ROW"),
        ("/sections/0/rows/0/seats", json!(0), "INVALID_ROW_SEATS"),
        ("/sections/0/rows/0/seats", json!(100_001), "TOO_MANY_SEATS"),
    ];
    for (pointer, value, expected) in cases {
        let mut body = show("bad_1");
        *body.pointer_mut(pointer).expect(pointer) = value.clone();
        let answer = create(&app, &body).await;
        assert_eq!(
            code(&answer),
            (StatusCode::BAD_REQUEST, expected),
            "{pointer} = {value}"
        );
    }
    let mut missing = show("bad_2");
    missing.as_object_mut().expect("object").remove("salesOpenAt");
    assert_eq!(
        code(&create(&app, &missing).await),
        (StatusCode::BAD_REQUEST, "INVALID_SALES_OPEN_AT")
    );
    let answer = app
        .call(as_operator(request(
            Method::POST,
            "/performances",
            Some(OPERATOR),
            Some("[1]"),
        )))
        .await;
    assert_eq!(code(&answer), (StatusCode::BAD_REQUEST, "INVALID_JSON"));
    let (_, none) = app
        .call(operator(Method::GET, "/performances?status=draft", None))
        .await;
    assert_eq!(none["performances"], json!([]), "nothing invalid was stored");
}

async fn a_taken_id_is_a_conflict_and_a_retried_create_is_replayed<S: TestStore>(fixture: Fixture<S>) {
    let app = app(fixture).await;
    assert_eq!(create(&app, &show("swan_3")).await.0, StatusCode::CREATED);
    assert_eq!(
        code(&create(&app, &show("swan_3")).await),
        (StatusCode::CONFLICT, "PERFORMANCE_EXISTS")
    );
    let body = show("swan_4").to_string();
    let keyed = || {
        as_operator(with_key(
            Method::POST,
            "/performances",
            OPERATOR,
            "create-swan-4",
            &body,
        ))
    };
    let (first, created, replayed) = app.call_raw(keyed()).await;
    assert_eq!((first, replayed), (StatusCode::CREATED, false));
    let (again, same, replayed) = app.call_raw(keyed()).await;
    assert_eq!((again, replayed), (StatusCode::CREATED, true));
    assert_eq!(same, created);
    let mut generated = show("ignored");
    generated.as_object_mut().expect("object").remove("performanceId");
    let (status, named) = create(&app, &generated).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(named["performanceId"]
        .as_str()
        .is_some_and(|id| id.starts_with("perf_")));
}

#[tokio::test]
async fn the_status_moves_along_its_lifecycle_only() {
    let app = app(memory()).await;
    assert_eq!(create(&app, &show("life_1")).await.0, StatusCode::CREATED);
    let skip = patch(&app, "life_1", json!({"status": "closed"})).await;
    assert_eq!(code(&skip), (StatusCode::CONFLICT, "INVALID_TRANSITION"));
    assert_eq!(
        patch(&app, "life_1", json!({"status": "on_sale"})).await.0,
        StatusCode::OK
    );
    assert_eq!(book(&app, USER, "life_1", 1, None).await.0, StatusCode::CREATED);
    let back = patch(&app, "life_1", json!({"status": "draft"})).await;
    assert_eq!(code(&back), (StatusCode::CONFLICT, "INVALID_TRANSITION"));
    let (status, closed) = patch(&app, "life_1", json!({"status": "closed"})).await;
    assert_eq!((status, &closed["status"]), (StatusCode::OK, &json!("closed")));
    let refused = book(&app, USER, "life_1", 1, None).await;
    assert_eq!(code(&refused), (StatusCode::CONFLICT, "PERFORMANCE_NOT_ON_SALE"));
    let cancel = patch(&app, "life_1", json!({"status": "cancelled"})).await;
    assert_eq!(code(&cancel), (StatusCode::CONFLICT, "INVALID_TRANSITION"));

    assert_eq!(create(&app, &show("life_2")).await.0, StatusCode::CREATED);
    assert_eq!(
        patch(&app, "life_2", json!({"status": "cancelled"})).await.0,
        StatusCode::OK
    );
    let refused = book(&app, USER, "life_2", 1, None).await;
    assert_eq!(code(&refused), (StatusCode::CONFLICT, "PERFORMANCE_NOT_ON_SALE"));
    let bad = patch(&app, "life_2", json!({"status": "sold_out"})).await;
    assert_eq!(code(&bad), (StatusCode::BAD_REQUEST, "INVALID_STATUS"));
    let fixed = patch(&app, "life_2", json!({"performanceId": "other"})).await;
    assert_eq!(code(&fixed), (StatusCode::BAD_REQUEST, "UNCHANGEABLE_FIELD"));
    let unknown = patch(&app, "nope", json!({"title": "x"})).await;
    assert_eq!(code(&unknown), (StatusCode::NOT_FOUND, "PERFORMANCE_NOT_FOUND"));
}

#[tokio::test]
async fn bookings_are_refused_outside_the_sales_window() {
    let at = |text: &str| Timestamp::parse_rfc3339(text).expect("a time");
    let clock = Arc::new(ManualClock::at(at("2030-01-01T00:00:00Z")));
    let app = Setup::seats(1).clock(clock.clone()).build(memory()).await;
    let mut body = show("window_1");
    body["salesOpenAt"] = json!("2030-02-01T00:00:00Z");
    body["salesCloseAt"] = json!("2030-03-01T00:00:00Z");
    body["startsAt"] = json!("2030-03-02T19:00:00Z");
    on_sale(&app, &body).await;
    let early = book(&app, USER, "window_1", 1, None).await;
    assert_eq!(code(&early), (StatusCode::CONFLICT, "SALES_NOT_OPEN"));
    clock.set(at("2030-02-01T00:00:00Z"));
    assert_eq!(book(&app, USER, "window_1", 1, None).await.0, StatusCode::CREATED);
    clock.set(at("2030-03-01T00:00:00Z"));
    let late = book(&app, USER, "window_1", 1, None).await;
    assert_eq!(code(&late), (StatusCode::CONFLICT, "SALES_CLOSED"));
    // Reopened by an operator: bookable again at once.
    let (status, _) = patch(&app, "window_1", json!({"salesCloseAt": "2030-03-02T00:00:00Z"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(book(&app, USER, "window_1", 1, None).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_quantity_over_the_limit_and_an_unknown_section_are_bad_requests() {
    let app = app(memory()).await;
    let mut body = show("limits_1");
    body["maxSeatsPerBooking"] = json!(2);
    let id = on_sale(&app, &body).await;
    let over = book(&app, USER, &id, 3, None).await;
    assert_eq!(code(&over), (StatusCode::BAD_REQUEST, "QUANTITY_OVER_LIMIT"));
    let unknown = book(&app, USER, &id, 1, Some("Balcony")).await;
    assert_eq!(code(&unknown), (StatusCode::BAD_REQUEST, "UNKNOWN_SECTION"));
    let full = book(&app, USER, &id, 2, Some("VIP")).await;
    assert_eq!(full.0, StatusCode::CREATED);
    assert_eq!(book(&app, "u2", &id, 2, Some("VIP")).await.0, StatusCode::CREATED);
    let sold_out = book(&app, "u3", &id, 1, Some("VIP")).await;
    assert_eq!(
        code(&sold_out),
        (StatusCode::CONFLICT, "SEATS_UNAVAILABLE"),
        "VIP is sold out; R is not"
    );
}

async fn the_layout_is_locked_by_the_first_hold<S: TestStore>(fixture: Fixture<S>) {
    let app = app(fixture).await;
    let id = on_sale(&app, &show("lock_1")).await;
    let mut sections = show("lock_1")["sections"].clone();
    sections[0]["price"] = json!(120_000);
    let (status, repriced) = patch(&app, &id, json!({"sections": sections})).await;
    assert_eq!(status, StatusCode::OK, "{repriced}");
    assert_eq!(repriced["layoutLocked"], false);
    let (_, held) = book(&app, USER, &id, 1, Some("VIP")).await;
    assert_eq!(held["totalAmount"], 120_000, "the new price applies at once");

    sections[0]["price"] = json!(90_000);
    let locked = patch(&app, &id, json!({"sections": sections})).await;
    assert_eq!(code(&locked), (StatusCode::CONFLICT, "LAYOUT_LOCKED"));
    let (status, renamed) = patch(&app, &id, json!({"title": "Swan Lake (matinee)", "maxSeatsPerUser": 6})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (&renamed["title"], &renamed["layoutLocked"]),
        (&json!("Swan Lake (matinee)"), &json!(true))
    );
    assert_eq!(renamed["sections"][0]["price"], 120_000);
    // A limit per customer may be lifted, but not introduced once seats were held: the seats held or
    // bought without one were never counted.
    let (status, lifted) = patch(&app, &id, json!({"maxSeatsPerUser": null})).await;
    assert_eq!(
        (status, &lifted["maxSeatsPerUser"]),
        (StatusCode::OK, &json!(null)),
        "{lifted}"
    );
    let introduced = patch(&app, &id, json!({"maxSeatsPerUser": 4})).await;
    assert_eq!(code(&introduced), (StatusCode::CONFLICT, "LAYOUT_LOCKED"));
}

#[tokio::test]
async fn the_seat_map_gives_each_seats_section_and_price() {
    let app = app(memory()).await;
    let id = on_sale(&app, &show("map_1")).await;
    let (status, map) = app
        .call(request(
            Method::GET,
            &format!("/performances/{id}/seats"),
            Some(USER),
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let seats = map["seats"].as_array().expect("seats");
    assert_eq!(seats.len(), 16);
    assert_eq!(
        seats[0],
        json!({"seatId": "A1", "row": "A", "section": "VIP", "price": 100000, "state": "available"})
    );
    assert_eq!(
        (&seats[15]["seatId"], &seats[15]["section"], &seats[15]["price"]),
        (&json!("C6"), &json!("R"), &json!(50000))
    );
    assert_eq!(create(&app, &show("map_2")).await.0, StatusCode::CREATED);
    let draft = app
        .call(request(Method::GET, "/performances/map_2/seats", Some(USER), None))
        .await;
    assert_eq!(code(&draft), (StatusCode::NOT_FOUND, "PERFORMANCE_NOT_FOUND"));
}

async fn the_sales_figures_agree_with_the_audit_after_a_mixed_run<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(1).hold_seconds(2).build(fixture).await;
    let id = on_sale(&app, &show("sales_1")).await;
    with_worker(&app, async {
        let confirmed = [
            ("u1", 2, Some("VIP"), "120"),
            ("u2", 3, Some("R"), "120"),
            ("u3", 1, Some("R"), "120"),
        ];
        for (user, quantity, section, cvv) in confirmed {
            let (_, booked) = book(&app, user, &id, quantity, section).await;
            let booking = booked["bookingId"].as_str().expect("id").to_owned();
            assert_eq!(app.pay(user, &booking, cvv).await.0, StatusCode::OK);
            app.wait_for_status(user, &booking, "confirmed").await;
        }
        let (_, failed) = book(&app, "u4", &id, 2, Some("R")).await;
        let failed = failed["bookingId"].as_str().expect("id").to_owned();
        assert_eq!(app.pay("u4", &failed, "442").await.0, StatusCode::OK);
        app.wait_for_status("u4", &failed, "failed").await;
        // A hold that lapses unpaid, then one still held.
        let (_, lapsing) = book(&app, "u5", &id, 1, Some("R")).await;
        assert!(lapsing["bookingId"].is_string());
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        book(&app, "u6", &id, 2, Some("R")).await;
    })
    .await;

    let (status, sales) = app
        .call(operator(Method::GET, &format!("/performances/{id}/sales"), None))
        .await;
    assert_eq!(status, StatusCode::OK, "{sales}");
    assert_eq!(sales["currency"], "KRW");
    assert_eq!(
        sales["total"],
        json!({"sold": 6, "held": 2, "available": 8, "confirmedBookings": 3, "grossAmount": 2 * 100_000 + 4 * 50_000 })
    );
    let vip = &sales["sections"][0];
    assert_eq!(
        (&vip["name"], &vip["sold"], &vip["grossAmount"]),
        (&json!("VIP"), &json!(2), &json!(200_000))
    );
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    let audited = &report.performances["sales_1"];
    assert_eq!(audited.sold_seats, sales["total"]["sold"].as_u64().expect("sold"));
    assert_eq!(
        audited.confirmed_bookings,
        sales["total"]["confirmedBookings"].as_u64().expect("bookings")
    );
    assert_eq!(
        audited.gross_amount,
        sales["total"]["grossAmount"].as_i64().expect("gross")
    );
}

async fn a_hall_of_50000_seats_is_created_and_booked<S: TestStore>(fixture: Fixture<S>) {
    let app = app(fixture).await;
    let letters: Vec<char> = ('A'..='Z').collect();
    let rows: Vec<Value> = (0..250)
        .map(|i| json!({"row": format!("{}{}", letters[i / 26], letters[i % 26]), "seats": 200}))
        .collect();
    let mut body = show("arena_1");
    body["sections"] = json!([
        {"name": "Floor", "price": 150000, "rows": rows[..50]},
        {"name": "Stands", "price": 70000, "rows": rows[50..]}
    ]);
    let (status, created) = create(&app, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["totalSeats"], 50_000);
    assert!(
        created.to_string().len() < 16_000,
        "the hall is kept as rows, not seats"
    );
    patch(&app, "arena_1", json!({"status": "on_sale"})).await;
    let (status, booked) = book(&app, USER, "arena_1", 4, Some("Stands")).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["totalAmount"], 4 * 70_000);
    let (status, sales) = app
        .call(operator(Method::GET, "/performances/arena_1/sales", None))
        .await;
    assert_eq!(
        (status, &sales["total"]["held"], &sales["total"]["available"]),
        (StatusCode::OK, &json!(4), &json!(49_996))
    );
}

#[tokio::test]
async fn concurrent_bookings_of_a_created_performance_never_share_a_seat() {
    let app = Arc::new(app(ticketing_testkit::test_app::dynamodb().await).await);
    let mut body = show("rush_1");
    body["sections"] = json!([{"name": "All", "price": 10000, "rows": [{"row": "A", "seats": 10}]}]);
    let id = on_sale(&app, &body).await;
    let attempts: Vec<_> = (0..30)
        .map(|i| {
            let (app, id) = (Arc::clone(&app), id.clone());
            tokio::spawn(async move { book(&app, &format!("rush_{i}"), &id, 1, None).await })
        })
        .collect();
    let mut seats = Vec::new();
    for attempt in attempts {
        let (status, body) = attempt.await.expect("joined");
        match status {
            StatusCode::CREATED => seats.push(body["seatIds"][0].as_str().expect("seat").to_owned()),
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "SEATS_UNAVAILABLE"),
            other => panic!("{other}: {body}"),
        }
    }
    seats.sort();
    seats.dedup();
    assert_eq!(seats.len(), 10, "every seat sold once: {seats:?}");
}

#[tokio::test]
async fn operator_routes_refuse_customers_and_anonymous_callers() {
    let app = app(memory()).await;
    let body = show("ops_1").to_string();
    let customer = app
        .call(request(Method::POST, "/performances", Some(USER), Some(&body)))
        .await;
    assert_eq!(code(&customer), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let anonymous = app
        .call(request(Method::POST, "/performances", None, Some(&body)))
        .await;
    assert_eq!(code(&anonymous), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    assert_eq!(create(&app, &show("ops_1")).await.0, StatusCode::CREATED);
    for req in [
        request(
            Method::PATCH,
            "/performances/ops_1",
            Some(USER),
            Some(r#"{"title": "x"}"#),
        ),
        request(Method::GET, "/performances/ops_1/sales", Some(USER), None),
        request(Method::GET, "/performances?status=draft", Some(USER), None),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        assert_eq!(
            code(&app.call(req).await),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "{what}"
        );
    }
    let listed = app
        .call(request(Method::GET, "/performances?status=draft", None, None))
        .await;
    assert_eq!(code(&listed), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    let wrong = app
        .call(request(Method::DELETE, "/performances/ops_1", Some(USER), None))
        .await;
    assert_eq!(code(&wrong), (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));
}

async fn the_list_is_soonest_first_a_page_at_a_time<S: TestStore>(fixture: Fixture<S>) {
    let app = app(fixture).await;
    for (id, starts) in [
        ("late_show", "2099-12-31T20:00:00Z"),
        ("early_show", "2099-12-31T18:30:00Z"),
        ("mid_show", "2099-12-31T19:00:00Z"),
    ] {
        let mut body = show(id);
        body["startsAt"] = json!(starts);
        on_sale(&app, &body).await;
    }
    let page = |query: String| {
        let app = &app;
        async move {
            app.call(request(Method::GET, &format!("/performances{query}"), None, None))
                .await
        }
    };
    let ids = |body: &Value| -> Vec<String> {
        body["performances"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|p| p["performanceId"].as_str().map(str::to_owned))
            .filter(|id| id.ends_with("_show"))
            .collect()
    };
    let (status, first) = page("?limit=2".to_owned()).await;
    assert_eq!(status, StatusCode::OK);
    // The catalog's performance (on sale since the start of time, starting in 2100) sorts last.
    assert_eq!(ids(&first), ["early_show", "mid_show"]);
    let cursor = first["nextCursor"].as_str().expect("more follow").to_owned();
    let (_, second) = page(format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second), ["late_show"]);
    let (_, all) = page(String::new()).await;
    assert_eq!(all["nextCursor"], Value::Null);
    assert_eq!(
        code(&page("?cursor=zz".to_owned()).await),
        (StatusCode::BAD_REQUEST, "INVALID_CURSOR")
    );
    assert_eq!(
        code(&page("?limit=0".to_owned()).await),
        (StatusCode::BAD_REQUEST, "INVALID_LIMIT")
    );
    assert_eq!(
        code(&page("?status=nope".to_owned()).await),
        (StatusCode::BAD_REQUEST, "INVALID_STATUS")
    );
}

on_both_stores!(
    a_created_performance_is_a_draft_only_operators_see,
    a_published_performance_sells_each_seat_at_its_sections_price,
    a_taken_id_is_a_conflict_and_a_retried_create_is_replayed,
    the_layout_is_locked_by_the_first_hold,
    the_sales_figures_agree_with_the_audit_after_a_mixed_run,
    a_hall_of_50000_seats_is_created_and_booked,
    the_list_is_soonest_first_a_page_at_a_time,
);
