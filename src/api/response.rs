//! The response contract the React app depends on (the plan's field names, additive extras only).

use serde::Serialize;

use crate::models::{Summary, SyncStatus, SyncStep};
use crate::orchestration::DeviceReport;

/// `{"status": "ok", "summary": {...}, "per_device": [...]}`.
#[derive(Debug, Serialize)]
pub struct SyncResponse {
    /// Always "ok" for a request that reached the terminals.
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
#[derive(Debug, Serialize)]
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
    pub method: Option<&'static str>,
    /// True when the FDModify fallback was used (extra).
    pub fallback: bool,
    /// Machine-readable failure reason (extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Time spent on this terminal (extra).
    pub elapsed_ms: u64,
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
        }
    }
}
