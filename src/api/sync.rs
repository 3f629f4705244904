//! The sync endpoints: update-angajat-photo (the mission), sync-angajat-photo-only and sync-angajat.

use std::time::Instant;

use axum::extract::State;
use axum::{Extension, Json};

use uuid::Uuid;

use super::AppState;
use super::admin::{Admin, actor_of};
use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::request::SyncRequest;
use super::response::SyncResponse;
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
    caller: Option<Extension<Caller>>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, caller, body, Flow::UpdatePhoto).await
}

/// `POST /api/hikvision/sync-angajat-photo-only`: FaceDataRecord only (the existing flow).
#[utoipa::path(post, path = "/api/hikvision/sync-angajat-photo-only", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = OK_DESCRIPTION, body = SyncResponse)))]
pub async fn sync_angajat_photo_only(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, caller, body, Flow::PhotoOnly).await
}

/// `POST /api/hikvision/sync-angajat`: the person record, then the face. Enrolling grants door
/// access: an admin's action, audited.
#[utoipa::path(post, path = "/api/hikvision/sync-angajat", tag = "sync",
    request_body = SyncRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = OK_DESCRIPTION, body = SyncResponse)))]
pub async fn sync_angajat(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    JsonBody(body): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    run(state, caller, body, Flow::FullSync).await
}

const OK_DESCRIPTION: &str =
    "Per-terminal results (also when terminals failed: see `summary` and `per_device`)";

/// Runs `flow` for the body's employee. A flow that may create the person on a terminal (the
/// full sync, `create_missing_person`) grants door access: it needs an admin and is audited
/// before any terminal is called; a photo update of an enrolled employee is open to every
/// signed-in user.
async fn run(
    state: AppState,
    caller: Option<Extension<Caller>>,
    body: SyncRequest,
    flow: Flow,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let caller = caller.map(|Extension(c)| c);
    let flags = FlowOptions {
        create_missing_person: body.create_missing_person.unwrap_or(false),
    };
    let grants = flow == Flow::FullSync || flags.create_missing_person;
    let actor = if grants {
        Admin::of(caller.as_ref())?.actor
    } else {
        actor_of(caller.as_ref())
    };
    let directory = state.directory()?;
    let angajat = directory
        .get_angajat_with_biometrie(body.angajat_id)
        .await?;
    let devices = directory.get_active_devices().await?;
    if grants {
        let detail = if flags.create_missing_person {
            format!("{} with create_missing_person", flow.name())
        } else {
            flow.name().to_string()
        };
        state
            .delivery
            .audit_access(&actor, "enrol", &angajat, &devices, Some(&detail))
            .await?;
    }
    let delivery = state.delivery.clone();
    respond_after(Some(angajat.id), started, async move {
        Ok(delivery
            .sync_now(angajat, devices, flow, flags, &actor)
            .await?)
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
