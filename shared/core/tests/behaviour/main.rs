//! The core's behaviour, one file per feature and one behaviour per test, through the HTTP routes and
//! the worker as they run in production, over the in-memory store and (where a test says so) the
//! official DynamoDB Local. The tests of the emulators themselves are in `tools/local/tests`.

mod helpers;

mod bad_input;
mod booking;
mod cancellation;
mod contention;
mod contract;
mod expiry;
mod idempotency;
mod identity;
mod ordering;
mod payment;
mod performances;
mod processing;
mod seat_map;
mod seat_search;
mod webhooks;
mod worker;
