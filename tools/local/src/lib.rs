//! Running the Lambda functions on one machine (`make dev`) and testing them on DynamoDB Local: the
//! emulators, the tables of `template.yaml`, the stream poller that feeds `process-events`, and the
//! queue poller that feeds `expire-holds`.

pub mod bench;
pub mod emulator;
pub mod functions;
pub mod poller;
pub mod queues;
pub mod redrive;
pub mod runtime_api;
pub mod tables;
