//! `GET /performances/{performanceId}/sales` (operators).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use ticketing_core::app::{ManagePerformances, SalesLine};
use ticketing_core::ports::{Inbox, Performances, SeatLocks};

use super::performances::performance_id;
use super::{respond, AuthMode, Role};

fn figures(line: &SalesLine) -> Value {
    json!({
        "sold": line.sold,
        "held": line.held,
        "available": line.available,
        "confirmedBookings": line.confirmed_bookings,
        "grossAmount": line.gross_amount,
    })
}

/// `GET /performances/{performanceId}/sales`
pub(crate) async fn performance_sales<S: Performances + SeatLocks + Inbox>(
    service: &ManagePerformances<S>,
    auth: &AuthMode,
    id: &str,
    req: Request,
) -> Response<Body> {
    respond(
        async {
            auth.caller(&req)?.require(Role::Operator)?;
            let report = service.sales(&performance_id(id)?).await?;
            let sections: Vec<Value> = report
                .sections
                .iter()
                .map(|line| {
                    let mut value = figures(line);
                    value["name"] = json!(line.name);
                    value
                })
                .collect();
            Ok((
                StatusCode::OK,
                json!({
                    "performanceId": report.performance_id,
                    "currency": report.currency,
                    "sections": sections,
                    "total": figures(&report.total),
                    "cancellation": report.cancellation.as_ref().map(|c| json!({
                        "bookingsCancelled": c.bookings_cancelled,
                        "refundsAsked": c.refunds_asked,
                        "remaining": c.remaining,
                        "batches": c.batches,
                        "finished": c.finished,
                        "updatedAt": c.updated_at,
                    })),
                }),
            ))
        }
        .await,
    )
}
