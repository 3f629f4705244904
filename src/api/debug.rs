//! `POST /api/test-isapi/update-face-image`: the update flow on one terminal given in the body, for
//! debugging the PUT/POST fallback with curl. Runs the same orchestration as the real endpoint.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use secrecy::SecretString;
use uuid::Uuid;

use super::AppState;
use super::body::JsonObject;
use super::error::ApiError;
use super::response::{DebugRequest, SyncResponse, SyncResponses};
use crate::models::{Angajat, Biometrie, Device};
use crate::orchestration::{Flow, FlowOptions};

/// Body: `{"device": {"ip", "port"?, "username"?, "password"?}, "employee_no", "face_url",
/// "create_missing_person"?}`. Missing credentials fall back to the service defaults.
#[utoipa::path(post, path = "/api/test-isapi/update-face-image", tag = "debug",
    request_body = DebugRequest, responses(SyncResponses))]
pub async fn update_face_image(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let device = match body.0.get("device") {
        Some(serde_json::Value::Object(map)) => JsonObject(map.clone()),
        _ => {
            return Err(ApiError::field(
                "missing_field",
                "'device' is required: {\"ip\": \"192.168.1.100\", \"port\": 80, \"username\": \"admin\", \"password\": \"...\"}",
            ));
        }
    };
    let ip = device.text("ip")?;
    let port = match device.0.get("port") {
        None | Some(serde_json::Value::Null) => 80,
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| ApiError::field("invalid_field", "'device.port' must be 1-65535"))?,
    };
    let defaults = &state.settings.device_defaults;
    let password = match device.opt_text("password") {
        Some(p) => SecretString::from(p),
        None => defaults.password.clone().ok_or_else(|| {
            ApiError::field(
                "missing_field",
                "'device.password' is required (HIKVISION_PASSWORD is not set)",
            )
        })?,
    };
    let device = Device {
        id: "test".into(),
        name: ip.clone(),
        ip,
        port,
        username: device
            .opt_text("username")
            .unwrap_or_else(|| defaults.username.clone()),
        password,
    };
    let angajat = Angajat {
        id: Uuid::nil(),
        nume: String::new(),
        prenume: body.opt_text("name").unwrap_or_default(),
        biometrie: Some(Biometrie {
            employee_no: Some(body.text("employee_no")?),
            foto_fata_url: Some(body.text("face_url")?),
        }),
    };
    let flags = FlowOptions {
        create_missing_person: body.flag("create_missing_person")?,
    };
    super::sync::fan_out(
        &state,
        angajat,
        vec![Ok(device)],
        Flow::UpdatePhoto,
        flags,
        started,
    )
    .await
}
