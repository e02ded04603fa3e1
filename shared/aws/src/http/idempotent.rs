//! `Idempotency-Key` at the HTTP edge: a request under a key does its work at most once; a retry with
//! the same body answers what the first request answered, with `Idempotent-Replayed: true`.

use std::future::Future;

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use ticketing_core::app::FlowError;
use ticketing_core::app::Idempotency;
use ticketing_core::domain::UserId;
use ticketing_core::idempotency::{IdempotencyKey, InvalidKey, KeyRecord, NextAction};
use tracing::error;

use super::{json_response, respond, stored, ApiError, KEY_IN_USE};

/// Why the work under a key did not answer.
pub(crate) enum Refusal {
    /// An answer to give (and to remember under the key, unless it is transient).
    Api(ApiError),
    /// The key went to a retry while this request ran: answer what the key holds now.
    KeyTaken,
}

impl From<FlowError> for Refusal {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::KeyTaken => Self::KeyTaken,
            other => Self::Api(other.into()),
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

/// Runs `work` at most once per `Idempotency-Key` (when the request has one). `work` gets the claim,
/// to complete it in the transaction of its effect.
pub(crate) async fn idempotently<W, F>(
    keys: Idempotency<'_>,
    req: &Request,
    user: &UserId,
    route: &str,
    work: W,
) -> Response<Body>
where
    W: FnOnce(Option<KeyRecord>) -> F,
    F: Future<Output = Result<(StatusCode, Value), Refusal>>,
{
    let key = match key_of(req) {
        Ok(Some(key)) => key,
        Ok(None) => return without_key(work).await,
        Err(e) => return e.into_response(),
    };
    // This route calls the payment gateway, whose charge no transaction can include: the key is
    // claimed before the work, so that a retry never charges twice.
    let claim = match keys.claim(user, route, &key, req.body().as_ref()).await {
        Ok(NextAction::Proceed(claim)) => claim,
        Ok(other) => return answer_for(other),
        Err(e) => return ApiError::from(FlowError::from(e)).into_response(),
    };
    match work(Some(claim.clone())).await {
        Ok((status, body)) => json_response(status, &body),
        Err(Refusal::KeyTaken) => match keys.holder(&claim).await {
            Ok(next) => answer_for(next),
            Err(e) => ApiError::from(FlowError::from(e)).into_response(),
        },
        Err(Refusal::Api(e)) => {
            if let Err(failed) = keys.finish(&claim, stored((e.status, e.body())), e.transient).await {
                error!(error = %failed, "could not finish the idempotency key");
            }
            e.into_response()
        }
    }
}

/// Runs `work` at most once per `Idempotency-Key` on a route that calls no outside party: the key is
/// claimed by the transaction of the work's effect, so a key costs no request of its own. `work` gets
/// the record to claim it with. An answer without an effect (a `404`, sold out) is remembered after it;
/// a key taken by another request is answered with what that request left.
pub(crate) async fn idempotently_in_effect<W, F>(
    keys: Idempotency<'_>,
    req: &Request,
    user: &UserId,
    route: &str,
    work: W,
) -> Response<Body>
where
    W: FnOnce(Option<KeyRecord>) -> F,
    F: Future<Output = Result<(StatusCode, Value), Refusal>>,
{
    let key = match key_of(req) {
        Ok(Some(key)) => key,
        Ok(None) => return without_key(work).await,
        Err(e) => return e.into_response(),
    };
    let record = keys.to_claim_in_effect(user, route, &key, req.body().as_ref());
    let next = match work(Some(record.clone())).await {
        Ok((status, body)) => return json_response(status, &body),
        Err(Refusal::KeyTaken) => keys.holder(&record).await,
        Err(Refusal::Api(e)) if e.transient => return e.into_response(),
        Err(Refusal::Api(e)) => match keys.remember(&record, stored((e.status, e.body()))).await {
            Ok(None) => return e.into_response(),
            Ok(Some(next)) => Ok(next),
            Err(failed) => {
                error!(error = %failed, "could not remember the answer under its idempotency key");
                return e.into_response();
            }
        },
    };
    match next {
        Ok(next) => answer_for(next),
        Err(e) => ApiError::from(FlowError::from(e)).into_response(),
    }
}

/// The request's `Idempotency-Key`, if it has one.
fn key_of(req: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| IdempotencyKey::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("INVALID_IDEMPOTENCY_KEY", InvalidKey.to_string()))
}

async fn without_key<W, F>(work: W) -> Response<Body>
where
    W: FnOnce(Option<KeyRecord>) -> F,
    F: Future<Output = Result<(StatusCode, Value), Refusal>>,
{
    respond(work(None).await.map_err(|refusal| match refusal {
        Refusal::Api(e) => e,
        // Without a key there is no key to lose.
        Refusal::KeyTaken => FlowError::KeyTaken.into(),
    }))
}

/// The answer for a key that another request holds.
fn answer_for(next: NextAction) -> Response<Body> {
    match next {
        NextAction::Replay(stored) => {
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
        NextAction::Mismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with a different request body",
        )
        .into_response(),
        // A claim that is ours is never answered here: it is not another request's.
        NextAction::InFlight | NextAction::Proceed(_) => ApiError::new(
            StatusCode::CONFLICT,
            KEY_IN_USE,
            "a request with this Idempotency-Key is still in progress; retry later",
        )
        .into_response(),
    }
}
