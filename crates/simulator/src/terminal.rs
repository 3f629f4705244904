//! The state one simulated terminal shares between its handlers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use hikvision_isapi::wire::DeviceInfo;

use super::access::{AccessAnswer, AccessDecision, decide};
use super::auth::NonceIssuer;
use super::config::{Faults, TerminalConfig};
use super::events::{EventLog, MINOR_FACE_DENIED, MINOR_FACE_GRANTED};
use super::in_flight::InFlight;
use super::state::{RequestLogEntry, StateSnapshot, Store, lock};

/// One terminal: configuration, memory, faults and the shutdown signal.
#[derive(Debug)]
pub(crate) struct Terminal {
    pub(crate) config: TerminalConfig,
    pub(crate) addr: SocketAddr,
    pub(crate) nonces: NonceIssuer,
    /// TCP connections accepted so far.
    pub(crate) connections: Arc<AtomicU64>,
    /// Write calls per person being processed.
    pub(crate) in_flight: InFlight,
    store: Mutex<Store>,
    /// The event log, the clock and the listener slots.
    events: Mutex<EventLog>,
    /// Wakes the pusher when there is something new to push.
    pusher: Notify,
    /// A watch channel rather than a mutex, so a request held by `hang` can notice the knob
    /// being turned off.
    faults: watch::Sender<Faults>,
    shutdown: watch::Receiver<bool>,
}

impl Terminal {
    pub(crate) fn new(
        config: TerminalConfig,
        addr: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            nonces: NonceIssuer::new(config.nonce_ttl),
            connections: Arc::new(AtomicU64::new(0)),
            in_flight: InFlight::default(),
            faults: watch::Sender::new(config.faults.clone()),
            store: Mutex::new(Store::default()),
            events: Mutex::new(EventLog::new(
                config.event_capacity,
                config.http_host_slots,
                config.utc_offset_secs,
            )),
            pusher: Notify::new(),
            config,
            addr,
            shutdown,
        }
    }

    /// The terminal's memory. Never hold the guard across an `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The event log. Never hold the guard across an `.await`.
    pub(crate) fn events(&self) -> MutexGuard<'_, EventLog> {
        lock(&self.events)
    }

    /// Asks the pusher to look for new events now.
    pub(crate) fn push_wanted(&self) {
        self.pusher.notify_one();
    }

    /// Resolves when [`Terminal::push_wanted`] was called.
    pub(crate) async fn push_requested(&self) {
        self.pusher.notified().await;
    }

    /// Presents a face at the door now: the terminal decides and logs the event (granted,
    /// denied naming the person, or an unknown face naming nobody).
    pub(crate) fn present_face(&self, employee_no: &str, door_no: i32) -> (AccessAnswer, i64) {
        let answer = self.face_access(employee_no, chrono::Utc::now() + self.events().clock_skew);
        let known = answer.decision != AccessDecision::UnknownPerson;
        let minor = if answer.granted {
            MINOR_FACE_GRANTED
        } else {
            MINOR_FACE_DENIED
        };
        let serial = self.events().push(
            minor,
            known.then(|| employee_no.to_owned()),
            door_no,
            Some("face"),
        );
        self.push_wanted();
        (answer, serial)
    }

    /// Logs a door event (`minor` 21/22 lock opened/closed, 23/24 door opened/closed).
    pub(crate) fn door_event(&self, door_no: i32, minor: i32) -> i64 {
        let serial = self.events().push(minor, None, door_no, None);
        self.push_wanted();
        serial
    }

    /// Whether a face of `employee_no` presented at `at` would open the door.
    pub(crate) fn face_access(
        &self,
        employee_no: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AccessAnswer {
        decide(&self.store(), employee_no, at, self.config.utc_offset_secs)
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults.borrow().clone()
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        self.faults.send_replace(faults);
    }

    /// Resolves when the `hang` fault is turned off or the terminal shuts down.
    pub(crate) async fn hang(&self) {
        let mut faults = self.faults.subscribe();
        tokio::select! {
            _ = faults.wait_for(|f| !f.hang) => {}
            () = self.shutting_down() => {}
        }
    }

    pub(crate) fn log(&self, method: &str, path: &str, status: Option<u16>) {
        self.store().log(RequestLogEntry {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
        });
    }

    pub(crate) fn device_info(&self) -> DeviceInfo {
        DeviceInfo {
            device_name: self.config.name.clone(),
            model: self.config.model.clone(),
            serial_number: self.config.serial.clone(),
            firmware_version: self.config.firmware.clone(),
            device_type: "ACS".into(),
        }
    }

    pub(crate) fn snapshot(&self) -> StateSnapshot {
        let mut store = self.store();
        let unlock_in = store.login.lock_remaining(Instant::now());
        StateSnapshot {
            persons: store.persons.values().cloned().collect(),
            faces: store.face_summaries(),
            failed_logins: store.login.failed_logins(),
            locked: unlock_in.is_some(),
            unlock_in_secs: unlock_in.unwrap_or(0),
            connections: self.connections.load(Ordering::Relaxed),
            mass_deletions: store.mass_deletions,
            mass_face_deletions: store.mass_face_deletions,
            max_concurrent_calls_per_person: self.in_flight.max(),
        }
    }

    /// Resolves when the terminal is shutting down (or its owner is gone).
    pub(crate) async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|&stop| stop).await;
    }

    /// Runs `work` unless the terminal shuts down first (then `None`).
    pub(crate) async fn unless_shutdown<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            value = work => Some(value),
            () = self.shutting_down() => None,
        }
    }

    /// Sleeps on a tokio timer; false if the terminal shut down meanwhile.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        self.unless_shutdown(tokio::time::sleep(duration))
            .await
            .is_some()
    }
}
