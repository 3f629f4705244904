//! When an employee may open a door: the validity window read from the employees table
//! (`EMPLOYEE_VALID_FROM_COLUMN` / `EMPLOYEE_VALID_UNTIL_COLUMN`), as the terminals hold it
//! (`Valid.beginTime` / `endTime`, terminal-local time without an offset), and as they read it
//! back.
//!
//! A terminal enforces the window itself, so one that never receives a removal still refuses
//! the face after the end date.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

/// How the terminals write a time: `YYYY-MM-DDTHH:MM:SS`, local, no offset.
pub const TERMINAL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// One bound of a validity window, as the employees table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A `date` column: a whole day in terminal-local time (a begin is that day's 00:00:00, an
    /// end its 23:59:59).
    Date(NaiveDate),
    /// A `timestamptz` column: one instant.
    Instant(DateTime<Utc>),
}

/// What a validity column holds in one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundValue {
    /// A bound.
    Bound(Bound),
    /// Postgres' `infinity` / `-infinity`, or null: no bound.
    Open,
}

impl Bound {
    /// Reads a value as PostgREST sends a `date` (`2026-12-31`) or a `timestamptz`
    /// (`2026-12-31T10:00:00+00:00`, or Postgres' own `2026-12-31 10:00:00+00`); `infinity` and
    /// `-infinity` are no bound. `None` for anything else.
    pub fn parse(text: &str) -> Option<BoundValue> {
        let text = text.trim();
        if matches!(text, "infinity" | "-infinity") {
            return Some(BoundValue::Open);
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Some(BoundValue::Bound(Self::Date(date)));
        }
        let instant = DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"))
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%#z"))
            .ok()?;
        Some(BoundValue::Bound(Self::Instant(
            instant.with_timezone(&Utc),
        )))
    }

    fn local(instant: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
        let local = instant.with_timezone(&tz).naive_local();
        local.with_nanosecond(0).unwrap_or(local)
    }

    /// The first terminal-local second of the window this bound begins.
    fn begin(self, tz: Tz) -> NaiveDateTime {
        match self {
            Self::Date(d) => d.and_time(NaiveTime::MIN),
            Self::Instant(t) => Self::local(t, tz),
        }
    }

    /// The last terminal-local second of the window this bound ends.
    fn end(self, tz: Tz) -> NaiveDateTime {
        match self {
            Self::Date(d) => d.and_time(last_second()),
            Self::Instant(t) => Self::local(t, tz),
        }
    }

    fn key(self) -> String {
        match self {
            Self::Date(d) => d.format("%Y-%m-%d").to_string(),
            Self::Instant(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

fn last_second() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN)
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// The earliest time a terminal takes (`docs/isapi.md`: `Valid` lies between
/// 1970-01-01T00:00:00 and 2037-12-31T23:59:59).
fn terminal_min() -> NaiveDateTime {
    day(1970, 1, 1).and_time(NaiveTime::MIN)
}

/// The latest time a terminal takes.
fn terminal_max() -> NaiveDateTime {
    day(2037, 12, 31).and_time(last_second())
}

/// An employee's validity window. Both bounds unset (the settings unset, or no dates in the
/// row) is the window every person got before validity was read: [`TerminalWindow::wide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Validity {
    /// From when (`EMPLOYEE_VALID_FROM_COLUMN`); `None`: no start.
    pub from: Option<Bound>,
    /// Until when (`EMPLOYEE_VALID_UNTIL_COLUMN`); `None`: no end.
    pub until: Option<Bound>,
}

impl Validity {
    /// True when neither bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.until.is_none()
    }

    /// The window the terminals should hold, in terminal-local time (`tz`): a date begin is
    /// that day's 00:00:00, a date end its 23:59:59, an instant the local second it falls in;
    /// an unset bound is the wide window's; everything within what terminals accept, and an
    /// end before the begin closes the window (the begin moves to the end).
    pub fn window(&self, tz: Tz) -> TerminalWindow {
        let wide = TerminalWindow::wide();
        let clamp = |t: NaiveDateTime| t.clamp(terminal_min(), terminal_max());
        let end = clamp(self.until.map_or(wide.end, |b| b.end(tz)));
        let begin = clamp(self.from.map_or(wide.begin, |b| b.begin(tz))).min(end);
        TerminalWindow { begin, end }
    }

    /// True when the end has passed at `now`: for a date, once that day is over in `tz`; for
    /// an instant, once it is past.
    pub fn ended(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        match self.until {
            None => false,
            Some(Bound::Date(d)) => now.with_timezone(&tz).date_naive() > d,
            Some(Bound::Instant(t)) => now > t,
        }
    }

    /// A stable text of the bounds (what the delivery store records, to see a change);
    /// `None` when unbounded.
    pub fn key(&self) -> Option<String> {
        if self.is_unbounded() {
            return None;
        }
        let text = |b: Option<Bound>| b.map(Bound::key).unwrap_or_default();
        Some(format!("{}/{}", text(self.from), text(self.until)))
    }
}

/// A validity window in terminal-local time, always enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalWindow {
    /// The first second the face opens the door.
    pub begin: NaiveDateTime,
    /// The last second the face opens the door.
    pub end: NaiveDateTime,
}

impl TerminalWindow {
    /// The window persons got before validity was read (and still get without bounds):
    /// 2020-01-01T00:00:00 to 2037-12-31T23:59:59.
    pub fn wide() -> Self {
        Self {
            begin: day(2020, 1, 1).and_time(NaiveTime::MIN),
            end: terminal_max(),
        }
    }

    /// `beginTime` as terminals take it.
    pub fn begin_text(&self) -> String {
        self.begin.format(TERMINAL_TIME_FORMAT).to_string()
    }

    /// `endTime` as terminals take it.
    pub fn end_text(&self) -> String {
        self.end.format(TERMINAL_TIME_FORMAT).to_string()
    }
}

/// A person's validity as a terminal reports it (`UserInfo/Search`), normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadWindow {
    /// No window applies: `enable: false`, no `Valid` at all, or the `1970-01-01T00:00:00`
    /// some firmware reports for a disabled window.
    Unrestricted,
    /// An enabled window.
    Window(TerminalWindow),
    /// Times the service cannot read, as sent.
    Unreadable {
        /// `beginTime` as sent.
        begin: String,
        /// `endTime` as sent.
        end: String,
    },
}

impl ReadWindow {
    /// Normalises what a terminal reports: times with fractional seconds or an offset are read
    /// as their local part; a disabled window, or one ending at or before 1970-01-01T00:00:00,
    /// is [`ReadWindow::Unrestricted`].
    pub fn read(enable: bool, begin: &str, end: &str) -> Self {
        if !enable {
            return Self::Unrestricted;
        }
        match (read_local(begin), read_local(end)) {
            (_, Some(e)) if e <= terminal_min() => Self::Unrestricted,
            (Some(begin), Some(end)) => Self::Window(TerminalWindow { begin, end }),
            _ => Self::Unreadable {
                begin: begin.to_string(),
                end: end.to_string(),
            },
        }
    }

    /// Whether this is what a terminal should hold for `expected`: its window exactly, or, for
    /// an employee without bounds, the wide window or none.
    pub fn matches(&self, expected: &Validity, tz: Tz) -> bool {
        match self {
            Self::Window(w) if expected.is_unbounded() => *w == TerminalWindow::wide(),
            Self::Window(w) => *w == expected.window(tz),
            Self::Unrestricted => expected.is_unbounded(),
            Self::Unreadable { .. } => false,
        }
    }
}

/// A terminal time: `YYYY-MM-DDTHH:MM:SS` (or with a space), fractional seconds and any offset
/// ignored (terminal time is local).
fn read_local(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let head = text.get(..19)?.replace(' ', "T");
    NaiveDateTime::parse_from_str(&head, TERMINAL_TIME_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(text: &str) -> Bound {
        match Bound::parse(text) {
            Some(BoundValue::Bound(b)) => b,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn texts(w: TerminalWindow) -> (String, String) {
        (w.begin_text(), w.end_text())
    }

    const BUCHAREST: Tz = chrono_tz::Europe::Bucharest;

    #[test]
    fn a_date_is_the_whole_day_in_terminal_time() {
        let v = Validity {
            from: Some(bound("2026-03-01")),
            until: Some(bound("2026-12-31")),
        };
        let expected = ("2026-03-01T00:00:00".into(), "2026-12-31T23:59:59".into());
        // A date means the same local day whatever the zone.
        assert_eq!(texts(v.window(Tz::UTC)), expected);
        assert_eq!(texts(v.window(BUCHAREST)), expected);
    }

    #[test]
    fn a_timestamp_becomes_terminal_local_time() {
        let v = Validity {
            from: Some(bound("2026-07-01T06:30:00.750+00:00")),
            until: Some(bound("2026-12-31 22:00:00+00")),
        };
        // Bucharest is UTC+3 in summer, UTC+2 in winter.
        assert_eq!(
            texts(v.window(BUCHAREST)),
            ("2026-07-01T09:30:00".into(), "2027-01-01T00:00:00".into())
        );
        assert_eq!(
            texts(v.window(Tz::UTC)),
            ("2026-07-01T06:30:00".into(), "2026-12-31T22:00:00".into())
        );
    }

    #[test]
    fn unset_bounds_are_the_wide_window_and_the_terminal_range_holds() {
        assert_eq!(
            Validity::default().window(BUCHAREST),
            TerminalWindow::wide()
        );
        assert_eq!(
            texts(TerminalWindow::wide()),
            ("2020-01-01T00:00:00".into(), "2037-12-31T23:59:59".into())
        );
        let only_end = Validity {
            from: None,
            until: Some(bound("2027-05-31")),
        };
        assert_eq!(
            texts(only_end.window(Tz::UTC)),
            ("2020-01-01T00:00:00".into(), "2027-05-31T23:59:59".into())
        );
        // Past the terminals' range: clamped; an end before the begin closes the window.
        let odd = Validity {
            from: Some(bound("1960-01-01")),
            until: Some(bound("2099-01-01")),
        };
        assert_eq!(
            texts(odd.window(Tz::UTC)),
            ("1970-01-01T00:00:00".into(), "2037-12-31T23:59:59".into())
        );
        let long_gone = Validity {
            from: None,
            until: Some(bound("2019-06-30")),
        };
        assert_eq!(
            texts(long_gone.window(Tz::UTC)),
            ("2019-06-30T23:59:59".into(), "2019-06-30T23:59:59".into())
        );
    }

    #[test]
    fn postgres_values_are_read_and_others_refused() {
        assert_eq!(Bound::parse("infinity"), Some(BoundValue::Open));
        assert_eq!(Bound::parse("-infinity"), Some(BoundValue::Open));
        assert_eq!(Bound::parse("31.12.2026"), None);
        assert_eq!(Bound::parse(""), None);
        assert_eq!(
            bound("2026-12-31T10:00:00+02:00"),
            bound("2026-12-31 08:00:00+00")
        );
    }

    #[test]
    fn an_end_date_ends_after_its_last_local_second() {
        let v = Validity {
            from: None,
            until: Some(bound("2026-12-31")),
        };
        let at = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
        let at = |s: &str| at(s).unwrap_or_else(|e| panic!("{e}"));
        // 21:59:59 UTC is 23:59:59 in Bucharest (UTC+2 in winter): still valid there.
        assert!(!v.ended(at("2026-12-31T21:59:59Z"), BUCHAREST));
        assert!(v.ended(at("2026-12-31T22:00:00Z"), BUCHAREST));
        assert!(!v.ended(at("2026-12-31T23:59:59Z"), Tz::UTC));
        let instant = Validity {
            from: None,
            until: Some(bound("2026-12-31T12:00:00Z")),
        };
        assert!(!instant.ended(at("2026-12-31T12:00:00Z"), Tz::UTC));
        assert!(instant.ended(at("2026-12-31T12:00:01Z"), BUCHAREST));
        assert!(!Validity::default().ended(at("2037-12-31T12:00:01Z"), Tz::UTC));
    }

    #[test]
    fn keys_change_with_the_bounds_only() {
        assert_eq!(Validity::default().key(), None);
        let a = Validity {
            from: None,
            until: Some(bound("2026-12-31")),
        };
        let b = Validity {
            from: None,
            until: Some(bound("2027-01-31")),
        };
        assert_eq!(a.key().as_deref(), Some("/2026-12-31"));
        assert_ne!(a.key(), b.key());
        assert_eq!(
            Validity {
                from: Some(bound("2026-01-01T08:00:00+02:00")),
                until: None
            }
            .key()
            .as_deref(),
            Some("2026-01-01T06:00:00Z/")
        );
    }

    #[test]
    fn readback_is_normalised() {
        let window = |b: &str, e: &str| ReadWindow::read(true, b, e);
        assert_eq!(
            window("1970-01-01T00:00:00", "1970-01-01T00:00:00"),
            ReadWindow::Unrestricted
        );
        assert_eq!(
            ReadWindow::read(false, "2026-01-01T00:00:00", "2026-12-31T23:59:59"),
            ReadWindow::Unrestricted
        );
        let sent = Validity {
            from: None,
            until: Some(bound("2026-12-31")),
        };
        for (b, e) in [
            ("2020-01-01T00:00:00", "2026-12-31T23:59:59"),
            ("2020-01-01T00:00:00+02:00", "2026-12-31T23:59:59.000+02:00"),
            ("2020-01-01 00:00:00", "2026-12-31 23:59:59"),
        ] {
            assert!(window(b, e).matches(&sent, BUCHAREST), "{b} {e}");
        }
        assert!(!window("2020-01-01T00:00:00", "2027-12-31T23:59:59").matches(&sent, BUCHAREST));
        assert!(!ReadWindow::Unrestricted.matches(&sent, BUCHAREST));
        assert!(matches!(
            window("soon", "later"),
            ReadWindow::Unreadable { .. }
        ));
        assert!(!window("soon", "later").matches(&Validity::default(), Tz::UTC));
        // Without bounds, the wide window and none at all both match; a narrower one does not.
        let wide = TerminalWindow::wide();
        let none = Validity::default();
        assert!(window(&wide.begin_text(), &wide.end_text()).matches(&none, Tz::UTC));
        assert!(ReadWindow::Unrestricted.matches(&none, Tz::UTC));
        assert!(!window("2020-01-01T00:00:00", "2026-12-31T23:59:59").matches(&none, Tz::UTC));
    }
}
