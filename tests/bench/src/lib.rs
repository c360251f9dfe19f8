//! The benchmark's parts: the budgets every count must meet, the operations it measures (run
//! through the real handlers in a test, or through the release binaries behind a loopback
//! Lambda Runtime API in `bash tests/bench.sh`), and that runtime API; and the authorizing
//! proxy's added latency and throughput.
#![forbid(unsafe_code)]

pub mod budget;
pub mod proxy;
pub mod runtime;
pub mod scenario;
