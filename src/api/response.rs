//! The response contract the React app depends on (`docs/owner-plan.md`'s field names, additive
//! extras only).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use hikvision_isapi::TerminalCall;

use crate::models::{ErrorCode, Summary, SyncStatus, SyncStep};
use crate::orchestration::DeviceReport;

/// `{"status": "ok", "summary": {...}, "per_device": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    /// Always "ok" for a request that reached the terminals.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
    /// The employee synced (extra).
    pub angajat_id: String,
    /// Counts per status.
    pub summary: Summary,
    /// One entry per active terminal, in the devices' order.
    pub per_device: Vec<PerDevice>,
    /// Wall time of the whole request (extra).
    pub elapsed_ms: u64,
}

/// One terminal's entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerDevice {
    /// Device row id.
    pub device_id: String,
    /// Device address.
    pub device_ip: String,
    /// Outcome class.
    pub status: SyncStatus,
    /// What happened, in plain words.
    pub message: String,
    /// The step the outcome is about.
    pub step: SyncStep,
    /// Device name (extra).
    pub device_name: String,
    /// ISAPI call that succeeded or was last tried (extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = terminal_call_schema, example = "FDModify")]
    pub method: Option<TerminalCall>,
    /// True when the FDModify fallback was used (extra).
    pub fallback: bool,
    /// Machine-readable failure reason (extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    /// Time spent on this terminal (extra).
    pub elapsed_ms: u64,
    /// True when the terminal will be handled in the background (extra).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub queued: bool,
    /// When the background attempt is due, RFC 3339 (extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether a face search after the write found the face; absent when not checked (extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

impl SyncResponse {
    /// Builds the response from the reports.
    pub fn new(angajat_id: String, reports: Vec<DeviceReport>, elapsed_ms: u64) -> Self {
        let summary = Summary::of(reports.iter().map(|r| &r.result.status));
        Self {
            status: "ok",
            angajat_id,
            summary,
            per_device: reports.into_iter().map(PerDevice::from).collect(),
            elapsed_ms,
        }
    }
}

impl From<DeviceReport> for PerDevice {
    fn from(r: DeviceReport) -> Self {
        Self {
            device_id: r.device_id,
            device_ip: r.device_ip,
            status: r.result.status,
            message: r.result.message,
            step: r.result.step,
            device_name: r.device_name,
            method: r.result.method,
            fallback: r.result.fallback,
            error_code: r.result.error_code,
            elapsed_ms: r.elapsed_ms,
            queued: r.queued,
            next_attempt_at: r.next_attempt_at,
            verified: r.result.verified,
        }
    }
}

/// `method`: the name of every call the client makes.
fn terminal_call_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(TerminalCall::ALL.iter().map(|c| c.name())))
        .description(Some("The ISAPI call that succeeded or was last tried"))
        .build()
}

/// Body of the sync endpoints (documentation; the handlers validate it field by field).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SyncRequest {
    /// The angajat (employee) to sync.
    pub angajat_id: Uuid,
    /// Enrol the person on terminals that do not know them (grants door access). Default false.
    #[serde(default)]
    pub create_missing_person: Option<bool>,
}

/// The terminal in the debugging endpoint's body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DebugDevice {
    /// IP address or host name.
    pub ip: String,
    /// HTTP port (default 80).
    pub port: Option<u16>,
    /// Login (default HIKVISION_USERNAME).
    pub username: Option<String>,
    /// Password (default HIKVISION_PASSWORD); never echoed or logged.
    pub password: Option<String>,
}

/// Body of `POST /api/test-isapi/update-face-image`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DebugRequest {
    /// The terminal.
    pub device: DebugDevice,
    /// The person's employeeNo (FPID).
    pub employee_no: String,
    /// The photo: absolute URL or storage path.
    pub face_url: String,
    /// Enrol the person first when missing.
    pub create_missing_person: Option<bool>,
}

/// Every request-level error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always "error".
    #[schema(example = "error")]
    pub status: String,
    /// snake_case code, e.g. `angajat_not_found`, `invalid_uuid`, `supabase_unavailable`.
    #[schema(example = "angajat_not_found")]
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// Every answer of the sync endpoints, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
pub enum SyncResponses {
    /// Per-terminal results (also when terminals failed: see `summary` and `per_device`).
    #[response(status = 200)]
    Ok(SyncResponse),
    /// Malformed JSON or an empty body.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Missing or invalid credentials.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Valid credentials without the required role.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No angajat with that id.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// A missing or invalid field (e.g. a non-UUID `angajat_id`).
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// Supabase is not configured, unreachable or rejects the service key.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}
