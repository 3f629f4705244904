//! Access events as the service keeps them, and the one rule both stores follow to keep every
//! write idempotent across push, catch-up and terminal resets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use uuid::Uuid;

/// How many events before the watermark the catch-up reads again, so an event stored by a push
/// that raced the previous read is seen (and skipped) rather than assumed.
pub const REREAD: i64 = 2;

/// One event as a terminal reported it (pushed or read by the catch-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingEvent {
    /// The terminal's serial number of the event (from 1).
    pub serial_no: i64,
    /// The terminal's time as sent, with its UTC offset (`2026-12-06T10:00:00+02:00`).
    pub terminal_time: Option<String>,
    /// Major type (5: access events).
    pub major: i32,
    /// Minor type (75: face verified, access granted; ...).
    pub minor: i32,
    /// The person's employee number, when the event names one.
    pub employee_no: Option<String>,
    /// Door number.
    pub door_no: Option<i32>,
    /// How the person was verified (`face`, `cardOrFace`, ...).
    pub verify_mode: Option<String>,
    /// Attendance status (`checkIn`, `checkOut`, ...), when present.
    pub attendance_status: Option<String>,
    /// True only when pushed as current (`currentEvent: true`); backlog and catch-up are false.
    pub live: bool,
}

impl IncomingEvent {
    /// The terminal's time parsed with the offset it carries; `None` when it is not a time.
    pub fn terminal_moment(&self) -> Option<DateTime<FixedOffset>> {
        self.terminal_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
    }

    /// What makes two reports the same event, besides the serial number: a terminal that was
    /// reset numbers different events with the same serials.
    pub fn same_event(&self, other: &Fingerprint) -> bool {
        self.fingerprint() == *other
    }

    /// The fingerprint of this event.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            terminal_time: self.terminal_time.clone(),
            major: self.major,
            minor: self.minor,
            employee_no: self.employee_no.clone(),
        }
    }

    /// The short human-readable kind of this event.
    pub fn kind(&self) -> String {
        kind_of(self.major, self.minor, self.employee_no.is_some())
    }
}

/// What identifies an event's content (time, type, person) apart from its serial number. Two
/// fingerprints are equal when type and person match and the times name the same second (the
/// push and the search may write the same moment differently, e.g. with or without fractions).
#[derive(Debug, Clone, Eq)]
pub struct Fingerprint {
    /// The terminal's time as sent.
    pub terminal_time: Option<String>,
    /// Major type.
    pub major: i32,
    /// Minor type.
    pub minor: i32,
    /// Employee number.
    pub employee_no: Option<String>,
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Self) -> bool {
        let second = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.timestamp())
        };
        let same_time = match (second(&self.terminal_time), second(&other.terminal_time)) {
            (Some(a), Some(b)) => a == b,
            _ => self.terminal_time == other.terminal_time,
        };
        same_time
            && self.major == other.major
            && self.minor == other.minor
            && self.employee_no == other.employee_no
    }
}

/// Major type of access-control events.
pub const MAJOR_ACCESS: i32 = 5;

/// The documented codes (major 5) by their short name; others are kept by number. A failed face
/// verification naming nobody is an unknown face (the terminal matched no one); naming someone,
/// that person was refused.
pub fn kind_of(major: i32, minor: i32, names_someone: bool) -> String {
    let known = match (major, minor) {
        (MAJOR_ACCESS, 75) => Some("face_granted"),
        (MAJOR_ACCESS, 76) if names_someone => Some("face_denied"),
        (MAJOR_ACCESS, 76) => Some("unknown_face"),
        (MAJOR_ACCESS, 21) => Some("lock_opened"),
        (MAJOR_ACCESS, 22) => Some("lock_closed"),
        (MAJOR_ACCESS, 23) => Some("door_opened"),
        (MAJOR_ACCESS, 24) => Some("door_closed"),
        _ => None,
    };
    known.map_or_else(|| format!("major_{major}_minor_{minor}"), str::to_owned)
}

/// Every short kind [`kind_of`] gives a documented code (for the API's `kind` filter).
pub const KINDS: &[&str] = &[
    "face_granted",
    "face_denied",
    "unknown_face",
    "lock_opened",
    "lock_closed",
    "door_opened",
    "door_closed",
];

/// Where a terminal's events stand in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EventCursor {
    /// The epoch in force (0 first; + 1 each time the serial numbers went backwards).
    pub epoch: i32,
    /// Every serial number up to this one is stored, or was never on the terminal.
    pub watermark: i64,
    /// The highest serial number stored in this epoch.
    pub last_serial: i64,
}

/// What the store does with one incoming event, given what it holds at that serial number in
/// the current epoch ([`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Already stored: nothing to do.
    Duplicate,
    /// New in the current epoch.
    Insert,
    /// The serial numbers went backwards: a new epoch starts with this event.
    NewEpoch,
}

/// The rule both stores follow. At or below the watermark every serial is accounted for, so a
/// report there is either the stored event again (a duplicate) or a different one (or one never
/// stored): the terminal was reset or its log wrapped, and a new epoch starts. Above the
/// watermark a free serial is a new event (perhaps filling a gap) and a taken one is a duplicate
/// unless its content differs (a reset whose new numbering overtook the watermark).
pub fn decide(
    cursor: &EventCursor,
    event: &IncomingEvent,
    stored: Option<&Fingerprint>,
) -> Placement {
    match stored {
        Some(fp) if event.same_event(fp) => Placement::Duplicate,
        Some(_) => Placement::NewEpoch,
        None if event.serial_no <= cursor.watermark => Placement::NewEpoch,
        None => Placement::Insert,
    }
}

/// The watermark after storing: the old one moved over every consecutive stored serial
/// (`stored_above`, ascending, all above `watermark`), and at least to `read_through` (the
/// catch-up read every event the terminal holds up to it).
pub fn advance(watermark: i64, stored_above: &[i64], read_through: Option<i64>) -> i64 {
    let mut mark = watermark.max(read_through.unwrap_or(0));
    for &serial in stored_above {
        if serial == mark + 1 {
            mark = serial;
        } else if serial > mark + 1 {
            break;
        }
    }
    mark
}

/// One terminal's write in a batch: its events in arrival order and, for the catch-up, the
/// serial number it read through (see [`super::store::EventStore::record`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordRequest<'a> {
    /// The terminal.
    pub device_id: &'a str,
    /// Its events, in the order given.
    pub events: &'a [IncomingEvent],
    /// The catch-up read every event the terminal holds up to this serial number.
    pub read_through: Option<i64>,
}

/// What the store holds for one terminal when a batch starts (read under its cursor lock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The terminal's cursor (all zero for one never seen).
    pub cursor: EventCursor,
    /// The stored events of `cursor.epoch` at the serial numbers the batch carries.
    pub held: HashMap<i64, Fingerprint>,
    /// The stored serial numbers of `cursor.epoch` above `cursor.watermark` (any order).
    pub above: Vec<i64>,
}

/// What a batch writes ([`plan_batch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// The rows to insert, in order.
    pub rows: Vec<StoredEvent>,
    /// For each row, the index of the request it belongs to.
    pub owners: Vec<usize>,
    /// For each request, what it did (its `stored` counts its planned rows).
    pub recorded: Vec<Recorded>,
    /// Each terminal's cursor after the batch.
    pub cursors: BTreeMap<String, EventCursor>,
}

/// One terminal's state while a batch is planned.
struct Running {
    cursor: EventCursor,
    held: HashMap<i64, Fingerprint>,
    above: BTreeSet<i64>,
}

/// Plans a batch of `requests` (several terminals, a terminal perhaps several times) on what the
/// store holds (`found`, per terminal; a terminal missing from it holds nothing): each request
/// is decided as if it were its own `record` call, in the order given, so every request gets
/// the [`Recorded`] that call would have given ([`decide`] per event, a new epoch when the
/// numbering went back, the watermark moved by [`advance`]).
pub fn plan_batch(
    requests: &[RecordRequest<'_>],
    mut found: HashMap<String, Found>,
    now: DateTime<Utc>,
) -> BatchPlan {
    let mut state: HashMap<&str, Running> = HashMap::new();
    let mut plan = BatchPlan::default();
    for (index, request) in requests.iter().enumerate() {
        let terminal = state.entry(request.device_id).or_insert_with(|| {
            let f = found.remove(request.device_id).unwrap_or_default();
            Running {
                cursor: f.cursor,
                held: f.held,
                above: f
                    .above
                    .into_iter()
                    .filter(|&s| s > f.cursor.watermark)
                    .collect(),
            }
        });
        let before = terminal.cursor;
        let mut cursor = before;
        let (mut stored, mut duplicates) = (0, 0);
        for event in request.events {
            match decide(&cursor, event, terminal.held.get(&event.serial_no)) {
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
                    // A new epoch holds nothing yet.
                    terminal.held.clear();
                    terminal.above.clear();
                }
            }
            terminal.held.insert(event.serial_no, event.fingerprint());
            if event.serial_no > cursor.watermark {
                terminal.above.insert(event.serial_no);
            }
            cursor.last_serial = cursor.last_serial.max(event.serial_no);
            plan.rows.push(StoredEvent::from_incoming(
                request.device_id,
                cursor.epoch,
                event,
                None,
                now,
            ));
            plan.owners.push(index);
            stored += 1;
        }
        // A read-through of an epoch the request replaced belongs to that old epoch.
        let through = (cursor.epoch == before.epoch)
            .then_some(request.read_through)
            .flatten();
        let above: Vec<i64> = terminal.above.iter().copied().collect();
        cursor.watermark = advance(cursor.watermark, &above, through);
        cursor.last_serial = cursor.last_serial.max(cursor.watermark);
        let mark = cursor.watermark;
        terminal.above.retain(|&s| s > mark);
        terminal.cursor = cursor;
        plan.cursors.insert(request.device_id.to_owned(), cursor);
        plan.recorded.push(Recorded {
            stored,
            duplicates,
            cursor,
            before,
        });
    }
    plan
}

/// What one `record` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Recorded {
    /// Events stored now.
    pub stored: usize,
    /// Events already stored (ignored).
    pub duplicates: usize,
    /// The cursor after the call.
    pub cursor: EventCursor,
    /// The cursor before the call (its `last_serial` tells a push whether it skipped events).
    pub before: EventCursor,
}

/// One stored event, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// The terminal.
    pub device_id: String,
    /// The terminal's numbering epoch (0, then + 1 after each reset or wrap).
    pub epoch: i32,
    /// The terminal's serial number of the event.
    pub serial_no: i64,
    /// The terminal's time as sent, with its UTC offset.
    pub terminal_time: Option<String>,
    /// The moment in UTC (the time received when the terminal's time is unreadable).
    pub occurred_at: DateTime<Utc>,
    /// When the service stored it.
    pub received_at: DateTime<Utc>,
    /// `face_granted`, `face_denied`, `unknown_face`, `door_opened`, ... or
    /// `major_<n>_minor_<m>`.
    pub kind: String,
    /// Major type.
    pub major: i32,
    /// Minor type.
    pub minor: i32,
    /// The employee number the terminal reported.
    pub employee_no: Option<String>,
    /// The employee it maps to (null when unknown).
    pub angajat_id: Option<Uuid>,
    /// Door number.
    pub door_no: Option<i32>,
    /// Verify mode.
    pub verify_mode: Option<String>,
    /// Attendance status, when present.
    pub attendance_status: Option<String>,
    /// True only for events current when pushed.
    pub live: bool,
}

impl StoredEvent {
    /// The stored form of `event` from `device_id` in `epoch`, received `now`.
    pub fn from_incoming(
        device_id: &str,
        epoch: i32,
        event: &IncomingEvent,
        angajat_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            device_id: device_id.to_owned(),
            epoch,
            serial_no: event.serial_no,
            terminal_time: event.terminal_time.clone(),
            occurred_at: event
                .terminal_moment()
                .map_or(now, |t| t.with_timezone(&Utc)),
            received_at: now,
            kind: event.kind(),
            major: event.major,
            minor: event.minor,
            employee_no: event.employee_no.clone(),
            angajat_id,
            door_no: event.door_no,
            verify_mode: event.verify_mode.clone(),
            attendance_status: event.attendance_status.clone(),
            live: event.live,
        }
    }

    /// The content fingerprint of the stored event.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            terminal_time: self.terminal_time.clone(),
            major: self.major,
            minor: self.minor,
            employee_no: self.employee_no.clone(),
        }
    }

    /// The keyset position of this event in the newest-first order.
    pub fn position(&self) -> Position {
        Position {
            occurred_at: self.occurred_at,
            device_id: self.device_id.clone(),
            epoch: self.epoch,
            serial_no: self.serial_no,
        }
    }
}

/// A place in the newest-first order: (occurred_at desc, device_id asc, epoch desc, serial desc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The event's moment.
    pub occurred_at: DateTime<Utc>,
    /// Its terminal.
    pub device_id: String,
    /// Its epoch.
    pub epoch: i32,
    /// Its serial number.
    pub serial_no: i64,
}

impl Position {
    /// True when `event` comes after this position in the newest-first order.
    pub fn is_before(&self, event: &StoredEvent) -> bool {
        let key = |p: &Position| {
            (
                std::cmp::Reverse(p.occurred_at),
                p.device_id.clone(),
                std::cmp::Reverse(p.epoch),
                std::cmp::Reverse(p.serial_no),
            )
        };
        key(self) < key(&event.position())
    }

    /// A cursor for the API: `<micros>_<epoch>_<serial>_<device id in hex>`.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.occurred_at.timestamp_micros(),
            self.epoch,
            self.serial_no,
            hex::encode(&self.device_id)
        )
    }

    /// Reads a cursor made by [`Position::encode`]; any text matching [`CURSOR_PATTERN`] reads.
    pub fn decode(cursor: &str) -> Option<Self> {
        let mut parts = cursor.splitn(4, '_');
        let micros: i64 = parts.next()?.parse().ok()?;
        let epoch = parts.next()?.parse().ok()?;
        let serial_no = parts.next()?.parse().ok()?;
        let device = hex::decode(parts.next()?).ok()?;
        Some(Self {
            occurred_at: DateTime::from_timestamp_micros(micros)?,
            device_id: String::from_utf8_lossy(&device).into_owned(),
            epoch,
            serial_no,
        })
    }
}

/// What a cursor looks like (the OpenAPI document's pattern).
pub const CURSOR_PATTERN: &str = "^-?[0-9]{1,15}_-?[0-9]{1,9}_[0-9]{1,18}_([0-9a-f]{2})*$";

/// What a `kind` looks like (the OpenAPI document's pattern).
pub const KIND_PATTERN: &str = "^(face_granted|face_denied|unknown_face|lock_opened|lock_closed|door_opened|door_closed|major_-?[0-9]{1,9}_minor_-?[0-9]{1,9})$";

/// A read of stored events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this employee's events.
    pub angajat_id: Option<Uuid>,
    /// Only this terminal's events.
    pub device_id: Option<String>,
    /// Not before this moment.
    pub from: Option<DateTime<Utc>>,
    /// Before this moment.
    pub to: Option<DateTime<Utc>>,
    /// Only this kind.
    pub kind: Option<String>,
    /// After this position (the previous page's last event).
    pub after: Option<Position>,
    /// At most this many.
    pub limit: usize,
}

impl EventQuery {
    /// Whether `event` matches the filters (not the position or limit).
    pub fn matches(&self, event: &StoredEvent) -> bool {
        self.angajat_id
            .is_none_or(|id| event.angajat_id == Some(id))
            && self
                .device_id
                .as_ref()
                .is_none_or(|d| &event.device_id == d)
            && self.from.is_none_or(|f| event.occurred_at >= f)
            && self.to.is_none_or(|t| event.occurred_at < t)
            && self.kind.as_ref().is_none_or(|k| &event.kind == k)
            && self.after.as_ref().is_none_or(|p| p.is_before(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(serial_no: i64, time: &str) -> IncomingEvent {
        IncomingEvent {
            serial_no,
            terminal_time: Some(time.into()),
            major: 5,
            minor: 75,
            employee_no: Some("7".into()),
            door_no: Some(1),
            verify_mode: None,
            attendance_status: None,
            live: false,
        }
    }

    #[test]
    fn the_same_event_again_is_a_duplicate_and_a_different_one_starts_an_epoch() {
        let cursor = EventCursor {
            epoch: 0,
            watermark: 10,
            last_serial: 10,
        };
        let e = event(5, "2026-12-06T10:00:00+02:00");
        assert_eq!(
            decide(&cursor, &e, Some(&e.fingerprint())),
            Placement::Duplicate
        );
        let other = event(5, "2026-12-07T10:00:00+02:00").fingerprint();
        assert_eq!(decide(&cursor, &e, Some(&other)), Placement::NewEpoch);
        assert_eq!(decide(&cursor, &e, None), Placement::NewEpoch);
        let same_second = event(5, "2026-12-06T08:00:00.000Z").fingerprint();
        assert_eq!(
            decide(&cursor, &e, Some(&same_second)),
            Placement::Duplicate
        );
        assert_eq!(decide(&cursor, &event(12, "x"), None), Placement::Insert);
    }

    #[test]
    fn the_watermark_moves_over_consecutive_serials_only() {
        assert_eq!(advance(3, &[4, 5, 7], None), 5);
        assert_eq!(advance(3, &[5, 6], None), 3);
        assert_eq!(advance(3, &[5, 6], Some(4)), 6);
    }

    /// A store as a map, written through [`plan_batch`] as the Postgres store does.
    #[derive(Default)]
    struct PlannedTable {
        rows: BTreeMap<(String, i32, i64), Fingerprint>,
        cursors: HashMap<String, EventCursor>,
    }

    impl PlannedTable {
        fn record_batch(&mut self, requests: &[RecordRequest<'_>]) -> Vec<Recorded> {
            let mut found: HashMap<String, Found> = HashMap::new();
            for r in requests {
                let cursor = self.cursors.get(r.device_id).copied().unwrap_or_default();
                let f = found
                    .entry(r.device_id.to_owned())
                    .or_insert_with(|| Found {
                        cursor,
                        held: HashMap::new(),
                        above: self
                            .rows
                            .keys()
                            .filter(|(d, e, s)| {
                                d == r.device_id && *e == cursor.epoch && *s > cursor.watermark
                            })
                            .map(|k| k.2)
                            .collect(),
                    });
                for e in r.events {
                    let key = (r.device_id.to_owned(), cursor.epoch, e.serial_no);
                    if let Some(fp) = self.rows.get(&key) {
                        f.held.insert(e.serial_no, fp.clone());
                    }
                }
            }
            let plan = plan_batch(requests, found, Utc::now());
            assert_eq!(plan.rows.len(), plan.owners.len());
            for row in &plan.rows {
                let key = (row.device_id.clone(), row.epoch, row.serial_no);
                assert!(
                    self.rows.insert(key, row.fingerprint()).is_none(),
                    "a planned row is new"
                );
            }
            self.cursors.extend(plan.cursors);
            plan.recorded
        }
    }

    /// A terminal's event: its content changes with each reset (`generation`).
    fn pushed(device: usize, generation: i64, serial_no: i64) -> IncomingEvent {
        IncomingEvent {
            serial_no,
            terminal_time: Some(format!(
                "2026-12-{:02}T10:{:02}:{:02}+02:00",
                1 + generation % 28,
                (serial_no / 60) % 60,
                serial_no % 60
            )),
            major: 5,
            minor: 75,
            employee_no: Some(format!("{device}-{}", serial_no % 5)),
            door_no: Some(1),
            verify_mode: None,
            attendance_status: None,
            live: true,
        }
    }

    #[test]
    fn a_planned_batch_does_what_its_requests_one_after_the_other_do() {
        use crate::events::memory::MemoryEventStore;
        use crate::events::store::EventStore;
        use futures::FutureExt;

        const DEVICES: [&str; 3] = ["a", "b", "c"];
        let mut seed: u64 = 0x2100_b47c;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        // New epochs, duplicates and gaps seen: the cases the rule has.
        let mut seen = (0, 0, 0);
        for round in 0..200 {
            let sequential = MemoryEventStore::default();
            let mut planned = PlannedTable::default();
            // Per terminal: its generation (resets) and the last serial it made.
            let mut terminals = [(0i64, 0i64); 3];
            for batch_no in 0..20 {
                let mut owned: Vec<(usize, Vec<IncomingEvent>, Option<i64>)> = Vec::new();
                for _ in 0..=next(6) {
                    let d = usize::try_from(next(3)).unwrap();
                    let (generation, last) = &mut terminals[d];
                    let mut events = Vec::new();
                    for _ in 0..=next(3) {
                        let serial = match next(10) {
                            // A repeat of an earlier event (a retry, a catch-up re-read).
                            0 | 1 if *last > 0 => {
                                1 + i64::try_from(next(u64::try_from(*last).unwrap())).unwrap()
                            }
                            // Lost pushes: a gap.
                            2 => {
                                *last += 3;
                                *last
                            }
                            // The terminal was reset: its numbering starts again.
                            3 if next(4) == 0 => {
                                *generation += 1;
                                *last = 1;
                                1
                            }
                            _ => {
                                *last += 1;
                                *last
                            }
                        };
                        events.push(pushed(d, *generation, serial));
                    }
                    // Some are catch-up pages, read through their highest serial.
                    let through = (next(4) == 0)
                        .then(|| events.iter().map(|e| e.serial_no).max())
                        .flatten();
                    owned.push((d, events, through));
                }
                let requests: Vec<RecordRequest<'_>> = owned
                    .iter()
                    .map(|(d, events, through)| RecordRequest {
                        device_id: DEVICES[*d],
                        events,
                        read_through: *through,
                    })
                    .collect();
                let expected: Vec<Recorded> = requests
                    .iter()
                    .map(|r| {
                        sequential
                            .record(r.device_id, r.events, r.read_through)
                            .now_or_never()
                            .unwrap()
                            .unwrap()
                    })
                    .collect();
                let got = planned.record_batch(&requests);
                assert_eq!(got, expected, "round {round}, batch {batch_no}");
                for r in &got {
                    seen.0 += usize::from(r.cursor.epoch > r.before.epoch);
                    seen.1 += r.duplicates;
                    seen.2 += usize::from(r.cursor.watermark < r.cursor.last_serial);
                }
            }
            for device in DEVICES {
                let cursor = sequential.cursor(device).now_or_never().unwrap().unwrap();
                assert_eq!(
                    planned.cursors.get(device).copied().unwrap_or_default(),
                    cursor,
                    "round {round}"
                );
                let query = EventQuery {
                    device_id: Some(device.into()),
                    limit: usize::MAX,
                    ..EventQuery::default()
                };
                let mut rows: Vec<(i32, i64)> = sequential
                    .list(&query)
                    .now_or_never()
                    .unwrap()
                    .unwrap()
                    .iter()
                    .map(|e| (e.epoch, e.serial_no))
                    .collect();
                rows.sort_unstable();
                let held: Vec<(i32, i64)> = planned
                    .rows
                    .keys()
                    .filter(|k| k.0 == device)
                    .map(|k| (k.1, k.2))
                    .collect();
                assert_eq!(held, rows, "round {round}, terminal {device}");
            }
        }
        assert!(seen.0 > 100 && seen.1 > 100 && seen.2 > 100, "{seen:?}");
    }

    #[test]
    fn one_terminal_twice_in_a_batch_gets_two_answers_in_order() {
        let mut table = PlannedTable::default();
        let first = [pushed(0, 0, 1), pushed(0, 0, 2)];
        table.record_batch(&[RecordRequest {
            device_id: "a",
            events: &first,
            read_through: None,
        }]);
        // 3 and 5 from a (4 was lost), 2 again, b's first, then a reset a pushing 1.
        let (three, five, two) = (pushed(0, 0, 3), pushed(0, 0, 5), pushed(0, 0, 2));
        let (b1, reset) = (pushed(1, 0, 1), pushed(0, 1, 1));
        let request = |device_id, events| RecordRequest {
            device_id,
            events,
            read_through: None,
        };
        let got = table.record_batch(&[
            request("a", std::slice::from_ref(&three)),
            request("a", std::slice::from_ref(&five)),
            request("b", std::slice::from_ref(&b1)),
            request("a", std::slice::from_ref(&two)),
            request("a", std::slice::from_ref(&reset)),
        ]);
        let c = |epoch, watermark, last_serial| EventCursor {
            epoch,
            watermark,
            last_serial,
        };
        let r = |stored, duplicates, before, cursor| Recorded {
            stored,
            duplicates,
            cursor,
            before,
        };
        assert_eq!(
            got,
            vec![
                r(1, 0, c(0, 2, 2), c(0, 3, 3)),
                // Before 5 the last was 3: a gap the push's answer shows.
                r(1, 0, c(0, 3, 3), c(0, 3, 5)),
                r(1, 0, c(0, 0, 0), c(0, 1, 1)),
                r(0, 1, c(0, 3, 5), c(0, 3, 5)),
                r(1, 0, c(0, 3, 5), c(1, 1, 1)),
            ]
        );
    }

    #[test]
    fn kinds_name_the_documented_codes_and_keep_others_by_number() {
        assert_eq!(kind_of(5, 75, true), "face_granted");
        assert_eq!(kind_of(5, 76, false), "unknown_face");
        assert_eq!(kind_of(5, 76, true), "face_denied");
        assert_eq!(kind_of(5, 23, false), "door_opened");
        assert_eq!(kind_of(3, 1, false), "major_3_minor_1");
    }

    #[test]
    fn cursors_round_trip_and_the_offset_is_kept_as_sent() {
        let e = event(9, "2026-12-06T10:00:00+02:00");
        let stored = StoredEvent::from_incoming("d1", 1, &e, None, Utc::now());
        assert_eq!(stored.occurred_at.to_rfc3339(), "2026-12-06T08:00:00+00:00");
        assert_eq!(
            stored.terminal_time.as_deref(),
            Some("2026-12-06T10:00:00+02:00")
        );
        let p = stored.position();
        assert_eq!(Position::decode(&p.encode()), Some(p));
        assert_eq!(Position::decode("zz"), None);
        assert!(Position::decode("-999999999999999_-999999999_999999999999999999_ff").is_some());
    }
}
