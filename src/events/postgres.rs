//! The event store in the project's Postgres (`supabase/migrations/0007_*.sql`), on a pool of its
//! own. One transaction per `record` or `record_batch`, holding the cursor rows of its terminals
//! (locked in device id order), so a batch of pushes and a catch-up of the same terminal take
//! turns; four round trips and a commit whatever the number of events and terminals.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::FutureExt;
use tokio_postgres::Row;

use super::EventError;
use super::model::{
    BatchPlan, EventCursor, EventQuery, Fingerprint, Found, IncomingEvent, RecordRequest, Recorded,
    StoredEvent, plan_batch,
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

    /// One transaction for all `requests`, in the same round trips whatever their number:
    /// BEGIN; every terminal's cursor row made if missing, locked and read in device id order
    /// (one statement, so two batches, or a batch and a catch-up, never wait on each other in a
    /// circle); what the store holds at the requests' serial numbers and above each watermark
    /// (one statement, run once the locks are held, so it sees every write that held them
    /// before); the rows and the new cursors (one statement); COMMIT.
    async fn record_batch_now(
        &self,
        requests: &[RecordRequest<'_>],
    ) -> Result<Vec<Recorded>, EventError> {
        let mut devices: Vec<&str> = requests.iter().map(|r| r.device_id).collect();
        devices.sort_unstable();
        devices.dedup();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut found: HashMap<String, Found> = HashMap::with_capacity(devices.len());
        for row in tx
            .query(&tx.prepare_cached(LOCK_CURSORS).await?, &[&devices])
            .await?
        {
            let cursor = EventCursor {
                epoch: row.try_get(1)?,
                watermark: row.try_get(2)?,
                last_serial: row.try_get(3)?,
            };
            found.insert(
                row.try_get(0)?,
                Found {
                    cursor,
                    ..Found::default()
                },
            );
        }
        let epoch_of = |device: &str| found.get(device).map_or(0, |f| f.cursor.epoch);
        let mut asked: (Vec<&str>, Vec<i32>, Vec<i64>) = Default::default();
        for request in requests {
            let epoch = epoch_of(request.device_id);
            for event in request.events {
                asked.0.push(request.device_id);
                asked.1.push(epoch);
                asked.2.push(event.serial_no);
            }
        }
        let marks: Vec<(&str, i32, i64)> = devices
            .iter()
            .map(|&d| {
                let c = found.get(d).map(|f| f.cursor).unwrap_or_default();
                (d, c.epoch, c.watermark)
            })
            .collect();
        let mark_devices: Vec<&str> = marks.iter().map(|m| m.0).collect();
        let mark_epochs: Vec<i32> = marks.iter().map(|m| m.1).collect();
        let mark_watermarks: Vec<i64> = marks.iter().map(|m| m.2).collect();
        for row in tx
            .query(
                &tx.prepare_cached(READ_HELD).await?,
                &[
                    &asked.0,
                    &asked.1,
                    &asked.2,
                    &mark_devices,
                    &mark_epochs,
                    &mark_watermarks,
                ],
            )
            .await?
        {
            let device: String = row.try_get(0)?;
            let serial: i64 = row.try_get(1)?;
            let is_held: bool = row.try_get(6)?;
            let entry = found.entry(device).or_default();
            if is_held {
                entry.held.insert(
                    serial,
                    Fingerprint {
                        terminal_time: row.try_get(2)?,
                        major: row.try_get(3)?,
                        minor: row.try_get(4)?,
                        employee_no: row.try_get(5)?,
                    },
                );
            } else {
                entry.above.push(serial);
            }
        }
        let plan = plan_batch(requests, found, Utc::now());
        let inserted = write(&tx, &plan).await?;
        tx.commit().await?;
        // Each request counts the rows that were really inserted (the key makes a row someone
        // else inserted a no-op; under the cursor locks there is no such row).
        let owner: HashMap<(&str, i32, i64), usize> = plan
            .rows
            .iter()
            .zip(&plan.owners)
            .map(|(r, &i)| ((r.device_id.as_str(), r.epoch, r.serial_no), i))
            .collect();
        let mut recorded = plan.recorded;
        for r in &mut recorded {
            r.stored = 0;
        }
        for (device, epoch, serial) in &inserted {
            if let Some(r) = owner
                .get(&(device.as_str(), *epoch, *serial))
                .and_then(|&i| recorded.get_mut(i))
            {
                r.stored += 1;
            }
        }
        Ok(recorded)
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

/// Makes every terminal's cursor row if missing, and locks and reads them in device id order
/// (`$1` sorted and without repeats).
const LOCK_CURSORS: &str = "insert into hikvision_sync.event_cursor (device_id)
     select d from unnest($1::text[]) as d order by d
     on conflict (device_id) do update set device_id = excluded.device_id
     returning device_id, epoch, watermark, last_serial";

/// What the store holds at the asked (device, epoch, serial) triples (`held` true, with the
/// fingerprint), and the serial numbers stored above each terminal's watermark in its epoch
/// (`held` false).
const READ_HELD: &str = "select x.device_id, e.serial_no, e.terminal_time, e.major, e.minor,
            e.employee_no, true as held
     from unnest($1::text[], $2::int[], $3::bigint[]) as x(device_id, epoch, serial_no)
     join hikvision_sync.access_event e
       on e.device_id = x.device_id and e.epoch = x.epoch and e.serial_no = x.serial_no
     union all
     select m.device_id, a.serial_no, null, null, null, null, false
     from unnest($4::text[], $5::int[], $6::bigint[]) as m(device_id, epoch, watermark)
     cross join lateral (
         select e.serial_no from hikvision_sync.access_event e
         where e.device_id = m.device_id and e.epoch = m.epoch and e.serial_no > m.watermark
         order by e.serial_no limit 100000) as a";

/// Inserts the rows (the key makes a repeat a no-op), mapping each employee number to the
/// employee the delivery table gives it on that terminal (one who should hold it before one it
/// was removed from), and sets the cursors; returns the keys of the rows inserted.
const WRITE: &str = "with inserted as (
       insert into hikvision_sync.access_event
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
       on conflict do nothing
       returning device_id, epoch, serial_no
     ), moved as (
       update hikvision_sync.event_cursor c
       set epoch = m.epoch, watermark = m.watermark, last_serial = m.last_serial,
           updated_at = now()
       from unnest($15::text[], $16::int[], $17::bigint[], $18::bigint[])
            as m(device_id, epoch, watermark, last_serial)
       where c.device_id = m.device_id
     )
     select device_id, epoch, serial_no from inserted";

/// Writes `plan` (its rows and cursors) in one statement; returns the keys of the rows inserted.
async fn write(
    tx: &deadpool_postgres::Transaction<'_>,
    plan: &BatchPlan,
) -> Result<Vec<(String, i32, i64)>, EventError> {
    let rows = &plan.rows;
    let col = |f: fn(&StoredEvent) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let device: Vec<&str> = rows.iter().map(|r| r.device_id.as_str()).collect();
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
    let kind: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let major: Vec<i32> = rows.iter().map(|r| r.major).collect();
    let minor: Vec<i32> = rows.iter().map(|r| r.minor).collect();
    let door: Vec<Option<i32>> = rows.iter().map(|r| r.door_no).collect();
    let live: Vec<bool> = rows.iter().map(|r| r.live).collect();
    let cursor_device: Vec<&str> = plan.cursors.keys().map(String::as_str).collect();
    let cursor_epoch: Vec<i32> = plan.cursors.values().map(|c| c.epoch).collect();
    let cursor_watermark: Vec<i64> = plan.cursors.values().map(|c| c.watermark).collect();
    let cursor_last: Vec<i64> = plan.cursors.values().map(|c| c.last_serial).collect();
    let statement = tx.prepare_cached(WRITE).await?;
    let inserted = tx
        .query(
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
                &cursor_device,
                &cursor_epoch,
                &cursor_watermark,
                &cursor_last,
            ],
        )
        .await?;
    inserted
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

impl EventStore for PgEventStore {
    fn record<'a>(
        &'a self,
        device_id: &'a str,
        events: &'a [IncomingEvent],
        read_through: Option<i64>,
    ) -> EventFuture<'a, Recorded> {
        async move {
            let request = RecordRequest {
                device_id,
                events,
                read_through,
            };
            self.record_batch_now(std::slice::from_ref(&request))
                .await?
                .pop()
                .ok_or_else(|| EventError::Store("a batch of one recorded nothing".into()))
        }
        .boxed()
    }

    fn record_batch<'a>(
        &'a self,
        requests: &'a [RecordRequest<'a>],
    ) -> EventFuture<'a, Vec<Recorded>> {
        self.record_batch_now(requests).boxed()
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

    /// One statement for every terminal: the status of a 1,000-terminal fleet asked 1,000
    /// queries one after another (about 0.5 s on the same machine, 1,000 round trips across a
    /// network). Each terminal's newest row is found as [`EventStore::list`] finds it.
    fn newest_events_at<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> EventFuture<'a, HashMap<String, DateTime<Utc>>> {
        async move {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "select d.id, (select e.occurred_at from hikvision_sync.access_event e
                                   where e.device_id = d.id
                                   order by e.occurred_at desc, e.epoch desc, e.serial_no desc
                                   limit 1)
                     from unnest($1::text[]) as d(id)",
                    &[&device_ids],
                )
                .await?;
            let mut newest = HashMap::with_capacity(rows.len());
            for row in rows {
                let at: Option<DateTime<Utc>> = row.try_get(1)?;
                if let Some(at) = at {
                    newest.insert(row.try_get(0)?, at);
                }
            }
            Ok(newest)
        }
        .boxed()
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
