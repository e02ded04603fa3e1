//! `GET /performances/{performanceId}/seats`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use ticketing_core::app::SeatMap;
use ticketing_core::domain::PerformanceId;
use ticketing_core::ports::{Performances, SeatLocks};

use super::{allow, respond, ApiError, AuthMode, Role};

/// `GET /performances/{performanceId}/seats`
pub async fn seat_map<S: SeatLocks + Performances>(
    service: &SeatMap<S>,
    auth: &AuthMode,
    req: Request,
) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::GET)?;
            let caller = auth.caller(&req)?;
            let raw = performance_in_path(&req).ok_or_else(ApiError::not_found)?;
            let id = PerformanceId::try_from(raw)
                .map_err(|e| ApiError::bad_request("INVALID_PERFORMANCE_ID", e.to_string()))?;
            let (perf, seats) = service.of(&id, caller.has(Role::Operator)).await?;
            let seats: Vec<Value> = seats
                .iter()
                .map(|(seat, state)| {
                    let section = perf.section_of(seat);
                    json!({
                        "seatId": seat,
                        "row": seat.row(),
                        "section": section.map(|s| s.name.as_str()),
                        "price": section.map(|s| s.price),
                        "state": state,
                    })
                })
                .collect();
            let record = &perf.record;
            Ok((
                StatusCode::OK,
                json!({
                    "performanceId": record.performance_id,
                    "title": record.title,
                    "status": record.status,
                    // The lowest price: the whole hall's, for a hall of one section.
                    "price": record.sections.iter().map(|s| s.price).min(),
                    "currency": record.currency,
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
