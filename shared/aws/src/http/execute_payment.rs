//! `POST /payments/execute`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use ticketing_core::app::{ExecutePayment, PaymentRequest};
use ticketing_core::domain::payment::{Cvv, PaymentMethodToken, PgResult};
use ticketing_core::domain::{Booking, BookingId};
use ticketing_core::idempotency::{Remember, StoredResponse};
use ticketing_core::ports::{Bookings, IdempotencyKeys, Payments};

use super::idempotent::idempotently;
use super::{post_request, stored, ApiError, AuthMode, ParseBody};

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

fn paid((booking, pg): &(Booking, PgResult)) -> (StatusCode, Value) {
    let status = pg.final_status();
    (
        StatusCode::OK,
        json!({
            "message": format!("Payment simulation finished with status: {status}"),
            "finalStatus": status,
            "bookingId": booking.booking_id,
            // What the gateway answered; when it will resolve a charge it processes is its own business.
            "pgMockData": {
                "chargeId": pg.charge_id,
                "isSuccess": pg.is_success,
                "failureCode": pg.failure_code,
                "processedAt": pg.processed_at,
            },
        }),
    )
}

fn remembered(done: &(Booking, PgResult)) -> StoredResponse {
    stored(paid(done))
}

/// `POST /payments/execute`
pub async fn execute_payment<S: Bookings + Payments + IdempotencyKeys>(
    service: &ExecutePayment<S>,
    auth: &AuthMode,
    req: Request,
) -> Response<Body> {
    let (user, request) = match post_request::<ExecutePaymentBody>(auth, &req) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    idempotently(
        service.idempotency(),
        &req,
        &user.clone(),
        "POST /payments/execute",
        |claim| async move {
            let remember = claim.as_ref().map(|key| Remember {
                key,
                render: remembered,
            });
            Ok(paid(&service.pay(&user, request, remember).await?))
        },
    )
    .await
}
