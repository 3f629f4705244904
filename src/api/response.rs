//! The response contract the React app depends on (`docs/owner-plan.md`'s field names, additive
//! extras only).

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use hikvision_isapi::TerminalCall;

use super::request::EXAMPLE_ANGAJAT_ID;
use crate::models::{ErrorCode, PhotoTransfer, Summary, SyncStatus, SyncStep};
use crate::orchestration::DeviceReport;

/// `{"status": "ok", "summary": {...}, "per_device": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    /// Always "ok" for a request that reached the terminals.
    #[schema(schema_with = ok_status_schema)]
    pub status: &'static str,
    /// The employee synced (extra; absent on the debugging endpoint, which has no angajat).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid, example = json!(EXAMPLE_ANGAJAT_ID))]
    pub angajat_id: Option<Uuid>,
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
    /// How the picture reached the terminal: `url` (it downloaded faceURL) or `push` (extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<PhotoTransfer>,
}

impl SyncResponse {
    /// Builds the response from the reports.
    pub fn new(angajat_id: Option<Uuid>, reports: Vec<DeviceReport>, elapsed_ms: u64) -> Self {
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
            delivery: r.result.delivery,
        }
    }
}

fn ok_status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["ok"]))
        .build()
}

/// `method`: the name of every call the client makes.
fn terminal_call_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(TerminalCall::ALL.iter().map(|c| c.name())))
        .description(Some("The ISAPI call that succeeded or was last tried"))
        .build()
}
