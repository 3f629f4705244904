//! Access control for `/api/*`: a static API key in `x-api-key` when `API_KEY` is set.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;

use super::AppState;
use super::error::ApiError;

/// Lets the request through when no key is configured or the right key is presented.
pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(expected) = &state.settings.api_key else {
        return Ok(next.run(request).await);
    };
    let presented = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok());
    match presented {
        None => Err(ApiError::Unauthorized(
            "Missing credentials: send the API key in the x-api-key header".into(),
        )),
        Some(key) if constant_time_eq(key.as_bytes(), expected.expose_secret().as_bytes()) => {
            Ok(next.run(request).await)
        }
        Some(_) => Err(ApiError::Unauthorized("The API key is not valid".into())),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
