//! Ticketing on AWS: the adapters that plug `ticketing-core`'s ports into DynamoDB, SQS and the
//! simulated gateway, and the handlers Lambda invokes.
//!
//! # Layout
//!
//! - [`config`]: the environment, read at cold start, and one builder per function's service.
//! - Outbound: [`dynamodb`] (every storage port, one file per port), [`sqs`] (the expiry queue),
//!   [`gateway`] (the simulated gateway's signed callback).
//! - Inbound: [`http`] (one file per API route), [`events`] (the stream and queue batch handlers).

pub mod config;
pub mod dynamodb;
pub mod events;
pub mod gateway;
pub mod http;
pub mod sqs;
