//! The event store in memory: the demo without a database, and the tests. Employee numbers are
//! not mapped to employees here (the Postgres store maps them through the delivery table).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures::FutureExt;

use super::EventError;
use super::model::{
    EventCursor, EventQuery, IncomingEvent, Placement, RecordRequest, Recorded, StoredEvent,
    advance, decide,
};
use super::store::{EventFuture, EventStore};

/// Events and cursors behind one mutex.
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Keyed by (device, epoch, serial).
    events: BTreeMap<(String, i32, i64), StoredEvent>,
    cursors: HashMap<String, EventCursor>,
}

impl Inner {
    fn record(
        &mut self,
        device_id: &str,
        events: &[IncomingEvent],
        read_through: Option<i64>,
    ) -> Recorded {
        let before = self.cursors.get(device_id).copied().unwrap_or_default();
        let mut cursor = before;
        let (mut stored, mut duplicates) = (0, 0);
        let now = Utc::now();
        for event in events {
            let key = (device_id.to_owned(), cursor.epoch, event.serial_no);
            let existing = self.events.get(&key).map(StoredEvent::fingerprint);
            let epoch = match decide(&cursor, event, existing.as_ref()) {
                Placement::Duplicate => {
                    duplicates += 1;
                    continue;
                }
                Placement::Insert => cursor.epoch,
                Placement::NewEpoch => {
                    cursor = EventCursor {
                        epoch: cursor.epoch + 1,
                        watermark: 0,
                        last_serial: 0,
                    };
                    cursor.epoch
                }
            };
            let row = StoredEvent::from_incoming(device_id, epoch, event, None, now);
            self.events
                .insert((device_id.to_owned(), epoch, event.serial_no), row);
            cursor.last_serial = cursor.last_serial.max(event.serial_no);
            stored += 1;
        }
        let above: Vec<i64> = self
            .events
            .range(
                (device_id.to_owned(), cursor.epoch, cursor.watermark + 1)
                    ..=(device_id.to_owned(), cursor.epoch, i64::MAX),
            )
            .map(|((_, _, serial), _)| *serial)
            .collect();
        // A read-through of an epoch the batch replaced belongs to that old epoch.
        let through = (cursor.epoch == before.epoch)
            .then_some(read_through)
            .flatten();
        cursor.watermark = advance(cursor.watermark, &above, through);
        cursor.last_serial = cursor.last_serial.max(cursor.watermark);
        self.cursors.insert(device_id.to_owned(), cursor);
        Recorded {
            stored,
            duplicates,
            cursor,
            before,
        }
    }
}

impl MemoryEventStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventStore for MemoryEventStore {
    fn record<'a>(
        &'a self,
        device_id: &'a str,
        events: &'a [IncomingEvent],
        read_through: Option<i64>,
    ) -> EventFuture<'a, Recorded> {
        let recorded = self.lock().record(device_id, events, read_through);
        async move { Ok::<_, EventError>(recorded) }.boxed()
    }

    fn record_batch<'a>(
        &'a self,
        requests: &'a [RecordRequest<'a>],
    ) -> EventFuture<'a, Vec<Recorded>> {
        // One after the other under one lock: all at once, as one transaction.
        let mut inner = self.lock();
        let recorded: Vec<Recorded> = requests
            .iter()
            .map(|r| inner.record(r.device_id, r.events, r.read_through))
            .collect();
        drop(inner);
        async move { Ok::<_, EventError>(recorded) }.boxed()
    }

    fn cursor<'a>(&'a self, device_id: &'a str) -> EventFuture<'a, EventCursor> {
        let cursor = self
            .lock()
            .cursors
            .get(device_id)
            .copied()
            .unwrap_or_default();
        async move { Ok(cursor) }.boxed()
    }

    fn list<'a>(&'a self, query: &'a EventQuery) -> EventFuture<'a, Vec<StoredEvent>> {
        let mut found: Vec<StoredEvent> = self
            .lock()
            .events
            .values()
            .filter(|e| query.matches(e))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            b.occurred_at
                .cmp(&a.occurred_at)
                .then_with(|| a.device_id.cmp(&b.device_id))
                .then_with(|| b.epoch.cmp(&a.epoch))
                .then_with(|| b.serial_no.cmp(&a.serial_no))
        });
        found.truncate(query.limit);
        async move { Ok(found) }.boxed()
    }

    fn prune(&self, before: DateTime<Utc>) -> EventFuture<'_, u64> {
        let mut inner = self.lock();
        let count = inner.events.len();
        inner.events.retain(|_, e| e.occurred_at >= before);
        let pruned = (count - inner.events.len()) as u64;
        async move { Ok(pruned) }.boxed()
    }
}
