//! The owner's flows (`docs/owner-plan.md`) across every active terminal: one task per terminal, bounded concurrency,
//! per-terminal pacing, and one deadline for the whole request. Decides every status.

mod credentials;
mod flows;
mod pacing;
mod photo_plan;
mod reads;
mod retry;

use std::sync::Arc;
use std::time::Instant;

use secrecy::ExposeSecret;
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use chrono::{DateTime, Utc};
use hikvision_isapi::{EmployeeNo, FacePicture, IsapiClient, IsapiError};

use crate::config::SyncOptions;

use crate::metrics::Metrics;
use crate::models::{
    Device, DeviceEntry, Enrolled, Person, ServiceCode, SyncResult, SyncStatus, SyncStep,
};
use crate::photo::FaceUrlPolicy;

pub use credentials::{Blocked, CredentialGuard};
pub use flows::{DeviceSession, FaceJob};
pub use pacing::Pacer;
pub use photo_plan::{PhotoPlanner, PlannedPhoto};
pub use reads::{FaceCapacity, ReadProgress, TerminalContents};
pub use retry::RetryPolicy;

/// Which of the plan's flows to run on each terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `update-angajat-photo`: FDModify, falling back to FaceDataRecord.
    UpdatePhoto,
    /// `sync-angajat-photo-only`: FaceDataRecord only.
    PhotoOnly,
    /// `sync-angajat`: the person record, then the face.
    FullSync,
    /// Enrolment onto a terminal (bulk resync, the reconcile fix): the person by add-or-edit
    /// (`UserInfo/SetUp`), then the face by add-or-replace (`FDSetUp`), one call each on a
    /// terminal that offers them, falling back where it does not.
    Enrol,
    /// `remove-angajat`: the person and their face leave the terminal.
    Remove,
    /// A changed validity window: the person record is edited (`UserInfo/Modify`, `SetUp` on a
    /// terminal that refuses it); the face is left alone.
    UpdatePerson,
}

impl Flow {
    /// snake_case name, for metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::UpdatePhoto => "update_photo",
            Self::PhotoOnly => "photo_only",
            Self::FullSync => "full_sync",
            Self::Enrol => "enrol",
            Self::Remove => "remove",
            Self::UpdatePerson => "update_person",
        }
    }
}

/// Asked before every terminal call: may this call still go out? Durable delivery answers from
/// its claim on the (employee, terminal) pair, so a call whose claim was taken over is not made.
pub trait CallGate: Send + Sync {
    /// True when the call to `device_id` may go out.
    fn allowed<'a>(&'a self, device_id: &'a str) -> futures::future::BoxFuture<'a, bool>;
}

/// What a caller hooks into a run: progress as terminals finish, and the gate before each call.
#[derive(Default, Clone)]
pub struct Hooks {
    /// Each finished report, as `(index, report)`.
    pub progress: Option<mpsc::UnboundedSender<(usize, DeviceReport)>>,
    /// Asked before every terminal call.
    pub gate: Option<Arc<dyn CallGate>>,
    /// The bound on terminals in flight, when several runs of one request share it (default: a
    /// bound of `DEVICE_CONCURRENCY` for this run alone).
    pub permits: Option<Arc<Semaphore>>,
}

/// Options a caller may set per request.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowOptions {
    /// Enrol the person when a terminal does not know them (off: enrolling grants door access).
    pub create_missing_person: bool,
}

/// One terminal's outcome, with the device fields the response shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    /// Device row id.
    pub device_id: String,
    /// Device address as stored.
    pub device_ip: String,
    /// Device name.
    pub device_name: String,
    /// The outcome.
    pub result: SyncResult,
    /// Time spent on this terminal, queueing excluded.
    pub elapsed_ms: u64,
    /// True when the call was still running at the request deadline (it finishes in the
    /// background and its result is recorded then).
    pub in_flight: bool,
    /// True when the terminal will be handled in the background (durable delivery).
    pub queued: bool,
    /// When the background attempt is due, if queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl DeviceReport {
    /// A report for the device of `entry` with `result`, nothing timed.
    pub fn of(entry: &DeviceEntry, result: SyncResult) -> Self {
        let (device_id, device_ip, device_name) = identity(entry);
        Self {
            device_id,
            device_ip,
            device_name,
            result,
            elapsed_ms: 0,
            in_flight: false,
            queued: false,
            next_attempt_at: None,
        }
    }
}

/// What every terminal gets in one request, decided once from the employee's data.
enum Plan {
    Skip(SyncResult),
    Send {
        employee_no: EmployeeNo,
        picture: Option<PlannedPhoto>,
    },
}

/// Runs flows on terminals. Share one per process (it holds the pacing state).
#[derive(Debug)]
pub struct Orchestrator {
    client: IsapiClient,
    face_urls: FaceUrlPolicy,
    options: SyncOptions,
    pacer: Pacer,
    credentials: CredentialGuard,
    metrics: Option<Arc<Metrics>>,
    pictures: Option<PhotoPlanner>,
}

impl Orchestrator {
    /// An orchestrator using `client` for every terminal.
    pub fn new(client: IsapiClient, face_urls: FaceUrlPolicy, options: SyncOptions) -> Self {
        Self {
            client,
            pacer: Pacer::new(options.rate_limit_delay),
            credentials: CredentialGuard::new(options.auth_failure_cooldown),
            face_urls,
            options,
            metrics: None,
            pictures: None,
        }
    }

    /// Fetches, fixes and delivers photos through `pictures` (without it: by URL only).
    pub fn with_photos(mut self, pictures: PhotoPlanner) -> Self {
        self.pictures = Some(pictures);
        self
    }

    /// Records every terminal's result in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The pacing and bounds in force.
    pub fn options(&self) -> SyncOptions {
        self.options
    }

    /// A fresh bound of `DEVICE_CONCURRENCY` terminals in flight, for [`Hooks::permits`].
    pub fn concurrency_bound(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.options.device_concurrency.max(1)))
    }

    /// Runs `flow` for `person` (an angajat, or the debugging endpoint's person) on every
    /// device, concurrently, and returns one report per device in the devices' order, within the
    /// request deadline, with the caller's `hooks`.
    pub async fn sync(
        self: &Arc<Self>,
        person: impl Into<Person>,
        devices: Vec<DeviceEntry>,
        flow: Flow,
        flags: FlowOptions,
        hooks: Hooks,
    ) -> Vec<DeviceReport> {
        let Hooks {
            progress,
            gate,
            permits,
        } = hooks;
        let deadline = tokio::time::Instant::now() + self.options.request_deadline;
        let person: Person = person.into();
        let plan = Arc::new(self.plan(&person, flow).await);
        let person = Arc::new(person);
        let permits = permits.unwrap_or_else(|| self.concurrency_bound());
        let identities: Vec<(String, String, String)> = devices.iter().map(identity).collect();
        let deadline_ms = self.options.request_deadline.as_millis();

        let handles: Vec<_> = devices
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let this = Arc::clone(self);
                let (plan, person, permits) = (plan.clone(), person.clone(), permits.clone());
                let (progress, gate) = (progress.clone(), gate.clone());
                let task = async move {
                    // Closed only if the semaphore is dropped, which cannot happen while we hold it.
                    let _permit = permits.acquire_owned().await.ok()?;
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    let run = Run {
                        flow,
                        flags,
                        deadline,
                        gate: gate.as_deref(),
                    };
                    let report = this.run_device(entry, &plan, &person, run).await;
                    if let Some(tx) = progress {
                        let _ = tx.send((index, report.clone()));
                    }
                    Some(report)
                };
                // Keep the request's span (and its request id) on every terminal's log lines.
                tokio::spawn(task.in_current_span())
            })
            .collect();

        let mut reports = Vec::with_capacity(handles.len());
        for (handle, (id, ip, name)) in handles.into_iter().zip(identities) {
            let outcome = tokio::time::timeout_at(deadline, handle).await;
            let (result, in_flight) = match outcome {
                Ok(Ok(Some(report))) => {
                    reports.push(report);
                    continue;
                }
                Ok(Ok(None)) => (deadline_result(deadline_ms), false),
                Err(_) => (deadline_result(deadline_ms), true),
                Ok(Err(join_error)) => {
                    tracing::error!(device_id = %id, error = %join_error, "device task failed");
                    let internal = SyncResult::new(
                        SyncStatus::Fatal,
                        SyncStep::Photo,
                        "Internal error while working on this terminal; see the service logs",
                    );
                    (internal, false)
                }
            };
            reports.push(DeviceReport {
                device_id: id,
                device_ip: ip,
                device_name: name,
                result,
                elapsed_ms: 0,
                in_flight,
                queued: false,
                next_attempt_at: None,
            });
        }
        reports
    }

    async fn plan(&self, person: &Person, flow: Flow) -> Plan {
        let skip = |message: String, code: ServiceCode| {
            Plan::Skip(
                SyncResult::new(SyncStatus::Skipped, SyncStep::Photo, message).with_code(code),
            )
        };
        let Some(employee_no) = person.stored_employee_no() else {
            let why = if person.biometrics.is_none() {
                "this angajat has no biometrie record, so no employee_no"
            } else {
                "employee_no is missing in this angajat's biometrie record"
            };
            return skip(
                format!("Skipped: {why}; set biometrie.employee_no first"),
                ServiceCode::MissingEmployeeNo,
            );
        };
        let employee_no = match employee_no {
            Ok(no) => no.clone(),
            Err(e) => return skip(format!("Skipped: {e}"), ServiceCode::InvalidEmployeeNo),
        };
        let picture = match person.photo() {
            _ if matches!(flow, Flow::Remove | Flow::UpdatePerson) => None,
            None if matches!(flow, Flow::FullSync | Flow::Enrol) => None,
            None => {
                return skip(
                    "Skipped: foto_fata_url is missing in this angajat's biometrie record; upload a photo first".into(),
                    ServiceCode::MissingFotoFataUrl,
                );
            }
            Some(raw) => match &self.pictures {
                Some(pictures) => match pictures.plan(raw, &self.face_urls).await {
                    Ok(planned) => Some(planned),
                    Err(skipped) => return Plan::Skip(skipped),
                },
                None => match self.face_urls.resolve(raw) {
                    Ok(url) => Some(PlannedPhoto {
                        primary: FacePicture::Url(url),
                        push_fallback: None,
                        note: None,
                    }),
                    Err(e) => return skip(format!("Skipped: {e}"), ServiceCode::InvalidPhotoUrl),
                },
            },
        };
        Plan::Send {
            employee_no,
            picture,
        }
    }

    async fn run_device(
        &self,
        entry: DeviceEntry,
        plan: &Plan,
        person: &Person,
        run: Run<'_>,
    ) -> DeviceReport {
        let flow = run.flow;
        let started = Instant::now();
        let (device_id, device_ip, device_name) = identity(&entry);
        let result = match (entry, plan) {
            (Err(invalid), _) => SyncResult::new(
                SyncStatus::Fatal,
                SyncStep::Device,
                format!("Invalid device record: {}", invalid.reason),
            ),
            (Ok(_), Plan::Skip(result)) => result.clone(),
            (
                Ok(device),
                Plan::Send {
                    employee_no,
                    picture,
                },
            ) => {
                let target = FlowTarget {
                    device: &device,
                    person,
                    employee_no,
                    picture: picture.as_ref(),
                };
                self.run_flow(target, run).await
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if let Some(m) = &self.metrics {
            m.observe_result(flow.name(), result.status.name());
        }
        tracing::info!(
            device_id = %device_id, device_ip = %device_ip, status = ?result.status,
            method = result.method.map_or("-", |m| m.name()), fallback = result.fallback, elapsed_ms,
            "terminal done"
        );
        DeviceReport {
            device_id,
            device_ip,
            device_name,
            result,
            elapsed_ms,
            in_flight: false,
            queued: false,
            next_attempt_at: None,
        }
    }

    /// True when this process already holds these credentials as refused (its message then says
    /// more than the shared block's).
    pub fn knows_refused(&self, device: &Device) -> bool {
        device.terminal().is_ok_and(|t| {
            self.credentials
                .check(
                    &t.address(),
                    &device.username,
                    device.password.expose_secret(),
                )
                .is_some()
        })
    }

    /// Waits for `device`'s next turn, so calls made elsewhere (the access events) are paced with
    /// this process's own.
    pub async fn wait_turn(&self, device: &Device) {
        if let Ok(t) = device.terminal() {
            self.pacer.wait_turn(&t.address()).await;
        }
    }

    /// Records the outcome of a call made elsewhere for the credential guard: a refused
    /// username or password blocks these credentials here too (one failed login in all).
    pub fn note_outcome(&self, device: &Device, outcome: Result<(), &IsapiError>) {
        if let Ok(t) = device.terminal() {
            self.credentials.record(
                &t.address(),
                &device.username,
                device.password.expose_secret(),
                outcome,
            );
        }
    }

    /// One cheap paced call (deviceInfo) to see whether a terminal answers.
    pub async fn probe(&self, device: &Device) -> Result<(), IsapiError> {
        let terminal = device.terminal()?;
        self.pacer.wait_turn(&terminal.address()).await;
        self.client.device_info(&terminal).await.map(drop)
    }

    async fn run_flow(&self, target: FlowTarget<'_>, run: Run<'_>) -> SyncResult {
        let Run {
            flow,
            flags,
            deadline,
            gate,
        } = run;
        let FlowTarget {
            device,
            person,
            employee_no,
            picture,
        } = target;
        let terminal = match device.terminal() {
            Ok(t) => t,
            Err(e) => {
                return SyncResult::new(
                    SyncStatus::Fatal,
                    SyncStep::Device,
                    format!("Invalid device record: {e}"),
                );
            }
        };
        if let Some(blocked) = self.credentials.check(
            &terminal.address(),
            &device.username,
            device.password.expose_secret(),
        ) {
            return SyncResult::new(
                SyncStatus::Partial,
                SyncStep::Device,
                blocked.message(tokio::time::Instant::now()),
            )
            .with_code(ServiceCode::CredentialsBlocked);
        }
        let session = DeviceSession {
            client: &self.client,
            terminal,
            pacer: &self.pacer,
            deadline,
            retry: RetryPolicy::default(),
            guard: &self.credentials,
            username: &device.username,
            password: &device.password,
            gate: gate.map(|g| (g, device.id.as_str())),
            delivered: std::sync::Mutex::new(None),
            timezone: self.options.terminal_timezone,
        };
        let job = picture.map(|planned| FaceJob {
            person,
            employee_no,
            picture: planned.primary.clone(),
            push_fallback: planned.push_fallback.clone(),
            create_missing_person: flags.create_missing_person,
        });
        let result = match (flow, &job) {
            (Flow::Remove, _) => session.remove_person(employee_no).await,
            (Flow::FullSync, _) => {
                session
                    .sync_person_and_photo(person, employee_no, job.as_ref())
                    .await
            }
            (Flow::Enrol, _) => session.enrol(person, employee_no, job.as_ref()).await,
            (Flow::UpdatePerson, _) => {
                session
                    .update_person(person, employee_no, flags.create_missing_person)
                    .await
            }
            (Flow::UpdatePhoto, Some(job)) => session.update_photo(job).await,
            (Flow::PhotoOnly, Some(job)) => session.add_photo_only(job).await,
            // `plan` never sends a photo flow without a picture; report rather than panic.
            (_, None) => SyncResult::new(
                SyncStatus::Fatal,
                SyncStep::Photo,
                "Internal error: no picture to send",
            ),
        };
        let mut result = SyncResult {
            delivery: session.delivered(),
            ..result
        };
        if let Some(note) = picture.and_then(|p| p.note.as_deref()) {
            result.message.push_str(note);
        }
        let wrote_face =
            job.is_some() && result.status == SyncStatus::Success && result.step == SyncStep::Photo;
        if wrote_face && self.options.verify_after_write {
            return session.verify(employee_no, result).await;
        }
        result
    }
}

/// How one terminal is run in this request.
#[derive(Clone, Copy)]
struct Run<'a> {
    flow: Flow,
    flags: FlowOptions,
    deadline: tokio::time::Instant,
    gate: Option<&'a dyn CallGate>,
}

/// One terminal and what to send it.
struct FlowTarget<'a> {
    device: &'a Device,
    person: &'a Person,
    employee_no: &'a EmployeeNo,
    picture: Option<&'a PlannedPhoto>,
}

fn identity(entry: &DeviceEntry) -> (String, String, String) {
    match entry {
        Ok(d) => (d.id.clone(), d.ip.clone(), d.name.clone()),
        Err(i) => (i.id.clone(), i.ip.clone(), i.name.clone()),
    }
}

fn deadline_result(deadline_ms: u128) -> SyncResult {
    SyncResult::new(
        SyncStatus::Partial,
        SyncStep::Photo,
        format!(
            "No result within the request deadline of {deadline_ms} ms: the terminal is slow or offline, or was still waiting its turn (DEVICE_CONCURRENCY). A call already under way finishes in the background; retry this terminal if needed"
        ),
    )
    .with_code(ServiceCode::DeadlineExceeded)
}
