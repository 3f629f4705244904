//! What the durable store holds: per (employee, terminal) what the terminal should hold, what it
//! was last confirmed to hold, and where delivery stands.

use chrono::{DateTime, Utc};
use hikvision_isapi::EmployeeNo;
use serde::Serialize;
use uuid::Uuid;

use crate::models::ErrorCode;
use crate::orchestration::Flow;

/// One (employee, terminal) pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PairKey {
    /// The employee.
    pub angajat_id: Uuid,
    /// The terminal (device row id).
    pub device_id: String,
}

impl PairKey {
    /// The pair of `angajat_id` and `device_id`.
    pub fn new(angajat_id: Uuid, device_id: impl Into<String>) -> Self {
        Self {
            angajat_id,
            device_id: device_id.into(),
        }
    }

    /// The job key of the pair's pending delivery (one pending job per pair).
    pub fn job_key(&self) -> String {
        format!("pair:{}:{}", self.angajat_id, self.device_id)
    }
}

/// Where delivery to one pair stands (the status endpoint's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PairState {
    /// The terminal holds what it should (a confirmed removal is in sync too).
    InSync,
    /// Will be retried: offline, busy, deadline, a call cut off.
    Pending,
    /// Waits for a person: rejected picture, wrong password, invalid device row.
    Failed,
    /// Nothing to send: no employee_no or no photo.
    Skipped,
    /// Never tried.
    Unknown,
}

impl PairState {
    /// The snake_case name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Self::InSync => "in_sync",
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
        }
    }

    /// The state called `name`; `Unknown` for anything else.
    pub fn parse(name: &str) -> Self {
        match name {
            "in_sync" => Self::InSync,
            "pending" => Self::Pending,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            _ => Self::Unknown,
        }
    }
}

/// The change a pair should receive: the flow that created it, replayed until it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A flow that puts the person and/or face on the terminal.
    Sync(Flow),
    /// The person and their face must leave the terminal.
    Remove,
}

impl Want {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sync(flow) => flow.name(),
            Self::Remove => "remove",
        }
    }

    /// The want called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "update_photo" => Self::Sync(Flow::UpdatePhoto),
            "photo_only" => Self::Sync(Flow::PhotoOnly),
            "full_sync" => Self::Sync(Flow::FullSync),
            "enrol" => Self::Sync(Flow::Enrol),
            "update_person" => Self::Sync(Flow::UpdatePerson),
            "remove" => Self::Remove,
            _ => return None,
        })
    }
}

/// [`Change::validity`] when the window a terminal holds is not known (a change carrying one was
/// superseded before it went through): never equal to a real window, so the sweep sends it.
pub const UNCONFIRMED_VALIDITY: &str = "unconfirmed";

/// A new desired state for one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The pair.
    pub key: PairKey,
    /// What to do.
    pub want: Want,
    /// The number the terminal should hold (or, for a removal, the number to remove).
    pub employee_no: Option<EmployeeNo>,
    /// An old number that must leave the terminal first (the employee's number changed).
    pub remove_employee_no: Option<EmployeeNo>,
    /// The photo's identity (its URL string until pictures are fetched by the service).
    pub photo: Option<String>,
    /// Enrol the person when a terminal does not know them (the request's flag).
    pub create_missing_person: bool,
    /// The employee's validity bounds the terminal was last given ([`Validity::key`]; `None`:
    /// the wide window), so the sweep sees a changed date.
    ///
    /// [`Validity::key`]: crate::models::Validity::key
    pub validity: Option<String>,
}

/// A pair as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRecord {
    /// The desired change.
    pub change: Change,
    /// Where delivery stands.
    pub state: PairState,
    /// Attempts since the change was made.
    pub attempts: u32,
    /// When the last attempt ended.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Machine-readable reason of the last failure.
    pub error_code: Option<ErrorCode>,
    /// The last outcome in plain words.
    pub message: Option<String>,
    /// The photo the terminal was last confirmed to hold.
    pub confirmed_photo: Option<String>,
    /// Every number the terminal may hold for the employee (given to it, earlier or pending),
    /// sorted: a removal deletes each of them.
    pub numbers: Vec<EmployeeNo>,
}

impl PairRecord {
    /// What the terminal should hold for the employee.
    pub fn should_hold(&self) -> ShouldHold {
        match self.change.want {
            Want::Remove => ShouldHold::Removed,
            Want::Sync(_) => ShouldHold::Enrolled,
        }
    }
}

/// What a terminal should hold for an employee (the status's `want`), so that `in_sync` is never
/// read as "has access" when it means "removed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShouldHold {
    /// The person and their face (door access).
    Enrolled,
    /// Nothing of the employee (no door access).
    Removed,
}

/// Why door access was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The employee was removed (remove-angajat, a deleted row, an end date that passed, a
    /// reconcile fix): every number.
    Removed,
    /// The employee's number changed: the old number only.
    NumberChanged,
}

impl RevocationReason {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Removed => "removed",
            Self::NumberChanged => "number_changed",
        }
    }

    /// The reason called `name` (`Removed` for anything unknown: the stricter reading).
    pub fn parse(name: &str) -> Self {
        match name {
            "number_changed" => Self::NumberChanged,
            _ => Self::Removed,
        }
    }
}

/// A durable revocation of door access: only an admin's restore lifts it. Ordinary changes
/// (photo updates, webhooks, the sweep) never put a revoked employee, or a revoked number, back
/// on a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Revocation {
    /// The employee.
    pub angajat_id: Uuid,
    /// The revoked number; `None`: the whole employee, every number.
    #[schema(value_type = Option<String>)]
    pub employee_no: Option<EmployeeNo>,
    /// When.
    pub revoked_at: DateTime<Utc>,
    /// Who or what asked (the token's `sub`, "api-key", "webhook: ...", "sweep: ...").
    pub revoked_by: String,
    /// Why.
    pub reason: RevocationReason,
}

impl Revocation {
    /// True when this revocation forbids giving `employee_no` to a terminal for its employee.
    pub fn covers(&self, employee_no: Option<&EmployeeNo>) -> bool {
        match &self.employee_no {
            None => true,
            Some(revoked) => Some(revoked) == employee_no,
        }
    }

    /// The per-terminal message of a change refused by this revocation.
    pub fn message(&self) -> String {
        let what = match &self.employee_no {
            None => "This employee's door access was revoked".to_string(),
            Some(no) => format!("Employee number {no} was revoked for this employee"),
        };
        format!(
            "{what} on {} by {}: ordinary changes (photo updates, webhooks, the sweep) do not give it back. An administrator can restore access with POST /api/hikvision/restore-angajat {{\"angajat_id\": \"{}\"}}",
            self.revoked_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.revoked_by,
            self.angajat_id
        )
    }
}

/// What the store did with one wanted change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Recorded, and claimed by the caller.
    Claimed,
    /// Recorded; not claimed (no owner given, or someone else holds the pair).
    Recorded,
    /// Refused: a revocation covers it (nothing stored).
    Revoked(Box<Revocation>),
}

impl Wanted {
    /// True when the caller holds the claim.
    pub fn is_claimed(&self) -> bool {
        matches!(self, Self::Claimed)
    }

    /// True when the change was stored.
    pub fn is_recorded(&self) -> bool {
        !matches!(self, Self::Revoked(_))
    }
}

#[cfg(test)]
impl Change {
    /// The unit tests' change: employee "7" (nil id) gets `photo` on `device`.
    pub(crate) fn photo_update(device: &str, photo: Option<&str>) -> Self {
        Self {
            key: PairKey::new(Uuid::nil(), device),
            want: Want::Sync(Flow::UpdatePhoto),
            employee_no: "7".parse().ok(),
            remove_employee_no: None,
            photo: photo.map(str::to_string),
            create_missing_person: false,
            validity: None,
        }
    }
}

impl Change {
    /// The numbers this change gives to or takes from the terminal.
    pub fn numbers(&self) -> Vec<EmployeeNo> {
        let mut numbers: Vec<EmployeeNo> = [&self.employee_no, &self.remove_employee_no]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        numbers.sort();
        numbers.dedup();
        numbers
    }

    /// The revocation this change makes, if any: a removal revokes the employee, a number change
    /// revokes the old number.
    pub fn revocation(&self, by: &str, at: DateTime<Utc>) -> Option<Revocation> {
        let (employee_no, reason) = match (self.want, &self.remove_employee_no) {
            (Want::Remove, _) => (None, RevocationReason::Removed),
            (Want::Sync(_), Some(old)) => (Some(old.clone()), RevocationReason::NumberChanged),
            (Want::Sync(_), None) => return None,
        };
        Some(Revocation {
            angajat_id: self.key.angajat_id,
            employee_no,
            revoked_at: at,
            revoked_by: by.to_string(),
            reason,
        })
    }
}

/// One attempt's result, as the policy decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The resulting state.
    pub state: PairState,
    /// When to try again (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Machine-readable reason, when not in sync.
    pub error_code: Option<ErrorCode>,
    /// What happened, in plain words.
    pub message: String,
    /// The photo the terminal now holds, when confirmed.
    pub confirmed_photo: Option<String>,
}

/// A terminal's line in `GET /api/hikvision/devices/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceCounts {
    /// Pairs waiting to be applied.
    pub pending: u64,
    /// Pairs waiting for a person.
    pub failed: u64,
    /// When a change last reached this terminal.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The newest failure message.
    pub last_error: Option<String>,
}

/// Figures for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Backlog {
    /// Pending pairs.
    pub pending: u64,
    /// Failed pairs.
    pub failed: u64,
    /// Age of the oldest pending change, seconds.
    pub oldest_pending_secs: f64,
    /// Age of the oldest pending removal, seconds (alert-worthy: someone keeps door access).
    pub oldest_pending_removal_secs: f64,
}

/// What a claim attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claimed: the pair is ours until the lease runs out (renewed while we live).
    Claimed(Box<PairRecord>),
    /// Someone else is working on it until then.
    Held {
        /// When their claim runs out unless renewed.
        until: DateTime<Utc>,
    },
    /// Nothing to do: not pending (done, failed, skipped) or unknown.
    Idle,
}
