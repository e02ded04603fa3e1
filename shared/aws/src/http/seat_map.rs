//! `GET /performances/{performanceId}/seats`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use ticketing_core::app::SeatMap;
use ticketing_core::domain::PerformanceId;
use ticketing_core::ports::SeatLocks;

use super::{allow, respond, ApiError, AuthMode};

/// `GET /performances/{performanceId}/seats`
pub async fn seat_map<S: SeatLocks>(service: &SeatMap<S>, auth: &AuthMode, req: Request) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::GET)?;
            auth.caller(&req)?;
            let raw = performance_in_path(&req).ok_or_else(ApiError::not_found)?;
            let id = PerformanceId::try_from(raw)
                .map_err(|e| ApiError::bad_request("INVALID_PERFORMANCE_ID", e.to_string()))?;
            let (perf, seats) = service.of(&id).await?;
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

/// The `{performanceId}` of `/performances/{performanceId}/seats`: API Gateway's path parameter, or the
/// path itself when no gateway parsed it.
pub fn performance_in_path(req: &Request) -> Option<String> {
    if let Some(id) = req.path_parameters().first("performanceId") {
        return Some(id.to_owned());
    }
    let path = req.uri().path().trim_end_matches('/');
    let id = path.strip_prefix("/performances/")?.strip_suffix("/seats")?;
    (!id.contains('/')).then(|| id.to_owned())
}
