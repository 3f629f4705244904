//! The HTTP edge: routes, request validation, the response contract, error mapping, auth, CORS,
//! request ids and tracing.

mod admin;
mod audit;
mod auth;
mod body;
mod debug;
mod delivery;
mod error;
mod events;
mod health;
mod host;
mod jwks;
mod openapi;
mod request;
mod response;
mod sync;
mod terminals;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::config::Settings;
use crate::delivery::Delivery;
use crate::metrics::Metrics;
use crate::orchestration::Orchestrator;
use crate::supabase::{Directory, DirectoryError};

pub use auth::{AuthSetupError, Authenticator, Caller};
pub use body::{JsonBody, MAX_BODY_BYTES, RequestBody};
pub use error::{ApiCode, ApiError, ErrorBody};
pub use openapi::ApiDoc;
pub use request::{DebugDevice, DebugRequest, EXAMPLE_ANGAJAT_ID, SyncRequest};
pub use response::{PerDevice, SyncResponse};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Where employees and terminals come from (`None`: Supabase not configured).
    pub directory: Option<Arc<dyn Directory>>,
    /// The terminal flows.
    pub orchestrator: Arc<Orchestrator>,
    /// The settings in force.
    pub settings: Arc<Settings>,
    /// Who may call `/api/*`.
    pub auth: Arc<Authenticator>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Durable delivery (desired state, background retries, status).
    pub delivery: Arc<Delivery>,
    /// Access events (push, catch-up, reading).
    pub events: Arc<crate::events::Events>,
}

impl AppState {
    pub(crate) fn directory(&self) -> Result<&Arc<dyn Directory>, ApiError> {
        self.directory
            .as_ref()
            .ok_or(ApiError::Directory(DirectoryError::NotConfigured))
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/hikvision/update-angajat-photo",
            post(sync::update_angajat_photo),
        )
        .route(
            "/api/hikvision/sync-angajat-photo-only",
            post(sync::sync_angajat_photo_only),
        )
        .route("/api/hikvision/sync-angajat", post(sync::sync_angajat))
        .route(
            "/api/test-isapi/update-face-image",
            if state.settings.debug.enabled {
                post(debug::update_face_image)
            } else {
                post(debug::disabled)
            },
        )
        .route(
            "/api/hikvision/remove-angajat",
            post(delivery::remove_angajat),
        )
        .route(
            "/api/hikvision/restore-angajat",
            post(delivery::restore_angajat),
        )
        .route(
            "/api/hikvision/angajat/{angajat_id}/status",
            get(delivery::angajat_status),
        )
        .route(
            "/api/hikvision/devices/status",
            get(delivery::devices_status),
        )
        .route("/api/hikvision/events", get(events::list_events))
        .route(
            "/api/hikvision/devices/{device_id}/time",
            post(events::set_time),
        )
        .merge(terminals_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ));
    if state.auth.is_open() {
        tracing::warn!(
            "AUTHENTICATION IS OFF: anyone who can reach this service can enrol faces on every terminal. Set API_KEY and/or SUPABASE_URL (user tokens) before exposing it"
        );
    } else {
        tracing::info!(methods = %state.auth.describe(), "API authentication on");
    }
    let cors = cors_layer(&state.settings.cors_origins);
    let request_timeout = state
        .settings
        .http
        .request_timeout(state.settings.sync.request_deadline);
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/api/openapi.json", get(openapi::openapi_json))
        // Outside the user-token auth: Supabase authenticates with x-webhook-secret.
        .route(
            "/api/hikvision/webhooks/supabase",
            post(webhook::supabase_webhook).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                webhook::require_secret,
            )),
        )
        // Outside the user-token auth: terminals cannot sign; the URL carries a device token.
        // Its own body limit (pictures may ride along), not the 64 KiB of the JSON API.
        .route(
            "/api/hikvision/events/push/{device_id}",
            post(events::push_event).layer(DefaultBodyLimit::max(
                crate::events::ingest::MAX_PUSH_BYTES,
            )),
        )
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            whole_request_timeout,
        ))
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                // A 5xx is logged where its cause is known (`ApiError`: a bug at ERROR, a failed
                // dependency at WARN, an outage once for all): not again per answer, or each
                // `/ready` probe during an outage would be an ERROR line.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Whole-terminal operations: bulk resync and reconcile.
fn terminals_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/hikvision/devices/{device_id}/resync",
            post(terminals::resync),
        )
        .route(
            "/api/hikvision/devices/{device_id}/reconcile",
            post(terminals::start_reconcile),
        )
        .route(
            "/api/hikvision/devices/{device_id}/reconcile/{reconcile_id}",
            get(terminals::reconcile_status),
        )
        .route(
            "/api/hikvision/devices/{device_id}/reconcile/{reconcile_id}/fix",
            post(terminals::reconcile_fix),
        )
        .route(
            "/api/hikvision/devices/{device_id}/audit",
            get(audit::device_audit),
        )
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}

/// Answers 503 `request_timeout` when the rest of the stack has not answered within `limit`
/// (`REQUEST_TIMEOUT_MS`). Work handed to the terminals goes on in its own task.
async fn whole_request_timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            ApiError::RequestTimeout(limit).into_response()
        }
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().chars().take(200).collect())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {}; the sync endpoints take POST with a JSON body",
        uri.path().chars().take(200).collect::<String>()
    ))
}
