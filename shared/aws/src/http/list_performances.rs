//! `GET /performances` (no token needed): the performances on sale, soonest first, `limit` at a time
//! with an opaque `cursor`; operators may ask for another `status`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use ticketing_core::app::ManagePerformances;
use ticketing_core::catalog::{InvalidPerformance, PerformanceStatus};
use ticketing_core::ports::{Inbox, PageKey, Performances, SeatLocks};

use super::performances::{invalid, performance_view, query};
use super::{respond, ApiError, AuthMode, Role};

/// How many performances a page has unless `limit` says otherwise, and at most.
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// `GET /performances`
pub(crate) async fn list_performances<S: Performances + SeatLocks + Inbox>(
    service: &ManagePerformances<S>,
    auth: &AuthMode,
    req: Request,
) -> Response<Body> {
    respond(
        async {
            let caller = auth.optional_caller(&req).await?;
            let status = match query(&req, "status") {
                None => PerformanceStatus::OnSale,
                Some(text) => PerformanceStatus::parse(&text).ok_or_else(|| invalid(&InvalidPerformance::Status))?,
            };
            if status != PerformanceStatus::OnSale {
                match &caller {
                    None => {
                        return Err(ApiError::new(
                            StatusCode::UNAUTHORIZED,
                            "UNAUTHENTICATED",
                            "only operators may list performances that are not on sale",
                        ))
                    }
                    Some(caller) => caller.require(Role::Operator)?,
                }
            }
            let limit = match query(&req, "limit") {
                None => DEFAULT_LIMIT,
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "INVALID_LIMIT",
                            format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                        )
                    })?,
            };
            let after = match query(&req, "cursor") {
                None => None,
                Some(cursor) => Some(PageKey::from_cursor(&cursor).ok_or_else(|| {
                    ApiError::bad_request("INVALID_CURSOR", "cursor must be a nextCursor this route returned")
                })?),
            };
            let page = service.list(status, limit, after.as_ref()).await?;
            let performances: Vec<Value> = page.performances.iter().map(performance_view).collect();
            Ok((
                StatusCode::OK,
                json!({
                    "performances": performances,
                    "nextCursor": page.next.as_ref().map(PageKey::to_cursor),
                }),
            ))
        }
        .await,
    )
}
