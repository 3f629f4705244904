//! `GET /api/hikvision/devices/{device_id}/audit` (admin): who granted or revoked door access on
//! one terminal, newest first, from the audit the resync, remove-angajat and the reconcile fix
//! write (`hikvision_sync.audit` on Postgres).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::admin::Admin;
use super::error::ApiError;
use crate::delivery::audit::AuditEntry;

/// Lines one reply holds at most (the newest).
pub const AUDIT_LINES: usize = 500;

/// `GET /api/hikvision/devices/{device_id}/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceAudit {
    /// The terminal asked about.
    pub device_id: String,
    /// Its newest audit lines (at most 500), newest first.
    pub entries: Vec<AuditEntry>,
}

/// Who enrolled or removed whom on one terminal, newest first (at most 500 lines). A terminal
/// deleted since keeps its audit; an id never used answers an empty list.
#[utoipa::path(get, path = "/api/hikvision/devices/{device_id}/audit", tag = "terminals",
    params(("device_id" = String, Path, description = "The device row id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The terminal's audit, newest first", body = DeviceAudit)))]
pub async fn device_audit(
    State(state): State<AppState>,
    _admin: Admin,
    Path(device_id): Path<String>,
) -> Result<Json<DeviceAudit>, ApiError> {
    let entries = state
        .delivery
        .audit()
        .entries(Some(&device_id), AUDIT_LINES)
        .await?;
    Ok(Json(DeviceAudit { device_id, entries }))
}
