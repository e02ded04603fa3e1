//! `GET /bookings/my`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use ticketing_core::app::ListBookings;
use ticketing_core::domain::Booking;
use ticketing_core::ports::Bookings;

use super::cancel_booking::refund_view;
use super::{allow, respond, AuthMode};

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
        "refund": b.refund.as_ref().map(refund_view),
    })
}

/// `GET /bookings/my`
pub async fn list_my_bookings<S: Bookings>(service: &ListBookings<S>, auth: &AuthMode, req: Request) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::GET)?;
            let caller = auth.caller(&req)?;
            let bookings = service.of(&caller.user).await?;
            Ok((
                StatusCode::OK,
                Value::Array(bookings.iter().map(booking_view).collect()),
            ))
        }
        .await,
    )
}
