//! When work runs: a pair's next attempt, or a probe of a terminal with deferred work. Postgres
//! deployments schedule through the job engine ([`super::jobs`]); the in-memory twin keeps an
//! in-process queue with the same rules: one pending task per key (a newer one replaces it), and
//! one task at a time per terminal.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::Notify;
use uuid::Uuid;

use super::model::PairKey;
use super::store::StoreFuture;

/// A unit of background work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Deliver the pair's desired change.
    Pair(PairKey),
    /// Ask a terminal with deferred work whether it is back.
    Probe(String),
    /// The backstop of a request: once its claims have run out, the employee's pairs still due
    /// (those of a process that died mid-request) get their tasks. One per request, whatever the
    /// number of terminals.
    Resume(Uuid),
}

impl Task {
    /// The terminal the task talks to (its queue); `None` for a task that calls no terminal.
    pub fn device_id(&self) -> Option<&str> {
        match self {
            Self::Pair(key) => Some(&key.device_id),
            Self::Probe(device) => Some(device),
            Self::Resume(_) => None,
        }
    }

    /// The key that makes it unique among pending tasks.
    pub fn key(&self) -> String {
        match self {
            Self::Pair(key) => key.job_key(),
            Self::Probe(device) => format!("probe:{device}"),
            Self::Resume(angajat_id) => format!("resume:{angajat_id}"),
        }
    }
}

/// Puts tasks on the queue.
pub trait Scheduler: Send + Sync {
    /// Runs `task` at `at` (replacing a pending task with the same key).
    fn schedule(&self, task: Task, at: DateTime<Utc>) -> StoreFuture<'_, ()>;

    /// Makes every pair of `keys` run from `at`: one task per terminal (for its first pair),
    /// whose run keeps going through the terminal's other due pairs and leaves a task behind
    /// when it stops with some still due. So a bulk resync of thousands is a handful of jobs,
    /// not thousands for the job engine to skip over at every fetch.
    fn schedule_pairs(&self, keys: Vec<PairKey>, at: DateTime<Utc>) -> StoreFuture<'_, ()> {
        let tasks = first_per_terminal(keys)
            .into_iter()
            .map(|key| (Task::Pair(key), at))
            .collect();
        self.schedule_all(tasks)
    }

    /// Schedules every task of `tasks` at its time, as [`Self::schedule`] does (the last of two
    /// with the same key wins); the job engine adds them in one statement.
    fn schedule_all(&self, tasks: Vec<(Task, DateTime<Utc>)>) -> StoreFuture<'_, ()> {
        async move {
            for (task, at) in tasks {
                self.schedule(task, at).await?;
            }
            Ok(())
        }
        .boxed()
    }
}

/// The first of `keys` on each terminal, in the terminals' first-seen order.
pub fn first_per_terminal(keys: Vec<PairKey>) -> Vec<PairKey> {
    let mut seen = std::collections::HashSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(k.device_id.clone()))
        .collect()
}

/// `tasks` with one task per key, the last one given for each, in the order of their last
/// appearance.
pub fn last_per_key(tasks: Vec<(Task, DateTime<Utc>)>) -> Vec<(Task, DateTime<Utc>)> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<(Task, DateTime<Utc>)> = tasks
        .into_iter()
        .rev()
        .filter(|(task, _)| seen.insert(task.key()))
        .collect();
    kept.reverse();
    kept
}

/// Runs tasks taken off the queue.
pub trait TaskRunner: Send + Sync {
    /// Runs one task to its end (errors are logged by the caller and the task retried).
    fn run(&self, task: Task) -> StoreFuture<'_, ()>;

    /// Called when the job engine starts again after it stopped: schedules what may have lost
    /// its job meanwhile.
    fn resume(&self) -> StoreFuture<'_, ()> {
        async { Ok(()) }.boxed()
    }
}

#[derive(Default)]
struct Queue {
    by_time: BTreeMap<(DateTime<Utc>, u64), Task>,
    by_key: HashMap<String, (DateTime<Utc>, u64)>,
    seq: u64,
}

/// The in-process queue of the in-memory twin.
#[derive(Default)]
pub struct MemoryQueue {
    queue: Mutex<Queue>,
    wake: Notify,
    busy: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for MemoryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryQueue").finish_non_exhaustive()
    }
}

impl MemoryQueue {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn terminal_lock(&self, device_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(device_id.to_string())
            .or_default()
            .clone()
    }

    fn pop_due(&self, now: DateTime<Utc>) -> Result<Task, Option<DateTime<Utc>>> {
        let mut q = self.queue();
        let Some((&(at, seq), _)) = q.by_time.iter().next() else {
            return Err(None);
        };
        if at > now {
            return Err(Some(at));
        }
        let task = q.by_time.remove(&(at, seq)).ok_or(None)?;
        q.by_key.remove(&task.key());
        Ok(task)
    }

    /// Runs due tasks with `runner` until the queue is dropped.
    pub fn start(self: &Arc<Self>, runner: Weak<dyn TaskRunner>) {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(queue) = this.upgrade() else { return };
                let next = queue.pop_due(Utc::now());
                match next {
                    Ok(task) => {
                        let Some(runner) = runner.upgrade() else {
                            return;
                        };
                        let lock = task.device_id().map(|d| queue.terminal_lock(d));
                        tokio::spawn(async move {
                            // One task at a time per terminal, as the job engine's named queues do.
                            let _turn = match &lock {
                                Some(lock) => Some(lock.lock().await),
                                None => None,
                            };
                            if let Err(e) = runner.run(task.clone()).await {
                                tracing::warn!(task = ?task, error = %e, "background delivery task failed");
                            }
                        });
                    }
                    Err(next_at) => {
                        let wait = next_at
                            .and_then(|at| (at - Utc::now()).to_std().ok())
                            .unwrap_or(std::time::Duration::from_secs(1))
                            .min(std::time::Duration::from_secs(1));
                        // Bounded, so a dropped queue ends this loop within a second.
                        let _ = tokio::time::timeout(wait, queue.wake.notified()).await;
                    }
                }
            }
        });
    }
}

impl Scheduler for MemoryQueue {
    fn schedule(&self, task: Task, at: DateTime<Utc>) -> StoreFuture<'_, ()> {
        {
            let mut q = self.queue();
            if let Some(old) = q.by_key.remove(&task.key()) {
                q.by_time.remove(&old);
            }
            q.seq += 1;
            let slot = (at, q.seq);
            q.by_key.insert(task.key(), slot);
            q.by_time.insert(slot, task);
        }
        self.wake.notify_one();
        async { Ok(()) }.boxed()
    }
}
