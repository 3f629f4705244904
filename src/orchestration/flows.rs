//! The per-terminal flows of the owner's plan (`docs/owner-plan.md`), and the status each outcome
//! gets.
//!
//! - PUT FDModify succeeded -> `success` (method FDModify).
//! - PUT failed, POST FaceDataRecord succeeded -> `success`, `fallback: true`, the message says why
//!   the PUT failed. If the POST says the person already has a face (old firmware without FDModify),
//!   FDSetUp (add-or-replace, in the 2020 guide) replaces it.
//! - Every attempt failed -> `partial`, with each terminal error in plain words.
//! - A wrong password or an unreachable terminal is not called a second time: a second login would
//!   cost another failed attempt towards the terminal's lockout, and an offline terminal would only
//!   double the wait.

use std::future::Future;

use tokio::time::Instant;

use crate::models::{
    ErrorCode, Person, PhotoTransfer, ServiceCode, SyncResult, SyncStatus, SyncStep,
};
use hikvision_isapi::wire::{EmployeeNoList, UserInfo, Valid};
use hikvision_isapi::{
    EmployeeNo, ErrorClass, FaceCall, FacePicture, IsapiClient, IsapiError, PushedJpeg, SubStatus,
    Terminal, TerminalCall, build_person,
};

use secrecy::{ExposeSecret, SecretString};

use super::CallGate;
use super::credentials::CredentialGuard;
use super::pacing::Pacer;
use super::retry::RetryPolicy;

/// Everything needed to talk to one terminal during one request.
pub struct DeviceSession<'a> {
    /// The shared client.
    pub client: &'a IsapiClient,
    /// The terminal.
    pub terminal: Terminal,
    /// The per-terminal pacer.
    pub pacer: &'a Pacer,
    /// When the whole request must be done.
    pub deadline: Instant,
    /// Which failures are retried.
    pub retry: RetryPolicy,
    /// Where refused credentials are remembered.
    pub guard: &'a CredentialGuard,
    /// The login name (for the guard).
    pub username: &'a str,
    /// The password (for the guard's fingerprint only).
    pub password: &'a SecretString,
    /// Asked before every call, with this terminal's device id.
    pub gate: Option<(&'a dyn CallGate, &'a str)>,
    /// How the last picture went out (by URL or pushed).
    pub delivered: std::sync::Mutex<Option<PhotoTransfer>>,
    /// The terminal's time zone: validity windows are written in its local time.
    pub timezone: chrono_tz::Tz,
}

/// What the person/face flows need from the employee, already checked.
pub struct FaceJob<'a> {
    /// The employee.
    pub person: &'a Person,
    /// Their employee number (non-empty).
    pub employee_no: &'a EmployeeNo,
    /// The picture to send.
    pub picture: FacePicture,
    /// The JPEG pushed instead when the terminal cannot download `picture`'s URL.
    pub push_fallback: Option<PushedJpeg>,
    /// Enrol the person first when the terminal does not know them.
    pub create_missing_person: bool,
}

impl DeviceSession<'_> {
    /// One paced terminal call, retried as the policy allows.
    async fn attempt<T, F, Fut>(&self, idempotent: bool, op: F) -> Result<T, IsapiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, IsapiError>>,
    {
        let (op, pacer, address) = (&op, self.pacer, self.terminal.address());
        let (address, gate) = (&address, self.gate);
        let budget = self.client.options().total_timeout;
        let result = self
            .retry
            .run(idempotent, self.deadline, budget, move || async move {
                pacer.wait_turn(address).await;
                if let Some((gate, device_id)) = gate
                    && !gate.allowed(device_id).await
                {
                    return Err(IsapiError::InvalidRequest(
                        "not called: the delivery claim on this terminal was taken over (another replica delivers this change)".into(),
                    ));
                }
                op().await
            })
            .await;
        self.guard.record(
            address,
            self.username,
            self.password.expose_secret(),
            result.as_ref().map(drop),
        );
        result
    }

    async fn face(&self, call: FaceCall, job: &FaceJob<'_>) -> Result<(), IsapiError> {
        let first = self.send_face(call, job.employee_no, &job.picture).await;
        let cannot_download = first.as_ref().is_err_and(|e| {
            e.rejection()
                .is_some_and(|r| r.sub_status_code == SubStatus::UrlDownloadFail)
        });
        match &job.push_fallback {
            // The terminal cannot reach the photo's host (closed LAN, TLS): push the bytes in
            // the same attempt.
            Some(jpeg) if cannot_download => {
                let pushed = FacePicture::Jpeg(jpeg.clone());
                self.send_face(call, job.employee_no, &pushed).await
            }
            _ => first,
        }
    }

    async fn send_face(
        &self,
        call: FaceCall,
        employee_no: &EmployeeNo,
        picture: &FacePicture,
    ) -> Result<(), IsapiError> {
        let how = match picture {
            FacePicture::Url(_) => PhotoTransfer::Url,
            FacePicture::Jpeg(_) => PhotoTransfer::Push,
        };
        if let Ok(mut used) = self.delivered.lock() {
            *used = Some(how);
        }
        // FDModify and FDSetUp replace the face: repeating them changes nothing.
        let idempotent = call != FaceCall::Record;
        self.attempt(idempotent, || {
            self.client.face(call, &self.terminal, employee_no, picture)
        })
        .await
        .map(drop)
    }

    /// How the last picture went out, if one did.
    pub fn delivered(&self) -> Option<PhotoTransfer> {
        self.delivered.lock().ok().and_then(|d| *d)
    }

    /// The person record every person write sends: name, door rights, and the validity window
    /// in the terminal's local time.
    fn person_record(
        &self,
        who: &Person,
        employee_no: &EmployeeNo,
    ) -> Result<UserInfo, IsapiError> {
        let mut person = build_person(employee_no, &who.name);
        let window = who.validity.window(self.timezone);
        person.valid = Some(Valid {
            enable: true,
            begin_time: window.begin_text(),
            end_time: window.end_text(),
            time_type: Some("local".into()),
        });
        Ok(person)
    }

    /// Adds the person; "already exists" counts as done (which also makes it safe to repeat).
    async fn add_person(&self, who: &Person, employee_no: &EmployeeNo) -> Result<(), IsapiError> {
        let person = self.person_record(who, employee_no)?;
        let added = self
            .attempt(true, || self.client.add_person(&self.terminal, &person))
            .await;
        match added {
            Err(IsapiError::Rejected(r)) if r.person_exists() => Ok(()),
            other => other,
        }
    }

    /// The plan's `update_photo_to_device`: FDModify, then FaceDataRecord, then FDSetUp when the
    /// face already exists.
    pub async fn update_photo(&self, job: &FaceJob<'_>) -> SyncResult {
        let put_err = match self.face(FaceCall::Modify, job).await {
            Ok(()) => {
                return success(FaceCall::Modify, false, "Face image updated successfully");
            }
            Err(e) => e,
        };
        if stops_here(&put_err) {
            return failed(
                &put_err,
                FaceCall::Modify,
                false,
                &format!("FDModify failed: {put_err}"),
            );
        }
        let because = format!("FDModify failed: {put_err}");
        self.add_face_with_fallbacks(job, &because).await
    }

    /// The plan's `sync_photo_only_to_device`: FaceDataRecord only.
    pub async fn add_photo_only(&self, job: &FaceJob<'_>) -> SyncResult {
        match self.face(FaceCall::Record, job).await {
            Ok(()) => success(FaceCall::Record, false, "Face image added successfully"),
            Err(e) => {
                let advice = if person_missing(&e) {
                    missing_person_advice(job.employee_no)
                } else {
                    String::new()
                };
                failed(
                    &e,
                    FaceCall::Record,
                    false,
                    &format!("FaceDataRecord failed: {e}{advice}"),
                )
            }
        }
    }

    /// The full sync: the person record, then the face by the update flow.
    pub async fn sync_person_and_photo(
        &self,
        person: &Person,
        employee_no: &EmployeeNo,
        job: Option<&FaceJob<'_>>,
    ) -> SyncResult {
        match self.add_person(person, employee_no).await {
            Ok(()) => {}
            Err(e) => {
                return failed_step(
                    &e,
                    SyncStep::Person,
                    None,
                    false,
                    &format!("Adding the person failed: {e}"),
                );
            }
        }
        match job {
            Some(job) => self.update_photo(job).await,
            None => SyncResult::new(
                SyncStatus::Success,
                SyncStep::Person,
                "Person enrolled; no face photo to send (biometrie.foto_fata_url is empty)",
            ),
        }
    }

    /// Enrolment (bulk resync, the reconcile fix): the person by add-or-edit, then the face by
    /// add-or-replace: `UserInfo/SetUp` and `FDSetUp`, one call each where the terminal offers
    /// them. Firmware differs ([docs/isapi.md]): a terminal that refuses `UserInfo/SetUp` gets
    /// `UserInfo/Record` ("already exists" counting as done), and one that refuses `FDSetUp` gets
    /// the update chain (FDModify, FaceDataRecord).
    pub async fn enrol(
        &self,
        person: &Person,
        employee_no: &EmployeeNo,
        job: Option<&FaceJob<'_>>,
    ) -> SyncResult {
        if let Err(e) = self.set_up_person(person, employee_no).await {
            return failed_step(
                &e,
                SyncStep::Person,
                Some(TerminalCall::UserSetUp),
                false,
                &format!("Enrolling the person failed: {e}"),
            );
        }
        let Some(job) = job else {
            return SyncResult::new(
                SyncStatus::Success,
                SyncStep::Person,
                "Person enrolled; no face photo to send (biometrie.foto_fata_url is empty)",
            );
        };
        let set_up_err = match self.face(FaceCall::SetUp, job).await {
            Ok(()) => return success(FaceCall::SetUp, false, "Face image set up successfully"),
            Err(e) => e,
        };
        // Down, wrong password, or the picture itself refused: another call cannot help.
        if stops_here(&set_up_err) || set_up_err.class() == ErrorClass::PictureRejected {
            return failed(
                &set_up_err,
                FaceCall::SetUp,
                false,
                &format!("FDSetUp failed: {set_up_err}"),
            );
        }
        let fallback = self.update_photo(job).await;
        SyncResult {
            fallback: true,
            message: format!("{} (FDSetUp failed: {set_up_err})", fallback.message),
            ..fallback
        }
    }

    /// `UserInfo/SetUp` (add or edit: the name follows the database too), `UserInfo/Record` on a
    /// terminal that refuses it.
    async fn set_up_person(
        &self,
        who: &Person,
        employee_no: &EmployeeNo,
    ) -> Result<(), IsapiError> {
        let person = self.person_record(who, employee_no)?;
        let set_up = self
            .attempt(true, || self.client.setup_person(&self.terminal, &person))
            .await;
        match set_up {
            Err(e) if !stops_here(&e) => {
                tracing::debug!(error = %e, "UserInfo/SetUp refused; enrolling with UserInfo/Record");
                self.add_person(who, employee_no).await
            }
            other => other,
        }
    }

    /// A changed validity window (or name): `UserInfo/Modify` edits the person; a terminal that
    /// refuses it otherwise than "no such person" gets `UserInfo/SetUp`. A person the terminal
    /// does not know is enrolled (`UserInfo/Record`) only with `create_missing_person`
    /// (enrolling grants door access); otherwise the result says so. The face is left alone.
    pub async fn update_person(
        &self,
        person: &Person,
        employee_no: &EmployeeNo,
        create_missing_person: bool,
    ) -> SyncResult {
        let record = match self.person_record(person, employee_no) {
            Ok(record) => record,
            Err(e) => {
                return failed_step(&e, SyncStep::Person, None, false, &format!("{e}"));
            }
        };
        let modify_err = match self
            .attempt(true, || self.client.modify_person(&self.terminal, &record))
            .await
        {
            Ok(()) => return person_updated(TerminalCall::UserModify, false, "Person updated"),
            Err(e) => e,
        };
        let because = format!("UserInfo/Modify failed: {modify_err}");
        if stops_here(&modify_err) {
            return failed_step(
                &modify_err,
                SyncStep::Person,
                Some(TerminalCall::UserModify),
                false,
                &because,
            );
        }
        if person_missing(&modify_err) {
            if !create_missing_person {
                return failed_step(
                    &modify_err,
                    SyncStep::Person,
                    Some(TerminalCall::UserModify),
                    false,
                    &format!("{because}{}", missing_person_advice(employee_no)),
                );
            }
            return match self.add_person(person, employee_no).await {
                Ok(()) => person_updated(
                    TerminalCall::UserRecord,
                    true,
                    &format!("Person enrolled ({because})"),
                ),
                Err(e) => failed_step(
                    &e,
                    SyncStep::Person,
                    Some(TerminalCall::UserRecord),
                    true,
                    &format!("{because}; UserInfo/Record failed: {e}"),
                ),
            };
        }
        match self
            .attempt(true, || self.client.setup_person(&self.terminal, &record))
            .await
        {
            Ok(()) => person_updated(
                TerminalCall::UserSetUp,
                true,
                &format!("Person updated with UserInfo/SetUp ({because})"),
            ),
            Err(e) => failed_step(
                &e,
                SyncStep::Person,
                Some(TerminalCall::UserSetUp),
                true,
                &format!("{because}; UserInfo/SetUp failed: {e}"),
            ),
        }
    }

    /// Removes the person and their face. Nothing else on the terminal is touched: the delete
    /// names exactly this one employee number (an empty list would delete everyone, and cannot
    /// be built). "Not there" counts as removed, so a removal can be repeated safely.
    pub async fn remove_person(&self, employee_no: &EmployeeNo) -> SyncResult {
        let persons = EmployeeNoList::new(employee_no.clone(), []);
        let faces = self
            .attempt(true, || self.client.delete_faces(&self.terminal, &persons))
            .await;
        if let Err(e) = faces {
            return failed_step(
                &e,
                SyncStep::Photo,
                Some(TerminalCall::FdDelete),
                false,
                &format!("Removing the face of employee_no {employee_no} failed: {e}"),
            );
        }
        match self
            .attempt(true, || {
                self.client.delete_persons(&self.terminal, &persons)
            })
            .await
        {
            Ok(()) => SyncResult {
                method: Some(TerminalCall::UserDelete),
                ..SyncResult::new(
                    SyncStatus::Success,
                    SyncStep::Person,
                    format!("Person {employee_no} and their face removed from the terminal"),
                )
            },
            Err(e) => failed_step(
                &e,
                SyncStep::Person,
                Some(TerminalCall::UserDelete),
                false,
                &format!("Removing person {employee_no} failed: {e}"),
            ),
        }
    }

    /// Read-back: the terminal acknowledged the face; does a search find it? An explicit "no"
    /// turns the success into `not_confirmed` (retried like any transient failure); a search that
    /// itself fails leaves the result as it was, marked `verified: false`.
    pub async fn verify(&self, employee_no: &EmployeeNo, result: SyncResult) -> SyncResult {
        let found = self
            .attempt(true, || self.client.find_face(&self.terminal, employee_no))
            .await;
        match found {
            Ok(true) => SyncResult {
                verified: Some(true),
                ..result
            },
            Ok(false) => SyncResult {
                verified: Some(false),
                method: result.method,
                fallback: result.fallback,
                ..SyncResult::new(
                    SyncStatus::Partial,
                    SyncStep::Photo,
                    format!(
                        "Not confirmed: the terminal acknowledged the face ({}) but a face search finds none for employee_no {employee_no}; it is sent again",
                        result.message
                    ),
                )
                .with_code(ServiceCode::NotConfirmed)
            },
            Err(e) => {
                tracing::debug!(error = %e, "read-back search failed; the write stands unverified");
                SyncResult {
                    verified: Some(false),
                    ..result
                }
            }
        }
    }

    async fn add_face_with_fallbacks(&self, job: &FaceJob<'_>, because: &str) -> SyncResult {
        let mut post = self.face(FaceCall::Record, job).await;
        if job.create_missing_person && post.as_ref().is_err_and(person_missing) {
            if let Err(e) = self.add_person(job.person, job.employee_no).await {
                return failed_step(
                    &e,
                    SyncStep::Person,
                    Some(TerminalCall::FaceDataRecord),
                    true,
                    &format!("{because}; enrolling the missing person failed: {e}"),
                );
            }
            post = self.face(FaceCall::Record, job).await;
        }
        let post_err = match post {
            Ok(()) => {
                return success(
                    FaceCall::Record,
                    true,
                    &format!("Face image added with FaceDataRecord ({because})"),
                );
            }
            Err(e) => e,
        };
        let face_exists = post_err.rejection().is_some_and(|r| r.face_exists());
        if !face_exists {
            let advice = if person_missing(&post_err) {
                missing_person_advice(job.employee_no)
            } else {
                String::new()
            };
            return failed(
                &post_err,
                FaceCall::Record,
                true,
                &format!("{because}; FaceDataRecord failed: {post_err}{advice}"),
            );
        }
        match self.face(FaceCall::SetUp, job).await {
            Ok(()) => success(
                FaceCall::SetUp,
                true,
                &format!(
                    "Face image replaced with FDSetUp ({because}; FaceDataRecord: the person already had a face)"
                ),
            ),
            Err(e) => failed(
                &e,
                FaceCall::SetUp,
                true,
                &format!("{because}; FaceDataRecord failed: {post_err}; FDSetUp failed: {e}"),
            ),
        }
    }
}

/// Errors after which another call to the same terminal in this request cannot help (down, or
/// the input is wrong) or can hurt (a second login with a refused password).
fn stops_here(e: &IsapiError) -> bool {
    let class = e.class();
    class.terminal_is_down()
        || matches!(class, ErrorClass::Credentials | ErrorClass::InvalidRequest)
}

fn person_missing(e: &IsapiError) -> bool {
    e.rejection().is_some_and(|r| r.person_missing())
}

fn missing_person_advice(employee_no: &EmployeeNo) -> String {
    format!(
        ". The person (employee_no {employee_no}) is not enrolled on this terminal: enrol them with POST /api/hikvision/sync-angajat, or resend this request with \"create_missing_person\": true"
    )
}

fn person_updated(call: TerminalCall, fallback: bool, message: &str) -> SyncResult {
    SyncResult {
        method: Some(call),
        fallback,
        ..SyncResult::new(SyncStatus::Success, SyncStep::Person, message)
    }
}

fn success(call: FaceCall, fallback: bool, message: &str) -> SyncResult {
    SyncResult {
        method: Some(call.call()),
        fallback,
        ..SyncResult::new(SyncStatus::Success, SyncStep::Photo, message)
    }
}

fn failed(e: &IsapiError, call: FaceCall, fallback: bool, message: &str) -> SyncResult {
    failed_step(e, SyncStep::Photo, Some(call.call()), fallback, message)
}

fn failed_step(
    e: &IsapiError,
    step: SyncStep,
    call: Option<TerminalCall>,
    fallback: bool,
    message: &str,
) -> SyncResult {
    let suffix = if e.class() == ErrorClass::Credentials {
        "; the terminal was not called again, to avoid locking the account"
    } else {
        ""
    };
    SyncResult {
        method: call,
        fallback,
        error_code: Some(ErrorCode::of(e)),
        class: Some(e.class()),
        verified: None,
        delivery: None,
        ..SyncResult::new(SyncStatus::Partial, step, format!("{message}{suffix}"))
    }
}
