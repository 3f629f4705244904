//! Reading JSON request bodies: any content type (curl's `-d` sends form encoding), our error shape
//! for every failure, never axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body that is a JSON object.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(MAX_BODY_BYTES))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest {
                code: "empty_body",
                message: "The request body is empty; send JSON like {\"angajat_id\": \"<uuid>\"}"
                    .into(),
            });
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::BadRequest {
                code: "invalid_json",
                message: "The request body must be a JSON object like {\"angajat_id\": \"<uuid>\"}"
                    .into(),
            }),
            Err(e) => Err(ApiError::BadRequest {
                code: "invalid_json",
                message: format!("The request body is not valid JSON: {e}"),
            }),
        }
    }
}

impl JsonObject {
    /// A required UUID field.
    pub fn uuid(&self, key: &str) -> Result<Uuid, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Err(ApiError::field(
                "missing_field",
                format!("'{key}' is required: the UUID of the record"),
            )),
            Some(Value::String(s)) => Uuid::parse_str(s.trim()).map_err(|_| {
                ApiError::field(
                    "invalid_uuid",
                    format!(
                        "'{key}' must be a UUID like 2f1c...-...; got '{}'",
                        short(s)
                    ),
                )
            }),
            Some(other) => Err(ApiError::field(
                "invalid_uuid",
                format!(
                    "'{key}' must be a UUID string; got {}",
                    short(&other.to_string())
                ),
            )),
        }
    }

    /// An optional boolean field (default false).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::field(
                "invalid_field",
                format!("'{key}' must be true or false"),
            )),
        }
    }

    /// A required non-empty string field.
    pub fn text(&self, key: &str) -> Result<String, ApiError> {
        match self.0.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(ApiError::field(
                "missing_field",
                format!("'{key}' is required and must be a non-empty string"),
            )),
        }
    }

    /// An optional string field.
    pub fn opt_text(&self, key: &str) -> Option<String> {
        self.text(key).ok()
    }
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}
