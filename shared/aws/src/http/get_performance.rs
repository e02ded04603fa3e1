//! `GET /performances/{performanceId}` (no token needed; a draft only for operators).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use ticketing_core::app::ManagePerformances;
use ticketing_core::ports::{Inbox, Performances, SeatLocks};

use super::performances::{performance_id, performance_view};
use super::{respond, AuthMode, Role};

/// `GET /performances/{performanceId}`
pub(crate) async fn get_performance<S: Performances + SeatLocks + Inbox>(
    service: &ManagePerformances<S>,
    auth: &AuthMode,
    id: &str,
    req: Request,
) -> Response<Body> {
    respond(
        async {
            let operator = auth.optional_caller(&req).await?.is_some_and(|c| c.has(Role::Operator));
            let id = performance_id(id)?;
            let record = service.get(&id, operator).await?;
            Ok((StatusCode::OK, performance_view(&record)))
        }
        .await,
    )
}
