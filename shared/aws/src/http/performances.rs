//! The performance routes, served by one function: `POST /performances`, `GET /performances`,
//! `GET /performances/{performanceId}`, `PATCH /performances/{performanceId}` and
//! `GET /performances/{performanceId}/sales`; each handler in its own file. Here: the dispatch by
//! method and path, the performance's view, and the typed reading of a performance's fields.

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Map, Value};
use ticketing_core::app::ManagePerformances;
use ticketing_core::catalog::{InvalidPerformance, PerformanceRecord, PerformanceStatus, Row, Section};
use ticketing_core::domain::{Currency, PerformanceId, Timestamp};
use ticketing_core::ports::{IdempotencyKeys, Inbox, Performances, SeatLocks};

use super::{create_performance, get_performance, list_performances, performance_sales, update_performance};
use super::{ApiError, AuthMode};

/// Which performance route a request is for.
enum Route {
    Collection,
    One(String),
    Sales(String),
}

fn route(req: &Request) -> Option<Route> {
    let params = req.path_parameters();
    let path = req.uri().path().trim_end_matches('/');
    let rest = match path.strip_prefix("/performances") {
        Some("") => return Some(Route::Collection),
        Some(rest) => rest.strip_prefix('/')?,
        None => return None,
    };
    let from_gateway = params.first("performanceId").map(str::to_owned);
    match rest.split_once('/') {
        None => Some(Route::One(from_gateway.unwrap_or_else(|| rest.to_owned()))),
        Some((id, "sales")) => Some(Route::Sales(from_gateway.unwrap_or_else(|| id.to_owned()))),
        Some(_) => None,
    }
}

/// Every performance route.
pub async fn performances<S: Performances + SeatLocks + Inbox + IdempotencyKeys>(
    service: &ManagePerformances<S>,
    auth: &AuthMode,
    req: Request,
) -> Response<Body> {
    match (route(&req), req.method().clone()) {
        (Some(Route::Collection), Method::POST) => create_performance(service, auth, req).await,
        (Some(Route::Collection), Method::GET) => list_performances(service, auth, req).await,
        (Some(Route::One(id)), Method::GET) => get_performance(service, auth, &id, req).await,
        (Some(Route::One(id)), Method::PATCH) => update_performance(service, auth, &id, req).await,
        (Some(Route::Sales(id)), Method::GET) => performance_sales(service, auth, &id, req).await,
        (Some(_), _) => ApiError::method_not_allowed().into_response(),
        (None, _) => ApiError::not_found().into_response(),
    }
}

/// The performance id of a path.
pub(crate) fn performance_id(raw: &str) -> Result<PerformanceId, ApiError> {
    PerformanceId::try_from(raw).map_err(|e| ApiError::bad_request("INVALID_PERFORMANCE_ID", e.to_string()))
}

/// A performance as clients see it: its sections with their prices and rows, not every seat.
pub(crate) fn performance_view(p: &PerformanceRecord) -> Value {
    let sections: Vec<Value> = p
        .sections
        .iter()
        .map(|s| json!({"name": s.name, "price": s.price, "seatCount": s.seat_count(), "rows": s.rows}))
        .collect();
    json!({
        "performanceId": p.performance_id,
        "title": p.title,
        "venue": p.venue,
        "startsAt": p.starts_at,
        "salesOpenAt": p.sales_open_at,
        "salesCloseAt": p.sales_close_at,
        "currency": p.currency,
        "maxSeatsPerBooking": p.max_seats_per_booking,
        "maxSeatsPerUser": p.max_seats_per_user,
        "status": p.status,
        "totalSeats": p.sections.iter().map(Section::seat_count).sum::<u64>(),
        "sections": sections,
        "layoutLocked": p.layout_locked,
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    })
}

/// The code and message of a broken rule.
pub(crate) fn invalid(e: &InvalidPerformance) -> ApiError {
    use InvalidPerformance as I;
    let code = match e {
        I::PerformanceId => "INVALID_PERFORMANCE_ID",
        I::Title => "INVALID_TITLE",
        I::Venue => "INVALID_VENUE",
        I::StartsAt => "INVALID_STARTS_AT",
        I::SalesOpenAt => "INVALID_SALES_OPEN_AT",
        I::SalesCloseAt => "INVALID_SALES_CLOSE_AT",
        I::SalesWindow => "SALES_CLOSE_BEFORE_OPEN",
        I::StartsBeforeSalesClose => "STARTS_BEFORE_SALES_CLOSE",
        I::Currency => "INVALID_CURRENCY",
        I::MaxSeatsPerBooking => "INVALID_MAX_SEATS_PER_BOOKING",
        I::MaxSeatsPerUser => "INVALID_MAX_SEATS_PER_USER",
        I::Sections => "INVALID_SECTIONS",
        I::NoSeats => "NO_SEATS",
        I::TooManySeats => "TOO_MANY_SEATS",
        I::SectionName => "INVALID_SECTION_NAME",
        I::DuplicateSection(_) => "DUPLICATE_SECTION",
        I::Price => "INVALID_PRICE",
        I::RowName => "INVALID_ROW",
        I::DuplicateRow(_) => "DUPLICATE_ROW",
        I::RowSeats => "INVALID_ROW_SEATS",
        I::Status => "INVALID_STATUS",
    };
    ApiError::bad_request(code, e.to_string())
}

/// The fields of a JSON object body, read one by one into typed values, each with its own error.
pub(crate) struct Fields(pub(crate) Map<String, Value>);

impl Fields {
    pub(crate) fn of(body: Value) -> Result<Self, ApiError> {
        match body {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(ApiError::bad_request(
                "INVALID_JSON",
                "the request body must be a JSON object",
            )),
        }
    }

    pub(crate) fn text(&self, name: &str, error: InvalidPerformance) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(&error)),
        }
    }

    pub(crate) fn time(&self, name: &str, error: InvalidPerformance) -> Result<Option<Timestamp>, ApiError> {
        match self.text(name, error.clone())? {
            None => Ok(None),
            Some(text) => Timestamp::parse_rfc3339(&text).map(Some).ok_or_else(|| invalid(&error)),
        }
    }

    pub(crate) fn count(&self, name: &str, error: InvalidPerformance) -> Result<Option<u32>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(value) => whole(value).map(Some).ok_or_else(|| invalid(&error)),
        }
    }

    /// `maxSeatsPerUser`: a positive count, or `null` for no limit.
    pub(crate) fn limit(&self, name: &str) -> Result<Option<Option<u32>>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(value) => match whole(value) {
                Some(n) if n > 0 => Ok(Some(Some(n))),
                _ => Err(invalid(&InvalidPerformance::MaxSeatsPerUser)),
            },
        }
    }

    pub(crate) fn currency(&self) -> Result<Option<Currency>, ApiError> {
        match self.text("currency", InvalidPerformance::Currency)? {
            None => Ok(None),
            Some(text) => Currency::try_from(text)
                .map(Some)
                .map_err(|_| invalid(&InvalidPerformance::Currency)),
        }
    }

    pub(crate) fn status(&self) -> Result<Option<PerformanceStatus>, ApiError> {
        match self.text("status", InvalidPerformance::Status)? {
            None => Ok(None),
            Some(text) => PerformanceStatus::parse(&text)
                .map(Some)
                .ok_or_else(|| invalid(&InvalidPerformance::Status)),
        }
    }

    pub(crate) fn sections(&self) -> Result<Option<Vec<Section>>, ApiError> {
        let Some(value) = self.0.get("sections") else {
            return Ok(None);
        };
        let Value::Array(list) = value else {
            return Err(invalid(&InvalidPerformance::Sections));
        };
        list.iter().map(section).collect::<Result<_, _>>().map(Some)
    }
}

/// A whole number from 0 to `u32::MAX`: `3`, not `3.5`, `"3"` or `-1`.
fn whole(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn section(value: &Value) -> Result<Section, ApiError> {
    let Value::Object(fields) = value else {
        return Err(invalid(&InvalidPerformance::Sections));
    };
    let name = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        _ => return Err(invalid(&InvalidPerformance::SectionName)),
    };
    let price = fields
        .get("price")
        .and_then(Value::as_i64)
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid(&InvalidPerformance::Price))?;
    let rows = match fields.get("rows") {
        Some(Value::Array(rows)) => rows.iter().map(row).collect::<Result<_, _>>()?,
        _ => return Err(invalid(&InvalidPerformance::Sections)),
    };
    Ok(Section { name, price, rows })
}

fn row(value: &Value) -> Result<Row, ApiError> {
    let Value::Object(fields) = value else {
        return Err(invalid(&InvalidPerformance::RowName));
    };
    let name = match fields.get("row") {
        Some(Value::String(name)) => name.clone(),
        _ => return Err(invalid(&InvalidPerformance::RowName)),
    };
    let seats = fields
        .get("seats")
        .and_then(whole)
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid(&InvalidPerformance::RowSeats))?;
    Ok(Row {
        row: name,
        seats,
        seat_ids: None,
    })
}

/// A query string parameter: API Gateway's, or parsed from the URI when no gateway did.
pub(crate) fn query(req: &Request, name: &str) -> Option<String> {
    let params = req.query_string_parameters();
    if let Some(value) = params.first(name) {
        return Some(value.to_owned());
    }
    req.uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}
