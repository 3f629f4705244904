//! The job engine under supervision. When the worker loses its database (one of its own
//! statements, or a job's, finds none: see [`super::shift`]), or `Worker::run` returns by itself,
//! the supervisor stops it, waits until none of its jobs runs any more, then starts a new worker as
//! soon as the database answers again, with a capped, jittered backoff between attempts, and hands
//! the stopped worker's locked jobs back to the queue at once instead of waiting for the
//! dead-worker sweep. It runs until the process ends.

use std::sync::Arc;
use std::time::Duration;

use graphile_worker::{Database, Worker, WorkerUtils};
use rand::Rng;

use super::DeliveryError;
use super::jobs::{Runner, WORKER_SCHEMA, init_worker};
use super::outage::Availability;
use super::schedule::TaskRunner;
use super::shift::Shift;

/// First pause before starting the engine again.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// Longest pause between two attempts: the engine is back at most this long after the database.
const MAX_PAUSE: Duration = Duration::from_secs(3);
/// A worker that ran this long stopped for a new reason: the pauses start short again (one that
/// stops at once keeps the longer pauses, so a flapping database is not hammered).
const STABLE: Duration = Duration::from_secs(30);
/// How long a worker told to stop may take: its jobs' grace (graphile_worker's default, 5 s) and
/// a second for the rest. Past it, its jobs are cut off; the jobs its local queue still held are
/// unlocked with the others (it keeps trying to hand them back while the database is away).
const STOP_WAIT: Duration = Duration::from_secs(6);

/// Starts the job engine in this process, supervised, with a job slot per terminal with work up
/// to `device_concurrency` (see [`super::jobs::job_slots`]): it runs until the process ends, and
/// starts again by itself whenever it stops. Fails when the first start fails.
pub async fn start_worker(
    database: Database,
    runner: Arc<dyn TaskRunner>,
    device_concurrency: usize,
    availability: Arc<Availability>,
) -> Result<(), DeliveryError> {
    let runner = Runner::new(runner, Arc::clone(&availability));
    let (worker, shift) = init_worker(&database, &runner, device_concurrency).await?;
    let supervisor = Supervisor {
        database,
        runner,
        device_concurrency,
        availability,
    };
    tokio::spawn(supervisor.run(worker, shift));
    Ok(())
}

/// Doubling pauses up to [`MAX_PAUSE`], each drawn from its upper half, so replicas that lost the
/// database at the same moment do not all come back in the same millisecond.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self { next: FIRST_PAUSE }
    }

    fn pause(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(MAX_PAUSE);
        let half = u64::try_from(ceiling.as_millis() / 2).unwrap_or(0);
        Duration::from_millis(half + rand::rng().random_range(0..=half))
    }
}

/// What it takes to start a worker again.
struct Supervisor {
    /// The job engine's database.
    database: Database,
    /// Runs the jobs.
    runner: Runner,
    /// `DEVICE_CONCURRENCY`, which the job slots follow.
    device_concurrency: usize,
    /// Where the engine's state is reported.
    availability: Arc<Availability>,
}

impl Supervisor {
    /// Runs `worker`, and a new one each time the last one stops, until the process ends.
    async fn run(self, mut worker: Worker, mut shift: Arc<Shift>) {
        let utils = WorkerUtils::new(self.database.clone(), WORKER_SCHEMA);
        let mut backoff = Backoff::new();
        let mut restart = false;
        loop {
            self.availability.engine_started(restart);
            if restart {
                // Work whose job may have been lost with the outage is due now, not at the next sweep.
                let resumed = self.runner.runner.resume().await;
                self.availability
                    .report("scheduling the work overdue after an outage", &resumed);
            }
            let started = std::time::Instant::now();
            self.run_shift(&worker, &shift).await;
            // None of its jobs runs any more: they can go to any replica.
            shift.end().await;
            if started.elapsed() > STABLE {
                backoff = Backoff::new();
            }
            let stopped = worker.worker_id().clone();
            drop(worker);
            (worker, shift) = self.start_again(&utils, &stopped, &mut backoff).await;
            restart = true;
        }
    }

    /// Runs `worker` until it stops by itself or loses its database, then stops it (its jobs get
    /// the engine's grace to end, for at most [`STOP_WAIT`]).
    async fn run_shift(&self, worker: &Worker, shift: &Shift) {
        let run = worker.run();
        tokio::pin!(run);
        let (reason, returned) = tokio::select! {
            ran = &mut run => match ran {
                Ok(()) => ("it returned without being asked to stop".to_string(), true),
                Err(e) => (e.to_string(), true),
            },
            lost = shift.lost() => (lost, false),
        };
        self.availability.engine_stopped(&reason);
        if !returned {
            worker.request_shutdown();
            if tokio::time::timeout(STOP_WAIT, &mut run).await.is_err() {
                tracing::debug!(
                    "the stopped job engine did not end within {STOP_WAIT:?}: its jobs are cut off and unlocked"
                );
            }
        }
    }

    /// A new worker and its shift, once the database answers; the `stopped` worker's jobs are
    /// unlocked.
    async fn start_again(
        &self,
        utils: &WorkerUtils,
        stopped: &str,
        backoff: &mut Backoff,
    ) -> (Worker, Arc<Shift>) {
        loop {
            tokio::time::sleep(backoff.pause()).await;
            match init_worker(&self.database, &self.runner, self.device_concurrency).await {
                Ok(started) => {
                    if let Err(e) = utils.force_unlock_workers(&[stopped]).await {
                        // The new worker's sweep frees them within DEAD_REPLICA_AFTER instead.
                        tracing::debug!(error = %e, "could not unlock the stopped worker's jobs");
                    }
                    return started;
                }
                Err(e) => self.availability.unreachable(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new();
        let pauses: Vec<Duration> = (0..8).map(|_| b.pause()).collect();
        assert!(pauses[0] >= FIRST_PAUSE / 2 && pauses[0] <= FIRST_PAUSE);
        assert!(pauses.iter().all(|p| *p <= MAX_PAUSE));
        assert!(pauses[7] >= MAX_PAUSE / 2, "{pauses:?}");
    }
}
