//! `POST /webhooks/pg`: authenticated by its signature, not by a caller.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use ticketing_core::app::{FlowError, Receipt, ReceiveWebhook, WebhookError};
use ticketing_core::ports::Inbox;
use ticketing_core::webhook::SignatureError;

use super::{allow, respond, ApiError, MAX_BODY_BYTES};

/// `POST /webhooks/pg`
pub async fn receive_webhook<S: Inbox>(service: &ReceiveWebhook<S>, req: Request) -> Response<Body> {
    respond(
        async {
            allow(&req, Method::POST)?;
            let body: &[u8] = req.body().as_ref();
            if body.len() > MAX_BODY_BYTES {
                return Err(ApiError::payload_too_large());
            }
            let signature = match req.headers().get("pg-signature") {
                None => None,
                Some(value) => Some(value.to_str().map_err(|_| signature_error(SignatureError::Malformed))?),
            };
            match service.receive(signature, body).await {
                Ok(Receipt::Stored { fresh }) => Ok((StatusCode::OK, json!({"received": true, "duplicate": !fresh}))),
                Ok(Receipt::Ignored) => Ok((
                    StatusCode::OK,
                    json!({"received": true, "duplicate": false, "ignored": true}),
                )),
                Err(WebhookError::Signature(e)) => Err(signature_error(e)),
                Err(WebhookError::InvalidBody(message)) => Err(ApiError::bad_request("INVALID_JSON", message)),
                Err(WebhookError::Store(e)) => Err(FlowError::from(e).into()),
            }
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
