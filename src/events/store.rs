//! The event store's interface: Postgres in production ([`super::postgres::PgEventStore`]),
//! memory in the demo and the tests ([`super::memory::MemoryEventStore`]).

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::EventError;
use super::model::{EventCursor, EventQuery, IncomingEvent, Recorded, StoredEvent};

/// Result of an event store call.
pub type EventFuture<'a, T> = BoxFuture<'a, Result<T, EventError>>;

/// Durable access events, one row per (device, epoch, serial number).
pub trait EventStore: Send + Sync {
    /// Stores `events` of `device_id` (in the order given), each at most once, following
    /// [`super::model::decide`]; with `read_through`, the catch-up read every event the terminal
    /// holds up to that serial number, so the watermark moves at least there. Writes of one
    /// terminal are serialised, so a push and a catch-up can race.
    fn record<'a>(
        &'a self,
        device_id: &'a str,
        events: &'a [IncomingEvent],
        read_through: Option<i64>,
    ) -> EventFuture<'a, Recorded>;

    /// Where a terminal's events stand (all zero for a terminal never seen).
    fn cursor<'a>(&'a self, device_id: &'a str) -> EventFuture<'a, EventCursor>;

    /// Stored events matching `query`, newest first.
    fn list<'a>(&'a self, query: &'a EventQuery) -> EventFuture<'a, Vec<StoredEvent>>;

    /// Deletes events that occurred before `before`; returns how many.
    fn prune(&self, before: DateTime<Utc>) -> EventFuture<'_, u64>;
}
