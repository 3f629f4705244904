//! The state one simulated terminal shares between its handlers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use hikvision_isapi::wire::DeviceInfo;

use super::access::{AccessAnswer, decide};
use super::auth::NonceIssuer;
use super::config::{Faults, TerminalConfig};
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
            config,
            addr,
            shutdown,
        }
    }

    /// The terminal's memory. Never hold the guard across an `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
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
