//! The event store in the project's Postgres (`supabase/migrations/0007_*.sql`), on the pool
//! durable delivery uses. One transaction per `record`, holding the terminal's cursor row, so a
//! push and a catch-up of the same terminal take turns.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::FutureExt;
use tokio_postgres::Row;

use super::EventError;
use super::model::{
    EventCursor, EventQuery, Fingerprint, IncomingEvent, Placement, Recorded, StoredEvent, advance,
    decide,
};
use super::store::{EventFuture, EventStore};

/// The store on a Postgres pool.
#[derive(Clone)]
pub struct PgEventStore {
    pool: Pool,
}

impl std::fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEventStore").finish_non_exhaustive()
    }
}

const COLUMNS: &str = "device_id, epoch, serial_no, terminal_time, occurred_at, received_at, kind, \
     major, minor, employee_no, angajat_id, door_no, verify_mode, attendance_status, live";

fn event_of(row: &Row) -> Result<StoredEvent, EventError> {
    Ok(StoredEvent {
        device_id: row.try_get("device_id")?,
        epoch: row.try_get("epoch")?,
        serial_no: row.try_get("serial_no")?,
        terminal_time: row.try_get("terminal_time")?,
        occurred_at: row.try_get("occurred_at")?,
        received_at: row.try_get("received_at")?,
        kind: row.try_get("kind")?,
        major: row.try_get("major")?,
        minor: row.try_get("minor")?,
        employee_no: row.try_get("employee_no")?,
        angajat_id: row.try_get("angajat_id")?,
        door_no: row.try_get("door_no")?,
        verify_mode: row.try_get("verify_mode")?,
        attendance_status: row.try_get("attendance_status")?,
        live: row.try_get("live")?,
    })
}

impl PgEventStore {
    /// The store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn record_now(
        &self,
        device_id: &str,
        events: &[IncomingEvent],
        read_through: Option<i64>,
    ) -> Result<Recorded, EventError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            &tx.prepare_cached(
                "insert into hikvision_sync.event_cursor (device_id) values ($1) on conflict do nothing",
            )
            .await?,
            &[&device_id],
        )
        .await?;
        let row = tx
            .query_one(
                &tx.prepare_cached(
                    "select epoch, watermark, last_serial from hikvision_sync.event_cursor
                 where device_id = $1 for update",
                )
                .await?,
                &[&device_id],
            )
            .await?;
        let before = EventCursor {
            epoch: row.try_get(0)?,
            watermark: row.try_get(1)?,
            last_serial: row.try_get(2)?,
        };
        let serials: Vec<i64> = events.iter().map(|e| e.serial_no).collect();
        let mut held: HashMap<i64, Fingerprint> = HashMap::new();
        for row in tx
            .query(
                &tx.prepare_cached(
                    "select serial_no, terminal_time, major, minor, employee_no
                 from hikvision_sync.access_event
                 where device_id = $1 and epoch = $2 and serial_no = any($3)",
                )
                .await?,
                &[&device_id, &before.epoch, &serials],
            )
            .await?
        {
            held.insert(
                row.try_get(0)?,
                Fingerprint {
                    terminal_time: row.try_get(1)?,
                    major: row.try_get(2)?,
                    minor: row.try_get(3)?,
                    employee_no: row.try_get(4)?,
                },
            );
        }
        let mut cursor = before;
        let mut rows = Vec::new();
        let mut duplicates = 0;
        let now = Utc::now();
        for event in events {
            match decide(&cursor, event, held.get(&event.serial_no)) {
                Placement::Duplicate => {
                    duplicates += 1;
                    continue;
                }
                Placement::Insert => {}
                Placement::NewEpoch => {
                    cursor = EventCursor {
                        epoch: cursor.epoch + 1,
                        watermark: 0,
                        last_serial: 0,
                    };
                    held.clear();
                }
            }
            held.insert(event.serial_no, event.fingerprint());
            cursor.last_serial = cursor.last_serial.max(event.serial_no);
            rows.push(StoredEvent::from_incoming(
                device_id,
                cursor.epoch,
                event,
                None,
                now,
            ));
        }
        let stored = insert(&tx, &rows).await?;
        let above: Vec<i64> = tx
            .query(
                &tx.prepare_cached(
                    "select serial_no from hikvision_sync.access_event
                 where device_id = $1 and epoch = $2 and serial_no > $3
                 order by serial_no limit 100000",
                )
                .await?,
                &[&device_id, &cursor.epoch, &cursor.watermark],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let through = (cursor.epoch == before.epoch)
            .then_some(read_through)
            .flatten();
        cursor.watermark = advance(cursor.watermark, &above, through);
        cursor.last_serial = cursor.last_serial.max(cursor.watermark);
        tx.execute(
            &tx.prepare_cached(
                "update hikvision_sync.event_cursor
             set epoch = $2, watermark = $3, last_serial = $4, updated_at = now()
             where device_id = $1",
            )
            .await?,
            &[
                &device_id,
                &cursor.epoch,
                &cursor.watermark,
                &cursor.last_serial,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(Recorded {
            stored,
            duplicates,
            cursor,
            before,
        })
    }

    async fn list_now(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, EventError> {
        let client = self.pool.get().await?;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let after = q.after.as_ref();
        let rows = client
            .query(
                &format!(
                    "select {COLUMNS} from hikvision_sync.access_event
                     where ($1::uuid is null or angajat_id = $1)
                       and ($2::text is null or device_id = $2)
                       and ($3::timestamptz is null or occurred_at >= $3)
                       and ($4::timestamptz is null or occurred_at < $4)
                       and ($5::text is null or kind = $5)
                       and ($6::timestamptz is null
                            or occurred_at < $6
                            or (occurred_at = $6 and device_id > $7)
                            or (occurred_at = $6 and device_id = $7 and epoch < $8)
                            or (occurred_at = $6 and device_id = $7 and epoch = $8 and serial_no < $9))
                     order by occurred_at desc, device_id, epoch desc, serial_no desc
                     limit $10"
                ),
                &[
                    &q.angajat_id,
                    &q.device_id,
                    &q.from,
                    &q.to,
                    &q.kind,
                    &after.map(|p| p.occurred_at),
                    &after.map(|p| p.device_id.clone()),
                    &after.map(|p| p.epoch),
                    &after.map(|p| p.serial_no),
                    &limit,
                ],
            )
            .await?;
        rows.iter().map(event_of).collect()
    }
}

/// Inserts `rows` in one statement (the key makes a repeat a no-op), mapping each employee
/// number to the employee the delivery table gives it on that terminal (one who should hold it
/// before one it was removed from); returns how many.
async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[StoredEvent],
) -> Result<usize, EventError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let col = |f: fn(&StoredEvent) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let device: Vec<String> = rows.iter().map(|r| r.device_id.clone()).collect();
    let epoch: Vec<i32> = rows.iter().map(|r| r.epoch).collect();
    let serial: Vec<i64> = rows.iter().map(|r| r.serial_no).collect();
    let occurred: Vec<DateTime<Utc>> = rows.iter().map(|r| r.occurred_at).collect();
    let offset: Vec<Option<i32>> = rows
        .iter()
        .map(|r| {
            r.terminal_time
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.offset().local_minus_utc() / 60)
        })
        .collect();
    let kind: Vec<String> = rows.iter().map(|r| r.kind.clone()).collect();
    let major: Vec<i32> = rows.iter().map(|r| r.major).collect();
    let minor: Vec<i32> = rows.iter().map(|r| r.minor).collect();
    let door: Vec<Option<i32>> = rows.iter().map(|r| r.door_no).collect();
    let live: Vec<bool> = rows.iter().map(|r| r.live).collect();
    let statement = tx
        .prepare_cached(
            "insert into hikvision_sync.access_event
               (device_id, epoch, serial_no, terminal_time, occurred_at, utc_offset_minutes, kind,
                major, minor, employee_no, angajat_id, door_no, verify_mode, attendance_status, live)
             select x.device_id, x.epoch, x.serial_no, x.terminal_time, x.occurred_at, x.utc_offset,
                    x.kind, x.major, x.minor, x.employee_no,
                    (select d.angajat_id from hikvision_sync.delivery d
                     where d.device_id = x.device_id and d.employee_no = x.employee_no
                     order by (d.want = 'remove'), d.angajat_id limit 1),
                    x.door_no, x.verify_mode, x.attendance_status, x.live
             from unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::timestamptz[],
                         $6::int[], $7::text[], $8::int[], $9::int[], $10::text[], $11::int[],
                         $12::text[], $13::text[], $14::bool[])
                  as x(device_id, epoch, serial_no, terminal_time, occurred_at, utc_offset, kind,
                       major, minor, employee_no, door_no, verify_mode, attendance_status, live)
             on conflict do nothing",
        )
        .await?;
    let inserted = tx
        .execute(
            &statement,
            &[
                &device,
                &epoch,
                &serial,
                &col(|r| r.terminal_time.clone()),
                &occurred,
                &offset,
                &kind,
                &major,
                &minor,
                &col(|r| r.employee_no.clone()),
                &door,
                &col(|r| r.verify_mode.clone()),
                &col(|r| r.attendance_status.clone()),
                &live,
            ],
        )
        .await?;
    Ok(usize::try_from(inserted).unwrap_or(usize::MAX))
}

impl EventStore for PgEventStore {
    fn record<'a>(
        &'a self,
        device_id: &'a str,
        events: &'a [IncomingEvent],
        read_through: Option<i64>,
    ) -> EventFuture<'a, Recorded> {
        self.record_now(device_id, events, read_through).boxed()
    }

    fn cursor<'a>(&'a self, device_id: &'a str) -> EventFuture<'a, EventCursor> {
        async move {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    "select epoch, watermark, last_serial from hikvision_sync.event_cursor
                     where device_id = $1",
                    &[&device_id],
                )
                .await?;
            Ok(match row {
                Some(row) => EventCursor {
                    epoch: row.try_get(0)?,
                    watermark: row.try_get(1)?,
                    last_serial: row.try_get(2)?,
                },
                None => EventCursor::default(),
            })
        }
        .boxed()
    }

    fn list<'a>(&'a self, query: &'a EventQuery) -> EventFuture<'a, Vec<StoredEvent>> {
        self.list_now(query).boxed()
    }

    fn prune(&self, before: DateTime<Utc>) -> EventFuture<'_, u64> {
        async move {
            let client = self.pool.get().await?;
            Ok(client
                .execute(
                    "delete from hikvision_sync.access_event where occurred_at < $1",
                    &[&before],
                )
                .await?)
        }
        .boxed()
    }
}
