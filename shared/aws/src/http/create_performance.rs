//! `POST /performances` (operators; `Idempotency-Key` honoured).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use ticketing_core::app::{ManagePerformances, PerformanceDraft};
use ticketing_core::catalog::{InvalidPerformance, PerformanceRecord};
use ticketing_core::domain::UserId;
use ticketing_core::idempotency::{Remember, StoredResponse};
use ticketing_core::ports::{IdempotencyKeys, Inbox, Performances, SeatLocks};

use super::idempotent::idempotently;
use super::performances::{invalid, performance_id, performance_view, Fields};
use super::{json_body, stored, ApiError, AuthMode, Role};

fn draft(fields: &Fields) -> Result<PerformanceDraft, ApiError> {
    use InvalidPerformance as I;
    let required = |value: Option<String>, error: I| value.ok_or_else(|| invalid(&error));
    let performance_id = match fields.0.get("performanceId") {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(performance_id(raw)?),
        Some(_) => return Err(invalid(&I::PerformanceId)),
    };
    Ok(PerformanceDraft {
        performance_id,
        title: required(fields.text("title", I::Title)?, I::Title)?,
        venue: required(fields.text("venue", I::Venue)?, I::Venue)?,
        starts_at: fields
            .time("startsAt", I::StartsAt)?
            .ok_or_else(|| invalid(&I::StartsAt))?,
        sales_open_at: fields
            .time("salesOpenAt", I::SalesOpenAt)?
            .ok_or_else(|| invalid(&I::SalesOpenAt))?,
        sales_close_at: fields
            .time("salesCloseAt", I::SalesCloseAt)?
            .ok_or_else(|| invalid(&I::SalesCloseAt))?,
        currency: fields.currency()?.ok_or_else(|| invalid(&I::Currency))?,
        max_seats_per_booking: fields
            .count("maxSeatsPerBooking", I::MaxSeatsPerBooking)?
            .ok_or_else(|| invalid(&I::MaxSeatsPerBooking))?,
        max_seats_per_user: fields.limit("maxSeatsPerUser")?.flatten(),
        sections: fields.sections()?.ok_or_else(|| invalid(&I::NoSeats))?,
    })
}

fn created(record: &PerformanceRecord) -> (StatusCode, Value) {
    (StatusCode::CREATED, performance_view(record))
}

fn remembered(record: &PerformanceRecord) -> StoredResponse {
    stored(created(record))
}

fn parse(auth: &AuthMode, req: &Request) -> Result<(UserId, PerformanceDraft), ApiError> {
    let caller = auth.caller(req)?;
    caller.require(Role::Operator)?;
    let fields = Fields::of(json_body::<Value>(req)?)?;
    Ok((caller.user, draft(&fields)?))
}

/// `POST /performances`
pub(crate) async fn create_performance<S: Performances + SeatLocks + Inbox + IdempotencyKeys>(
    service: &ManagePerformances<S>,
    auth: &AuthMode,
    req: Request,
) -> Response<Body> {
    let (user, draft) = match parse(auth, &req) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    idempotently(
        service.idempotency(),
        &req,
        &user,
        "POST /performances",
        |claim| async move {
            let remember = claim.as_ref().map(|key| Remember {
                key,
                render: remembered,
            });
            Ok(created(&service.create(draft, remember).await?))
        },
    )
    .await
}
