//! The sync endpoints: update-angajat-photo (the mission), sync-angajat-photo-only and sync-angajat.

use std::time::Instant;

use axum::Json;
use axum::extract::State;

use uuid::Uuid;

use super::AppState;
use super::body::JsonBody;
use super::error::ApiError;
use super::response::{SyncRequest, SyncResponse};
use crate::orchestration::{DeviceReport, Flow, FlowOptions};
use tracing::Instrument;

/// `POST /api/hikvision/update-angajat-photo`: FDModify on every active terminal, FaceDataRecord
/// where that fails.
#[utoipa::path(post, path = "/api/hikvision/update-angajat-photo", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = OK_DESCRIPTION, body = SyncResponse)))]
pub async fn update_angajat_photo(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, body, Flow::UpdatePhoto).await
}

/// `POST /api/hikvision/sync-angajat-photo-only`: FaceDataRecord only (the existing flow).
#[utoipa::path(post, path = "/api/hikvision/sync-angajat-photo-only", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = OK_DESCRIPTION, body = SyncResponse)))]
pub async fn sync_angajat_photo_only(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, body, Flow::PhotoOnly).await
}

/// `POST /api/hikvision/sync-angajat`: the person record, then the face.
#[utoipa::path(post, path = "/api/hikvision/sync-angajat", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = OK_DESCRIPTION, body = SyncResponse)))]
pub async fn sync_angajat(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, body, Flow::FullSync).await
}

const OK_DESCRIPTION: &str =
    "Per-terminal results (also when terminals failed: see `summary` and `per_device`)";

async fn run(
    state: AppState,
    body: SyncRequest,
    flow: Flow,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let flags = FlowOptions {
        create_missing_person: body.create_missing_person.unwrap_or(false),
    };
    let directory = state.directory()?;
    let angajat = directory
        .get_angajat_with_biometrie(body.angajat_id)
        .await?;
    let devices = directory.get_active_devices().await?;
    let delivery = state.delivery.clone();
    respond_after(Some(angajat.id), started, async move {
        Ok(delivery.sync_now(angajat, devices, flow, flags).await?)
    })
    .await
}

/// Runs `work` (the terminals' part of a request) in a task of its own, so a client that hangs up
/// (or a request that times out) does not cut terminal calls off half-way, and builds the
/// response.
pub(super) async fn respond_after<F>(
    angajat_id: Option<Uuid>,
    started: Instant,
    work: F,
) -> Result<Json<SyncResponse>, ApiError>
where
    F: Future<Output = Result<Vec<DeviceReport>, ApiError>> + Send + 'static,
{
    let reports = tokio::spawn(work.in_current_span())
        .await
        .map_err(|e| ApiError::Internal(format!("sync task failed: {e}")))??;
    Ok(Json(SyncResponse::new(
        angajat_id,
        reports,
        started.elapsed().as_millis() as u64,
    )))
}
