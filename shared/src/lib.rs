//! Ticketing: book seats to a performance, pay through a (simulated) payment gateway, and let a
//! background worker confirm or fail the booking, settle its seats and write the ledger.
//!
//! - [`domain`]: validated values, lifecycles, seat allocation, the ledger, the payment gateway.
//! - [`catalog`]: performances, their prices and halls.
//! - [`booking`]: the synchronous flows; [`worker`]: the asynchronous one; [`expiry`]: holds that lapse.
//! - [`metrics`]: business metrics in CloudWatch's embedded metric format.
//! - [`idempotency`]: idempotency keys, remembered in the transaction of their effect.
//! - [`store`]: storage traits with DynamoDB and in-memory implementations.
//! - [`stream`]: the DynamoDB Streams event shape, and the in-process stream of the in-memory store.
//! - [`webhook`]: the payment gateway's signed notifications.
//! - [`audit`]: the ledger audit over everything stored.
//! - [`api`]: the HTTP adapter; [`wiring`]: what each Lambda function builds at cold start.

pub mod api;
pub mod audit;
pub mod booking;
pub mod catalog;
pub mod domain;
pub mod expiry;
pub mod idempotency;
pub mod metrics;
pub mod store;
pub mod stream;
pub mod webhook;
pub mod wiring;
pub mod worker;

/// Lower-case hexadecimal, as digests are written in keys and signatures.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}
