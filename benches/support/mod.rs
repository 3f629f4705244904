//! Pieces of the `fanout` benchmark: its command line, the model of a fan-out, the cells it
//! measures and the sections that measure them, the service in a child process, the simulated
//! fleet and photo server in the bench process, the statistics and `/proc` readings, and the
//! Markdown report.

pub mod cells;
pub mod child;
pub mod durable;
pub mod fleet;
pub mod model;
pub mod options;
pub mod overhead;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod webhook;

pub use hikvision_testkit::BoxError;
