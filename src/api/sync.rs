//! The sync endpoints: update-angajat-photo (the mission), sync-angajat-photo-only and sync-angajat.

use std::time::Instant;

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::body::JsonObject;
use super::error::ApiError;
use super::response::{SyncRequest, SyncResponse, SyncResponses};
use crate::models::{Angajat, DeviceEntry};
use crate::orchestration::{Flow, FlowOptions, Hooks};
use tracing::Instrument;

/// `POST /api/hikvision/update-angajat-photo`: FDModify on every active terminal, FaceDataRecord
/// where that fails.
#[utoipa::path(post, path = "/api/hikvision/update-angajat-photo", tag = "sync",
    request_body = SyncRequest, responses(SyncResponses))]
pub async fn update_angajat_photo(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, body, Flow::UpdatePhoto).await
}

/// `POST /api/hikvision/sync-angajat-photo-only`: FaceDataRecord only (the existing flow).
#[utoipa::path(post, path = "/api/hikvision/sync-angajat-photo-only", tag = "sync",
    request_body = SyncRequest, responses(SyncResponses))]
pub async fn sync_angajat_photo_only(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, body, Flow::PhotoOnly).await
}

/// `POST /api/hikvision/sync-angajat`: the person record, then the face.
#[utoipa::path(post, path = "/api/hikvision/sync-angajat", tag = "sync",
    request_body = SyncRequest, responses(SyncResponses))]
pub async fn sync_angajat(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, body, Flow::FullSync).await
}

async fn run(
    state: AppState,
    body: JsonObject,
    flow: Flow,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let angajat_id = body.uuid("angajat_id")?;
    let flags = FlowOptions {
        create_missing_person: body.flag("create_missing_person")?,
    };
    let directory = state.directory()?;
    let angajat = directory.get_angajat_with_biometrie(angajat_id).await?;
    let devices = directory.get_active_devices().await?;
    fan_out(&state, angajat, devices, flow, flags, started).await
}

/// Runs `flow` on the devices in a task of its own, so a client that hangs up does not cut
/// terminal calls off half-way, and builds the response.
pub(super) async fn fan_out(
    state: &AppState,
    angajat: Angajat,
    devices: Vec<DeviceEntry>,
    flow: Flow,
    flags: FlowOptions,
    started: Instant,
) -> Result<Json<SyncResponse>, ApiError> {
    let angajat_id = if angajat.id.is_nil() {
        String::new()
    } else {
        angajat.id.to_string()
    };
    let reports = if angajat.id.is_nil() {
        // The debugging endpoint's made-up employee is not durable state.
        let orchestrator = state.orchestrator.clone();
        tokio::spawn(
            async move {
                orchestrator
                    .sync(angajat, devices, flow, flags, Hooks::default())
                    .await
            }
            .in_current_span(),
        )
        .await
        .map_err(|e| ApiError::Internal(format!("sync task failed: {e}")))?
    } else {
        let delivery = state.delivery.clone();
        tokio::spawn(
            async move { delivery.sync_now(angajat, devices, flow, flags).await }.in_current_span(),
        )
        .await
        .map_err(|e| ApiError::Internal(format!("sync task failed: {e}")))??
    };
    Ok(Json(SyncResponse::new(
        angajat_id,
        reports,
        started.elapsed().as_millis() as u64,
    )))
}
