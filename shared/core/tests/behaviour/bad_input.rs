//! Bad input gets a clear JSON error and a 4xx, never a panic or a 5xx.

use lambda_http::http::{Method, StatusCode};
use lambda_http::Request;
use ticketing_testkit::test_app::{memory, request, Setup, USER};

const GOOD: &str = r#"{"performanceId": "perf_001", "quantity": 2, "paymentMethod": "CREDIT_CARD"}"#;

fn post(path: &str, user: Option<&str>, body: &str) -> Request {
    request(Method::POST, path, user, Some(body))
}

/// A booking body with `performanceId`, `quantity` and `paymentMethod` written as given (JSON text).
fn booking(performance: &str, quantity: &str, method: &str) -> String {
    format!(r#"{{"performanceId": {performance}, "quantity": {quantity}, "paymentMethod": {method}}}"#)
}

/// A payment body of booking `b`, token and cvv as given.
fn payment(booking: &str, token: &str, cvv: &str) -> String {
    format!(r#"{{"bookingId": "{booking}", "paymentMethodToken": "{token}", "cvv": "{cvv}"}}"#)
}

/// Each case: what is sent, and the status and error code it must get.
fn cases() -> Vec<(Request, StatusCode, &'static str)> {
    use StatusCode as S;
    let long = booking(&format!(r#""{}""#, "x".repeat(20_000)), "2", r#""CREDIT_CARD""#);
    vec![
        (post("/bookings", None, GOOD), S::UNAUTHORIZED, "UNAUTHENTICATED"),
        (post("/bookings", Some("  "), GOOD), S::UNAUTHORIZED, "UNAUTHENTICATED"),
        (
            post("/bookings", Some("bad user"), GOOD),
            S::BAD_REQUEST,
            "INVALID_USER_ID",
        ),
        (post("/bookings", Some(USER), "{"), S::BAD_REQUEST, "INVALID_JSON"),
        (post("/bookings", Some(USER), ""), S::BAD_REQUEST, "INVALID_JSON"),
        (post("/bookings", Some(USER), "[]"), S::BAD_REQUEST, "INVALID_JSON"),
        (
            post(
                "/bookings",
                Some(USER),
                r#"{"performanceId": "perf_001", "quantity": 2}"#,
            ),
            S::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &booking(r#""perf_001""#, r#""2""#, r#""CREDIT_CARD""#),
            ),
            S::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &booking(r#""perf_001""#, "0", r#""CREDIT_CARD""#),
            ),
            S::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &booking(r#""perf_001""#, "11", r#""CREDIT_CARD""#),
            ),
            S::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &booking(r#""perf_001""#, "-1", r#""CREDIT_CARD""#),
            ),
            S::BAD_REQUEST,
            "INVALID_QUANTITY",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &booking(r#""perf_001""#, "1e30", r#""CREDIT_CARD""#),
            ),
            S::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            post("/bookings", Some(USER), &booking(r#""perf_001""#, "2", r#""CASH""#)),
            S::BAD_REQUEST,
            "INVALID_PAYMENT_METHOD",
        ),
        (
            post("/bookings", Some(USER), &booking(r#""""#, "2", r#""CREDIT_CARD""#)),
            S::BAD_REQUEST,
            "INVALID_PERFORMANCE_ID",
        ),
        (
            post(
                "/bookings",
                Some(USER),
                &booking(r#""perf_404""#, "2", r#""CREDIT_CARD""#),
            ),
            S::NOT_FOUND,
            "PERFORMANCE_NOT_FOUND",
        ),
        (
            post("/bookings", Some(USER), &long),
            S::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            post("/payments/execute", None, "{}"),
            S::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            post("/payments/execute", Some(USER), &payment("nope", "tok_visa", "120")),
            S::NOT_FOUND,
            "BOOKING_NOT_FOUND",
        ),
        (
            post("/payments/execute", Some(USER), &payment("../x", "tok_visa", "120")),
            S::BAD_REQUEST,
            "INVALID_BOOKING_ID",
        ),
        (
            post("/payments/execute", Some(USER), &payment("b", "tok_visa", "12")),
            S::BAD_REQUEST,
            "INVALID_CVV",
        ),
        (
            post("/payments/execute", Some(USER), &payment("b", "visa", "120")),
            S::BAD_REQUEST,
            "INVALID_PAYMENT_METHOD_TOKEN",
        ),
        (
            post("/payments/execute", Some(USER), r#"{"bookingId": "b", "cvv": "120"}"#),
            S::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            request(Method::GET, "/bookings/my", None, None),
            S::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        (
            request(Method::GET, "/bookings", Some(USER), None),
            S::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            request(Method::DELETE, "/bookings/my", Some(USER), None),
            S::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            request(Method::GET, "/nowhere", Some(USER), None),
            S::NOT_FOUND,
            "NOT_FOUND",
        ),
    ]
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_errors() {
    let app = Setup::seats(10).build(memory()).await;
    for (req, status, code) in cases() {
        let what = format!("{} {}", req.method(), req.uri().path());
        let (got, body) = app.call(req).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
}
