//! The request path: the React app still gets per-terminal results at once; what does not finish
//! continues in the background. Each pair is claimed before its terminal is called; a pair another
//! replica (or the background) is working on is reported `queued` instead of called twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::model::{
    Change, PairKey, PairRecord, PairState, Revocation, UNCONFIRMED_VALIDITY, Want, Wanted,
};
use super::owner::Owner;
use super::runner::entry_id;
use super::schedule::Task;
use super::{Delivery, DeliveryError};
use crate::models::{Angajat, DeviceEntry, ServiceCode, SyncResult, SyncStatus, SyncStep};
use crate::orchestration::{DeviceReport, Flow, FlowOptions, Hooks};

/// What the request path does with one terminal.
enum Route {
    /// Call it now (we hold the claim).
    Call,
    /// Answer without calling.
    Answer(DeviceReport),
}

impl Delivery {
    /// Runs `flow` for `angajat` on `devices` now, durably, as asked `by` (recorded with any
    /// revocation the change makes): every pair's change is recorded first, and whatever does not
    /// succeed is retried in the background until it does or waits for a person. A terminal
    /// whose change a revocation refuses is reported `skipped` / `revoked` and not called.
    /// Reports keep the devices' order.
    pub async fn sync_now(
        self: &Arc<Self>,
        angajat: Angajat,
        devices: Vec<DeviceEntry>,
        flow: Flow,
        flags: FlowOptions,
        by: &str,
    ) -> Result<Vec<DeviceReport>, DeliveryError> {
        let owner = self.owner("req");
        let lease = self.lease_until();
        let previous: HashMap<String, PairRecord> = self
            .store
            .pairs_of(angajat.id)
            .await?
            .into_iter()
            .map(|p| (p.change.key.device_id.clone(), p))
            .collect();
        let changes: Vec<Change> = devices
            .iter()
            .map(|entry| change_for(&angajat, entry, flow, flags, previous.get(entry_id(entry))))
            .collect();
        let wanted = self.store.want(&changes, Some(&*owner), lease, by).await?;
        // First of all: if this process dies from here on, each claimed pair is retried when its
        // claim runs out.
        let safety_at = lease + chrono::Duration::seconds(1);
        let mine: Vec<PairKey> = changes
            .iter()
            .zip(&wanted)
            .filter(|(_, w)| w.is_claimed())
            .map(|(c, _)| c.key.clone())
            .collect();
        self.scheduler.schedule_pairs(mine, safety_at).await?;
        // Pairs someone else is working on: look again once they are done (a newer change made
        // here is then due).
        let theirs: Vec<PairKey> = changes
            .iter()
            .zip(&wanted)
            .filter(|(_, w)| **w == Wanted::Recorded)
            .map(|(c, _)| c.key.clone())
            .collect();
        self.scheduler.schedule_pairs(theirs, Utc::now()).await?;

        let mut routes = Vec::with_capacity(devices.len());
        for ((entry, change), wanted) in devices.iter().zip(&changes).zip(wanted) {
            let extra = previous
                .get(entry_id(entry))
                .is_some_and(|p| has_other_numbers(p, change));
            routes.push(self.route(entry, change, wanted, extra, &owner).await?);
        }
        let to_call: Vec<DeviceEntry> = devices
            .iter()
            .zip(&routes)
            .filter(|(_, r)| matches!(r, Route::Call))
            .map(|(e, _)| e.clone())
            .collect();

        let (tx, rx) = mpsc::unbounded_channel();
        let orchestrator = Arc::clone(&self.orchestrator);
        let called = orchestrator
            .sync(
                angajat.clone(),
                to_call.clone(),
                flow,
                flags,
                Hooks {
                    progress: Some(tx),
                    gate: Some(self.gate(angajat.id, &owner)),
                },
            )
            .await;
        let photo = angajat.photo().map(str::to_string);
        let mut in_flight = HashSet::new();
        let mut called = called.into_iter().enumerate();
        let mut reports = Vec::with_capacity(devices.len());
        for (change, route) in changes.iter().zip(routes) {
            let report = match route {
                Route::Answer(report) => report,
                Route::Call => {
                    let Some((index, mut report)) = called.next() else {
                        continue;
                    };
                    if report.in_flight {
                        in_flight.insert(index);
                        report.queued = true;
                        report.next_attempt_at = Some(safety_at);
                    } else {
                        let device = to_call.get(index).and_then(|e| e.as_ref().ok());
                        let outcome = self
                            .settle(
                                &change.key,
                                &owner,
                                device,
                                &report.result,
                                photo.as_deref(),
                                1,
                            )
                            .await?;
                        report.queued = outcome.state == PairState::Pending;
                        report.next_attempt_at = outcome.next_attempt_at;
                    }
                    report
                }
            };
            reports.push(report);
        }
        if !in_flight.is_empty() {
            self.record_late(owner, changes, to_call, in_flight, rx, photo);
        }
        Ok(reports)
    }

    async fn route(
        &self,
        entry: &DeviceEntry,
        change: &Change,
        wanted: Wanted,
        other_numbers: bool,
        owner: &str,
    ) -> Result<Route, DeliveryError> {
        if let Wanted::Revoked(revocation) = wanted {
            return Ok(Route::Answer(revoked(entry, &revocation)));
        }
        if wanted != Wanted::Claimed {
            let mut report = DeviceReport::of(
                entry,
                SyncResult::new(
                    SyncStatus::Partial,
                    SyncStep::Photo,
                    "Queued: a background delivery to this terminal is in progress for this employee; it applies the newest data when it runs",
                ),
            );
            report.queued = true;
            return Ok(Route::Answer(report));
        }
        let background = if change.want == Want::Remove && other_numbers {
            Some(
                "Queued: this terminal may hold more than one number for the employee (the number changed); each is removed in turn",
            )
        } else if change.remove_employee_no.is_some() {
            Some(
                "Queued: the employee number changed; the old number is removed from this terminal first, then the new one is enrolled",
            )
        } else {
            None
        };
        if let Some(why) = background {
            // Several numbers, in order: the background does them one after another.
            let now = Utc::now();
            self.store.release(&change.key, owner, now).await?;
            self.scheduler
                .schedule(Task::Pair(change.key.clone()), now)
                .await?;
            let mut report = DeviceReport::of(
                entry,
                SyncResult::new(SyncStatus::Partial, SyncStep::Person, why),
            );
            report.queued = true;
            report.next_attempt_at = Some(now);
            return Ok(Route::Answer(report));
        }
        if let Ok(device) = entry
            && let Some(blocked) = self.blocked(device).await?
        {
            let outcome = self
                .settle(&change.key, owner, None, &blocked, None, 1)
                .await?;
            let mut report = DeviceReport::of(entry, blocked);
            report.next_attempt_at = outcome.next_attempt_at;
            return Ok(Route::Answer(report));
        }
        Ok(Route::Call)
    }

    /// Records, in the background, the results of calls still running at the request deadline:
    /// such a call keeps its claim and records its result when it ends.
    fn record_late(
        self: &Arc<Self>,
        owner: Owner,
        changes: Vec<Change>,
        called: Vec<DeviceEntry>,
        mut waiting: HashSet<usize>,
        mut rx: mpsc::UnboundedReceiver<(usize, DeviceReport)>,
        photo: Option<String>,
    ) {
        let this = Arc::clone(self);
        let keys: Vec<PairKey> = called
            .iter()
            .filter_map(|e| changes.iter().find(|c| c.key.device_id == entry_id(e)))
            .map(|c| c.key.clone())
            .collect();
        let task = async move {
            while !waiting.is_empty() {
                let Some((index, report)) = rx.recv().await else {
                    break;
                };
                if !waiting.remove(&index) {
                    continue;
                }
                let (Some(key), device) = (keys.get(index), called.get(index)) else {
                    continue;
                };
                let device = device.and_then(|e| e.as_ref().ok());
                if let Err(e) = this
                    .settle(key, &owner, device, &report.result, photo.as_deref(), 1)
                    .await
                {
                    tracing::warn!(error = %e, device_id = %key.device_id, "could not record a late result; the pair is retried when its claim runs out");
                }
            }
        };
        tokio::spawn(task.in_current_span());
    }
}

/// The report of a terminal whose change `revocation` refused: nothing was sent.
pub(super) fn revoked(entry: &DeviceEntry, revocation: &Revocation) -> DeviceReport {
    DeviceReport::of(
        entry,
        SyncResult::new(SyncStatus::Skipped, SyncStep::Person, revocation.message())
            .with_code(ServiceCode::Revoked),
    )
}

/// True when a removal of `change` must delete other numbers than its own on the terminal
/// (`previous` recorded more: the employee's number changed since).
fn has_other_numbers(previous: &PairRecord, change: &Change) -> bool {
    change.want == Want::Remove
        && previous
            .numbers
            .iter()
            .any(|n| Some(n) != change.employee_no.as_ref())
}

/// The change a request makes for one terminal. When the employee's number changed since the
/// terminal was last given one, the old number is removed first (it must not keep door access).
pub(super) fn change_for(
    angajat: &Angajat,
    entry: &DeviceEntry,
    flow: Flow,
    flags: FlowOptions,
    previous: Option<&PairRecord>,
) -> Change {
    let employee_no = angajat.employee_no().map(str::to_string);
    let want = match flow {
        Flow::Remove => Want::Remove,
        other => Want::Sync(other),
    };
    let remove_employee_no = previous.and_then(|p| {
        let pending_removal = p
            .change
            .remove_employee_no
            .clone()
            .filter(|_| p.state != PairState::InSync);
        let old = p
            .change
            .employee_no
            .clone()
            .filter(|old| p.change.want != Want::Remove && Some(old) != employee_no.as_ref());
        match want {
            Want::Remove => None,
            Want::Sync(_) => old.or(pending_removal),
        }
    });
    // Only flows that always write the person record give the terminal the current window;
    // after the others, the window it holds is the one it had, unknown when a window was still
    // on its way (the sweep then sends it).
    let writes_validity = |want: Want| matches!(want, Want::Sync(Flow::Enrol | Flow::UpdatePerson));
    let validity = match previous {
        _ if writes_validity(want) => angajat.validity.key(),
        Some(p) if p.state != PairState::InSync && writes_validity(p.change.want) => {
            Some(UNCONFIRMED_VALIDITY.to_string())
        }
        Some(p) => p.change.validity.clone(),
        None => None,
    };
    Change {
        key: PairKey::new(angajat.id, entry_id(entry)),
        want,
        employee_no,
        remove_employee_no,
        photo: angajat.photo().map(str::to_string),
        create_missing_person: flags.create_missing_person,
        validity,
    }
}
