//! Domain models the orchestration works with: employees, terminals, and per-terminal results.

mod error_code;
mod redact;
mod validity;

use hikvision_isapi::{
    EmployeeNo, ErrorClass, InvalidEmployeeNo, IsapiError, Terminal, TerminalCall,
};
use secrecy::SecretString;
use serde::Serialize;
use uuid::Uuid;

pub use error_code::{ErrorCode, ServiceCode};
pub use redact::public_message;
pub use validity::{Bound, BoundValue, ReadWindow, TERMINAL_TIME_FORMAT, TerminalWindow, Validity};

/// An employee with the biometric record that links them to the terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    /// Primary key in Supabase.
    pub id: Uuid,
    /// Last name (`nume`).
    pub last_name: String,
    /// First name (`prenume`).
    pub first_name: String,
    /// The biometric record, if one exists.
    pub biometrics: Option<BiometricRecord>,
    /// When their face may open a door (unbounded unless the validity columns are set).
    pub validity: Validity,
}

impl Employee {
    /// True when the employee's end date has passed at `now` (a date ends after its last
    /// second in the terminals' time zone `tz`).
    pub fn validity_ended(&self, now: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> bool {
        self.validity.ended(now, tz)
    }

    /// "Prenume Nume", the name shown on the terminal.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name.trim(), self.last_name.trim())
            .trim()
            .to_string()
    }
}

/// Who goes on the terminals: the name they show and the biometric record. An [`Employee`] read
/// from the directory, or what the debugging endpoint's body names (no angajat row behind it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The name shown on the terminal ("Prenume Nume").
    pub name: String,
    /// The biometric record, if one exists.
    pub biometrics: Option<BiometricRecord>,
    /// When their face may open a door.
    pub validity: Validity,
}

impl Person {}

/// Whoever carries a biometric record (an [`Employee`], a [`Person`]): their number and photo on
/// the terminals come from it, read the same way for both.
pub trait Enrolled {
    /// The biometric record, if one exists.
    fn biometrics(&self) -> Option<&BiometricRecord>;

    /// The employee number, when present, non-blank and one a terminal takes.
    fn employee_no(&self) -> Option<&EmployeeNo> {
        self.biometrics().and_then(BiometricRecord::employee_no)
    }

    /// The employee number as the row holds it: `None` when missing or blank, else the parsed
    /// number or why a terminal would refuse it.
    fn stored_employee_no(&self) -> Option<&StoredEmployeeNo> {
        self.biometrics().and_then(|b| b.employee_no.as_ref())
    }

    /// True when the row names a number at all (valid or not): such an employee is scheduled,
    /// and each terminal's result says why an invalid number cannot be sent.
    fn has_employee_no(&self) -> bool {
        self.stored_employee_no().is_some()
    }

    /// The stored photo value, when present and non-blank.
    fn photo(&self) -> Option<&str> {
        self.biometrics().and_then(BiometricRecord::photo)
    }
}

impl Enrolled for Employee {
    fn biometrics(&self) -> Option<&BiometricRecord> {
        self.biometrics.as_ref()
    }
}

impl Enrolled for Person {
    fn biometrics(&self) -> Option<&BiometricRecord> {
        self.biometrics.as_ref()
    }
}

impl From<Employee> for Person {
    fn from(employee: Employee) -> Self {
        Self {
            name: employee.display_name(),
            biometrics: employee.biometrics,
            validity: employee.validity,
        }
    }
}

/// A non-blank employee number as a row holds it: parsed, or why a terminal would refuse it
/// (kept so each terminal's result can say so).
pub type StoredEmployeeNo = Result<EmployeeNo, InvalidEmployeeNo>;

/// An employee's biometric record (the owner's `biometrie` row): their number on the terminals
/// and their photo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BiometricRecord {
    /// The person's id on the terminals (`employeeNo` / `FPID`); `None` when missing or blank.
    pub employee_no: Option<StoredEmployeeNo>,
    /// Face photo: absolute URL or Supabase Storage path.
    pub photo_url: Option<String>,
}

impl BiometricRecord {
    /// A record from the row's raw values: the number is trimmed, blank counts as missing, and
    /// the rest is parsed here, once.
    pub fn from_row(employee_no: Option<&str>, photo_url: Option<String>) -> Self {
        Self {
            employee_no: non_blank(employee_no).map(EmployeeNo::try_from),
            photo_url,
        }
    }

    /// The employee number, when present, non-blank and one a terminal takes.
    pub fn employee_no(&self) -> Option<&EmployeeNo> {
        self.employee_no.as_ref().and_then(|n| n.as_ref().ok())
    }

    /// The stored photo value, when present and non-blank.
    pub fn photo(&self) -> Option<&str> {
        non_blank(self.photo_url.as_deref())
    }
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// A terminal as recorded in the devices table, credentials already defaulted.
#[derive(Clone)]
pub struct Device {
    /// Row id (text form of whatever the table uses).
    pub id: String,
    /// Human name, e.g. "Main entrance".
    pub name: String,
    /// IP address or host name.
    pub ip: String,
    /// HTTP port.
    pub port: u16,
    /// Login name.
    pub username: String,
    /// Login password.
    pub password: SecretString,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("ip", &self.ip)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// The terminal this row describes, ready for the ISAPI client.
    pub fn terminal(&self) -> Result<Terminal, IsapiError> {
        Terminal::new(&self.ip, self.port, &self.username, self.password.clone())
    }
}

/// A device row that cannot be used (bad port, no address, no password): reported as `fatal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDevice {
    /// Row id, if readable.
    pub id: String,
    /// Name, if readable.
    pub name: String,
    /// Address as stored, if readable.
    pub ip: String,
    /// What is wrong with it.
    pub reason: String,
}

/// One entry of the active-device list: usable, or reported as invalid.
pub type DeviceEntry = Result<Device, InvalidDevice>;

/// Outcome class of one terminal's sync (lower case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    /// The terminal holds the new face.
    Success,
    /// Every attempt failed; the message says why.
    Partial,
    /// Nothing to send (missing employee_no or photo).
    Skipped,
    /// Something that should not happen: invalid device record, internal error.
    Fatal,
}

impl SyncStatus {
    /// The lower-case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Skipped => "skipped",
            Self::Fatal => "fatal",
        }
    }
}

/// Which step of the sync a result is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncStep {
    /// The person record (UserInfo).
    Person,
    /// The face photo.
    Photo,
    /// Checking the device record itself.
    Device,
}

/// The result of one terminal's sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    /// Outcome class.
    pub status: SyncStatus,
    /// What happened, in plain words.
    pub message: String,
    /// Which step decided the outcome.
    pub step: SyncStep,
    /// The ISAPI call that succeeded (or was last tried).
    pub method: Option<TerminalCall>,
    /// True when FDModify failed and the FaceDataRecord fallback was used.
    pub fallback: bool,
    /// Machine-readable reason of a failure (e.g. `wrong_credentials`, `notSupport`).
    pub error_code: Option<ErrorCode>,
    /// What the terminal error means, when a terminal call failed (drives durable retries).
    pub class: Option<ErrorClass>,
    /// Whether a face search after the write found the face (`None`: not checked).
    pub verified: Option<bool>,
    /// How the picture reached the terminal, when one was sent.
    pub delivery: Option<PhotoTransfer>,
}

/// How a photo reached a terminal (`per_device[].delivery`: the contract's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PictureDelivery)]
pub enum PhotoTransfer {
    /// The terminal downloaded `faceURL`.
    Url,
    /// The service pushed the JPEG (multipart).
    Push,
}

impl SyncResult {
    /// A result with no method, no fallback and no error code.
    pub fn new(status: SyncStatus, step: SyncStep, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            step,
            method: None,
            fallback: false,
            error_code: None,
            class: None,
            verified: None,
            delivery: None,
        }
    }

    /// The same result with `code` as its error code.
    pub fn with_code(mut self, code: impl Into<ErrorCode>) -> Self {
        self.error_code = Some(code.into());
        self
    }
}

/// Counts per status, the plan's `summary` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Terminals that hold the new face.
    pub success: usize,
    /// Terminals where every attempt failed.
    pub partial: usize,
    /// Terminals skipped for missing data.
    pub skipped: usize,
    /// Invalid devices and internal errors.
    pub fatal: usize,
}

impl Summary {
    /// Counts the statuses.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a SyncStatus>) -> Self {
        let mut s = Self::default();
        for status in statuses {
            match status {
                SyncStatus::Success => s.success += 1,
                SyncStatus::Partial => s.partial += 1,
                SyncStatus::Skipped => s.skipped += 1,
                SyncStatus::Fatal => s.fatal += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_each_status() {
        use SyncStatus::*;
        let s = Summary::of(&[Success, Success, Partial, Skipped, Fatal, Success]);
        assert_eq!(
            s,
            Summary {
                success: 3,
                partial: 1,
                skipped: 1,
                fatal: 1
            }
        );
        assert_eq!(Summary::of(&[]), Summary::default());
    }

    #[test]
    fn blank_fields_count_as_missing() {
        let a = Employee {
            id: Uuid::nil(),
            last_name: " Popescu ".into(),
            first_name: "Ion".into(),
            biometrics: Some(BiometricRecord::from_row(
                Some("  "),
                Some(" a.jpg ".into()),
            )),
            validity: Validity::default(),
        };
        assert_eq!(a.employee_no(), None);
        assert!(!a.has_employee_no());
        assert_eq!(a.photo(), Some("a.jpg"));
        assert_eq!(a.display_name(), "Ion Popescu");
    }

    #[test]
    fn a_row_number_is_parsed_once_blank_missing_invalid_kept() {
        let read = |no: &str| BiometricRecord::from_row(Some(no), None).employee_no;
        assert_eq!(read(" 1042 "), Some("1042".parse()));
        assert_eq!(read("   "), None);
        assert!(matches!(
            read(&"9".repeat(33)),
            Some(Err(InvalidEmployeeNo::TooLong(_)))
        ));
        let invalid = BiometricRecord::from_row(Some(&"9".repeat(33)), None);
        assert_eq!(invalid.employee_no(), None, "only a valid number is sent");
    }

    #[test]
    fn statuses_serialize_lower_case() {
        assert_eq!(
            serde_json::to_string(&SyncStatus::Partial).ok().as_deref(),
            Some("\"partial\"")
        );
    }
}
