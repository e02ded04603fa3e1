//! The local tools: `make dev` (the functions under `cargo lambda watch`, fed by the stream and queue
//! pollers), `make bench`, `make audit` and `make redrive`.
//!
//! - [`invoke`]: invocations of a function through the Lambda Invoke API, as the mappings of
//!   `make dev` make them.
//! - [`redrive`]: the stream's dead letters, applied again.
//! - [`runtime_api`]: a stand-in of the Lambda Runtime API, and [`functions`]: the release binaries run
//!   under it, for the bench.
//! - [`sam`]: functions run by `sam local invoke`, for `make sam-local` and `make sam-test`.
//! - [`stack`]: the tables and queues of `template.yaml` on the emulators, for `make dev` and SAM.
//! - [`bench`]: the measurements behind `BENCHMARKS.md`.

pub mod bench;
pub mod functions;
pub mod invoke;
pub mod redrive;
pub mod runtime_api;
pub mod sam;
pub mod stack;
