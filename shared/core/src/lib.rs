//! Ticketing's core: book seats to a performance, pay through a (simulated) payment gateway, and let a
//! background worker confirm or fail the booking, settle its seats and write the ledger. Nothing here
//! knows AWS, Lambda or HTTP; the adapters in `ticketing-aws` (and `ticketing-testkit` for one machine)
//! plug into the ports.
//!
//! # Layout
//!
//! - [`domain`]: validated values, the lifecycles as data, seat allocation, the ledger, the simulated
//!   gateway's answer. Pure: no I/O.
//! - [`catalog`]: performances, their prices and halls.
//! - [`ports`]: what the use cases need of the outside world (storage, the expiry queue, the gateway's
//!   callback), with the contract each implementation keeps.
//! - [`app`]: the use cases, one service per file: create a booking, execute a payment, list a user's
//!   bookings, the seat map, receive a gateway notification, settle inbox events, expire holds.
//! - [`idempotency`]: `Idempotency-Key` semantics: claim, replay, finish.
//! - [`webhook`]: the gateway's notifications and their signatures.
//! - [`audit`]: the ledger's and the seat locks' promises, checked over everything stored.
//! - [`metrics`]: business metrics in CloudWatch's embedded metric format, as log lines.

pub mod app;
pub mod audit;
pub mod catalog;
pub mod domain;
pub mod idempotency;
pub mod metrics;
pub mod ports;
pub mod webhook;

/// Lower-case hexadecimal, as digests are written in keys and signatures.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// The bytes of lower-case (or upper-case) hexadecimal text; `None` when it is not.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
