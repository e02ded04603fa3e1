//! Running the Lambda functions on one machine (`make dev`) and testing them on DynamoDB Local: the
//! emulator, the tables of `template.yaml`, and the stream poller that feeds `process-events`.

pub mod emulator;
pub mod poller;
pub mod tables;
