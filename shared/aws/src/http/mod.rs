//! The HTTP adapter: one file per route (its body, parsing, view and handler). Requests are parsed
//! into typed values at the edge, and every outcome is mapped to a status and a JSON body here and
//! nowhere else. Internals are never echoed to clients.

mod caller;
mod cancel_booking;
mod create_booking;
mod create_performance;
mod execute_payment;
mod get_performance;
mod idempotent;
mod list_my_bookings;
mod list_performances;
mod performance_sales;
mod performances;
mod receive_webhook;
mod seat_map;
mod token;
mod update_performance;

use create_performance::create_performance;
use get_performance::get_performance;
use list_performances::list_performances;
use performance_sales::performance_sales;
use update_performance::update_performance;

pub use caller::{AuthMode, Caller, Role};
pub use cancel_booking::cancel_booking;
pub use create_booking::create_booking;
pub use execute_payment::execute_payment;
pub use list_my_bookings::list_my_bookings;
pub use performances::performances;
pub use receive_webhook::receive_webhook;
pub use seat_map::{performance_in_path, seat_map};
pub use token::{TokenError, TokenVerifier};

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use ticketing_core::app::FlowError;
use ticketing_core::domain::UserId;
use ticketing_core::idempotency::StoredResponse;
use tracing::error;

/// The code of a request whose `Idempotency-Key` another request holds.
const KEY_IN_USE: &str = "IDEMPOTENCY_KEY_IN_USE";

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// An error as clients see it: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// A retry may be answered otherwise (a 5xx, a race lost): not remembered under an idempotency key.
    pub transient: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            transient: status.is_server_error(),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "method not allowed on this route",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }

    pub fn into_response(self) -> Response<Body> {
        json_response(self.status, &self.body())
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        use StatusCode as S;
        match e {
            FlowError::UnknownPerformance(_) => Self::new(S::NOT_FOUND, "PERFORMANCE_NOT_FOUND", e.to_string()),
            FlowError::PerformanceNotOnSale(..) => Self::new(S::CONFLICT, "PERFORMANCE_NOT_ON_SALE", e.to_string()),
            FlowError::SalesNotOpen(_) => Self::new(S::CONFLICT, "SALES_NOT_OPEN", e.to_string()),
            FlowError::SalesClosed(_) => Self::new(S::CONFLICT, "SALES_CLOSED", e.to_string()),
            FlowError::QuantityOverLimit { .. } => Self::bad_request("QUANTITY_OVER_LIMIT", e.to_string()),
            FlowError::UnknownSection(_) => Self::bad_request("UNKNOWN_SECTION", e.to_string()),
            FlowError::InvalidPerformance(ref why) => performances::invalid(why),
            FlowError::PerformanceExists(_) => Self::new(S::CONFLICT, "PERFORMANCE_EXISTS", e.to_string()),
            FlowError::InvalidTransition { .. } => Self::new(S::CONFLICT, "INVALID_TRANSITION", e.to_string()),
            FlowError::LayoutLocked(_) => Self::new(S::CONFLICT, "LAYOUT_LOCKED", e.to_string()),
            FlowError::PerformanceContended(_) => Self {
                transient: true,
                ..Self::new(S::CONFLICT, "PERFORMANCE_BUSY", e.to_string())
            },
            FlowError::BookingNotFound => Self::new(S::NOT_FOUND, "BOOKING_NOT_FOUND", e.to_string()),
            FlowError::SeatsUnavailable(_) => Self::new(S::CONFLICT, "SEATS_UNAVAILABLE", e.to_string()),
            FlowError::SeatsContended(_) => Self {
                transient: true,
                ..Self::new(S::CONFLICT, "SEATS_UNAVAILABLE", e.to_string())
            },
            FlowError::BookingNotPending(_) | FlowError::PaymentDeclined => {
                Self::new(S::CONFLICT, "BOOKING_NOT_PENDING", e.to_string())
            }
            FlowError::AlreadyPaid => Self::new(S::CONFLICT, "ALREADY_PAID", e.to_string()),
            FlowError::NotCancellable(_) | FlowError::PaymentInProgress => {
                Self::new(S::CONFLICT, "BOOKING_NOT_CANCELLABLE", e.to_string())
            }
            FlowError::PaymentSettling => Self {
                transient: true,
                ..Self::new(S::CONFLICT, "BOOKING_NOT_CANCELLABLE", e.to_string())
            },
            FlowError::CancellationClosed => Self::new(S::CONFLICT, "CANCELLATION_CLOSED", e.to_string()),
            FlowError::HoldExpired => Self::new(S::CONFLICT, "HOLD_EXPIRED", e.to_string()),
            FlowError::PriceOverflow => Self::bad_request("INVALID_QUANTITY", e.to_string()),
            FlowError::SeatLimitReached { .. } => Self::new(S::CONFLICT, "SEAT_LIMIT_REACHED", e.to_string()),
            FlowError::KeyTaken => Self::new(S::CONFLICT, KEY_IN_USE, e.to_string()),
            FlowError::Store(_) | FlowError::Queue(_) => {
                error!(error = %e, "storage failure");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "internal error, please retry",
                )
            }
        }
    }
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn respond(result: Result<(StatusCode, Value), ApiError>) -> Response<Body> {
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(e) => e.into_response(),
    }
}

pub(crate) fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("INVALID_JSON", "a JSON request body is required"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("INVALID_JSON", format!("invalid request body: {e}")))
}

/// A request body, parsed into the use case's typed request.
pub(crate) trait ParseBody: DeserializeOwned {
    type Request;
    fn parse(self) -> Result<Self::Request, ApiError>;
}

/// The caller and the typed request of a POST route, or the error to answer.
pub(crate) fn post_request<B: ParseBody>(auth: &AuthMode, req: &Request) -> Result<(UserId, B::Request), ApiError> {
    allow(req, Method::POST)?;
    let caller = auth.caller(req)?;
    Ok((caller.user, json_body::<B>(req)?.parse()?))
}

/// Only `method` is served on a route: API Gateway sends every method of it to one function.
pub(crate) fn allow(req: &Request, method: Method) -> Result<(), ApiError> {
    if req.method() == method {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

/// A response as an idempotency key remembers it.
pub(crate) fn stored((status, body): (StatusCode, Value)) -> StoredResponse {
    StoredResponse {
        status: status.as_u16(),
        body: body.to_string(),
    }
}
