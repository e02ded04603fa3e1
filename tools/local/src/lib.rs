//! Running the ticketing functions on one machine: an HTTP server for the in-process API (`make run`),
//! the tables of `template.yaml` on DynamoDB Local, and the stream poller that feeds `process-events`
//! under `cargo lambda watch` (`make dev`).

pub mod emulator;
pub mod http_server;
pub mod poller;
pub mod tables;
