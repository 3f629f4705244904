//! The terminal's event log: numbered access events (serial numbers from 1), at most
//! `event_capacity` of them (the oldest dropped first, numbering going on), the clock they are
//! stamped with, and the HTTP listener slots the terminal pushes them to.
//!
//! A reset ([`EventLog::reset`]) empties the log and numbers from 1 again, as a terminal that
//! was reset or replaced does: a client's serial numbers then go backwards.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, FixedOffset, Offset, Utc};

use hikvision_isapi::wire::{AcsEventInfo, HttpHostNotification};

/// Major type of access events.
pub(crate) const MAJOR_ACCESS: i32 = 5;
/// Face verified, access granted.
pub(crate) const MINOR_FACE_GRANTED: i32 = 75;
/// Face verification failed (no employee number: an unknown face).
pub(crate) const MINOR_FACE_DENIED: i32 = 76;

/// One event in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedEvent {
    /// The search's form of the event.
    pub(crate) info: AcsEventInfo,
    /// When it happened (real time, for `currentEvent`).
    pub(crate) at: DateTime<Utc>,
}

/// One listener slot and how far its pushes got.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// The registration as last written.
    pub(crate) host: HttpHostNotification,
    /// The next serial number to push to it.
    pub(crate) next_serial: i64,
}

/// The log, the clock and the listener slots.
#[derive(Debug)]
pub(crate) struct EventLog {
    pub(crate) events: VecDeque<LoggedEvent>,
    /// The serial number the next event gets.
    pub(crate) next_serial: i64,
    capacity: usize,
    /// The terminal clock's distance from real time (set by `PUT /ISAPI/System/time`).
    pub(crate) clock_skew: Duration,
    /// The terminal's UTC offset.
    pub(crate) offset: FixedOffset,
    pub(crate) slots: Vec<Slot>,
}

impl EventLog {
    pub(crate) fn new(capacity: usize, slots: usize, utc_offset_secs: i32) -> Self {
        let offset = FixedOffset::east_opt(utc_offset_secs).unwrap_or_else(|| Utc.fix());
        Self {
            events: VecDeque::new(),
            next_serial: 1,
            capacity: capacity.max(1),
            clock_skew: Duration::zero(),
            offset,
            slots: (1..=slots.max(1))
                .map(|id| Slot {
                    host: free_slot(&id.to_string()),
                    next_serial: 1,
                })
                .collect(),
        }
    }

    /// The terminal's clock now, in its local time with its offset.
    pub(crate) fn local_now(&self) -> DateTime<FixedOffset> {
        (Utc::now() + self.clock_skew).with_timezone(&self.offset)
    }

    /// The terminal clock's time as it writes it (`2026-12-06T10:00:00+02:00`).
    pub(crate) fn stamp(&self) -> String {
        self.local_now().format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }

    /// Logs an event; returns its serial number.
    pub(crate) fn push(
        &mut self,
        minor: i32,
        employee_no: Option<String>,
        door_no: i32,
        verify_mode: Option<&str>,
    ) -> i64 {
        let serial_no = self.next_serial;
        self.next_serial += 1;
        if self.events.len() >= self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(LoggedEvent {
            info: AcsEventInfo {
                major: MAJOR_ACCESS,
                minor,
                time: self.stamp(),
                serial_no,
                employee_no_string: employee_no,
                door_no: Some(door_no),
                current_verify_mode: verify_mode.map(str::to_owned),
                ..AcsEventInfo::default()
            },
            at: Utc::now(),
        });
        serial_no
    }

    /// Empties the log and numbers from 1 again (a reset or replaced terminal). Registrations
    /// stay; their pushes start with the new numbering.
    pub(crate) fn reset(&mut self) {
        self.events.clear();
        self.next_serial = 1;
        for slot in &mut self.slots {
            slot.next_serial = 1;
        }
    }

    /// The event with `serial_no`, or the oldest after it when it was dropped.
    pub(crate) fn at_or_after(&self, serial_no: i64) -> Option<&LoggedEvent> {
        self.events.iter().find(|e| e.info.serial_no >= serial_no)
    }

    /// The event before `serial_no` in the log, if held.
    pub(crate) fn front_serial(&self, serial_no: i64) -> Option<i64> {
        (serial_no > 1).then_some(serial_no - 1)
    }
}

/// A slot nobody uses, as firmware shows it.
pub(crate) fn free_slot(id: &str) -> HttpHostNotification {
    HttpHostNotification {
        id: id.to_owned(),
        url: String::new(),
        protocol_type: "HTTP".into(),
        parameter_format_type: "json".into(),
        addressing_format_type: "ipaddress".into(),
        ip_address: Some("0.0.0.0".into()),
        host_name: None,
        port_no: 80,
        http_authentication_method: "none".into(),
        subscribe_event: None,
    }
}
