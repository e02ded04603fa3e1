//! `PATCH /performances/{performanceId}` (operators).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use ticketing_core::app::{ManagePerformances, PerformanceChanges};
use ticketing_core::catalog::InvalidPerformance;
use ticketing_core::ports::{Inbox, Performances, SeatLocks};

use super::performances::{performance_id, performance_view, Fields};
use super::{json_body, respond, ApiError, AuthMode, Role};

/// The fields a `PATCH` may name.
const CHANGEABLE: [&str; 10] = [
    "title",
    "venue",
    "startsAt",
    "salesOpenAt",
    "salesCloseAt",
    "maxSeatsPerBooking",
    "maxSeatsPerUser",
    "status",
    "currency",
    "sections",
];

fn changes(fields: &Fields) -> Result<PerformanceChanges, ApiError> {
    use InvalidPerformance as I;
    if let Some(other) = fields.0.keys().find(|k| !CHANGEABLE.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "UNCHANGEABLE_FIELD",
            format!("{other} cannot be changed; a PATCH may name {}", CHANGEABLE.join(", ")),
        ));
    }
    Ok(PerformanceChanges {
        title: fields.text("title", I::Title)?,
        venue: fields.text("venue", I::Venue)?,
        starts_at: fields.time("startsAt", I::StartsAt)?,
        sales_open_at: fields.time("salesOpenAt", I::SalesOpenAt)?,
        sales_close_at: fields.time("salesCloseAt", I::SalesCloseAt)?,
        max_seats_per_booking: fields.count("maxSeatsPerBooking", I::MaxSeatsPerBooking)?,
        max_seats_per_user: fields.limit("maxSeatsPerUser")?,
        status: fields.status()?,
        currency: fields.currency()?,
        sections: fields.sections()?,
    })
}

/// `PATCH /performances/{performanceId}`
pub(crate) async fn update_performance<S: Performances + SeatLocks + Inbox>(
    service: &ManagePerformances<S>,
    auth: &AuthMode,
    id: &str,
    req: Request,
) -> Response<Body> {
    respond(
        async {
            auth.caller(&req)?.require(Role::Operator)?;
            let id = performance_id(id)?;
            let changes = changes(&Fields::of(json_body::<Value>(&req)?)?)?;
            let record = service.update(&id, changes).await?;
            Ok((StatusCode::OK, performance_view(&record)))
        }
        .await,
    )
}
