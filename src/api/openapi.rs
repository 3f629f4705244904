//! The OpenAPI 3 document, generated from the handlers' annotations and the response types, served
//! at `GET /api/openapi.json` so the React app can generate its client.

use axum::Json;
use utoipa::OpenApi;

use super::response::{DebugDevice, DebugRequest, ErrorBody, PerDevice, SyncRequest, SyncResponse};
use crate::models::{Summary, SyncStatus, SyncStep};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hikvision-sync",
        description = "Keeps employees' face photos in Supabase in step with HikVision terminals. \\
            Authenticate /api/* with a Supabase user access token (Authorization: Bearer) or x-api-key."
    ),
    paths(
        super::sync::update_angajat_photo,
        super::sync::sync_angajat_photo_only,
        super::sync::sync_angajat,
        super::debug::update_face_image,
        super::delivery::remove_angajat,
        super::delivery::angajat_status,
        super::delivery::devices_status,
        super::terminals::resync,
        super::terminals::start_reconcile,
        super::terminals::reconcile_status,
        super::terminals::reconcile_fix,
        super::webhook::supabase_webhook,
        super::health::health,
        super::health::ready,
    ),
    components(schemas(
        SyncRequest,
        SyncResponse,
        PerDevice,
        Summary,
        SyncStatus,
        SyncStep,
        ErrorBody,
        DebugRequest,
        DebugDevice,
        super::delivery::AngajatStatus,
        super::delivery::PairStatus,
        super::delivery::DevicesStatus,
        super::delivery::DeviceStatus,
        crate::delivery::PairState,
        super::terminals::ResyncAccepted,
        super::terminals::ReconcileStarted,
        crate::delivery::reconcile::ReconcileView,
        crate::delivery::reconcile::ReconcileState,
        crate::delivery::reconcile::ReconcileProgress,
        crate::delivery::reconcile::ReconcileReport,
        crate::delivery::reconcile::UnknownPerson,
        crate::delivery::reconcile::FixOutcome
    ))
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
