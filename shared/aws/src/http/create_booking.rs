//! `POST /bookings`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use ticketing_core::app::{BookingRequest, CreateBooking};
use ticketing_core::domain::{Booking, PaymentMethod, PerformanceId, Quantity};
use ticketing_core::idempotency::{Remember, StoredResponse};
use ticketing_core::ports::{Holds, IdempotencyKeys, Performances, SeatLocks, Settlements};

use super::idempotent::idempotently_in_effect;
use super::{post_request, stored, ApiError, AuthMode, ParseBody};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBookingBody {
    performance_id: String,
    quantity: i64,
    payment_method: String,
    #[serde(default)]
    section: Option<String>,
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
            section: self.section,
        })
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

fn remembered(booking: &Booking) -> StoredResponse {
    stored(created(booking))
}

/// `POST /bookings`
pub async fn create_booking<S: SeatLocks + Holds + Settlements + IdempotencyKeys + Performances>(
    service: &CreateBooking<S>,
    auth: &AuthMode,
    req: Request,
) -> Response<Body> {
    let (user, request) = match post_request::<CreateBookingBody>(auth, &req) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    idempotently_in_effect(
        service.idempotency(),
        &req,
        &user.clone(),
        "POST /bookings",
        |claim| async move {
            let remember = claim.as_ref().map(|key| Remember {
                key,
                render: remembered,
            });
            Ok(created(&service.create(user, request, remember).await?))
        },
    )
    .await
}
