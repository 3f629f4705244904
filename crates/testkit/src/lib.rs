//! What the service's integration tests (`tests/api`) and its benchmarks (`benches/`) share, so
//! neither keeps a copy of the other's helpers: a photo server playing Supabase Storage, a fresh
//! database per test or bench with the project's migrations, simulated terminals on loopback, the
//! test stack's environment, bounded waits on a condition, and the benches' runtime.
//!
//! Dev only: a dev-dependency of the root package, never published.

pub mod database;
pub mod photos;
pub mod runtime;
pub mod stack;
pub mod terminals;
pub mod wait;

pub use database::{Database, apply_migrations, execute, fresh_database};
pub use photos::PhotoServer;
pub use runtime::{BoxError, block_on_bench};
pub use stack::Stack;
pub use terminals::{enrol, spawn_terminal, spawn_terminal_at};
pub use wait::wait_until;
