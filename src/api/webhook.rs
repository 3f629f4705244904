//! `POST /api/hikvision/webhooks/supabase`: Supabase Database Webhooks on the angajati, biometrie
//! and devices tables. Outside the user-token auth; authenticated by `x-webhook-secret`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::delivery::webhook::{WebhookEvent, interpret};
use secrecy::ExposeSecret;

/// Takes a webhook: 202 at once; the change is scheduled in the background (and the sweep makes
/// up for one that is lost).
#[utoipa::path(post, path = "/api/hikvision/webhooks/supabase", tag = "delivery",
    responses((status = 202, description = "Accepted"), (status = 400, body = super::response::ErrorBody),
        (status = 401, body = super::response::ErrorBody), (status = 503, body = super::response::ErrorBody)))]
pub async fn supabase_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(secret) = state.settings.delivery.webhook_secret.as_ref() else {
        return Err(ApiError::NotEnabled(
            "The webhook is off: set WEBHOOK_SECRET and send it in the x-webhook-secret header (see the README)".into(),
        ));
    };
    let given = headers
        .get("x-webhook-secret")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.expose_secret().as_bytes())) {
        return Err(ApiError::Unauthorized(
            "Missing or wrong x-webhook-secret header".into(),
        ));
    }
    let event: WebhookEvent = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
        code: "invalid_json",
        message: format!(
            "The body is not a Supabase webhook payload ({{\"type\", \"table\", \"record\", \"old_record\"}}): {e}"
        ),
    })?;
    let action = interpret(&event, &state.settings.tables);
    let delivery = state.delivery.clone();
    let summary = format!("{action:?}");
    tokio::spawn(async move {
        if let Err(e) = delivery.apply(action).await {
            tracing::warn!(error = %e, "webhook change not scheduled; the sweep makes up for it");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "action": summary})),
    ))
}
