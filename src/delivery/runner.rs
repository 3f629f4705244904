//! The background side: one task delivers one pair's change (claim, re-read the employee's
//! current rows so the newest photo wins, replay the flow that made the change, record), and a
//! probe asks a terminal with deferred work whether it is back.

use std::sync::Arc;

use chrono::Utc;
use futures::FutureExt;
use hikvision_isapi::{EmployeeNo, ErrorClass};

use super::gate::{ClaimGate, Claimed};
use super::model::{Claim, Outcome, PairKey, PairRecord, PairState, Want};
use super::owner::Owner;
use super::schedule::{Task, TaskRunner, first_per_terminal};
use super::store::StoreFuture;
use super::{Delivery, DeliveryError};
use crate::models::{
    BiometricRecord, DeviceEntry, Employee, Enrolled, SyncResult, SyncStatus, SyncStep,
};
use crate::orchestration::{CallGate, Flow, FlowOptions, Hooks};
use crate::supabase::DirectoryError;

/// How long one job keeps working through its terminal's due pairs before it hands over to a new
/// task (so other terminals' work gets a slot when there are more terminals than slots).
const KEEP_GOING: std::time::Duration = std::time::Duration::from_secs(30);
/// Due pairs read at a time while keeping going.
const NEXT_DUE: usize = 32;

impl Delivery {
    /// One attempt at `key`, with `devices` the active terminals as read lately (a bulk resync
    /// reads them once per batch of pairs, not once per employee). True when the terminal was
    /// found down (unreachable, no answer): its other pairs wait for the probe or this retry.
    async fn run_pair(&self, key: PairKey, devices: &[DeviceEntry]) -> Result<bool, DeliveryError> {
        let owner = self.owner("job");
        let lease_until = self.lease_until();
        let sent_at = std::time::Instant::now();
        let changes = self.changes.now();
        let record = match self.store.claim(&key, &owner, lease_until).await? {
            Claim::Claimed(record) => *record,
            Claim::Held { until } => {
                // Whoever holds it records its result; come back if they vanish.
                let at = until + chrono::Duration::seconds(1);
                self.scheduler.schedule(Task::Pair(key), at).await?;
                return Ok(false);
            }
            Claim::Idle => return Ok(false),
        };
        // The claim just stored is the gate's first read, as on the request path (unless this
        // process stored a change meanwhile: the gate then reads).
        let claimed = (self.changes.now() == changes).then(|| Claimed {
            sent_at,
            changes,
            held: std::collections::HashMap::from([(key.device_id.clone(), lease_until)]),
        });
        let gate = self.pair_gate(&key, &owner, claimed);
        let attempts = record.attempts + 1;
        let entry = devices.iter().find(|d| entry_id(d) == key.device_id);
        let Some(entry) = entry else {
            self.device_gone(&key, &owner, &record).await?;
            return Ok(false);
        };
        let (result, photo) = self.replay(&record, entry, &gate).await?;
        let device = entry.as_ref().ok();
        self.settle(&key, &owner, device, &result, photo.as_deref(), attempts)
            .await?;
        Ok(result.class.is_some_and(ErrorClass::terminal_is_down))
    }

    /// Delivers `key`, then keeps going with the terminal's other due pairs for up to
    /// `KEEP_GOING`: the job holds the terminal's queue, so this is still one call at a time per
    /// terminal, without waiting for the job engine's next poll between two employees (a bulk
    /// resync runs at the terminal's pace, not the poll interval's).
    async fn run_terminal_from(&self, key: PairKey) -> Result<(), DeliveryError> {
        let device_id = key.device_id.clone();
        let started = std::time::Instant::now();
        let mut tried = std::collections::HashSet::new();
        // The next due pairs a few at a time: a bulk resync leaves thousands pending, and
        // reading them all before each employee would cost more than the terminal's call. The
        // devices are read with each batch, so a deactivation stops it within a batch.
        let mut batch = vec![key];
        loop {
            let devices = self.directory()?.get_active_devices().await?;
            for next in batch {
                if started.elapsed() >= KEEP_GOING {
                    break;
                }
                tried.insert(next.clone());
                if self.run_pair(next, &devices).await? {
                    // Down: calling its other pairs now would only wait out the same timeout
                    // for each.
                    return Ok(());
                }
            }
            // Tried pairs still due (held by a request just now) come first in the page at
            // worst: asking for as many more keeps a full batch of fresh ones.
            let limit = NEXT_DUE + tried.len();
            batch = self
                .store
                .pending(Some(&device_id), Some(Utc::now()), Some(limit))
                .await?
                .into_iter()
                .filter(|k| !tried.contains(k))
                .collect();
            let Some(first) = batch.first().cloned() else {
                return Ok(());
            };
            if started.elapsed() >= KEEP_GOING {
                // Time to give the slot back: a task for the next due pair carries on (a bulk
                // resync schedules one task per terminal, not one per pair).
                return self.scheduler.schedule(Task::Pair(first), Utc::now()).await;
            }
        }
    }

    /// A deactivated or deleted terminal: pending updates are dropped, pending removals kept
    /// (applied if it comes back).
    async fn device_gone(
        &self,
        key: &PairKey,
        owner: &str,
        record: &PairRecord,
    ) -> Result<(), DeliveryError> {
        if record.change.want == Want::Remove {
            let later = Utc::now()
                + chrono::Duration::from_std(self.options.timing.max)
                    .unwrap_or_else(|_| chrono::Duration::hours(1));
            self.store.release(key, owner, later).await?;
            return self
                .scheduler
                .schedule(Task::Pair(key.clone()), later)
                .await;
        }
        let outcome = Outcome {
            state: PairState::Skipped,
            next_attempt_at: None,
            error_code: None,
            message:
                "The terminal is no longer active (or was deleted): the pending update was dropped"
                    .into(),
            confirmed_photo: None,
        };
        self.store.record(key, owner, &outcome).await.map(drop)
    }

    /// Replays the change on one terminal with the employee's current data, every call through
    /// `gate` (the job's claim on the pair).
    async fn replay(
        &self,
        record: &PairRecord,
        entry: &DeviceEntry,
        gate: &Arc<dyn CallGate>,
    ) -> Result<(SyncResult, Option<String>), DeliveryError> {
        let change = &record.change;
        if let Ok(device) = entry
            && let Some(blocked) = self.blocked(device).await?
        {
            return Ok((blocked, None));
        }
        let flags = FlowOptions {
            create_missing_person: change.create_missing_person,
        };
        let angajat = match change.want {
            Want::Remove => removal_subject(change.key.angajat_id, change.employee_no.as_ref()),
            Want::Sync(_) => {
                match self
                    .directory()?
                    .get_angajat_with_biometrie(change.key.angajat_id)
                    .await
                {
                    Ok(angajat) => angajat,
                    Err(DirectoryError::NotFound(_)) => {
                        let gone = SyncResult::new(
                            SyncStatus::Skipped,
                            SyncStep::Person,
                            "The employee no longer exists in Supabase: nothing to send (the sweep schedules the removal)",
                        );
                        return Ok((gone, None));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        for old in self.earlier_numbers(record).await? {
            let subject = removal_subject(change.key.angajat_id, Some(&old));
            let removed = self
                .run_one(subject, entry, Flow::Remove, flags, gate)
                .await;
            if removed.status != SyncStatus::Success {
                return Ok((removed, None));
            }
        }
        let flow = match change.want {
            Want::Remove => Flow::Remove,
            Want::Sync(flow) => flow,
        };
        let photo = angajat.photo().map(str::to_string);
        let result = self.run_one(angajat, entry, flow, flags, gate).await;
        Ok((result, photo))
    }

    /// The numbers that must leave the terminal before the change itself, each in its own
    /// delete: for a removal, every other number the pair recorded (earlier, pending); for an
    /// update, the old number of a number change. A number that another employee should hold on
    /// this terminal now is never deleted (numbers are reused).
    async fn earlier_numbers(&self, record: &PairRecord) -> Result<Vec<EmployeeNo>, DeliveryError> {
        let change = &record.change;
        let mut numbers: Vec<EmployeeNo> = match change.want {
            Want::Remove => record
                .numbers
                .iter()
                .chain(&change.remove_employee_no)
                .filter(|n| Some(*n) != change.employee_no.as_ref())
                .cloned()
                .collect(),
            Want::Sync(_) => change.remove_employee_no.iter().cloned().collect(),
        };
        numbers.sort();
        numbers.dedup();
        if numbers.is_empty() {
            return Ok(numbers);
        }
        let taken = self
            .store
            .numbers_held_by_others(&change.key.device_id, change.key.angajat_id, &numbers)
            .await?;
        if !taken.is_empty() {
            tracing::warn!(device_id = %change.key.device_id, angajat_id = %change.key.angajat_id, count = taken.len(), "an earlier number of this employee now belongs to another employee on the terminal: it is not deleted");
        }
        numbers.retain(|n| !taken.contains(n));
        Ok(numbers)
    }

    /// Runs `flow` on one terminal through the orchestrator (pacing, retries, deadline), every
    /// call through `gate`.
    async fn run_one(
        &self,
        angajat: Employee,
        entry: &DeviceEntry,
        flow: Flow,
        flags: FlowOptions,
        gate: &Arc<dyn CallGate>,
    ) -> SyncResult {
        let orchestrator = Arc::clone(&self.orchestrator);
        let hooks = Hooks {
            progress: None,
            gate: Some(Arc::clone(gate)),
            permits: None,
        };
        let reports = orchestrator
            .sync(angajat, vec![entry.clone()], flow, flags, hooks)
            .await;
        reports.into_iter().next().map_or_else(
            || {
                SyncResult::new(
                    SyncStatus::Fatal,
                    SyncStep::Device,
                    "Internal error: no result",
                )
            },
            |r| r.result,
        )
    }

    async fn probe(&self, device_id: String) -> Result<(), DeliveryError> {
        let pending = self.store.pending(Some(&device_id), None, None).await?;
        if pending.is_empty() {
            return Ok(());
        }
        let devices = self.directory()?.get_active_devices().await?;
        let Some(Ok(device)) = devices.into_iter().find(|d| entry_id(d) == device_id) else {
            return Ok(());
        };
        if self.orchestrator.probe(&device).await.is_ok() {
            tracing::info!(device_id = %device_id, pending = pending.len(), "terminal is back: its deferred work is due now");
            // The attempts that failed while it was down, each now; one task works through the
            // pairs that were waiting their turn (a resync cut short by the outage).
            let now = Utc::now();
            let due: std::collections::HashSet<PairKey> = self
                .store
                .pending(Some(&device_id), Some(now), None)
                .await?
                .into_iter()
                .collect();
            let (waiting, failed): (Vec<PairKey>, Vec<PairKey>) =
                pending.into_iter().partition(|k| due.contains(k));
            let tasks = failed
                .into_iter()
                .chain(first_per_terminal(waiting))
                .map(|key| (Task::Pair(key), now))
                .collect();
            return self.scheduler.schedule_all(tasks).await;
        }
        let again = Utc::now()
            + chrono::Duration::from_std(self.options.timing.initial)
                .unwrap_or_else(|_| chrono::Duration::seconds(30));
        self.scheduler.schedule(Task::Probe(device_id), again).await
    }
}

impl Delivery {
    /// The gate that lets `owner`'s calls for `angajat_id` out while it holds their claims,
    /// seeded with what the claiming statement found when that is known.
    pub(super) fn gate(
        &self,
        angajat_id: uuid::Uuid,
        owner: &Owner,
        claimed: Option<Claimed>,
    ) -> Arc<dyn CallGate> {
        let gate = ClaimGate::new(
            Arc::clone(&self.store),
            angajat_id,
            owner.clone(),
            Arc::clone(&self.changes),
        );
        Arc::new(gate.seeded(claimed))
    }

    /// The gate of a background job's calls on `key`, seeded with its claim when that is known.
    fn pair_gate(
        &self,
        key: &PairKey,
        owner: &Owner,
        claimed: Option<Claimed>,
    ) -> Arc<dyn CallGate> {
        let gate = ClaimGate::for_pair(
            Arc::clone(&self.store),
            key,
            owner.clone(),
            Arc::clone(&self.changes),
        );
        Arc::new(gate.seeded(claimed))
    }

    /// A request's backstop: each of the employee's pending pairs that is due (its claim ran out
    /// without a result: the request's process died) gets its task now.
    async fn resume_employee(&self, angajat_id: uuid::Uuid) -> Result<(), DeliveryError> {
        let now = Utc::now();
        let due: Vec<PairKey> = self
            .store
            .pairs_of(angajat_id)
            .await?
            .into_iter()
            .filter(|p| {
                p.state == PairState::Pending && p.next_attempt_at.is_none_or(|at| at <= now)
            })
            .map(|p| p.change.key)
            .collect();
        self.scheduler.schedule_pairs(due, now).await
    }
}

/// The employee as far as a removal needs: the number to remove.
pub(super) fn removal_subject(
    angajat_id: uuid::Uuid,
    employee_no: Option<&EmployeeNo>,
) -> Employee {
    Employee {
        id: angajat_id,
        last_name: String::new(),
        first_name: String::new(),
        biometrics: Some(BiometricRecord {
            employee_no: employee_no.cloned().map(Ok),
            photo_url: None,
        }),
        validity: Default::default(),
    }
}

/// The device row id of an entry.
pub(super) fn entry_id(entry: &DeviceEntry) -> &str {
    match entry {
        Ok(d) => &d.id,
        Err(i) => &i.id,
    }
}

/// The background runner is the delivery itself.
impl TaskRunner for Delivery {
    fn run(&self, task: Task) -> StoreFuture<'_, ()> {
        async move {
            match task {
                Task::Pair(key) => self.run_terminal_from(key).await,
                Task::Probe(device_id) => self.probe(device_id).await,
                Task::Resume(angajat_id) => self.resume_employee(angajat_id).await,
            }
        }
        .boxed()
    }

    fn resume(&self) -> StoreFuture<'_, ()> {
        async move {
            // Claims of the work the stopped engine cut off are free before its jobs run again.
            self.renew_claims().await?;
            self.schedule_overdue().await.map(drop)
        }
        .boxed()
    }
}
