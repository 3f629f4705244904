//! `POST /api/test-isapi/update-face-image`: the update flow on one terminal given in the body, for
//! debugging the PUT/POST fallback with curl. Runs the same orchestration as the real endpoint,
//! photo rules included (`PHOTO_ALLOWED_*`).
//!
//! It makes the service call whatever host a request names, so it is off unless
//! `DEBUG_ENDPOINT=true`, is for administrators only, uses only the credentials in the body (never
//! `HIKVISION_USERNAME`/`HIKVISION_PASSWORD`), never enrols a person, and calls only addresses
//! inside `DEBUG_ALLOWED_NETS`: a host name is resolved here, every address it resolves to is
//! checked, and the terminal is called on the checked address (never resolved again, so a second
//! answer cannot point elsewhere).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::admin::Admin;
use super::body::JsonBody;
use super::error::{ApiCode, ApiError};
use super::host::{is_host_name, literal};
use super::request::DebugRequest;
use super::response::SyncResponse;
use crate::config::{DebugOptions, DeviceDefaults};
use crate::models::{BiometricRecord, Person};
use crate::orchestration::{Flow, FlowOptions, Hooks};
use crate::supabase::{DeviceFields, device_from_fields};

/// The longest a host name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Body: `{"device": {"ip", "port"?, "username", "password"}, "employee_no", "face_url",
/// "name"?}`. Administrators only (403 `forbidden` for other users).
#[utoipa::path(post, path = "/api/test-isapi/update-face-image", tag = "debug",
    request_body = DebugRequest,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The terminal's result (also when it failed: see `per_device`)", body = SyncResponse)))]
pub async fn update_face_image(
    State(state): State<AppState>,
    admin: Admin,
    JsonBody(request): JsonBody<DebugRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    let started = Instant::now();
    let DebugRequest {
        device,
        employee_no,
        face_url,
        name,
        create_missing_person: _,
    } = request;
    let host = device.ip;
    let ip = allowed_address(&host, &state.settings.debug).await?;
    tracing::info!(actor = %admin.actor, terminal = %ip, "debugging endpoint call");
    let fields = DeviceFields {
        id: String::new(),
        name: host,
        ip: ip.to_string(),
        port: device.port.map(|p| p.to_string()),
        username: Some(device.username),
        password: Some(device.password),
    };
    // No service-wide credentials to fall back on: the body's are validated non-empty.
    let no_defaults = DeviceDefaults {
        username: String::new(),
        password: None,
    };
    let device = device_from_fields(fields, &no_defaults);
    let person = Person {
        name: name.unwrap_or_default(),
        biometrics: Some(BiometricRecord::from_row(
            Some(&employee_no),
            Some(face_url),
        )),
        validity: Default::default(),
    };
    // Never enrols: a person the terminal does not know is reported, not created.
    let flags = FlowOptions {
        create_missing_person: false,
    };
    // One-off: the debugging endpoint's terminal and person are not durable state.
    let orchestrator = state.orchestrator.clone();
    super::sync::respond_after(None, started, async move {
        Ok(orchestrator
            .sync(
                person,
                vec![device],
                Flow::UpdatePhoto,
                flags,
                Hooks::default(),
            )
            .await)
    })
    .await
}

/// The route while `DEBUG_ENDPOINT` is off (still behind authentication): 404 that says how to
/// turn it on.
pub async fn disabled() -> ApiError {
    ApiError::DebugEndpointDisabled
}

/// The address to call for `host`: an address literal, or what a host name resolves to (its first
/// IPv4 address, else its first), once every address it resolves to is inside
/// `DEBUG_ALLOWED_NETS`.
async fn allowed_address(host: &str, debug: &DebugOptions) -> Result<IpAddr, ApiError> {
    let addrs: Vec<IpAddr> = match literal(host).parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolve(host).await?,
    };
    match addrs.iter().find(|a| !debug.allows(**a)) {
        Some(outside) => Err(ApiError::AddressNotAllowed(format!(
            "'device.ip' {host} is {outside}, outside DEBUG_ALLOWED_NETS: the debugging endpoint only calls terminals on the allowed networks"
        ))),
        // Terminals speak IPv4; a name with both families is called on its IPv4 address.
        None => addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| unknown_host(host, "no address")),
    }
}

async fn resolve(host: &str) -> Result<Vec<IpAddr>, ApiError> {
    if !is_host_name(host) {
        return Err(unknown_host(host, "not an IP address or a host name"));
    }
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 80))).await {
        Err(_) => Err(unknown_host(host, "the lookup timed out")),
        Ok(Err(e)) => Err(unknown_host(host, &e.to_string())),
        Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
    }
}

fn unknown_host(host: &str, why: &str) -> ApiError {
    let host: String = host.chars().take(80).collect();
    ApiError::invalid(
        ApiCode::UnknownHost,
        format!("'device.ip' {host} cannot be resolved ({why}): give the terminal's IP address"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_nets;

    fn loopback_only() -> DebugOptions {
        DebugOptions {
            enabled: true,
            allowed_nets: parse_nets("127.0.0.0/8,::1/128").unwrap(),
        }
    }

    #[tokio::test]
    async fn only_addresses_inside_the_allowed_nets_are_called() {
        let debug = loopback_only();
        let ok = allowed_address("127.0.0.1", &debug).await.unwrap();
        assert_eq!(ok, IpAddr::from([127, 0, 0, 1]));
        assert!(allowed_address("[::1]", &debug).await.is_ok());
        for outside in [
            "10.0.0.5",
            "192.168.1.100",
            "169.254.169.254",
            "::ffff:8.8.8.8",
        ] {
            let e = allowed_address(outside, &debug).await.unwrap_err();
            assert_eq!(e.code(), ApiCode::AddressNotAllowed, "{outside}");
        }
    }

    #[tokio::test]
    async fn host_names_are_resolved_and_every_address_checked() {
        let debug = loopback_only();
        // /etc/hosts answers for localhost: no lookup leaves the machine.
        let ip = allowed_address("localhost", &debug).await.unwrap();
        assert!(ip.is_loopback(), "{ip}");
        let nowhere = DebugOptions {
            allowed_nets: parse_nets("10.0.0.0/8").unwrap(),
            ..debug
        };
        let e = allowed_address("localhost", &nowhere).await.unwrap_err();
        assert_eq!(e.code(), ApiCode::AddressNotAllowed);
    }
}
