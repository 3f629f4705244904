//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiCode, ErrorBody};

/// `GET /health`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always "ok".
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The service's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// `GET /ready`'s answer when everything it checks works.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always "ok".
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `GET /health`: the process is up.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /ready`: the directory (Supabase) answers, and so do the delivery database and its job
/// engine; 503 `not_ready` with what does not work otherwise.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, description = "Supabase and the delivery database answer, and the job engine runs", body = Ready),
    (status = 503, description = "Supabase is not configured or does not answer, or the delivery database does not answer, or its job engine is not running (the message says which)", body = ErrorBody)))]
pub async fn ready(
    State(state): State<AppState>,
) -> Result<Json<Ready>, (StatusCode, Json<ErrorBody>)> {
    let directory = async {
        match state.directory() {
            Ok(d) => d.ping().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    let delivery = state.delivery.availability().check();
    let (directory, delivery) = tokio::join!(directory, delivery);
    let problems: Vec<String> = [directory.err(), delivery.err()]
        .into_iter()
        .flatten()
        .collect();
    if problems.is_empty() {
        return Ok(Json(Ready { status: "ok" }));
    }
    Err((
        ApiCode::NotReady.status(),
        Json(ErrorBody::new(ApiCode::NotReady, problems.join("; "))),
    ))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
