//! Starting and stopping simulated terminals, and looking inside them from tests.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use hikvision_isapi::wire::{AcsEventInfo, HttpHostNotification, UserInfo};

use super::access::AccessAnswer;
use super::config::{Faults, TerminalConfig};
use super::decode::dimensions;
use super::net::{ConnHandle, SimListener};
use super::server::router;
use super::state::{RequestLogEntry, SearchLogEntry, StateSnapshot, StoredFace};
use super::terminal::Terminal;

/// A running simulated terminal. Dropping it (or [`SimulatedTerminal::shutdown`]) stops its
/// server: it stops accepting, closes idle connections, and cuts requests held by the `hang`
/// fault.
#[derive(Debug)]
pub struct SimulatedTerminal {
    terminal: Arc<Terminal>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Starts one terminal listening on `bind` (use `127.0.0.1:0` in tests for a free port).
///
/// The server is one tokio task (plus one per open connection); nothing else runs until a
/// request arrives, so a thousand terminals in one process are cheap.
pub async fn spawn(config: TerminalConfig, bind: SocketAddr) -> io::Result<SimulatedTerminal> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let terminal = Arc::new(Terminal::new(config, addr, stop_rx.clone()));
    let connections = Arc::clone(&terminal.connections);
    let app = router(Arc::clone(&terminal)).into_make_service_with_connect_info::<ConnHandle>();
    let mut signal = stop_rx;
    tokio::spawn(super::push::run(Arc::clone(&terminal)));
    let task = tokio::spawn(async move {
        let served = axum::serve(SimListener::new(listener, connections), app)
            .with_graceful_shutdown(async move {
                let _ = signal.wait_for(|&stop| stop).await;
            })
            .await;
        if let Err(err) = served {
            tracing::error!(%err, %addr, "simulated terminal stopped with an error");
        }
    });
    tracing::debug!(%addr, model = %terminal.config.model, "simulated terminal listening");
    Ok(SimulatedTerminal {
        terminal,
        stop,
        task: Some(task),
    })
}

/// Starts `count` terminals on `127.0.0.1` ports `base_port`, `base_port + 1`, ...
///
/// See [`run_many_on`]; this is it with the loopback address.
pub async fn run_many(
    count: usize,
    base_port: u16,
    config: TerminalConfig,
) -> io::Result<Vec<SimulatedTerminal>> {
    run_many_on(IpAddr::V4(Ipv4Addr::LOCALHOST), count, base_port, config).await
}

/// Starts `count` terminals on `ip`, consecutive ports from `base_port`.
///
/// Terminal `i` (from 1) is named `"{name} {i}"` and has serial `"{serial}-{i}"`, so the
/// terminals are told apart in deviceInfo; credentials, model, limits and faults are shared.
/// If one port cannot be bound, the terminals already started are stopped and the error is
/// returned.
pub async fn run_many_on(
    ip: IpAddr,
    count: usize,
    base_port: u16,
    config: TerminalConfig,
) -> io::Result<Vec<SimulatedTerminal>> {
    let mut terminals = Vec::with_capacity(count);
    for i in 0..count {
        let port = u16::try_from(i)
            .ok()
            .and_then(|offset| base_port.checked_add(offset))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{count} terminals from port {base_port} run past port 65535"),
                )
            })?;
        let mut own = config.clone();
        own.name = format!("{} {}", config.name, i + 1);
        own.serial = format!("{}-{}", config.serial, i + 1);
        terminals.push(spawn(own, SocketAddr::new(ip, port)).await?);
    }
    Ok(terminals)
}

impl SimulatedTerminal {
    /// The address the terminal listens on.
    pub fn addr(&self) -> SocketAddr {
        self.terminal.addr
    }

    /// `http://<addr>`, the base URL of its ISAPI.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.terminal.addr)
    }

    /// The configuration it was started with (its `faults` are the start-up ones).
    pub fn config(&self) -> &TerminalConfig {
        &self.terminal.config
    }

    /// A copy of its persons, faces and login state.
    pub fn state(&self) -> StateSnapshot {
        self.terminal.snapshot()
    }

    /// Its persons, ordered by employeeNo.
    pub fn persons(&self) -> Vec<UserInfo> {
        self.terminal.store().persons.values().cloned().collect()
    }

    /// One person, if present.
    pub fn person(&self, employee_no: &str) -> Option<UserInfo> {
        self.terminal.store().persons.get(employee_no).cloned()
    }

    /// Whether a face of `employee_no` presented at `at` would open the door: the person and
    /// their face are there and `at` (in the terminal's local time) lies inside their enabled
    /// `Valid` window.
    pub fn face_access(
        &self,
        employee_no: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AccessAnswer {
        self.terminal.face_access(employee_no, at)
    }

    /// Presents `employee_no`'s face at door `door_no` now: the terminal decides as
    /// [`SimulatedTerminal::face_access`] does, logs the event (minor 75 granted; 76 denied,
    /// naming the person when it knows them, nobody for an unknown face) and pushes it to its
    /// listeners. Returns the decision and the event's serial number.
    pub fn present_face(&self, employee_no: &str, door_no: i32) -> (AccessAnswer, i64) {
        self.terminal.present_face(employee_no, door_no)
    }

    /// Logs a door event (`minor` 21/22 lock opened/closed, 23/24 door opened/closed) and pushes
    /// it; returns its serial number.
    pub fn door_event(&self, door_no: i32, minor: i32) -> i64 {
        self.terminal.door_event(door_no, minor)
    }

    /// The event log, oldest first.
    pub fn events(&self) -> Vec<AcsEventInfo> {
        let log = self.terminal.events();
        log.events.iter().map(|e| e.info.clone()).collect()
    }

    /// Empties the event log and numbers from 1 again, as a reset or replaced terminal does.
    pub fn reset_event_log(&self) {
        self.terminal.events().reset();
    }

    /// Puts the terminal's clock `skew` away from real time (a drifting clock).
    pub fn set_clock_skew(&self, skew: chrono::Duration) {
        self.terminal.events().clock_skew = skew;
    }

    /// How far the terminal's clock is from real time.
    pub fn clock_skew(&self) -> chrono::Duration {
        self.terminal.events().clock_skew
    }

    /// The listener slots (`httpHosts`), as `GET` shows them.
    pub fn http_hosts(&self) -> Vec<HttpHostNotification> {
        let log = self.terminal.events();
        log.slots.iter().map(|s| s.host.clone()).collect()
    }

    /// Writes a listener slot directly (another system's registration, for tests); the slot
    /// with `host.id` must exist.
    pub fn set_http_host(&self, host: HttpHostNotification) {
        let mut log = self.terminal.events();
        let next = log.next_serial;
        if let Some(slot) = log.slots.iter_mut().find(|s| s.host.id == host.id) {
            slot.host = host;
            slot.next_serial = next;
        }
    }

    /// The face stored for `fpid`, if any.
    pub fn face(&self, fpid: &str) -> Option<StoredFace> {
        self.terminal.store().faces.get(fpid).cloned()
    }

    /// TCP connections accepted since start (on all paths, control endpoints included).
    pub fn connections_accepted(&self) -> u64 {
        self.terminal
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Failed logins since start or the last [`SimulatedTerminal::reset_lock`].
    pub fn failed_logins(&self) -> u32 {
        self.terminal.store().login.failed_logins()
    }

    /// Whether the account is locked right now.
    pub fn is_locked(&self) -> bool {
        self.terminal.snapshot().locked
    }

    /// Lifts the lockout and forgets failed logins.
    pub fn reset_lock(&self) {
        self.terminal.store().login.reset();
    }

    /// The last requests on `/ISAPI/*` (at most
    /// [`REQUEST_LOG_CAPACITY`](super::REQUEST_LOG_CAPACITY)), oldest first.
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.terminal.store().request_log()
    }

    /// Every request on `/ISAPI/*` since the start (or the last clear), counted by method, path
    /// and status: unlike the request log, never capped.
    pub fn request_counts(&self) -> Vec<(RequestLogEntry, u64)> {
        self.terminal.store().request_counts()
    }

    /// The last search pages answered (at most
    /// [`REQUEST_LOG_CAPACITY`](super::REQUEST_LOG_CAPACITY)), oldest first, with the
    /// `searchID` and position each asked for.
    pub fn search_log(&self) -> Vec<SearchLogEntry> {
        self.terminal.store().search_log()
    }

    /// Empties the request log, the request counts and the search log.
    pub fn clear_request_log(&self) {
        self.terminal.store().clear_request_log();
    }

    /// `UserInfo/Delete` calls that named nobody and so deleted every person (as real
    /// terminals do); a careful client keeps it at 0.
    pub fn mass_deletions(&self) -> u64 {
        self.terminal.store().mass_deletions
    }

    /// `FDSearch/Delete` calls that named no face (refused here; undocumented on hardware).
    pub fn mass_face_deletions(&self) -> u64 {
        self.terminal.store().mass_face_deletions
    }

    /// The most write calls (person or face writes, deletes) for one person the terminal has
    /// processed at once, from body parsed to reply built; 1 when a client serialises its calls
    /// per person, 0 before any write.
    pub fn max_concurrent_calls_per_person(&self) -> u32 {
        self.terminal.in_flight.max()
    }

    /// Replaces the fault knobs; the next request sees them.
    pub fn set_faults(&self, faults: Faults) {
        self.terminal.set_faults(faults);
    }

    /// The current fault knobs.
    pub fn faults(&self) -> Faults {
        self.terminal.faults()
    }

    /// Seeds a person (added, or replaced if the employeeNo exists).
    pub fn add_person(&self, person: UserInfo) {
        let mut person = person;
        person.num_of_face = None;
        person.face_url = None;
        self.terminal
            .store()
            .persons
            .insert(person.employee_no.clone(), person);
    }

    /// Seeds a face (source `seeded`), whether or not the person exists; no picture checks.
    /// The stored dimensions are those a JPEG or PNG header declares, 0 x 0 for other bytes.
    pub fn set_face(&self, fpid: impl Into<String>, bytes: impl Into<Bytes>) {
        let fpid = fpid.into();
        let bytes = bytes.into();
        let size = dimensions(&bytes).unwrap_or_default();
        self.terminal
            .store()
            .put_face(&fpid, bytes, "seeded".into(), size);
    }

    /// Stops the server and waits until its task has ended.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimulatedTerminal {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
