//! Business metrics in CloudWatch's embedded metric format (EMF): one JSON line per data point on
//! standard output, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics, with no API
//! call on the request path. On by default under Lambda; `METRICS=emf` turns them on elsewhere,
//! `METRICS=off` off.

use serde_json::{json, Value};

use crate::domain::{Clock, SystemClock};
use std::sync::OnceLock;

/// The namespace the metrics appear under in CloudWatch.
pub const NAMESPACE: &str = "Ticketing";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    BookingsCreated,
    SeatsUnavailable,
    PaymentsSucceeded,
    PaymentsFailed,
    PaymentsProcessing,
    HoldsExpired,
    EventsProcessed,
    /// Gateway notifications kept aside because nothing they name exists.
    NotificationsParked,
    /// Payments taken for bookings that did not get their seats, booked as owed back.
    RefundsOwed,
    /// Gateway notifications whose charge, amount or currency is not the booking's: not applied.
    NotificationMismatches,
    /// Reports of a charge that contradict the outcome already applied (which stands).
    NotificationContradictions,
    /// Charges the gateway processed too long, settled by asking it where they stand.
    PaymentsReconciled,
    /// Charges still unresolved at the processing deadline, voided (their bookings failed).
    PaymentsVoided,
    /// Bookings cancelled by their customers (paid or not).
    BookingsCancelled,
    /// Refund attempts asked of the gateway.
    RefundsAsked,
    /// Refunds the worker booked as succeeded, with their reversal.
    RefundsSucceeded,
    /// Refund attempts the gateway declined (tried again).
    RefundsDeclined,
    /// How old an event is when the worker applies it: the stream's and the worker's delay.
    WorkerLag,
    /// Hold expiries put on the delay queue, one per booking written.
    ExpiriesScheduled,
    /// How old a booking is when its expiry is sent: the bookings stream's and the scheduler's delay.
    ExpiryLag,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Self::BookingsCreated => "BookingsCreated",
            Self::SeatsUnavailable => "SeatsUnavailable",
            Self::PaymentsSucceeded => "PaymentsSucceeded",
            Self::PaymentsFailed => "PaymentsFailed",
            Self::PaymentsProcessing => "PaymentsProcessing",
            Self::HoldsExpired => "HoldsExpired",
            Self::EventsProcessed => "EventsProcessed",
            Self::NotificationsParked => "NotificationsParked",
            Self::RefundsOwed => "RefundsOwed",
            Self::NotificationMismatches => "NotificationMismatches",
            Self::NotificationContradictions => "NotificationContradictions",
            Self::PaymentsReconciled => "PaymentsReconciled",
            Self::PaymentsVoided => "PaymentsVoided",
            Self::BookingsCancelled => "BookingsCancelled",
            Self::RefundsAsked => "RefundsAsked",
            Self::RefundsSucceeded => "RefundsSucceeded",
            Self::RefundsDeclined => "RefundsDeclined",
            Self::WorkerLag => "WorkerLag",
            Self::ExpiriesScheduled => "ExpiriesScheduled",
            Self::ExpiryLag => "ExpiryLag",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::WorkerLag | Self::ExpiryLag => "Milliseconds",
            _ => "Count",
        }
    }
}

struct Emitter {
    enabled: bool,
    function: String,
}

fn emitter() -> &'static Emitter {
    static EMITTER: OnceLock<Emitter> = OnceLock::new();
    EMITTER.get_or_init(|| {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok();
        let enabled = match std::env::var("METRICS").as_deref() {
            Ok("emf") => true,
            Ok("off") => false,
            _ => function.is_some(),
        };
        Emitter {
            enabled,
            function: function.unwrap_or_else(|| "local".to_owned()),
        }
    })
}

/// The EMF document of one data point.
pub fn document(metric: Metric, value: f64, function: &str, timestamp_millis: i64) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit()}],
            }],
        },
        "Function": function,
    });
    doc[metric.name()] = json!(value);
    doc
}

/// Records one data point.
pub fn record(metric: Metric, value: f64) {
    let emitter = emitter();
    if emitter.enabled {
        let now = SystemClock.now().as_millis();
        println!("{}", document(metric, value, &emitter.function, now));
    }
}

pub fn count(metric: Metric) {
    record(metric, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_point_is_an_emf_document() {
        let doc = document(Metric::WorkerLag, 42.0, "process-events", 1_700_000_000_000);
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "WorkerLag", "Unit": "Milliseconds"}])
        );
        assert_eq!(doc["Function"], "process-events");
        assert_eq!(doc["WorkerLag"], 42.0);
    }
}
