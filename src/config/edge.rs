//! Settings of the HTTP edge: how long a client may take to send a request, how many connections
//! are served at once, and whether the debugging endpoint may call terminals named in a request.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::Settings;
use super::read::{parse_nets, whole_number};

/// Limits that keep slow or hostile clients from holding the service's sockets and tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// From the first byte of a request to the end of its header (`HEADER_READ_TIMEOUT_MS`).
    pub header_read_timeout: Duration,
    /// From the start of reading a request body to its last byte (`BODY_READ_TIMEOUT_MS`).
    pub body_read_timeout: Duration,
    /// The most one request may take, header to response (`REQUEST_TIMEOUT_MS`); `None`: the
    /// request deadline plus [`HttpOptions::REQUEST_TIMEOUT_MARGIN`].
    pub request_timeout: Option<Duration>,
    /// How long a connection may wait for its next request (`KEEP_ALIVE_TIMEOUT_MS`).
    pub keep_alive_timeout: Duration,
    /// Connections served at once (`MAX_CONNECTIONS`); more wait in the kernel's accept queue.
    pub max_connections: usize,
}

impl HttpOptions {
    /// What the default request timeout adds to `REQUEST_DEADLINE_MS`: time to read the body,
    /// look the employee up and write the answer.
    pub const REQUEST_TIMEOUT_MARGIN: Duration = Duration::from_millis(5_000);

    /// The request timeout in force for `request_deadline`.
    pub fn request_timeout(&self, request_deadline: Duration) -> Duration {
        self.request_timeout
            .unwrap_or(request_deadline + Self::REQUEST_TIMEOUT_MARGIN)
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_millis(10_000),
            body_read_timeout: Duration::from_millis(30_000),
            request_timeout: None,
            keep_alive_timeout: Duration::from_millis(60_000),
            max_connections: 1024,
        }
    }
}

/// The debugging endpoint (`POST /api/test-isapi/update-face-image`) calls whatever terminal a
/// request names: off unless asked for, and then only inside `allowed_nets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugOptions {
    /// `DEBUG_ENDPOINT=true`.
    pub enabled: bool,
    /// `DEBUG_ALLOWED_NETS`: every address a terminal's host resolves to must be inside one.
    pub allowed_nets: Vec<IpNet>,
}

impl DebugOptions {
    /// Loopback and the private ranges (never link-local: cloud metadata services live there).
    pub const DEFAULT_NETS: &'static str =
        "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

    /// Whether the debugging endpoint may call `addr`.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.allowed_nets.iter().any(|net| net.contains(&addr))
    }
}

impl Default for DebugOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_nets: parse_nets(Self::DEFAULT_NETS).unwrap_or_default(),
        }
    }
}

/// `MAX_CONNECTIONS`, `DEBUG_ENDPOINT`, `DEBUG_ALLOWED_NETS`, and the request timeout's floor.
pub(super) fn read_edge(
    get: &impl Fn(&str) -> Option<String>,
    s: &mut Settings,
    problems: &mut Vec<String>,
) {
    if let Some(n) = whole_number(get, "MAX_CONNECTIONS", 1, 1_000_000, problems) {
        s.http.max_connections = n;
    }
    match get("DEBUG_ENDPOINT")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false" | "0" | "no" | "off") => s.debug.enabled = false,
        Some("true" | "1" | "yes" | "on") => s.debug.enabled = true,
        Some(other) => problems.push(format!("DEBUG_ENDPOINT='{other}' must be true or false")),
    }
    if let Some(v) = get("DEBUG_ALLOWED_NETS") {
        match parse_nets(&v) {
            Ok(nets) => s.debug.allowed_nets = nets,
            Err(e) => problems.push(format!("DEBUG_ALLOWED_NETS: {e}")),
        }
    }
    if let Err(e) = s.check_request_timeout() {
        problems.push(e);
    }
}

impl Settings {
    /// The request timeout must outlast the request deadline, or a request that reaches the
    /// terminals would be cut off before it can report their results.
    pub fn check_request_timeout(&self) -> Result<(), String> {
        let deadline = self.sync.request_deadline;
        match self.http.request_timeout {
            Some(timeout) if timeout <= deadline => Err(format!(
                "REQUEST_TIMEOUT_MS={} must be larger than REQUEST_DEADLINE_MS={} (the terminals' results are reported at the deadline; the default is REQUEST_DEADLINE_MS + {})",
                timeout.as_millis(),
                deadline.as_millis(),
                HttpOptions::REQUEST_TIMEOUT_MARGIN.as_millis()
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load;

    #[test]
    fn edge_defaults_and_overrides() {
        let s = load(&[]).unwrap();
        assert_eq!(s.http, HttpOptions::default());
        assert_eq!(
            s.http.request_timeout(s.sync.request_deadline).as_millis(),
            35_000
        );
        assert!(!s.debug.enabled);
        let s = load(&[
            ("HEADER_READ_TIMEOUT_MS", "2000"),
            ("BODY_READ_TIMEOUT_MS", "3000"),
            ("KEEP_ALIVE_TIMEOUT_MS", "4000"),
            ("REQUEST_DEADLINE_MS", "1000"),
            ("MAX_CONNECTIONS", "50"),
            ("DEBUG_ENDPOINT", "TRUE"),
            ("DEBUG_ALLOWED_NETS", "127.0.0.1"),
        ])
        .unwrap();
        assert_eq!(s.http.header_read_timeout.as_millis(), 2000);
        assert_eq!(s.http.body_read_timeout.as_millis(), 3000);
        assert_eq!(s.http.keep_alive_timeout.as_millis(), 4000);
        assert_eq!(
            s.http.request_timeout(s.sync.request_deadline).as_millis(),
            6000
        );
        assert_eq!(s.http.max_connections, 50);
        assert!(s.debug.enabled && s.debug.allows(IpAddr::from([127, 0, 0, 1])));
        assert!(!s.debug.allows(IpAddr::from([127, 0, 0, 2])));
    }

    #[test]
    fn a_request_timeout_not_above_the_deadline_is_refused() {
        let err = load(&[
            ("REQUEST_DEADLINE_MS", "30000"),
            ("REQUEST_TIMEOUT_MS", "30000"),
        ])
        .unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert!(
            err.0[0]
                .contains("REQUEST_TIMEOUT_MS=30000 must be larger than REQUEST_DEADLINE_MS=30000"),
            "{err}"
        );
        let ok = load(&[("REQUEST_TIMEOUT_MS", "30001")]).unwrap();
        assert_eq!(ok.http.request_timeout.map(|t| t.as_millis()), Some(30_001));
    }

    #[test]
    fn bad_edge_settings_are_each_named() {
        let err = load(&[
            ("MAX_CONNECTIONS", "0"),
            ("DEBUG_ENDPOINT", "maybe"),
            ("DEBUG_ALLOWED_NETS", "10.0.0.0/33"),
            ("HEADER_READ_TIMEOUT_MS", "soon"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 4, "{text}");
        for key in [
            "MAX_CONNECTIONS",
            "DEBUG_ENDPOINT",
            "DEBUG_ALLOWED_NETS",
            "HEADER_READ_TIMEOUT_MS",
        ] {
            assert!(text.contains(key), "{key}: {text}");
        }
    }

    #[test]
    fn the_default_nets_are_loopback_and_private_only() {
        let debug = DebugOptions::default();
        for allowed in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.100",
            "fd00::1",
        ] {
            assert!(debug.allows(allowed.parse().unwrap()), "{allowed}");
        }
        for refused in [
            "8.8.8.8",
            "169.254.169.254",
            "0.0.0.0",
            "172.32.0.1",
            "2001:db8::1",
        ] {
            assert!(!debug.allows(refused.parse().unwrap()), "{refused}");
        }
        assert!(
            !debug.allows("::ffff:8.8.8.8".parse().unwrap()),
            "an IPv4-mapped address is judged as IPv4"
        );
        assert!(debug.allows("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn nets_accept_bare_addresses_and_name_the_bad_item() {
        assert_eq!(parse_nets("127.0.0.1, ::1/128").map(|n| n.len()), Ok(2));
        let err = parse_nets("127.0.0.0/8, localhost").unwrap_err();
        assert!(err.contains("'localhost'"), "{err}");
    }
}
