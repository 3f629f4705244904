//! The event store's interface: Postgres in production ([`super::postgres::PgEventStore`]),
//! memory in the demo and the tests ([`super::memory::MemoryEventStore`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::EventError;
use super::model::{EventCursor, EventQuery, IncomingEvent, RecordRequest, Recorded, StoredEvent};

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

    /// Stores several requests (of several terminals, a terminal perhaps more than once) at
    /// once, all or none: each request as its own [`EventStore::record`] call in the order given
    /// would, with one [`Recorded`] per request in that order. The pushes' group commit
    /// ([`super::batch::PushBatcher`]) writes through it: one transaction for many pushes.
    fn record_batch<'a>(
        &'a self,
        requests: &'a [RecordRequest<'a>],
    ) -> EventFuture<'a, Vec<Recorded>>;

    /// Where a terminal's events stand (all zero for a terminal never seen).
    fn cursor<'a>(&'a self, device_id: &'a str) -> EventFuture<'a, EventCursor>;

    /// Stored events matching `query`, newest first.
    fn list<'a>(&'a self, query: &'a EventQuery) -> EventFuture<'a, Vec<StoredEvent>>;

    /// When each of `device_ids` had its newest stored event (`occurred_at`); a terminal with
    /// none is absent. This default asks [`EventStore::list`] once per terminal; a store across
    /// a network answers in one round trip ([`super::postgres::PgEventStore`]).
    fn newest_events_at<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> EventFuture<'a, HashMap<String, DateTime<Utc>>> {
        async move {
            let mut newest = HashMap::new();
            for id in device_ids {
                let query = EventQuery {
                    device_id: Some(id.clone()),
                    limit: 1,
                    ..EventQuery::default()
                };
                if let Some(event) = self.list(&query).await?.first() {
                    newest.insert(id.clone(), event.occurred_at);
                }
            }
            Ok(newest)
        }
        .boxed()
    }

    /// Deletes events that occurred before `before`; returns how many.
    fn prune(&self, before: DateTime<Utc>) -> EventFuture<'_, u64>;
}
