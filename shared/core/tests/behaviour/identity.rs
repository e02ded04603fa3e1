//! Who is calling: under `jwt` the verified token decides and `x-user-id` means nothing; under
//! `header` (one machine) the header decides. Ownership is the same either way.

use lambda_http::http::{Method, StatusCode};
use ticketing_aws::http::AuthMode;
use ticketing_testkit::test_app::{memory, request, with_token, Setup};

const BOOKING: &str = r#"{"performanceId": "perf_001", "quantity": 1, "paymentMethod": "CREDIT_CARD"}"#;

#[tokio::test]
async fn under_jwt_the_token_decides_the_caller_and_x_user_id_is_ignored() {
    let app = Setup::seats(10).auth(AuthMode::cognito()).build(memory()).await;
    let book = with_token(
        request(Method::POST, "/bookings", Some("bob"), Some(BOOKING)),
        "ann",
        &[],
    );
    let (code, created) = app.call(book).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let mine = with_token(request(Method::GET, "/bookings/my", Some("bob"), None), "ann", &[]);
    let (_, listed) = app.call(mine).await;
    assert_eq!(listed[0]["userId"], "ann");
    assert_eq!(listed[0]["bookingId"], created["bookingId"]);
    let bobs = with_token(request(Method::GET, "/bookings/my", Some("ann"), None), "bob", &[]);
    assert_eq!(
        app.call(bobs).await.1,
        serde_json::json!([]),
        "bob's token lists bob's bookings"
    );
}

#[tokio::test]
async fn under_jwt_a_request_without_a_verified_token_is_unauthenticated() {
    let app = Setup::seats(10).auth(AuthMode::cognito()).build(memory()).await;
    for req in [
        request(Method::POST, "/bookings", Some("user_test_001"), Some(BOOKING)),
        request(Method::GET, "/bookings/my", Some("user_test_001"), None),
        request(Method::GET, "/performances/perf_001/seats", Some("user_test_001"), None),
        request(Method::POST, "/payments/execute", Some("user_test_001"), Some("{}")),
    ] {
        let what = req.uri().path().to_owned();
        let (code, body) = app.call(req).await;
        assert_eq!(
            (code, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")),
            "{what}"
        );
    }
}

#[tokio::test]
async fn under_jwt_another_users_booking_is_still_unknown() {
    let app = Setup::seats(10).auth(AuthMode::cognito()).build(memory()).await;
    let book = with_token(request(Method::POST, "/bookings", None, Some(BOOKING)), "ann", &[]);
    let (_, created) = app.call(book).await;
    let id = created["bookingId"].as_str().expect("id");
    let body = format!(r#"{{"bookingId": "{id}", "paymentMethodToken": "tok_visa", "cvv": "120"}}"#);
    // Bob's token, with ann's id in the header for good measure.
    let pay = with_token(
        request(Method::POST, "/payments/execute", Some("ann"), Some(&body)),
        "bob",
        &["operators"],
    );
    let (code, refused) = app.call(pay).await;
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("BOOKING_NOT_FOUND"))
    );
}

#[tokio::test]
async fn under_header_the_token_means_nothing_and_x_user_id_decides() {
    let app = Setup::seats(10).build(memory()).await;
    let book = with_token(
        request(Method::POST, "/bookings", Some("ann"), Some(BOOKING)),
        "bob",
        &[],
    );
    assert_eq!(app.call(book).await.0, StatusCode::CREATED);
    assert_eq!(app.my_bookings("ann").await.as_array().map(Vec::len), Some(1));
    assert_eq!(app.my_bookings("bob").await.as_array().map(Vec::len), Some(0));
    let anonymous = with_token(request(Method::GET, "/bookings/my", None, None), "ann", &[]);
    assert_eq!(app.call(anonymous).await.0, StatusCode::UNAUTHORIZED);
}
