//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// `GET /health`: the process is up.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "The process is up")))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /ready`: the directory (Supabase) answers; 503 with the reason when it does not.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, description = "Supabase answers"),
    (status = 503, description = "Supabase is not configured or does not answer", body = super::response::ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let outcome = match state.directory() {
        Ok(d) => d.ping().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match outcome {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(message) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "error", "code": "not_ready", "message": message})),
        ),
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
