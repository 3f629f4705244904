//! Settings of access events: where terminals push (`EVENTS_PUBLIC_URL`), how often the
//! catch-up reads and the registration is checked, how long events are kept.

use std::time::Duration;

use url::Url;

use super::read::{flag, read_millis};

/// Access-event settings.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Whether terminals' events are read at all (`EVENTS_ENABLED`; pushes are still accepted).
    pub enabled: bool,
    /// The service's address as the terminals reach it; `None`: push is off (catch-up only).
    pub public_url: Option<Url>,
    /// How often every terminal's log is read forward from the last stored event.
    pub poll_interval: Duration,
    /// How often the push registration on every terminal is checked.
    pub registration_check: Duration,
    /// Events older than this many days are deleted.
    pub retention_days: u32,
    /// A terminal clock further off than this is logged as a warning.
    pub clock_drift_warn: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            public_url: None,
            poll_interval: Duration::from_secs(60),
            registration_check: Duration::from_secs(600),
            retention_days: 400,
            clock_drift_warn: Duration::from_secs(60),
        }
    }
}

/// Reads the event settings, adding every problem to `problems`.
pub(super) fn read_events(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> EventSettings {
    let mut e = EventSettings::default();
    if let Some(v) = flag(get, "EVENTS_ENABLED", problems) {
        e.enabled = v;
    }
    if let Some(raw) = get("EVENTS_PUBLIC_URL").filter(|v| !v.trim().is_empty()) {
        match Url::parse(raw.trim()) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none() =>
            {
                e.public_url = Some(u);
            }
            _ => problems.push(format!(
                "EVENTS_PUBLIC_URL='{raw}' must be an http(s) URL without a query, as the terminals reach this service (e.g. http://192.168.1.10:8080)"
            )),
        }
    }
    e.poll_interval = read_millis(
        get,
        problems,
        "EVENTS_POLL_INTERVAL_MS",
        e.poll_interval,
        (100, 86_400_000),
    );
    e.registration_check = read_millis(
        get,
        problems,
        "EVENTS_REGISTRATION_CHECK_MS",
        e.registration_check,
        (100, 86_400_000),
    );
    e.clock_drift_warn = read_millis(
        get,
        problems,
        "CLOCK_DRIFT_WARN_MS",
        e.clock_drift_warn,
        (100, 86_400_000),
    );
    if let Some(v) = get("EVENTS_RETENTION_DAYS") {
        match v.trim().parse::<u32>() {
            Ok(n) if (1..=36_500).contains(&n) => e.retention_days = n,
            _ => problems.push(format!(
                "EVENTS_RETENTION_DAYS='{v}' must be a whole number of days between 1 and 36500"
            )),
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (EventSettings, Vec<String>) {
        let mut problems = Vec::new();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        };
        (read_events(&get, &mut problems), problems)
    }

    #[test]
    fn push_is_off_without_a_public_url_and_bad_values_are_refused() {
        let (e, problems) = read(&[]);
        assert!(e.public_url.is_none() && problems.is_empty());
        let (e, _) = read(&[("EVENTS_PUBLIC_URL", "http://10.0.0.5:8080")]);
        assert_eq!(e.public_url.unwrap().port(), Some(8080));
        let (_, problems) = read(&[
            ("EVENTS_PUBLIC_URL", "ftp://x"),
            ("EVENTS_RETENTION_DAYS", "0"),
            ("EVENTS_POLL_INTERVAL_MS", "x"),
        ]);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
