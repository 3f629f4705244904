//! Durable delivery: every change reaches every active terminal eventually, or stays visibly
//! `failed` with a reason a person can act on.
//!
//! The desired state per (employee, terminal) lives in a store ([`DeliveryStore`]: Postgres, or
//! memory for the demo); the request path claims each pair before calling its terminal and records
//! what happened; what did not finish is retried in the background ([`runner`]) through the job
//! engine ([`jobs`]: one named queue per terminal, one pending job per pair), with the backoff and
//! the "retry or wait for a person" table of [`policy`]. A sweep ([`sweep`]) makes up for lost
//! webhooks, and a claims heartbeat keeps a live replica's claims while a dead one's run out.

pub mod audit;
mod background;
mod credentials;
pub mod engine;
mod gate;
pub mod jobs;
pub mod memory;
pub mod model;
pub mod outage;
mod owner;
pub mod policy;
pub mod postgres;
pub mod reconcile;
mod request;
mod restore;
pub mod resync;
mod runner;
pub mod schedule;
mod settle;
mod shift;
pub mod store;
mod sweep;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::database::DbFailure;
use crate::metrics::Metrics;
use crate::orchestration::Orchestrator;
use crate::supabase::{Directory, DirectoryError};

pub use model::{
    Change, Claim, PairKey, PairRecord, PairState, Revocation, RevocationReason, ShouldHold, Want,
    Wanted,
};
pub use policy::RetryTiming;
pub use store::DeliveryStore;

/// How long a claim lasts without a heartbeat: a dead replica's pairs are free again after this.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);

/// Why the durable store or the job engine failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A query failed.
    #[error("the delivery database failed: {0}")]
    Store(String),
    /// The database does not answer (stopped, restarting, unreachable, no connection in time):
    /// an outage to ride through, not a bug.
    #[error("the delivery database does not answer: {0}")]
    Unavailable(String),
    /// The database has no `hikvision_sync` schema.
    #[error(
        "the database has no hikvision_sync schema: apply supabase/migrations/0002_hikvision_sync_delivery.sql (Supabase SQL editor or `supabase db push`)"
    )]
    SchemaMissing,
    /// The database's migrations are older than the code.
    #[error(
        "the database is at hikvision_sync migration {found}, this version needs {needed}: apply the newer files in supabase/migrations/ (Supabase SQL editor or `supabase db push`)"
    )]
    SchemaOutdated {
        /// What the database has.
        found: i32,
        /// What the code needs.
        needed: i32,
    },
    /// Supabase could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl DeliveryError {
    /// True when the database did not answer (an outage), rather than answered with an error.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DbFailure> for DeliveryError {
    fn from(failure: DbFailure) -> Self {
        match failure {
            DbFailure::Unavailable(why) => Self::Unavailable(why),
            DbFailure::Failed(why) => Self::Store(why),
        }
    }
}

impl From<tokio_postgres::Error> for DeliveryError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbFailure::from(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for DeliveryError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        DbFailure::from(e).into()
    }
}

/// Settings of durable delivery.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Backoff bounds.
    pub timing: RetryTiming,
    /// How often the sweep compares the tables with the desired state.
    pub sweep_interval: Duration,
    /// Whether a new biometrie row enrols the person (grants door access).
    pub enrol_new: bool,
    /// How long a reconcile report may be used for a fix.
    pub reconcile_report_ttl: Duration,
    /// Key of the credentials fingerprints (shared by every replica; never stored).
    pub fingerprint_key: Vec<u8>,
}

/// Durable delivery for one process: the request path, the background runner, the status reads.
pub struct Delivery {
    store: Arc<dyn DeliveryStore>,
    scheduler: Arc<dyn schedule::Scheduler>,
    orchestrator: Arc<Orchestrator>,
    directory: Option<Arc<dyn Directory>>,
    metrics: Arc<Metrics>,
    options: DeliveryOptions,
    replica: String,
    seq: AtomicU64,
    audit: Arc<dyn audit::AuditLog>,
    reconciles: reconcile::Reconciles,
    availability: Arc<outage::Availability>,
    live: owner::LiveOwners,
    changes: Arc<gate::Changes>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("replica", &self.replica)
            .field("durable", &self.store.is_durable())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Durable delivery over `store`, scheduling through `scheduler`.
    pub fn new(
        store: Arc<dyn DeliveryStore>,
        scheduler: Arc<dyn schedule::Scheduler>,
        orchestrator: Arc<Orchestrator>,
        directory: Option<Arc<dyn Directory>>,
        metrics: Arc<Metrics>,
        options: DeliveryOptions,
    ) -> Self {
        let replica = format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("0")
        );
        let availability = Arc::new(outage::Availability::in_memory(Arc::clone(&metrics)));
        Self {
            store,
            scheduler,
            orchestrator,
            directory,
            metrics,
            options,
            replica,
            seq: AtomicU64::new(0),
            audit: Arc::new(audit::MemoryAudit::default()),
            reconciles: reconcile::Reconciles::default(),
            availability,
            live: owner::LiveOwners::default(),
            changes: Arc::default(),
        }
    }

    /// Reports the health of the database and the job engine to `availability` (Postgres)
    /// instead of an always-up twin.
    pub fn with_availability(mut self, availability: Arc<outage::Availability>) -> Self {
        self.availability = availability;
        self
    }

    /// Whether delivery works right now (`/ready`).
    pub fn availability(&self) -> &Arc<outage::Availability> {
        &self.availability
    }

    /// Records audited terminal writes in `audit` (Postgres) instead of memory.
    pub fn with_audit(mut self, audit: Arc<dyn audit::AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// The audit of terminal writes.
    pub fn audit(&self) -> &Arc<dyn audit::AuditLog> {
        &self.audit
    }

    /// The store (status endpoints read it).
    pub fn store(&self) -> &Arc<dyn DeliveryStore> {
        &self.store
    }

    /// A fresh claim owner of this replica (`<replica>:<what>:<n>`): its claims are renewed
    /// while it lives, and freed by the next heartbeat once it is dropped.
    fn owner(&self, what: &str) -> owner::Owner {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        self.live.register(format!("{}:{what}:{n}", self.replica))
    }

    /// Makes `changes` the desired state (see [`DeliveryStore::want`]) and tells this process's
    /// call gates, so an older attempt's next call is stopped at once.
    async fn want(
        &self,
        changes: &[Change],
        owner: Option<&str>,
        lease_until: chrono::DateTime<chrono::Utc>,
        by: &str,
    ) -> Result<Vec<Wanted>, DeliveryError> {
        let wanted = self.store.want(changes, owner, lease_until, by).await;
        self.changes.bump();
        wanted
    }

    /// [`Self::want`] for `owner`, with what the statement claimed: a request's call gate starts
    /// from it instead of reading the claims back before its first call. `None` when this
    /// process stored other changes meanwhile (the gate then reads).
    async fn want_claimed(
        &self,
        changes: &[Change],
        owner: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
        by: &str,
    ) -> Result<(Vec<Wanted>, Option<gate::Claimed>), DeliveryError> {
        let sent_at = std::time::Instant::now();
        let before = self.changes.now();
        let wanted = self.store.want(changes, Some(owner), lease_until, by).await;
        let previous = self.changes.bump_from();
        let wanted = wanted?;
        let claimed = (previous == before).then(|| gate::Claimed {
            sent_at,
            changes: previous + 1,
            held: changes
                .iter()
                .zip(&wanted)
                .filter(|(_, w)| w.is_claimed())
                .map(|(c, _)| (c.key.device_id.clone(), lease_until))
                .collect(),
        });
        Ok((wanted, claimed))
    }

    fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::from_std(CLAIM_LEASE)
                .unwrap_or_else(|_| chrono::Duration::seconds(30))
    }

    fn directory(&self) -> Result<&Arc<dyn Directory>, DeliveryError> {
        self.directory
            .as_ref()
            .ok_or(DeliveryError::Directory(DirectoryError::NotConfigured))
    }
}
