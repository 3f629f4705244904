//! The one error type of the HTTP edge: every failure becomes `{"status": "error", "code", "message"}`
//! with the right status, mapped here and nowhere else.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::supabase::DirectoryError;

/// A request-level failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not what the endpoint takes.
    #[error("{message}")]
    BadRequest {
        /// snake_case code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// Well-formed JSON with a missing or invalid field.
    #[error("{message}")]
    Unprocessable {
        /// snake_case code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// The body exceeds the limit.
    #[error("The request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials valid but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Credentials that cannot be checked right now (the token signing keys are unreachable).
    #[error("{0}")]
    AuthUnavailable(String),
    /// Unknown route.
    #[error("No such endpoint: {0}")]
    NotFound(String),
    /// Known route, wrong method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The employee or terminals could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The durable store could not be read or written.
    #[error("The delivery database is unavailable: {0}")]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// A route that is off because its setting is missing.
    #[error("{0}")]
    NotEnabled(String),
    /// A bug: logged in full, answered without details.
    #[error("internal error")]
    Internal(String),
    /// No active terminal with this id, or no such reconcile run.
    #[error("{message}")]
    Missing {
        /// snake_case code (`device_not_found`, `reconcile_not_found`).
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// A bulk resync that would overflow the terminal's face library (nothing was scheduled).
    #[error("{message}")]
    CapacityExceeded {
        /// `FDRecordDataMaxNum`.
        capacity: u64,
        /// Faces the terminal holds.
        on_terminal: u64,
        /// Faces the resync would add.
        to_add: u64,
        /// What to do.
        message: String,
    },
}

impl ApiError {
    /// A 422 for a missing or invalid field.
    pub fn field(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::AuthUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "auth_unavailable"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Directory(e) => match e {
                DirectoryError::NotFound(_) => (StatusCode::NOT_FOUND, "angajat_not_found"),
                DirectoryError::NotConfigured => {
                    (StatusCode::SERVICE_UNAVAILABLE, "supabase_not_configured")
                }
                DirectoryError::Unreachable(_) | DirectoryError::Timeout(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "supabase_unavailable")
                }
                DirectoryError::Unauthorized { .. } => {
                    (StatusCode::SERVICE_UNAVAILABLE, "supabase_auth_failed")
                }
                DirectoryError::Postgrest { .. } | DirectoryError::InvalidData(_) => {
                    (StatusCode::BAD_GATEWAY, "supabase_error")
                }
            },
            Self::Delivery(crate::delivery::DeliveryError::Directory(e)) => {
                Self::Directory(e.clone()).status_and_code()
            }
            Self::Delivery(_) => (StatusCode::SERVICE_UNAVAILABLE, "delivery_unavailable"),
            Self::NotEnabled(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_enabled"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            Self::Missing { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::CapacityExceeded { .. } => (StatusCode::CONFLICT, "capacity_exceeded"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "Internal error; the details are in the service logs".to_string()
            }
            Self::Directory(e) => {
                tracing::warn!(error = %e, "directory read failed");
                e.to_string()
            }
            Self::Delivery(e) => {
                tracing::warn!(error = %e, "delivery store failed");
                e.to_string()
            }
            other => other.to_string(),
        };
        let mut body = json!({"status": "error", "code": code, "message": message});
        if let Self::CapacityExceeded {
            capacity,
            on_terminal,
            to_add,
            ..
        } = &self
        {
            body["capacity"] = json!(capacity);
            body["on_terminal"] = json!(on_terminal);
            body["to_add"] = json!(to_add);
        }
        let body = Json(body);
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hikvision-sync\""),
            );
        }
        response
    }
}
