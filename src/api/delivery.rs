//! Durable delivery at the edge: per-employee and per-terminal status, and removal.

use std::time::Instant;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use hikvision_isapi::EmployeeNo;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::body::JsonBody;
use super::error::{ApiCode, ApiError};
use super::request::{RemoveRequest, RestoreRequest};
use super::response::SyncResponse;
use crate::delivery::{PairState, Revocation, ShouldHold};
use crate::models::{DeviceEntry, public_message};
use crate::orchestration::{Flow, FlowOptions};

/// One terminal's line in an employee's status.
#[derive(Debug, Serialize, ToSchema)]
pub struct PairStatus {
    /// Device row id.
    pub device_id: String,
    /// Device name (empty when the terminal is no longer in the devices table).
    pub device_name: String,
    /// `in_sync`, `pending`, `failed`, `skipped` or `unknown` (never tried).
    pub state: PairState,
    /// What the terminal should hold: `enrolled` (door access) or `removed`; `null` when nothing
    /// was ever sent. `in_sync` with `removed` means the person is gone from the terminal.
    pub want: Option<ShouldHold>,
    /// Attempts since the last change.
    pub attempts: u32,
    /// When the last attempt ended.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Machine-readable reason of the last failure.
    pub error_code: Option<crate::models::ErrorCode>,
    /// The last outcome in plain words (no terminal addresses or photo locations: the log has
    /// them).
    pub message: Option<String>,
}

impl PairStatus {
    /// The line of terminal `id` (`name`) for `pair`, or `unknown` when it was never tried.
    fn of(id: &str, name: &str, pair: Option<&crate::delivery::PairRecord>) -> Self {
        Self {
            device_id: id.to_string(),
            device_name: name.to_string(),
            state: pair.map_or(PairState::Unknown, |p| p.state),
            want: pair.map(crate::delivery::PairRecord::should_hold),
            attempts: pair.map_or(0, |p| p.attempts),
            last_attempt_at: pair.and_then(|p| p.last_attempt_at),
            next_attempt_at: pair
                .filter(|p| p.state == PairState::Pending)
                .and_then(|p| p.next_attempt_at),
            error_code: pair.and_then(|p| p.error_code.clone()),
            message: pair.and_then(|p| p.message.as_deref().map(public_message)),
        }
    }
}

/// `GET /api/hikvision/angajat/{angajat_id}/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AngajatStatus {
    /// The employee.
    pub angajat_id: Uuid,
    /// Their employee number, as last given to the terminals.
    #[schema(value_type = Option<String>)]
    pub employee_no: Option<EmployeeNo>,
    /// Every active terminal, and any other that holds a change for this employee.
    pub devices: Vec<PairStatus>,
    /// The revocations of this employee's door access (only restore-angajat lifts them).
    pub revocations: Vec<Revocation>,
}

/// One terminal's line in `GET /api/hikvision/devices/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceStatus {
    /// Device row id.
    pub device_id: String,
    /// Device name.
    pub device_name: String,
    /// Changes waiting to be applied ("waiting to be applied").
    pub pending: u64,
    /// Changes waiting for a person.
    pub failed: u64,
    /// When a change last reached this terminal.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The newest failure, in plain words.
    pub last_error: Option<String>,
    /// When the newest stored access event of this terminal happened (its time, in UTC).
    pub last_event_at: Option<DateTime<Utc>>,
    /// Whether the terminal pushes its events to this service.
    pub push: crate::events::PushState,
    /// Events the terminal holds that are not stored yet (0 after a full catch-up; null: not
    /// known yet).
    pub event_backlog: Option<u64>,
    /// The terminal's clock minus the service's, in milliseconds (null: not read yet).
    pub clock_offset_ms: Option<i64>,
}

/// `GET /api/hikvision/devices/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicesStatus {
    /// Every active terminal.
    pub devices: Vec<DeviceStatus>,
}

fn names(devices: &[DeviceEntry]) -> Vec<(String, String)> {
    devices
        .iter()
        .map(|d| match d {
            Ok(d) => (d.id.clone(), d.name.clone()),
            Err(i) => (i.id.clone(), i.name.clone()),
        })
        .collect()
}

/// Where delivery of one employee's changes stands on every terminal.
#[utoipa::path(get, path = "/api/hikvision/angajat/{angajat_id}/status", tag = "delivery",
    params(("angajat_id" = Uuid, Path, description = "The employee (`angajati.id`)",
        example = "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Every active terminal's state for the employee", body = AngajatStatus)))]
pub async fn angajat_status(
    State(state): State<AppState>,
    angajat_id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<AngajatStatus>, ApiError> {
    let Path(angajat_id) = angajat_id.map_err(|e| {
        ApiError::invalid(
            ApiCode::InvalidUuid,
            format!("'angajat_id' in the path must be a UUID like 6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01 ({e})"),
        )
    })?;
    let devices = names(&state.directory()?.get_active_devices().await?);
    let pairs = state.delivery.store().pairs_of(angajat_id).await?;
    let employee_no = pairs.iter().find_map(|p| p.change.employee_no.clone());
    let mut lines: Vec<PairStatus> = devices
        .iter()
        .map(|(id, name)| {
            let pair = pairs.iter().find(|p| &p.change.key.device_id == id);
            PairStatus::of(id, name, pair)
        })
        .collect();
    // Terminals no longer active that still have work (a pending removal) are shown too.
    for p in pairs
        .iter()
        .filter(|p| !devices.iter().any(|(id, _)| *id == p.change.key.device_id))
    {
        lines.push(PairStatus::of(&p.change.key.device_id, "", Some(p)));
    }
    let revocations = state.delivery.store().revocations_of(angajat_id).await?;
    Ok(Json(AngajatStatus {
        angajat_id,
        employee_no,
        devices: lines,
        revocations,
    }))
}

/// Per terminal: how many changes wait to be applied, how many wait for a person.
#[utoipa::path(get, path = "/api/hikvision/devices/status", tag = "delivery",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Every active terminal's backlog", body = DevicesStatus)))]
pub async fn devices_status(
    State(state): State<AppState>,
) -> Result<Json<DevicesStatus>, ApiError> {
    let devices = names(&state.directory()?.get_active_devices().await?);
    let mut counts = state.delivery.store().device_counts().await?;
    let ids: Vec<String> = devices.iter().map(|(id, _)| id.clone()).collect();
    let mut newest = state.events.newest_events_at(&ids).await?;
    let mut lines = Vec::with_capacity(devices.len());
    for (id, name) in devices {
        let c = counts.remove(&id).unwrap_or_default();
        let events = state.events.status(&id);
        lines.push(DeviceStatus {
            last_event_at: newest.remove(&id),
            push: events.push,
            event_backlog: events.event_backlog,
            clock_offset_ms: events.clock_offset_ms,
            device_id: id,
            device_name: name,
            pending: c.pending,
            failed: c.failed,
            last_success_at: c.last_success_at,
            last_error: c.last_error.as_deref().map(public_message),
        });
    }
    Ok(Json(DevicesStatus { devices: lines }))
}

/// Removes the person and their face from every active terminal, durably: terminals that are
/// offline now are caught up when they return, and the removal sticks (a revocation: only
/// restore-angajat undoes it). Every number this employee was given on a terminal is deleted,
/// and no other.
#[utoipa::path(post, path = "/api/hikvision/remove-angajat", tag = "delivery",
    request_body = RemoveRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Per-terminal results of the removal (terminals away now are caught up later: see `queued`)", body = SyncResponse)))]
pub async fn remove_angajat(
    State(state): State<AppState>,
    admin: super::admin::Admin,
    JsonBody(body): JsonBody<RemoveRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let angajat_id = body.angajat_id;
    let Some(subject) = state.delivery.removal_target(angajat_id).await? else {
        return Err(ApiError::invalid(
            ApiCode::NoEmployeeNo,
            format!(
                "No employee number is known for angajat {angajat_id} (no biometrie.employee_no and none was ever sent to a terminal): there is nothing to remove"
            ),
        ));
    };
    let devices = state.directory()?.get_active_devices().await?;
    state
        .delivery
        .audit_removal(&admin.actor, &subject, &devices)
        .await?;
    state
        .delivery
        .remove_where_inactive(&subject, &devices, &admin.actor)
        .await?;
    let delivery = state.delivery.clone();
    super::sync::respond_after(Some(angajat_id), started, async move {
        Ok(delivery
            .sync_now(
                subject,
                devices,
                Flow::Remove,
                FlowOptions::default(),
                &admin.actor,
            )
            .await?)
    })
    .await
}

/// Gives a removed employee their door access back: lifts every revocation (audited, with who
/// asked) and enrols the person, then the face, on every active terminal, durably (terminals
/// that are away now are caught up when they return).
#[utoipa::path(post, path = "/api/hikvision/restore-angajat", tag = "delivery",
    request_body = RestoreRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Per-terminal results of the enrolment (terminals away now are caught up later: see `queued`)", body = SyncResponse)))]
pub async fn restore_angajat(
    State(state): State<AppState>,
    admin: super::admin::Admin,
    JsonBody(body): JsonBody<RestoreRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let directory = state.directory()?;
    let angajat = directory
        .get_angajat_with_biometrie(body.angajat_id)
        .await?;
    let devices = directory.get_active_devices().await?;
    state
        .delivery
        .restore(&admin.actor, &angajat, &devices)
        .await?;
    let delivery = state.delivery.clone();
    super::sync::respond_after(Some(angajat.id), started, async move {
        Ok(delivery
            .sync_now(
                angajat,
                devices,
                Flow::Enrol,
                FlowOptions {
                    create_missing_person: true,
                },
                &admin.actor,
            )
            .await?)
    })
    .await
}
