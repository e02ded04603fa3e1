//! The HTTP adapter: parses requests into typed values at the edge, calls the flows, and maps every
//! outcome to a status and a JSON body, here and nowhere else. Internals are never echoed to clients.

use crate::booking::{App, BookingRequest, FlowError, KeyDecision, PaymentRequest, Remember};
use crate::domain::payment::PgResult;
use crate::domain::payment::{Cvv, PaymentMethodToken};
use crate::domain::{Booking, BookingId, PaymentMethod, PerformanceId, Quantity, UserId};
use crate::idempotency::{IdempotencyKey, InvalidKey, KeyRecord, StoredResponse};
use crate::store::{BookingHistory, PaymentRecords, SeatHolds};
use crate::store::{IdempotencyKeys, Inbox};
use crate::webhook::{self, Notification, SignatureError, StoredNotification};
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
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

    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
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

    fn body(&self) -> Value {
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
            FlowError::HoldExpired => Self::new(S::CONFLICT, "HOLD_EXPIRED", e.to_string()),
            FlowError::PriceOverflow => Self::bad_request("INVALID_QUANTITY", e.to_string()),
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

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn respond(result: Result<(StatusCode, Value), ApiError>) -> Response<Body> {
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(e) => e.into_response(),
    }
}

/// The caller, from `x-user-id` (put there by API Gateway): missing or empty is 401.
fn user_id(req: &Request) -> Result<UserId, ApiError> {
    let raw = req
        .headers()
        .get("x-user-id")
        .map(|v| v.to_str().map(str::trim))
        .transpose()
        .map_err(|_| ApiError::bad_request("INVALID_USER_ID", "x-user-id must be printable text"))?
        .unwrap_or("");
    if raw.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "the x-user-id header is required",
        ));
    }
    UserId::try_from(raw).map_err(|e| ApiError::bad_request("INVALID_USER_ID", e.to_string()))
}

fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBookingBody {
    performance_id: String,
    quantity: i64,
    payment_method: String,
}

/// A request body, parsed into the flow's typed request.
trait ParseBody: DeserializeOwned {
    type Request;
    fn parse(self) -> Result<Self::Request, ApiError>;
}

/// The caller and the typed request of a POST route, or the error to answer.
fn post_request<B: ParseBody>(req: &Request) -> Result<(UserId, B::Request), ApiError> {
    allow(req, Method::POST)?;
    let user = user_id(req)?;
    Ok((user, json_body::<B>(req)?.parse()?))
}

impl ParseBody for CreateBookingBody {
    type Request = BookingRequest;
    fn parse(self) -> Result<BookingRequest, ApiError> {
        let performance_id = PerformanceId::try_from(self.performance_id)
            .map_err(|e| ApiError::bad_request("INVALID_PERFORMANCE_ID", e.to_string()))?;
        let quantity = u32::try_from(self.quantity)
            .ok()
            .and_then(|q| Quantity::try_from(q).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_QUANTITY",
                    format!(
                        "quantity must be an integer from {} to {}",
                        Quantity::MIN,
                        Quantity::MAX
                    ),
                )
            })?;
        let payment_method =
            serde_json::from_value::<PaymentMethod>(Value::String(self.payment_method)).map_err(|_| {
                ApiError::bad_request(
                    "INVALID_PAYMENT_METHOD",
                    format!("paymentMethod must be one of {}", PaymentMethod::ACCEPTED),
                )
            })?;
        Ok(BookingRequest {
            performance_id,
            quantity,
            payment_method,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutePaymentBody {
    booking_id: String,
    payment_method_token: String,
    cvv: String,
}

impl ParseBody for ExecutePaymentBody {
    type Request = PaymentRequest;
    fn parse(self) -> Result<PaymentRequest, ApiError> {
        let booking_id = BookingId::try_from(self.booking_id)
            .map_err(|e| ApiError::bad_request("INVALID_BOOKING_ID", e.to_string()))?;
        let token = PaymentMethodToken::try_from(self.payment_method_token.as_str())
            .map_err(|e| ApiError::bad_request("INVALID_PAYMENT_METHOD_TOKEN", e.to_string()))?;
        let cvv = Cvv::try_from(self.cvv.as_str()).map_err(|e| ApiError::bad_request("INVALID_CVV", e.to_string()))?;
        Ok(PaymentRequest { booking_id, token, cvv })
    }
}

fn booking_view(b: &Booking) -> Value {
    json!({
        "bookingId": b.booking_id,
        "userId": b.user_id,
        "performanceId": b.performance_id,
        "quantity": b.quantity,
        "seatIds": b.seat_ids,
        "status": b.status,
        "totalAmount": b.total.amount,
        "currency": b.total.currency,
        "createdAt": b.created_at,
    })
}

/// Only `method` is served on a route: API Gateway sends every method of it to one function.
fn allow(req: &Request, method: Method) -> Result<(), ApiError> {
    if req.method() == method {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

fn created(booking: &Booking) -> (StatusCode, Value) {
    (
        StatusCode::CREATED,
        json!({
            "message": "Booking and payment intent created. Please proceed to payment execution.",
            "bookingId": booking.booking_id,
            "totalAmount": booking.total.amount,
            "currency": booking.total.currency,
            "seatIds": booking.seat_ids,
            "holdExpiresAt": booking.hold_expires_at,
        }),
    )
}

fn paid((booking, pg): &(Booking, PgResult)) -> (StatusCode, Value) {
    let status = pg.final_status();
    (
        StatusCode::OK,
        json!({
            "message": format!("Payment simulation finished with status: {status}"),
            "finalStatus": status,
            "bookingId": booking.booking_id,
            "pgMockData": pg,
        }),
    )
}

fn stored((status, body): (StatusCode, Value)) -> StoredResponse {
    StoredResponse {
        status: status.as_u16(),
        body: body.to_string(),
    }
}

/// `POST /bookings`
pub async fn create_booking<S: SeatHolds + IdempotencyKeys>(app: &App<S>, req: Request) -> Response<Body> {
    let (user, request) = match post_request::<CreateBookingBody>(&req) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    idempotently(app, &req, &user.clone(), "POST /bookings", |claim| async move {
        let render = |b: &Booking| stored(created(b));
        let remember = claim.as_ref().map(|key| Remember { key, render: &render });
        Ok(created(&app.create_booking(user, request, remember).await?))
    })
    .await
}

/// `POST /payments/execute`
pub async fn execute_payment<S: PaymentRecords + IdempotencyKeys>(app: &App<S>, req: Request) -> Response<Body> {
    let (user, request) = match post_request::<ExecutePaymentBody>(&req) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    idempotently(app, &req, &user.clone(), "POST /payments/execute", |claim| async move {
        let render = |done: &(Booking, PgResult)| stored(paid(done));
        let remember = claim.as_ref().map(|key| Remember { key, render: &render });
        Ok(paid(&app.execute_payment(&user, request, remember).await?))
    })
    .await
}

/// Runs `work` at most once per `Idempotency-Key` (when the request has one): a retry with the same
/// body answers what the first request answered, with `Idempotent-Replayed: true`.
async fn idempotently<S, W, F>(app: &App<S>, req: &Request, user: &UserId, route: &str, work: W) -> Response<Body>
where
    S: IdempotencyKeys,
    W: FnOnce(Option<KeyRecord>) -> F,
    F: Future<Output = Result<(StatusCode, Value), ApiError>>,
{
    let key = match req.headers().get("idempotency-key") {
        None => return respond(work(None).await),
        Some(value) => match value.to_str().ok().and_then(|v| IdempotencyKey::try_from(v).ok()) {
            Some(key) => key,
            None => return ApiError::bad_request("INVALID_IDEMPOTENCY_KEY", InvalidKey.to_string()).into_response(),
        },
    };
    let claim = match app.claim_key(user, route, &key, req.body().as_ref()).await {
        Ok(KeyDecision::Proceed(claim)) => claim,
        Ok(other) => return answer_for(other),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match work(Some(claim.clone())).await {
        Ok((status, body)) => json_response(status, &body),
        Err(e) if e.code == KEY_IN_USE => match app.key_holder(&claim).await {
            Ok(decision) => answer_for(decision),
            Err(e) => ApiError::from(e).into_response(),
        },
        Err(e) => {
            if let Err(failed) = app.finish_key(&claim, stored((e.status, e.body())), e.transient).await {
                error!(error = %failed, "could not finish the idempotency key");
            }
            e.into_response()
        }
    }
}

/// The answer for a key that another request holds.
fn answer_for(decision: KeyDecision) -> Response<Body> {
    match decision {
        KeyDecision::Replay(stored) => {
            let mut response = Response::new(Body::Text(stored.body));
            *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            headers.insert("idempotent-replayed", header::HeaderValue::from_static("true"));
            response
        }
        KeyDecision::Mismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with a different request body",
        )
        .into_response(),
        KeyDecision::InFlight | KeyDecision::Proceed(_) => ApiError::new(
            StatusCode::CONFLICT,
            KEY_IN_USE,
            "a request with this Idempotency-Key is still in progress; retry later",
        )
        .into_response(),
    }
}

/// `GET /bookings/my`
pub async fn list_my_bookings<S: BookingHistory>(app: &App<S>, req: Request) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::GET)?;
            let user = user_id(&req)?;
            let bookings = app.my_bookings(&user).await?;
            Ok((
                StatusCode::OK,
                Value::Array(bookings.iter().map(booking_view).collect()),
            ))
        }
        .await,
    )
}

/// `GET /performances/{performanceId}/seats`
pub async fn seat_map<S: SeatHolds>(app: &App<S>, req: Request) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::GET)?;
            user_id(&req)?;
            let raw = performance_in_path(&req).ok_or_else(ApiError::not_found)?;
            let id = PerformanceId::try_from(raw)
                .map_err(|e| ApiError::bad_request("INVALID_PERFORMANCE_ID", e.to_string()))?;
            let (perf, seats) = app.seat_map(&id).await?;
            let seats: Vec<Value> = seats
                .iter()
                .map(|(seat, state)| json!({"seatId": seat, "row": seat.row(), "state": state}))
                .collect();
            Ok((
                StatusCode::OK,
                json!({
                    "performanceId": perf.performance_id,
                    "title": perf.title,
                    "price": perf.price.amount,
                    "currency": perf.price.currency,
                    "seats": seats,
                }),
            ))
        }
        .await,
    )
}

/// `POST /webhooks/pg`: a payment gateway notification. Verified against its `PG-Signature`, stored in
/// the events inbox under its own id (a redelivery stores nothing new) and acknowledged at once; the
/// worker applies it.
pub async fn receive_webhook<S: Inbox>(app: &App<S>, req: Request) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::POST)?;
            let Some(secret) = app.webhook_secret.as_deref() else {
                error!("no webhook secret is configured");
                return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "internal error"));
            };
            let body: &[u8] = req.body().as_ref();
            if body.len() > MAX_BODY_BYTES {
                return Err(ApiError::payload_too_large());
            }
            let header = match req.headers().get("pg-signature") {
                None => None,
                Some(value) => Some(value.to_str().map_err(|_| signature_error(SignatureError::Malformed))?),
            };
            let now = app.clock.now();
            webhook::verify(header, body, secret.as_bytes(), now).map_err(signature_error)?;
            // A signed notification of a kind this service does not act on is acknowledged, not refused,
            // so that the gateway does not redeliver it for days.
            let envelope: serde_json::Map<String, Value> = json_body(&req)?;
            let known = envelope
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| serde_json::from_value::<webhook::NotificationType>(Value::String(t.to_owned())).is_ok());
            if !known {
                tracing::info!(kind = ?envelope.get("type"), "notification of another kind; ignored");
                return Ok((StatusCode::OK, json!({"received": true, "duplicate": false, "ignored": true})));
            }
            let notification: Notification = json_body(&req)?;
            let stored = StoredNotification::of(&notification, now);
            let fresh = app.store.put_event(&notification.id, &stored).await.map_err(FlowError::from)?;
            tracing::info!(event_id = %notification.id, booking_id = %notification.data.booking_id, fresh, "notification received");
            Ok((StatusCode::OK, json!({"received": true, "duplicate": !fresh})))
        }
        .await,
    )
}

fn signature_error(e: SignatureError) -> ApiError {
    match e {
        SignatureError::Missing | SignatureError::Malformed => {
            ApiError::bad_request("INVALID_SIGNATURE", e.to_string())
        }
        SignatureError::Stale | SignatureError::Forged => {
            ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE", e.to_string())
        }
    }
}

/// The `{performanceId}` of `/performances/{performanceId}/seats`: API Gateway's path parameter, or the
/// path itself when no gateway parsed it.
fn performance_in_path(req: &Request) -> Option<String> {
    if let Some(id) = req.path_parameters().first("performanceId") {
        return Some(id.to_owned());
    }
    let path = req.uri().path().trim_end_matches('/');
    let id = path.strip_prefix("/performances/")?.strip_suffix("/seats")?;
    (!id.contains('/')).then(|| id.to_owned())
}

/// Every route of the API in one process (the local server); under Lambda, API Gateway routes instead.
pub async fn route<S: SeatHolds + PaymentRecords + BookingHistory + IdempotencyKeys + Inbox>(
    app: &App<S>,
    req: Request,
) -> Response<Body> {
    match req.uri().path().trim_end_matches('/') {
        "/bookings" => create_booking(app, req).await,
        "/payments/execute" => execute_payment(app, req).await,
        "/bookings/my" => list_my_bookings(app, req).await,
        "/webhooks/pg" => receive_webhook(app, req).await,
        path if path.starts_with("/performances/") && path.ends_with("/seats") => seat_map(app, req).await,
        _ => ApiError::not_found().into_response(),
    }
}
