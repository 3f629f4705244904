//! Reconcile: what a terminal really holds against what Supabase says it should. It reads the
//! terminal (persons by `UserInfo/Search`, paged with one searchID; faces by `FDSearch`, paged;
//! the end markers as the terminal spells them) and changes nothing. Minutes on a large
//! terminal, so it runs in the background and is polled by id.
//!
//! Runs are kept **in this process's memory** (a bounded map, the newest [`MAX_RUNS`]): a
//! restart forgets running and finished reports alike (start a new one), and with several
//! replicas a report is read from the replica that started it. A report is cheap to make again
//! and describes one moment; only the fix's writes are durable (and audited).
//!
//! The fix schedules the missing employees as durable changes and removes exactly the persons
//! named in its `remove` list, each of which must be in that report's `unknown_on_terminal`:
//! nothing on a door terminal is deleted by inference alone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use hikvision_isapi::EmployeeNo;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::AuditEntry;
use super::model::{Change, PairKey, PairRecord, Want};
use super::request::change_for;
use super::resync::ResyncError;
use super::runner::entry_id;
use super::{Delivery, DeliveryError};
use chrono_tz::Tz;

use crate::models::{DeviceEntry, Employee, Enrolled, ReadWindow, TerminalWindow};
use crate::orchestration::{Flow, FlowOptions, ReadProgress, TerminalContents};

/// Reports kept in memory (older finished ones are forgotten first).
pub const MAX_RUNS: usize = 64;

/// Where a reconcile run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileState {
    /// Reading the terminal.
    Running,
    /// The report is ready.
    Done,
    /// The terminal or Supabase could not be read; `error` says why.
    Failed,
}

/// Entries read so far (persons, then faces) of those the terminal announced.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct ReconcileProgress {
    /// Read so far.
    pub read: usize,
    /// Announced so far (grows when the faces' total becomes known).
    pub total: usize,
}

/// A person on the terminal that Supabase does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnknownPerson {
    /// The number on the terminal.
    pub employee_no: String,
    /// The name on the terminal.
    pub name: String,
}

/// What differs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReconcileReport {
    /// Employees whose person record and face are both on the terminal.
    pub in_sync: usize,
    /// Employees (with an `employee_no`) whose person is not on the terminal.
    pub missing_on_terminal: Vec<String>,
    /// Employees with a photo whose person is there without a face.
    pub face_missing: Vec<String>,
    /// Persons on the terminal that no employee has (enrolled by hand, or deleted in Supabase
    /// while the terminal was away): a security finding.
    pub unknown_on_terminal: Vec<UnknownPerson>,
    /// Employees whose validity window on the terminal differs from their dates (the terminal
    /// may let them in outside it, or refuse them inside it).
    pub validity_differs: Vec<ValidityDiff>,
}

/// A person whose validity window on the terminal is not the one their dates give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValidityDiff {
    /// The number on the terminal.
    pub employee_no: String,
    /// The window the terminal should hold, terminal-local time.
    pub expected: WindowView,
    /// What the terminal holds (`null`: no window applies there).
    pub on_terminal: Option<WindowView>,
}

/// A validity window as terminals write it (`YYYY-MM-DDTHH:MM:SS`, terminal-local time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WindowView {
    /// `beginTime`.
    pub begin: String,
    /// `endTime`.
    pub end: String,
}

impl From<TerminalWindow> for WindowView {
    fn from(w: TerminalWindow) -> Self {
        Self {
            begin: w.begin_text(),
            end: w.end_text(),
        }
    }
}

/// The persons of `expected` on the terminal whose window differs from their dates' in `tz`,
/// after normalising what the terminal reports ([`ReadWindow::read`]).
pub fn compare_validity(
    contents: &TerminalContents,
    expected: &[&Employee],
    tz: Tz,
) -> Vec<ValidityDiff> {
    let on_terminal: HashMap<&str, ReadWindow> = contents
        .persons
        .iter()
        .map(|p| {
            let read = p.valid.as_ref().map_or(ReadWindow::Unrestricted, |v| {
                ReadWindow::read(v.enable, &v.begin_time, &v.end_time)
            });
            (p.employee_no.as_str(), read)
        })
        .collect();
    let mut diffs: Vec<ValidityDiff> = expected
        .iter()
        .filter_map(|a| {
            let no = a.employee_no()?;
            let read = on_terminal.get(no.as_str())?;
            if read.matches(&a.validity, tz) {
                return None;
            }
            Some(ValidityDiff {
                employee_no: no.to_string(),
                expected: a.validity.window(tz).into(),
                on_terminal: match read {
                    ReadWindow::Unrestricted => None,
                    ReadWindow::Window(w) => Some((*w).into()),
                    ReadWindow::Unreadable { begin, end } => Some(WindowView {
                        begin: begin.clone(),
                        end: end.clone(),
                    }),
                },
            })
        })
        .collect();
    diffs.sort_by(|a, b| a.employee_no.cmp(&b.employee_no));
    diffs
}

/// `GET /api/hikvision/devices/{device_id}/reconcile/{reconcile_id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconcileView {
    /// The run.
    pub reconcile_id: Uuid,
    /// The terminal.
    pub device_id: String,
    /// `running`, `done` or `failed`.
    pub state: ReconcileState,
    /// Entries read.
    pub progress: ReconcileProgress,
    /// The report, once done.
    pub report: Option<ReconcileReport>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Runs {
    by_id: HashMap<Uuid, ReconcileView>,
    order: VecDeque<Uuid>,
}

/// The reconcile runs of this process.
#[derive(Debug, Clone, Default)]
pub struct Reconciles(Arc<Mutex<Runs>>);

impl Reconciles {
    fn lock(&self) -> MutexGuard<'_, Runs> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new run on `device_id`, or the one already running there.
    fn start(&self, device_id: &str) -> (Uuid, bool) {
        let mut runs = self.lock();
        if let Some(running) = runs
            .by_id
            .values()
            .find(|r| r.device_id == device_id && r.state == ReconcileState::Running)
        {
            return (running.reconcile_id, false);
        }
        while runs.order.len() >= MAX_RUNS {
            let finished = runs.order.iter().position(|id| {
                runs.by_id
                    .get(id)
                    .is_none_or(|r| r.state != ReconcileState::Running)
            });
            // At most one run per terminal is running, so this only keeps running ones when
            // there are more than MAX_RUNS terminals.
            let Some(index) = finished else { break };
            if let Some(id) = runs.order.remove(index) {
                runs.by_id.remove(&id);
            }
        }
        let id = Uuid::new_v4();
        runs.order.push_back(id);
        runs.by_id.insert(
            id,
            ReconcileView {
                reconcile_id: id,
                device_id: device_id.to_string(),
                state: ReconcileState::Running,
                progress: ReconcileProgress::default(),
                report: None,
                error: None,
                started_at: Utc::now(),
                finished_at: None,
            },
        );
        (id, true)
    }

    fn update(&self, id: Uuid, change: impl FnOnce(&mut ReconcileView)) {
        if let Some(run) = self.lock().by_id.get_mut(&id) {
            change(run);
        }
    }

    fn get(&self, id: Uuid) -> Option<ReconcileView> {
        self.lock().by_id.get(&id).cloned()
    }
}

/// Why a fix was refused.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// No such run on this terminal (or this process forgot it).
    #[error(
        "No reconcile {0} for this terminal in this process (reports are kept in memory: a restart forgets them; start a new reconcile)"
    )]
    NotFound(Uuid),
    /// The report is not ready.
    #[error("The reconcile is still running or failed: fix it once its state is done")]
    NotDone,
    /// `remove` names persons that are not in the report's `unknown_on_terminal`.
    #[error(
        "Not removed: {0:?} are not in this report's unknown_on_terminal. Only persons the report found unknown can be removed, each named; nothing was deleted or scheduled"
    )]
    NotInReport(Vec<String>),
    /// `remove` names numbers that an employee has now (the data changed since the report).
    #[error(
        "Not removed: {0:?} now belong to employees in Supabase (the data changed since this report was made). Nothing was deleted or scheduled: start a new reconcile"
    )]
    NowEmployees(Vec<String>),
    /// The report is older than `RECONCILE_REPORT_TTL_MS`.
    #[error(
        "This reconcile report is {age_secs} s old, older than RECONCILE_REPORT_TTL_MS allows ({ttl_secs} s): the terminal or the data may have changed since. Nothing was done: start a new reconcile and fix from its report"
    )]
    Expired {
        /// The report's age.
        age_secs: i64,
        /// The limit.
        ttl_secs: u64,
    },
    /// The store or Supabase failed.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

/// What a fix scheduled.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FixOutcome {
    /// The run.
    pub reconcile_id: Uuid,
    /// Employees scheduled (missing person or face).
    pub scheduled: Vec<String>,
    /// Unknown persons scheduled for removal.
    pub removing: Vec<String>,
}

/// The key of a removal of a person the database does not know. The store keys every change by
/// (employee, terminal), and such a person has no employee row, so the key is a deterministic
/// pseudo employee id derived from (terminal, employee number) with a name-based UUID (SHA-256,
/// truncated, version 5 bits). Going through the store rather than calling the terminal directly
/// gives the removal everything a removal of an employee has: the terminal's paced queue,
/// retries while it is offline, the claim check before the call, the status counts, and a
/// restart that loses nothing; the same person named twice is the same pair, removed once.
pub fn unknown_person_key(device_id: &str, employee_no: &str) -> PairKey {
    let mut h = Sha256::new();
    h.update(b"hikvision-sync/unknown-person\0");
    h.update(device_id.as_bytes());
    h.update(b"\0");
    h.update(employee_no.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    PairKey::new(uuid::Builder::from_sha1_bytes(bytes).into_uuid(), device_id)
}

/// Compares what the terminal holds with the employees that should be there.
pub fn compare(contents: &TerminalContents, expected: &[&Employee]) -> ReconcileReport {
    let persons: HashMap<&str, &str> = contents
        .persons
        .iter()
        .map(|p| (p.employee_no.as_str(), p.name.as_str()))
        .collect();
    let faces: HashSet<&str> = contents.faces.iter().map(|f| f.fpid.as_str()).collect();
    let mut report = ReconcileReport::default();
    let mut known = HashSet::new();
    for a in expected {
        let Some(no) = a.employee_no().map(EmployeeNo::as_str) else {
            continue;
        };
        known.insert(no);
        match (persons.contains_key(no), faces.contains(no)) {
            (false, _) => report.missing_on_terminal.push(no.to_string()),
            (true, true) => report.in_sync += 1,
            (true, false) if a.photo().is_some() => report.face_missing.push(no.to_string()),
            (true, false) => {}
        }
    }
    let mut unknown: Vec<UnknownPerson> = persons
        .iter()
        .filter(|(no, _)| !known.contains(*no))
        .map(|(no, name)| UnknownPerson {
            employee_no: (*no).to_string(),
            name: (*name).to_string(),
        })
        .collect();
    unknown.sort_by(|a, b| a.employee_no.cmp(&b.employee_no));
    report.unknown_on_terminal = unknown;
    report.missing_on_terminal.sort();
    report.face_missing.sort();
    report
}

impl Delivery {
    /// Starts reading `device_id` (id or name) in the background; the id of the run (the one
    /// already running on that terminal, if any).
    pub async fn start_reconcile(self: &Arc<Self>, device_id: &str) -> Result<Uuid, ResyncError> {
        let entry = self.find_device(device_id).await?;
        let device_id = entry_id(&entry).to_string();
        let (id, new) = self.reconciles.start(&device_id);
        if new {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.run_reconcile(id, entry).await });
        }
        Ok(id)
    }

    /// The run `id` on `device_id`, as it stands.
    pub fn reconcile_view(&self, device_id: &str, id: Uuid) -> Option<ReconcileView> {
        self.reconciles.get(id).filter(|r| r.device_id == device_id)
    }

    async fn run_reconcile(self: Arc<Self>, id: Uuid, entry: DeviceEntry) {
        let result = self.reconcile_report(id, &entry).await;
        self.reconciles.update(id, |run| {
            run.finished_at = Some(Utc::now());
            match result {
                Ok(report) => {
                    run.state = ReconcileState::Done;
                    run.report = Some(report);
                }
                Err(e) => {
                    run.state = ReconcileState::Failed;
                    run.error = Some(e);
                }
            }
        });
    }

    async fn reconcile_report(
        &self,
        id: Uuid,
        entry: &DeviceEntry,
    ) -> Result<ReconcileReport, String> {
        let device = entry
            .as_ref()
            .map_err(|i| format!("Invalid device record: {}", i.reason))?;
        if let Some(blocked) = self.blocked(device).await.map_err(|e| e.to_string())? {
            return Err(blocked.message);
        }
        let runs = self.reconciles.clone();
        let progress: ReadProgress = Arc::new(move |read, total| {
            runs.update(id, |run| run.progress = ReconcileProgress { read, total });
        });
        let contents = self.orchestrator.read_terminal(device, progress).await?;
        let directory = self.directory().map_err(|e| e.to_string())?;
        let angajati = directory.list_angajati().await.map_err(|e| e.to_string())?;
        let mut removed = self
            .removed_on(&device.id)
            .await
            .map_err(|e| e.to_string())?;
        // A revoked employee is not expected anywhere (only restore-angajat gives access back).
        let ids: Vec<Uuid> = angajati.iter().map(|a| a.id).collect();
        removed.extend(
            self.store
                .revoked_among(&ids)
                .await
                .map_err(|e| e.to_string())?,
        );
        let expected: Vec<&Employee> = angajati
            .iter()
            .filter(|a| a.has_employee_no() && !removed.contains(&a.id))
            .collect();
        let mut report = compare(&contents, &expected);
        let tz = self.orchestrator.options().terminal_timezone;
        report.validity_differs = compare_validity(&contents, &expected, tz);
        Ok(report)
    }

    /// Employees whose desired state on `device_id` is a removal: not expected there.
    async fn removed_on(&self, device_id: &str) -> Result<HashSet<Uuid>, DeliveryError> {
        Ok(self
            .store
            .pairs_on(device_id)
            .await?
            .into_iter()
            .filter(|p| p.change.want == Want::Remove)
            .map(|p| p.change.key.angajat_id)
            .collect())
    }

    /// Carries out a fix of run `id` on `device_id`: schedules the missing employees when
    /// `schedule_missing`, and removes exactly the persons in `remove`, each of which must be in
    /// the report's `unknown_on_terminal` (otherwise nothing at all is done).
    pub async fn reconcile_fix(
        self: &Arc<Self>,
        device_id: &str,
        id: Uuid,
        schedule_missing: bool,
        remove: &[String],
        actor: &str,
    ) -> Result<FixOutcome, FixError> {
        let run = self
            .reconcile_view(device_id, id)
            .ok_or(FixError::NotFound(id))?;
        let report = match (run.state, run.report) {
            (ReconcileState::Done, Some(report)) => report,
            _ => return Err(FixError::NotDone),
        };
        let age = Utc::now() - run.finished_at.unwrap_or(run.started_at);
        let ttl = self.options.reconcile_report_ttl;
        if age.to_std().is_ok_and(|a| a > ttl) {
            return Err(FixError::Expired {
                age_secs: age.num_seconds(),
                ttl_secs: ttl.as_secs(),
            });
        }
        let unknown: HashSet<&str> = report
            .unknown_on_terminal
            .iter()
            .map(|p| p.employee_no.as_str())
            .collect();
        let not_in_report: Vec<String> = remove
            .iter()
            .filter(|no| !unknown.contains(no.as_str()))
            .cloned()
            .collect();
        if !not_in_report.is_empty() {
            return Err(FixError::NotInReport(not_in_report));
        }
        if !remove.is_empty() {
            // The employees are read again: a number that became an employee's since the report
            // must not be deleted.
            let now_employed: HashSet<String> = self
                .directory()?
                .list_angajati()
                .await
                .map_err(DeliveryError::from)?
                .iter()
                .filter_map(|a| a.employee_no().map(ToString::to_string))
                .collect();
            let taken: Vec<String> = remove
                .iter()
                .filter(|no| now_employed.contains(*no))
                .cloned()
                .collect();
            if !taken.is_empty() {
                return Err(FixError::NowEmployees(taken));
            }
        }
        let entry = self.find_device(device_id).await.map_err(|e| match e {
            ResyncError::Delivery(d) => FixError::Delivery(d),
            _ => FixError::NotFound(id),
        })?;
        let detail = Some(format!("reconcile {id}"));
        let mut changes = Vec::new();
        let mut audit = Vec::new();
        let mut outcome = FixOutcome {
            reconcile_id: id,
            ..FixOutcome::default()
        };
        if schedule_missing {
            let wanted: HashSet<&str> = report
                .missing_on_terminal
                .iter()
                .chain(&report.face_missing)
                .map(String::as_str)
                .collect();
            let angajati = self
                .directory()?
                .list_angajati()
                .await
                .map_err(DeliveryError::from)?;
            let previous: HashMap<Uuid, PairRecord> = self
                .store
                .pairs_on(device_id)
                .await?
                .into_iter()
                .map(|p| (p.change.key.angajat_id, p))
                .collect();
            for a in &angajati {
                let Some(no) = a.employee_no().filter(|no| wanted.contains(no.as_str())) else {
                    continue;
                };
                let prev = previous.get(&a.id);
                if prev.is_some_and(|p| p.change.want == Want::Remove) {
                    continue;
                }
                changes.push(change_for(
                    a,
                    &entry,
                    Flow::Enrol,
                    FlowOptions::default(),
                    prev,
                ));
                outcome.scheduled.push(no.to_string());
                audit.push(AuditEntry {
                    angajat_id: Some(a.id),
                    employee_no: Some(no.clone()),
                    detail: detail.clone(),
                    ..AuditEntry::new(actor, "reconcile_schedule", device_id)
                });
            }
        }
        for no in remove {
            // The terminal reported it; one no terminal takes back as an `employeeNo` cannot be
            // deleted by number.
            let Ok(number) = EmployeeNo::try_from(no.as_str()) else {
                tracing::warn!(device_id, employee_no = %no, "a person on the terminal has a number no delete request can name: it is left there");
                continue;
            };
            changes.push(Change {
                key: unknown_person_key(device_id, no),
                want: Want::Remove,
                employee_no: Some(number.clone()),
                remove_employee_no: None,
                photo: None,
                create_missing_person: false,
                validity: None,
            });
            outcome.removing.push(no.clone());
            audit.push(AuditEntry {
                employee_no: Some(number),
                detail: detail.clone(),
                ..AuditEntry::new(actor, "reconcile_remove", device_id)
            });
        }
        if !changes.is_empty() {
            let now = Utc::now();
            self.want(&changes, None, now, actor).await?;
            self.scheduler
                .schedule_pairs(changes.iter().map(|c| c.key.clone()).collect(), now)
                .await?;
            self.audit.record(&audit).await?;
        }
        tracing::info!(device_id, reconcile_id = %id, scheduled = outcome.scheduled.len(), removing = outcome.removing.len(), actor, "reconcile fix scheduled");
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests;
