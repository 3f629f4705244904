//! The request path: the React app still gets per-terminal results at once; what does not finish
//! continues in the background. Each pair is claimed before its terminal is called; a pair another
//! replica (or the background) is working on is reported `queued` instead of called twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::model::{
    Change, PairKey, PairRecord, PairState, Revocation, UNCONFIRMED_VALIDITY, Want, Wanted,
};
use super::owner::Owner;
use super::runner::entry_id;
use super::schedule::Task;
use super::settle::Attempt;
use super::{Delivery, DeliveryError};
use crate::models::{
    Device, DeviceEntry, Employee, Enrolled, ServiceCode, SyncResult, SyncStatus, SyncStep,
};
use crate::orchestration::{DeviceReport, Flow, FlowOptions, Hooks};

/// Terminals claimed and called before the rest of a large fleet is claimed.
const FIRST_WAVE: usize = 32;

/// What every wave of one request shares.
struct Wave<'a> {
    flow: Flow,
    flags: FlowOptions,
    by: &'a str,
    /// The employee's pairs as stored before the request, by terminal.
    previous: &'a HashMap<String, PairRecord>,
    /// One `DEVICE_CONCURRENCY` bound for the whole request.
    permits: Arc<tokio::sync::Semaphore>,
}

/// What the request path does with one terminal.
enum Route {
    /// Call it now (we hold the claim).
    Call,
    /// Answer without calling.
    Answer(DeviceReport),
    /// Answer without calling; someone else works on the pair: look again once they are done
    /// (a newer change made here is then due).
    Theirs(DeviceReport),
    /// Answer without calling; the claim is given up and the background does it from now.
    Hand(DeviceReport),
    /// Its credentials are blocked: recorded as an attempt, not called.
    Blocked(SyncResult),
}

impl Delivery {
    /// Runs `flow` for `angajat` on `devices` now, durably, as asked `by` (recorded with any
    /// revocation the change makes): every pair's change is recorded first, and whatever does not
    /// succeed is retried in the background until it does or waits for a person. A terminal
    /// whose change a revocation refuses is reported `skipped` / `revoked` and not called.
    /// Reports keep the devices' order. The database round trips are the same few whatever the
    /// number of terminals: each step is one batched statement.
    ///
    /// A fleet larger than two waves goes in two: the first [`FIRST_WAVE`] terminals are
    /// claimed and called before the others are claimed, so the first call waits for a claim of
    /// a few rows, not the whole fleet's (about 15 to 20 ms at 1,000 terminals); the round trips
    /// stay a fixed number (twice the few), and both waves share one `DEVICE_CONCURRENCY` bound.
    pub async fn sync_now(
        self: &Arc<Self>,
        angajat: Employee,
        devices: Vec<DeviceEntry>,
        flow: Flow,
        flags: FlowOptions,
        by: &str,
    ) -> Result<Vec<DeviceReport>, DeliveryError> {
        let previous: HashMap<String, PairRecord> = self
            .store
            .pairs_of(angajat.id)
            .await?
            .into_iter()
            .map(|p| (p.change.key.device_id.clone(), p))
            .collect();
        let run = Wave {
            flow,
            flags,
            by,
            previous: &previous,
            permits: self.orchestrator.concurrency_bound(),
        };
        if devices.len() <= 2 * FIRST_WAVE {
            return self.sync_wave(angajat, devices, &run, None).await;
        }
        let mut first = devices;
        let rest = first.split_off(FIRST_WAVE);
        let (claimed, first_claimed) = oneshot::channel();
        let head = self.sync_wave(angajat.clone(), first, &run, Some(claimed));
        let tail = async {
            // After the first wave's claims are stored (or failed): the first call never waits
            // for the larger claim, and this process's claims stay in order (the call gate is
            // seeded from them).
            let _ = first_claimed.await;
            self.sync_wave(angajat, rest, &run, None).await
        };
        let (head, tail) = tokio::join!(head, tail);
        let mut reports = head?;
        reports.extend(tail?);
        Ok(reports)
    }

    /// [`Self::sync_now`] for one wave of `devices`; `on_claimed` hears when its claims are stored.
    async fn sync_wave(
        self: &Arc<Self>,
        angajat: Employee,
        devices: Vec<DeviceEntry>,
        run: &Wave<'_>,
        on_claimed: Option<oneshot::Sender<()>>,
    ) -> Result<Vec<DeviceReport>, DeliveryError> {
        let Wave {
            flow,
            flags,
            by,
            previous,
            ..
        } = *run;
        let owner = self.owner("req");
        let lease = self.lease_until();
        let changes: Vec<Change> = devices
            .iter()
            .map(|entry| change_for(&angajat, entry, flow, flags, previous.get(entry_id(entry))))
            .collect();
        let reachable: Vec<&Device> = devices.iter().filter_map(|e| e.as_ref().ok()).collect();
        // Independent reads, side by side: both stand between the request and its first call.
        let (claim, blocked) = tokio::join!(
            self.want_claimed(&changes, &owner, lease, by),
            self.blocked_all(&reachable)
        );
        if let Some(tx) = on_claimed {
            let _ = tx.send(());
        }
        let (wanted, claimed) = claim?;
        let mut blocked = blocked?;

        // If this process dies once the calls start, the claimed pairs are retried when their
        // claims run out: one job for the whole request, added beside the first calls (a process
        // that dies before it lands leaves pending pairs the sweep's overdue scan finds).
        let now = Utc::now();
        let safety_at = lease + chrono::Duration::seconds(1);
        let mut routes = Vec::with_capacity(devices.len());
        let mut backstop = vec![(Task::Resume(angajat.id), safety_at)];
        let mut handed = Vec::new();
        for ((entry, change), wanted) in devices.iter().zip(&changes).zip(wanted) {
            let extra = previous
                .get(entry_id(entry))
                .is_some_and(|p| has_other_numbers(p, change));
            let route = route(
                entry,
                change,
                wanted,
                extra,
                blocked.remove(entry_id(entry)),
            );
            let key = change.key.clone();
            match &route {
                Route::Call | Route::Answer(_) | Route::Blocked(_) => {}
                Route::Theirs(_) => backstop.push((Task::Pair(key), now)),
                Route::Hand(_) => {
                    handed.push(key.clone());
                    backstop.push((Task::Pair(key), now));
                }
            }
            routes.push(route);
        }
        self.store.release_all(&handed, &owner, now).await?;
        let refused: Vec<Attempt<'_>> = changes
            .iter()
            .zip(&routes)
            .filter_map(|(change, route)| match route {
                Route::Blocked(result) => Some(Attempt {
                    key: &change.key,
                    device: None,
                    result,
                    photo: None,
                    attempts: 1,
                }),
                _ => None,
            })
            .collect();
        let refused = self.settle_all(&owner, &refused).await?;

        let (to_call, call_keys): (Vec<DeviceEntry>, Vec<PairKey>) = devices
            .iter()
            .zip(&changes)
            .zip(&routes)
            .filter(|(_, r)| matches!(r, Route::Call))
            .map(|((e, c), _)| (e.clone(), c.key.clone()))
            .unzip();
        let (tx, rx) = mpsc::unbounded_channel();
        let orchestrator = Arc::clone(&self.orchestrator);
        let hooks = Hooks {
            progress: Some(tx),
            gate: Some(self.gate(angajat.id, &owner, claimed)),
            permits: Some(Arc::clone(&run.permits)),
        };
        let calls = orchestrator.sync(angajat.clone(), to_call.clone(), flow, flags, hooks);
        let (scheduled, called) = tokio::join!(self.scheduler.schedule_all(backstop), calls);
        if let Err(e) = scheduled {
            tracing::warn!(error = %e, "could not schedule the retries of this request's terminals; the sweep finds them once their claims run out");
        }

        let photo = angajat.photo().map(str::to_string);
        let in_flight: HashSet<usize> = called
            .iter()
            .enumerate()
            .filter(|(_, r)| r.in_flight)
            .map(|(i, _)| i)
            .collect();
        let finished: Vec<Attempt<'_>> = called
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.in_flight)
            .filter_map(|(i, r)| {
                Some(Attempt {
                    key: call_keys.get(i)?,
                    device: to_call.get(i).and_then(|e| e.as_ref().ok()),
                    result: &r.result,
                    photo: photo.as_deref(),
                    attempts: 1,
                })
            })
            .collect();
        let mut outcomes = self.settle_all(&owner, &finished).await?.into_iter();
        let mut refused = refused.into_iter();
        let mut called = called.into_iter();
        let mut reports = Vec::with_capacity(devices.len());
        for (entry, route) in devices.iter().zip(routes) {
            let report = match route {
                Route::Answer(report) | Route::Theirs(report) | Route::Hand(report) => report,
                Route::Blocked(result) => {
                    let mut report = DeviceReport::of(entry, result);
                    report.next_attempt_at = refused.next().and_then(|o| o.next_attempt_at);
                    report
                }
                Route::Call => {
                    let Some(mut report) = called.next() else {
                        continue;
                    };
                    if report.in_flight {
                        report.queued = true;
                        report.next_attempt_at = Some(safety_at);
                    } else if let Some(outcome) = outcomes.next() {
                        report.queued = outcome.state == PairState::Pending;
                        report.next_attempt_at = outcome.next_attempt_at;
                    }
                    report
                }
            };
            reports.push(report);
        }
        if !in_flight.is_empty() {
            self.record_late(owner, call_keys, to_call, in_flight, rx, photo);
        }
        Ok(reports)
    }

    /// Records, in the background, the results of calls still running at the request deadline:
    /// such a call keeps its claim and records its result when it ends (those that end together
    /// in one batch).
    fn record_late(
        self: &Arc<Self>,
        owner: Owner,
        keys: Vec<PairKey>,
        called: Vec<DeviceEntry>,
        mut waiting: HashSet<usize>,
        mut rx: mpsc::UnboundedReceiver<(usize, DeviceReport)>,
        photo: Option<String>,
    ) {
        let this = Arc::clone(self);
        let task = async move {
            while !waiting.is_empty() {
                let Some(first) = rx.recv().await else {
                    break;
                };
                let mut ended = vec![first];
                while let Ok(more) = rx.try_recv() {
                    ended.push(more);
                }
                ended.retain(|(index, _)| waiting.remove(index));
                let attempts: Vec<Attempt<'_>> = ended
                    .iter()
                    .filter_map(|(index, report)| {
                        Some(Attempt {
                            key: keys.get(*index)?,
                            device: called.get(*index).and_then(|e| e.as_ref().ok()),
                            result: &report.result,
                            photo: photo.as_deref(),
                            attempts: 1,
                        })
                    })
                    .collect();
                if let Err(e) = this.settle_all(&owner, &attempts).await {
                    tracing::warn!(error = %e, count = attempts.len(), "could not record late results; the pairs are retried when their claims run out");
                }
            }
        };
        tokio::spawn(task.in_current_span());
    }
}

/// What the request path does with one terminal, given what the store made of its change.
fn route(
    entry: &DeviceEntry,
    change: &Change,
    wanted: Wanted,
    other_numbers: bool,
    blocked: Option<SyncResult>,
) -> Route {
    if let Wanted::Revoked(revocation) = wanted {
        return Route::Answer(revoked(entry, &revocation));
    }
    if wanted != Wanted::Claimed {
        return Route::Theirs(queued(
            entry,
            SyncStep::Photo,
            "Queued: a background delivery to this terminal is in progress for this employee; it applies the newest data when it runs",
            None,
        ));
    }
    if change.want == Want::Remove && other_numbers {
        // The terminal may hold earlier numbers too: the background removes each in turn.
        return Route::Hand(queued(
            entry,
            SyncStep::Person,
            "Queued: this terminal may hold more than one number for the employee (the number changed); each is removed in turn",
            Some(Utc::now()),
        ));
    }
    if change.remove_employee_no.is_some() {
        // The old number must leave the terminal first: the background does both, in order.
        return Route::Hand(queued(
            entry,
            SyncStep::Person,
            "Queued: the employee number changed; the old number is removed from this terminal first, then the new one is enrolled",
            Some(Utc::now()),
        ));
    }
    match blocked {
        Some(result) => Route::Blocked(result),
        None => Route::Call,
    }
}

/// A `queued` report of a terminal not called now.
fn queued(
    entry: &DeviceEntry,
    step: SyncStep,
    message: &str,
    next_attempt_at: Option<chrono::DateTime<Utc>>,
) -> DeviceReport {
    let mut report = DeviceReport::of(entry, SyncResult::new(SyncStatus::Partial, step, message));
    report.queued = true;
    report.next_attempt_at = next_attempt_at;
    report
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
    angajat: &Employee,
    entry: &DeviceEntry,
    flow: Flow,
    flags: FlowOptions,
    previous: Option<&PairRecord>,
) -> Change {
    let employee_no = angajat.employee_no().cloned();
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
