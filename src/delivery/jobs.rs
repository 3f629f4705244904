//! Background work through the job engine, `graphile_worker` (Postgres, no extension): one named
//! queue per terminal (one call in flight per terminal across every replica, so pacing holds too),
//! one pending job per task key (`job_key`, replaced by a newer one), `run_at` for backoff, and
//! worker heartbeats so a dead replica's jobs are taken over within `DEAD_REPLICA_AFTER`. The
//! worker runs under a supervisor ([`super::engine`], which starts it) that starts it again after an
//! outage.
//!
//! A replica runs one job slot per terminal with work, up to `DEVICE_CONCURRENCY` ([`job_slots`]),
//! and its slots are fed by the engine's local queue: one batch fetch (up to [`FETCH_BATCH`] jobs,
//! one per terminal queue) hands jobs to every idle slot. Without it each idle slot sends a fetch
//! of its own at every poll and every new job (a thousand slots, a thousand queries a second
//! doing nothing, and as many racing for the same rows when work arrives).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use graphile_worker::errors::GraphileWorkerError;
use graphile_worker::{
    Database, IntoTaskHandlerResult, JobKeyMode, JobSpec, LocalQueueConfig, RefetchDelayConfig,
    TaskHandler, Worker, WorkerContext, WorkerOptions, WorkerUtils,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DeliveryError;
use super::model::PairKey;
use super::outage::Availability;
use super::schedule::{Scheduler, Task, TaskRunner, last_per_key};
use super::shift::{CutOff, Shift, Watched, is_outage_code};
use super::store::StoreFuture;

/// The job engine's own schema.
pub const WORKER_SCHEMA: &str = "hikvision_sync_worker";
/// How often a replica proves it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// A replica silent this long is dead: its jobs go back on the queue.
pub const DEAD_REPLICA_AFTER: Duration = Duration::from_secs(20);

/// The most job slots a replica runs, whatever `DEVICE_CONCURRENCY`. An idle slot is a task
/// waiting for a signal: at each poll every one looks into the local queue (in memory), and
/// only the local queue asks the database.
pub const MAX_JOB_SLOTS: usize = 1024;
/// How often an idle replica asks for due jobs (a new job wakes it at once: `jobs:insert`).
const POLL: Duration = Duration::from_secs(1);
/// The most jobs one fetch takes. A fetched job waits in the local queue until a slot is free,
/// its terminal's queue locked to this replica meanwhile (only when every slot is busy), so a
/// fetch takes no more than this; filling 1,000 idle slots takes 8 fetches of a few
/// milliseconds each.
pub const FETCH_BATCH: usize = 128;
/// A fetched job that found no free slot for this long goes back to the database.
const LOCAL_TTL: Duration = Duration::from_secs(60);

/// The job slots of a replica for `device_concurrency`: one per terminal with work, as many as the
/// request path calls at once, up to [`MAX_JOB_SLOTS`].
pub fn job_slots(device_concurrency: usize) -> usize {
    device_concurrency.clamp(1, MAX_JOB_SLOTS)
}

/// The runner, as a worker extension, with where its outages are reported and the shift of the
/// worker it runs in.
#[derive(Clone)]
pub(super) struct Runner {
    /// Runs the tasks.
    pub(super) runner: Arc<dyn TaskRunner>,
    availability: Arc<Availability>,
    shift: Arc<Shift>,
}

impl Runner {
    /// `runner`, reporting its outages to `availability`.
    pub(super) fn new(runner: Arc<dyn TaskRunner>, availability: Arc<Availability>) -> Self {
        Self {
            runner,
            availability,
            shift: Arc::default(),
        }
    }

    /// The same runner, for the worker of `shift`.
    fn on(&self, shift: Arc<Shift>) -> Self {
        Self {
            shift,
            ..self.clone()
        }
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runner")
    }
}

async fn run_task(ctx: &WorkerContext, task: Task) -> Result<(), String> {
    let runner = ctx
        .get_ext::<Runner>()
        .ok_or("the delivery runner is not registered")?;
    // The job engine's own log lines are off by default (see `startup::init_logging`): a
    // failure is logged here, once per outage when the database does not answer.
    let key = task.key();
    let ran = runner.shift.run(runner.runner.run(task)).await;
    match ran {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            if e.is_outage() {
                runner.availability.unreachable(&e);
                runner.shift.lose(e.to_string());
            } else {
                tracing::warn!(task = %key, error = %e, "a background delivery task failed; the job engine runs it again");
            }
            Err(e.to_string())
        }
        Err(CutOff) => {
            tracing::debug!(task = %key, "a background delivery task was cut off: the job engine stopped");
            Err(
                "cut off: the job engine stopped (its work is scheduled again when it is back)"
                    .into(),
            )
        }
    }
}

/// Job: deliver one pair's desired change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverPair {
    angajat_id: Uuid,
    device_id: String,
}

impl TaskHandler for DeliverPair {
    const IDENTIFIER: &'static str = "hikvision_deliver_pair";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        run_task(
            &ctx,
            Task::Pair(PairKey::new(self.angajat_id, self.device_id)),
        )
        .await
    }
}

/// Job: probe a terminal with deferred work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeTerminal {
    device_id: String,
}

impl TaskHandler for ProbeTerminal {
    const IDENTIFIER: &'static str = "hikvision_probe_terminal";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        run_task(&ctx, Task::Probe(self.device_id)).await
    }
}

/// Job: the backstop of one request (see [`Task::Resume`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResumeEmployee {
    angajat_id: Uuid,
}

impl TaskHandler for ResumeEmployee {
    const IDENTIFIER: &'static str = "hikvision_resume_employee";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        run_task(&ctx, Task::Resume(self.angajat_id)).await
    }
}

/// A job engine call's failure: an outage when the database did not answer (no SQLSTATE, or the
/// classes of connection failures and shutdowns).
fn job_error(what: &str, e: &GraphileWorkerError) -> DeliveryError {
    let message = format!("{what}: {e}");
    match e {
        GraphileWorkerError::SqlError(db) if is_outage_code(db.code()) => {
            DeliveryError::Unavailable(message)
        }
        _ => DeliveryError::Store(message),
    }
}

/// Schedules tasks as jobs.
pub struct JobScheduler {
    utils: WorkerUtils,
}

impl std::fmt::Debug for JobScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobScheduler")
    }
}

fn spec(task: &Task, at: DateTime<Utc>) -> JobSpec {
    JobSpec {
        queue_name: task.device_id().map(|d| format!("terminal:{d}")),
        run_at: Some(at),
        job_key: Some(task.key()),
        job_key_mode: Some(JobKeyMode::Replace),
        ..JobSpec::default()
    }
}

impl JobScheduler {
    /// A scheduler on `database`.
    pub fn new(database: Database) -> Self {
        Self {
            utils: WorkerUtils::new(database, WORKER_SCHEMA),
        }
    }

    /// Creates or upgrades the job engine's schema.
    pub async fn migrate(&self) -> Result<(), DeliveryError> {
        self.utils
            .migrate()
            .await
            .map_err(|e| DeliveryError::Store(format!("job engine migration: {e}")))
    }
}

impl Scheduler for JobScheduler {
    fn schedule(&self, task: Task, at: DateTime<Utc>) -> StoreFuture<'_, ()> {
        async move {
            let spec = spec(&task, at);
            let added = match task {
                Task::Pair(key) => {
                    let job = DeliverPair {
                        angajat_id: key.angajat_id,
                        device_id: key.device_id,
                    };
                    self.utils.add_job(job, spec).await
                }
                Task::Probe(device_id) => {
                    self.utils.add_job(ProbeTerminal { device_id }, spec).await
                }
                Task::Resume(angajat_id) => {
                    self.utils
                        .add_job(ResumeEmployee { angajat_id }, spec)
                        .await
                }
            };
            added
                .map(drop)
                .map_err(|e| job_error("cannot schedule a job", &e))
        }
        .boxed()
    }

    fn schedule_all(&self, tasks: Vec<(Task, DateTime<Utc>)>) -> StoreFuture<'_, ()> {
        async move {
            let mut pairs = Vec::new();
            let mut probes = Vec::new();
            let mut resumes = Vec::new();
            for (task, at) in last_per_key(tasks) {
                let spec = spec(&task, at);
                match task {
                    Task::Resume(angajat_id) => resumes.push((ResumeEmployee { angajat_id }, spec)),
                    Task::Pair(key) => pairs.push((
                        DeliverPair {
                            angajat_id: key.angajat_id,
                            device_id: key.device_id,
                        },
                        spec,
                    )),
                    Task::Probe(device_id) => probes.push((ProbeTerminal { device_id }, spec)),
                }
            }
            self.add_all(&pairs).await?;
            self.add_all(&probes).await?;
            self.add_all(&resumes).await
        }
        .boxed()
    }
}

impl JobScheduler {
    /// Adds `jobs` in one statement (none: no round trip).
    async fn add_all<T: TaskHandler + Clone>(
        &self,
        jobs: &[(T, JobSpec)],
    ) -> Result<(), DeliveryError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let jobs: Vec<(T, &JobSpec)> = jobs.iter().map(|(job, spec)| (job.clone(), spec)).collect();
        self.utils
            .add_jobs(&jobs)
            .await
            .map(drop)
            .map_err(|e| job_error("cannot schedule jobs", &e))
    }
}

/// A job engine worker on `database` with [`job_slots`] slots for `device_concurrency`, not
/// running yet, and its shift; fails while the database does not answer.
pub(super) async fn init_worker(
    database: &Database,
    runner: &Runner,
    device_concurrency: usize,
) -> Result<(Worker, Arc<Shift>), DeliveryError> {
    let shift = Arc::new(Shift::default());
    let slots = job_slots(device_concurrency);
    // After a fetch that found nothing, the next one waits half to all of `POLL`; a new job ends
    // the wait. The engine's `poll_interval` does not space the local queue's fetches: without
    // this it fetches again at once (2,085 fetches a second with no work, in the drain bench).
    let idle = RefetchDelayConfig::default()
        .with_duration(POLL)
        .with_threshold(0)
        .with_max_abort_threshold(1);
    let local_queue = LocalQueueConfig::default()
        .with_size(FETCH_BATCH.min(slots))
        .with_ttl(LOCAL_TTL)
        .with_refetch_delay(idle);
    let worker = WorkerOptions::default()
        .database(Watched::database(database.clone(), Arc::clone(&shift)))
        .schema(WORKER_SCHEMA)
        .concurrency(slots)
        .poll_interval(POLL)
        .local_queue(local_queue)
        .listen_os_shutdown_signals(false)
        .heartbeat_interval(HEARTBEAT)
        .sweep_interval(HEARTBEAT)
        .sweep_threshold(DEAD_REPLICA_AFTER)
        .recovery_delay(Duration::from_millis(500))
        .add_extension(runner.on(Arc::clone(&shift)))
        .define_job::<DeliverPair>()
        .define_job::<ProbeTerminal>()
        .define_job::<ResumeEmployee>()
        .init()
        .await
        .map_err(|e| DeliveryError::Unavailable(format!("cannot start the job engine: {e}")))?;
    Ok((worker, shift))
}

#[cfg(test)]
mod tests {
    use graphile_worker::DbError;

    use super::*;

    #[test]
    fn a_job_engine_call_that_finds_no_database_is_an_outage() {
        let refused = GraphileWorkerError::SqlError(DbError::new("error connecting to server"));
        assert!(job_error("schedule", &refused).is_outage());
        let shutdown = GraphileWorkerError::SqlError(DbError::with_code("terminating", "57P01"));
        assert!(job_error("schedule", &shutdown).is_outage());
        let bug = GraphileWorkerError::SqlError(DbError::with_code("syntax", "42601"));
        assert!(!job_error("schedule", &bug).is_outage());
        assert!(!job_error("schedule", &GraphileWorkerError::JobScheduleSkipped).is_outage());
    }
}
