//! Access events from the terminals into the project's database, exactly once: the store
//! ([`store::EventStore`], Postgres or memory), the rule that keeps writes idempotent across
//! push, catch-up and terminal resets ([`model::decide`]), the pushes' group commit
//! ([`batch::PushBatcher`]), the catch-up by serial number, the push registration and the push
//! body parser.

pub mod batch;
pub mod catchup;
pub mod clock;
pub mod ingest;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod postgres;
pub mod register;
pub mod service;
pub mod store;
pub mod token;
pub mod wire;

pub use service::{Events, PushState, SharedCredentials, TerminalEvents};

use crate::database::DbFailure;

/// Why an event store call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EventError {
    /// A query failed.
    #[error("the event store failed: {0}")]
    Store(String),
    /// The database does not answer (an outage to ride through).
    #[error("the event store does not answer: {0}")]
    Unavailable(String),
}

impl EventError {
    /// True when the database did not answer.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DbFailure> for EventError {
    fn from(failure: DbFailure) -> Self {
        match failure {
            DbFailure::Unavailable(why) => Self::Unavailable(why),
            DbFailure::Failed(why) => Self::Store(why),
        }
    }
}

impl From<tokio_postgres::Error> for EventError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbFailure::from(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for EventError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        DbFailure::from(e).into()
    }
}
