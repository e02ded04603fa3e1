//! The use cases, one service per file, each built with every part it needs. A Lambda function builds
//! exactly one of them; the local server builds them all over one store.

mod cancel_booking;
mod create_booking;
mod errors;
mod execute_payment;
mod expire_holds;
mod idempotency;
mod list_bookings;
mod manage_performances;
mod performance_cache;
mod receive_webhook;
mod refunds;
mod schedule_expiries;
mod seat_map;
mod seat_search;
mod settle_events;

pub use cancel_booking::{CancelBooking, CancelPolicy};
pub use create_booking::{BookingRequest, CreateBooking, HoldPolicy};
pub use errors::{ApplyError, FlowError};
pub use execute_payment::{ExecutePayment, Gateway, PaymentRequest, ProcessingPolicy};
pub use expire_holds::ExpireHolds;
pub use idempotency::Idempotency;
pub use list_bookings::ListBookings;
pub use manage_performances::{
    load_catalog, ManagePerformances, PerformanceChanges, PerformanceDraft, SalesLine, SalesReport,
};
pub use performance_cache::{PerformanceCache, DEFAULT_TTL as DEFAULT_CATALOG_TTL};
pub use receive_webhook::{Receipt, ReceiveWebhook, WebhookError, WebhookSecret};
pub use refunds::Refunder;
pub use schedule_expiries::{ScheduleExpiries, EXPIRY_MARGIN};
pub use seat_map::SeatMap;
pub use settle_events::{InboxEvent, SettleEvents};
