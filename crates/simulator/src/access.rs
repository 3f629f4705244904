//! The door: would a face presented at a given moment open it? The terminal decides from what it
//! holds alone — the person, their face, and their `Valid` window read in the terminal's local
//! time (UTC plus [`TerminalConfig::utc_offset_secs`](super::TerminalConfig::utc_offset_secs)) —
//! so a person whose end date has passed is refused even when no removal ever reached it.
//!
//! `GET /_sim/access/{employeeNo}?at=<RFC 3339>` (default: now) answers the same as
//! [`SimulatedTerminal::face_access`](super::SimulatedTerminal::face_access).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use hikvision_isapi::wire::{UserInfo, Valid};

use super::state::Store;

/// `YYYY-MM-DDTHH:MM:SS`, as the terminal takes `beginTime` / `endTime`.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// What the terminal decides when a face is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessDecision {
    /// The door opens.
    Granted,
    /// No such person on the terminal.
    UnknownPerson,
    /// The person has no face to match.
    NoFace,
    /// Before the person's `Valid.beginTime`.
    NotYetValid,
    /// After the person's `Valid.endTime`.
    Expired,
}

impl AccessDecision {
    /// True when the door opens.
    pub fn granted(self) -> bool {
        self == Self::Granted
    }
}

/// The answer of `GET /_sim/access/{employeeNo}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessAnswer {
    /// The person asked about.
    pub employee_no: String,
    /// Whether the door opens.
    pub granted: bool,
    /// Why (or why not).
    pub decision: AccessDecision,
    /// The moment in the terminal's local time, as it compares it with `Valid`.
    pub local_time: String,
}

/// A `Valid` time as the terminal reads it; `None` when it is not one.
pub(crate) fn parse_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text.trim(), TIME_FORMAT).ok()
}

/// Whether a written `Valid` is one the terminal takes: a disabled one always, an enabled one
/// with both times readable.
pub(crate) fn valid_is_readable(valid: &Valid) -> bool {
    !valid.enable
        || (parse_time(&valid.begin_time).is_some() && parse_time(&valid.end_time).is_some())
}

/// The terminal's decision for `employee_no` at `at`, with `offset_secs` its local offset.
pub(crate) fn decide(
    store: &Store,
    employee_no: &str,
    at: DateTime<Utc>,
    offset_secs: i32,
) -> AccessAnswer {
    let local = at.naive_utc() + Duration::seconds(i64::from(offset_secs));
    let decision = match store.persons.get(employee_no) {
        None => AccessDecision::UnknownPerson,
        Some(_) if !store.faces.contains_key(employee_no) => AccessDecision::NoFace,
        Some(person) => in_window(person, local),
    };
    AccessAnswer {
        employee_no: employee_no.to_string(),
        granted: decision.granted(),
        decision,
        local_time: local.format(TIME_FORMAT).to_string(),
    }
}

fn in_window(person: &UserInfo, local: NaiveDateTime) -> AccessDecision {
    let Some(valid) = person.valid.as_ref().filter(|v| v.enable) else {
        return AccessDecision::Granted;
    };
    // Written windows were checked on the way in; an unreadable one cannot open the door.
    let (Some(begin), Some(end)) = (parse_time(&valid.begin_time), parse_time(&valid.end_time))
    else {
        return AccessDecision::Expired;
    };
    if local < begin {
        AccessDecision::NotYetValid
    } else if local > end {
        AccessDecision::Expired
    } else {
        AccessDecision::Granted
    }
}
