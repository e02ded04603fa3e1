//! Ticketing on one machine, for `make run`, `make dev`, the tests and the bench; no Lambda function
//! links it.
//!
//! # Layout
//!
//! - [`memory`]: the in-memory store, one file per port as the DynamoDB store's.
//! - [`in_process`]: the in-process delay queue of hold expiries, and its consumer.
//! - [`mapping`]: the DynamoDB Streams event source mapping: record shapes, batching, retries, dead
//!   letters; the in-memory store's stream as a shard.
//! - [`local`]: every use case over one store, and the router of the local server;
//!   [`http_server`]: a router served over HTTP on a local port, as API Gateway hands requests on.
//! - [`inspect`]: reads of the whole state for tests and tools; [`test_app`]: the API as tests drive it.
//! - [`contract`]: the storage contract, one case per function, run against both stores.
//! - [`emulator`]: DynamoDB Local and moto (SQS), started on free ports and stopped when dropped;
//!   [`tables`]: the tables of `template.yaml`, created from the template itself; [`streams`]: the
//!   events table's stream on DynamoDB Local as a shard; [`queues`]: SQS queues with their dead-letter
//!   queues, and the SQS event source mapping.

pub mod contract;
pub mod emulator;
pub mod http_server;
pub mod in_process;
pub mod inspect;
pub mod local;
pub mod mapping;
pub mod memory;
pub mod queues;
pub mod streams;
pub mod tables;
pub mod test_app;
