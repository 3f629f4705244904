//! [`Events`]: the store, the terminal client and what the service knows of each terminal's
//! events (push registration, catch-up), with the background loop that keeps them in step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hikvision_isapi::{IsapiClient, IsapiError};
use serde::Serialize;

use super::store::EventStore;
use super::token::PushKey;
use crate::config::EventSettings;
use crate::models::Device;
use crate::orchestration::Orchestrator;
use crate::supabase::Directory;

/// Where a terminal's push registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// The terminal pushes to this service.
    Registered,
    /// Not (yet) registered: the terminal was not reached, or the check has not run.
    NotRegistered,
    /// The terminal refused (no free slot, or the call is not supported).
    Refused,
    /// Push is off (`EVENTS_PUBLIC_URL` unset).
    Off,
}

/// What the service knows of one terminal's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TerminalEvents {
    /// Push registration.
    pub push: PushState,
    /// Events the terminal reported that are not stored yet (null: not known).
    pub event_backlog: Option<u64>,
    /// True when the terminal refused the event search (some firmware): it is not asked again
    /// until the service restarts.
    pub search_refused: bool,
    /// The last problem reading or registering, in plain words (no address, no token).
    pub last_error: Option<String>,
    /// When the last catch-up finished.
    pub last_catch_up_at: Option<DateTime<Utc>>,
    /// The terminal's clock minus the service's, in milliseconds, when read.
    pub clock_offset_ms: Option<i64>,
}

impl TerminalEvents {
    fn new(push: PushState) -> Self {
        Self {
            push,
            event_backlog: None,
            search_refused: false,
            last_error: None,
            last_catch_up_at: None,
            clock_offset_ms: None,
        }
    }
}

/// Per terminal: one search at a time, and its status.
#[derive(Debug)]
pub(super) struct TerminalSlot {
    pub(super) search: tokio::sync::Mutex<()>,
    pub(super) status: Mutex<TerminalEvents>,
    pub(super) device: Mutex<Option<Device>>,
    pub(super) registered_at: Mutex<Option<Instant>>,
    /// When the terminal's clock was last read.
    pub(super) clock_read_at: Mutex<Option<Instant>>,
    /// A catch-up asked for by a push gap is waiting: more gaps need no other.
    pub(super) catch_up_pending: std::sync::atomic::AtomicBool,
}

/// Credentials refusals every replica shares (the delivery store's credential blocks): a wrong
/// password costs one failed login across replicas, events and delivery together.
pub trait SharedCredentials: Send + Sync {
    /// True when another replica (or this one's delivery) found these credentials refused.
    fn refused<'a>(&'a self, device: &'a Device) -> futures::future::BoxFuture<'a, bool>;
    /// Records that the terminal refused these credentials.
    fn note_refused<'a>(
        &'a self,
        device: &'a Device,
        message: String,
    ) -> futures::future::BoxFuture<'a, ()>;
}

/// Access events: ingestion by push and catch-up, and reading.
pub struct Events {
    pub(super) store: Arc<dyn EventStore>,
    /// The pushes' group commit into `store`.
    pub(super) pushes: super::batch::PushBatcher,
    pub(super) client: IsapiClient,
    pub(super) directory: Option<Arc<dyn Directory>>,
    pub(super) settings: EventSettings,
    pub(super) key: PushKey,
    /// Terminals read at once by a round (`DEVICE_CONCURRENCY`, at most [`ROUND_CONCURRENCY`]).
    concurrency: usize,
    /// The credential guard and the pacing every terminal call shares.
    pub(super) orchestrator: Arc<Orchestrator>,
    /// Counters and gauges for `/metrics`, when wired.
    pub(super) metrics: Option<super::metrics::EventMetrics>,
    terminals: Mutex<HashMap<String, Arc<TerminalSlot>>>,
    /// Refusals shared with the other replicas, when wired.
    shared: Option<Arc<dyn SharedCredentials>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// At most this many terminals are read at once by a catch-up round, whatever
/// `DEVICE_CONCURRENCY`: the round is background work (pushes carry the events as they happen),
/// and reading a 1,000-terminal fleet all at once held 1,000 more connections and futures in
/// memory next to a click's fan-out (26 MiB of the service's peak at 1,000 terminals,
/// BENCHMARKS.md). 64 at a time still reads 1,000 terminals answering in 1 s within a 60 s
/// `EVENTS_POLL_INTERVAL_MS` (three calls each: about 47 s).
pub const ROUND_CONCURRENCY: usize = 64;

/// Terminals a round reads at once for a `DEVICE_CONCURRENCY` of `device_concurrency`.
fn round_width(device_concurrency: usize) -> usize {
    device_concurrency.clamp(1, ROUND_CONCURRENCY)
}

impl Events {
    /// Events on `store`, reading terminals with `client` (with the `orchestrator`'s pacing and
    /// credential guard; `concurrency` terminals at once, at most [`ROUND_CONCURRENCY`]), tokens
    /// made with a key derived from `secret`.
    pub fn new(
        store: Arc<dyn EventStore>,
        client: IsapiClient,
        orchestrator: Arc<Orchestrator>,
        directory: Option<Arc<dyn Directory>>,
        settings: EventSettings,
        secret: &[u8],
        concurrency: usize,
    ) -> Self {
        Self {
            pushes: super::batch::PushBatcher::new(Arc::clone(&store)),
            store,
            client,
            orchestrator,
            directory,
            settings,
            key: PushKey::new(secret),
            concurrency: round_width(concurrency),
            metrics: None,
            terminals: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Shares credentials refusals with `shared` (every replica's delivery store).
    pub fn with_shared_credentials(mut self, shared: Arc<dyn SharedCredentials>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Runs one terminal `call` for `device`: not at all while its credentials are refused
    /// (a wrong password costs one failed login in all, background included), else in its turn,
    /// recording the outcome for the guard.
    pub(super) async fn on_terminal<T>(
        &self,
        device: &Device,
        call: impl std::future::Future<Output = Result<T, IsapiError>>,
    ) -> Result<T, IsapiError> {
        let refused_elsewhere = match &self.shared {
            Some(shared) => shared.refused(device).await,
            None => false,
        };
        if refused_elsewhere || self.orchestrator.knows_refused(device) {
            return Err(IsapiError::WrongCredentials {
                attempts_left: None,
            });
        }
        self.orchestrator.wait_turn(device).await;
        let result = call.await;
        self.orchestrator
            .note_outcome(device, result.as_ref().map(|_| ()));
        if let (Err(e), Some(shared)) = (&result, &self.shared)
            && e.class() == hikvision_isapi::ErrorClass::Credentials
        {
            shared.note_refused(device, e.to_string()).await;
        }
        result
    }

    /// Reports to `metrics` (`GET /metrics`).
    pub fn with_metrics(mut self, metrics: super::metrics::EventMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Counts `n` events stored from `source`.
    pub(super) fn count_stored(&self, source: &str, n: usize) {
        if let Some(m) = &self.metrics {
            m.stored(source, n);
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The push token of `device_id` (a secret: for the registered URL only).
    pub fn token(&self, device_id: &str) -> String {
        self.key.token(device_id)
    }

    /// True when `token` is `device_id`'s push token (constant time).
    pub fn verify_token(&self, device_id: &str, token: &str) -> bool {
        self.key.verify(device_id, token)
    }

    /// When each of `device_ids` had its newest stored event (absent: none), in one store call.
    pub async fn newest_events_at(
        &self,
        device_ids: &[String],
    ) -> Result<HashMap<String, DateTime<Utc>>, super::EventError> {
        self.store.newest_events_at(device_ids).await
    }

    /// The push state a terminal starts with.
    fn initial_push(&self) -> PushState {
        if self.settings.public_url.is_some() {
            PushState::NotRegistered
        } else {
            PushState::Off
        }
    }

    pub(super) fn slot(&self, device_id: &str) -> Arc<TerminalSlot> {
        let push = self.initial_push();
        Arc::clone(
            lock(&self.terminals)
                .entry(device_id.to_owned())
                .or_insert_with(|| {
                    Arc::new(TerminalSlot {
                        search: tokio::sync::Mutex::new(()),
                        status: Mutex::new(TerminalEvents::new(push)),
                        device: Mutex::new(None),
                        registered_at: Mutex::new(None),
                        clock_read_at: Mutex::new(None),
                        catch_up_pending: std::sync::atomic::AtomicBool::new(false),
                    })
                }),
        )
    }

    /// What the service knows of `device_id`'s events.
    pub fn status(&self, device_id: &str) -> TerminalEvents {
        lock(&self.slot(device_id).status).clone()
    }

    pub(super) fn update(&self, device_id: &str, change: impl FnOnce(&mut TerminalEvents)) {
        change(&mut lock(&self.slot(device_id).status));
    }

    /// The terminals of the devices table (the usable rows), remembered for pushes.
    pub async fn devices(&self) -> Vec<Device> {
        let Some(directory) = &self.directory else {
            return Vec::new();
        };
        match directory.get_active_devices().await {
            Ok(entries) => {
                let devices: Vec<Device> = entries.into_iter().filter_map(Result::ok).collect();
                for d in &devices {
                    *lock(&self.slot(&d.id).device) = Some(d.clone());
                }
                devices
            }
            Err(e) => {
                tracing::warn!(error = %e, "events: cannot read the devices table");
                Vec::new()
            }
        }
    }

    /// A terminal seen in the devices table, by id.
    pub(super) fn known_device(&self, device_id: &str) -> Option<Device> {
        lock(&self.slot(device_id).device).clone()
    }

    /// Starts the background work: every `EVENTS_POLL_INTERVAL_MS` each terminal is read
    /// forward (the first round at once: the catch-up on start), its registration checked every
    /// `EVENTS_REGISTRATION_CHECK_MS` and when it comes back; old events pruned daily. Ends when
    /// the last [`Arc`] of `self` is dropped.
    pub fn start_background(self: &Arc<Self>) {
        if !self.settings.enabled {
            tracing::info!("events: EVENTS_ENABLED=false, terminals' events are not read");
            return;
        }
        if self.settings.public_url.is_none() {
            tracing::info!(
                "events: EVENTS_PUBLIC_URL is not set, so terminals do not push events; they are read by the catch-up every EVENTS_POLL_INTERVAL_MS"
            );
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let poll = self.settings.poll_interval;
        tokio::spawn(async move {
            let mut last_prune: Option<Instant> = None;
            loop {
                let Some(this) = weak.upgrade() else { return };
                this.round().await;
                if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(86_400)) {
                    this.prune().await;
                    last_prune = Some(Instant::now());
                }
                drop(this);
                tokio::time::sleep(poll).await;
            }
        });
    }

    /// One round over every terminal, `concurrency` at a time.
    pub async fn round(self: &Arc<Self>) {
        use futures::StreamExt;
        let devices = self.devices().await;
        let work = devices.into_iter().map(|device| {
            let this = Arc::clone(self);
            async move {
                let was_away = this.status(&device.id).last_error.is_some();
                this.check_registration(&device, false).await;
                let caught_up = this.catch_up(&device).await.is_ok();
                if was_away && caught_up {
                    // Back from an outage or a reboot: some firmware forgets its listeners.
                    this.check_registration(&device, true).await;
                }
                if caught_up {
                    this.read_clock(&device).await;
                }
            }
        });
        futures::stream::iter(work)
            .buffer_unordered(self.concurrency)
            .collect::<Vec<()>>()
            .await;
    }

    async fn prune(&self) {
        let days = i64::from(self.settings.retention_days);
        let before = Utc::now() - chrono::Duration::days(days);
        match self.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, days, "events: old events deleted"),
            Err(e) => tracing::warn!(error = %e, "events: cannot delete old events"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_reads_at_most_round_concurrency_terminals_at_once() {
        assert_eq!(round_width(0), 1);
        assert_eq!(round_width(16), 16);
        assert_eq!(round_width(ROUND_CONCURRENCY), ROUND_CONCURRENCY);
        // The default DEVICE_CONCURRENCY (1,024) does not read a whole large fleet at once.
        assert_eq!(round_width(1024), ROUND_CONCURRENCY);
    }
}
