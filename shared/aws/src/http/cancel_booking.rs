//! `POST /bookings/{bookingId}/cancel` (the booking's owner; `Idempotency-Key` honoured).

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};
use ticketing_core::app::CancelBooking;
use ticketing_core::domain::refund::Refund;
use ticketing_core::domain::{Booking, BookingId};
use ticketing_core::idempotency::{Remember, StoredResponse};
use ticketing_core::ports::{Bookings, IdempotencyKeys, Inbox, Payments, Performances, Refunds, Settlements};

use super::idempotent::idempotently_in_effect;
use super::{allow, stored, ApiError, AuthMode};

/// A refund as clients see it.
pub(crate) fn refund_view(refund: &Refund) -> Value {
    json!({
        "refundId": refund.refund_id,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency,
        "status": refund.status.as_str(),
    })
}

fn remembered(booking: &Booking) -> StoredResponse {
    stored(cancelled(booking))
}

fn cancelled(booking: &Booking) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({
            "bookingId": booking.booking_id,
            "status": booking.status,
            "refund": booking.refund.as_ref().map(refund_view),
        }),
    )
}

/// The `{bookingId}` of `/bookings/{bookingId}/cancel`: API Gateway's path parameter, or the path itself.
fn booking_in_path(req: &Request) -> Result<BookingId, ApiError> {
    let raw = match req.path_parameters().first("bookingId") {
        Some(id) => id.to_owned(),
        None => req
            .uri()
            .path()
            .trim_end_matches('/')
            .strip_prefix("/bookings/")
            .and_then(|rest| rest.strip_suffix("/cancel"))
            .filter(|id| !id.contains('/'))
            .ok_or_else(ApiError::not_found)?
            .to_owned(),
    };
    BookingId::try_from(raw).map_err(|e| ApiError::bad_request("INVALID_BOOKING_ID", e.to_string()))
}

/// `POST /bookings/{bookingId}/cancel`
pub async fn cancel_booking<S>(service: &CancelBooking<S>, auth: &AuthMode, req: Request) -> Response<Body>
where
    S: Bookings + Payments + Settlements + Refunds + Inbox + Performances + IdempotencyKeys,
{
    let parsed = allow(&req, Method::POST)
        .and_then(|()| auth.caller(&req))
        .and_then(|caller| Ok((caller.user, booking_in_path(&req)?)));
    let (user, id) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let route = format!("POST /bookings/{id}/cancel");
    idempotently_in_effect(service.idempotency(), &req, &user.clone(), &route, |key| async move {
        // The key is claimed and completed in the cancellation's own transaction.
        let remember = key.as_ref().map(|key| Remember {
            key,
            render: remembered,
        });
        Ok(cancelled(&service.cancel(&user, &id, remember).await?))
    })
    .await
}
