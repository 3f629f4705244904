//! `POST /api/hikvision/webhooks/supabase`: Supabase Database Webhooks on the angajati, biometrie
//! and devices tables. Outside the user-token auth; authenticated by `x-webhook-secret`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::AppState;
use super::body::{JsonBody, RequestBody};
use super::error::ApiError;
use crate::delivery::webhook::{WebhookEvent, interpret};

impl RequestBody for WebhookEvent {}

/// The webhook's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAccepted {
    /// Always "accepted".
    #[schema(example = "accepted")]
    pub status: &'static str,
    /// What the event asks of the terminals, as understood.
    #[schema(example = "PhotoChanged { angajat_id: 6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01 }")]
    pub action: String,
}

/// Lets the webhook through only with the right `x-webhook-secret` (before its body is read);
/// 503 `not_enabled` while `WEBHOOK_SECRET` is not set.
pub async fn require_secret(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(secret) = state.settings.delivery.webhook_secret.as_ref() else {
        return Err(ApiError::NotEnabled(
            "The webhook is off: set WEBHOOK_SECRET and send it in the x-webhook-secret header (see the README)".into(),
        ));
    };
    let given = request
        .headers()
        .get("x-webhook-secret")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.expose_secret().as_bytes())) {
        return Err(ApiError::Unauthorized(
            "Missing or wrong x-webhook-secret header".into(),
        ));
    }
    Ok(next.run(request).await)
}

/// Takes a webhook: 202 at once; the change is scheduled in the background (and the sweep makes
/// up for one that is lost).
#[utoipa::path(post, path = "/api/hikvision/webhooks/supabase", tag = "delivery",
    request_body = WebhookEvent,
    security(("webhook_secret" = [])),
    responses((status = 202, description = "Accepted; the change is scheduled in the background", body = WebhookAccepted)))]
pub async fn supabase_webhook(
    State(state): State<AppState>,
    JsonBody(event): JsonBody<WebhookEvent>,
) -> (StatusCode, Json<WebhookAccepted>) {
    let action = interpret(&event, &state.settings.tables);
    let delivery = state.delivery.clone();
    let summary = format!("{action:?}");
    tokio::spawn(async move {
        if let Err(e) = delivery.apply(action).await {
            tracing::warn!(error = %e, "webhook change not scheduled; the sweep makes up for it");
        }
    });
    (
        StatusCode::ACCEPTED,
        Json(WebhookAccepted {
            status: "accepted",
            action: summary,
        }),
    )
}
