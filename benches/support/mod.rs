//! Pieces of the `fanout` benchmark: the service in a child process, the simulated fleet and
//! photo server in the bench process, and the statistics and `/proc` readings.

pub mod child;
pub mod fleet;
pub mod stats;

/// The error type of the benchmark: any error, with a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
