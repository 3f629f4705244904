//! The one error type of the HTTP edge: every failure becomes `{"status": "error", "code", "message"}`
//! with the right status. Codes are an enum ([`ApiCode`]), mapped to HTTP here and nowhere else.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::supabase::DirectoryError;

macro_rules! api_codes {
    ($($variant:ident => $code:literal, $status:ident: $doc:literal;)*) => {
        /// Every request-level error code (`code` of the JSON error body).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ApiCode {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        impl ApiCode {
            /// Every code, for the OpenAPI document.
            pub const ALL: &'static [ApiCode] = &[$(ApiCode::$variant),*];

            /// The code as it appears in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// What the code means, in a sentence.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $doc,)*
                }
            }

            /// The HTTP status that carries the code.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

api_codes! {
    InvalidJson => "invalid_json", BAD_REQUEST: "The body is not a JSON object (or could not be read).";
    EmptyBody => "empty_body", BAD_REQUEST: "The body is empty.";
    Unauthorized => "unauthorized", UNAUTHORIZED: "Missing, malformed, expired or foreign credentials.";
    Forbidden => "forbidden", FORBIDDEN: "Valid credentials that may not do this (role, anonymous user).";
    AddressNotAllowed => "address_not_allowed", FORBIDDEN: "The debugging endpoint may not call that address (DEBUG_ALLOWED_NETS).";
    NotFound => "not_found", NOT_FOUND: "No such endpoint.";
    AngajatNotFound => "angajat_not_found", NOT_FOUND: "No angajat with that id.";
    DebugEndpointDisabled => "debug_endpoint_disabled", NOT_FOUND: "The debugging endpoint is off (DEBUG_ENDPOINT).";
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED: "The endpoint does not take that method.";
    BodyTimeout => "body_timeout", REQUEST_TIMEOUT: "The body did not arrive within BODY_READ_TIMEOUT_MS.";
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE: "The body is over 64 KiB.";
    MissingField => "missing_field", UNPROCESSABLE_ENTITY: "A required field is missing or null.";
    InvalidUuid => "invalid_uuid", UNPROCESSABLE_ENTITY: "A UUID field is not a UUID.";
    InvalidField => "invalid_field", UNPROCESSABLE_ENTITY: "A field has the wrong type or is out of range.";
    UnknownHost => "unknown_host", UNPROCESSABLE_ENTITY: "The terminal's host name does not resolve.";
    NoEmployeeNo => "no_employee_no", CONFLICT: "No employee number is known for the angajat: nothing to remove.";
    DeviceNotFound => "device_not_found", NOT_FOUND: "No active terminal with that id.";
    ReconcileNotFound => "reconcile_not_found", NOT_FOUND: "No such reconcile run (a restart forgets them).";
    ReconcileNotDone => "reconcile_not_done", CONFLICT: "The reconcile run has not finished yet: fix it once its state is done.";
    NotInReport => "not_in_report", UNPROCESSABLE_ENTITY: "A person named for removal is not in the report's unknown_on_terminal, or is an employee's number now.";
    ReportExpired => "report_expired", CONFLICT: "The reconcile report is older than RECONCILE_REPORT_TTL_MS: start a new reconcile.";
    CapacityExceeded => "capacity_exceeded", CONFLICT: "The resync would exceed the terminal's face capacity.";
    InternalError => "internal_error", INTERNAL_SERVER_ERROR: "A bug; the details are in the service logs.";
    SupabaseError => "supabase_error", BAD_GATEWAY: "Supabase answered something unusable.";
    SupabaseNotConfigured => "supabase_not_configured", SERVICE_UNAVAILABLE: "SUPABASE_URL is not set.";
    SupabaseUnavailable => "supabase_unavailable", SERVICE_UNAVAILABLE: "Supabase does not answer.";
    SupabaseAuthFailed => "supabase_auth_failed", SERVICE_UNAVAILABLE: "Supabase rejects the service key.";
    AuthUnavailable => "auth_unavailable", SERVICE_UNAVAILABLE: "The token signing keys cannot be downloaded.";
    DeliveryUnavailable => "delivery_unavailable", SERVICE_UNAVAILABLE: "The delivery database does not answer (or failed): nothing was sent to a terminal; retry once /ready answers 200.";
    TerminalFailed => "terminal_failed", BAD_GATEWAY: "The terminal could not be reached or refused the call (the message names the error class).";
    EventsUnavailable => "events_unavailable", SERVICE_UNAVAILABLE: "The event store does not answer: retry (a terminal retries its push by itself).";
    NotEnabled => "not_enabled", SERVICE_UNAVAILABLE: "The route is off until its setting is set (e.g. WEBHOOK_SECRET).";
    RequestTimeout => "request_timeout", SERVICE_UNAVAILABLE: "The request took longer than REQUEST_TIMEOUT_MS.";
    NotReady => "not_ready", SERVICE_UNAVAILABLE: "GET /ready: Supabase, the delivery database or its job engine does not work (the message says which).";
}

impl std::fmt::Display for ApiCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ApiCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ApiCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ApiCode::ALL.iter().map(|c| c.as_str())))
            .description(Some("Machine-readable reason (snake_case)"))
            .into()
    }
}

impl utoipa::ToSchema for ApiCode {}

/// Every request-level error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "error", "code": "angajat_not_found", "message": "No angajat with id 6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e09"}))]
pub struct ErrorBody {
    /// Always "error".
    #[schema(schema_with = error_status_schema)]
    pub status: &'static str,
    /// Machine-readable reason.
    pub code: ApiCode,
    /// What happened and what to do.
    pub message: String,
}

impl ErrorBody {
    /// `{"status": "error", "code": code, "message": message}`.
    pub fn new(code: ApiCode, message: String) -> Self {
        Self {
            status: "error",
            code,
            message,
        }
    }
}

fn error_status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["error"]))
        .build()
}

/// A request-level failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body, or a field of it, is not what the endpoint takes (400 or 422 by `code`).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        code: ApiCode,
        /// What to fix.
        message: String,
    },
    /// The body exceeds the limit.
    #[error("The request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive in time.
    #[error(
        "The request body did not arrive within {} ms (BODY_READ_TIMEOUT_MS): send it at once",
        .0.as_millis()
    )]
    BodyTimeout(Duration),
    /// The whole request took too long.
    #[error(
        "The request did not finish within {} ms (REQUEST_TIMEOUT_MS); work already started on the terminals completes in the background: retry later",
        .0.as_millis()
    )]
    RequestTimeout(Duration),
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
    /// `DEBUG_ENDPOINT` is off.
    #[error(
        "The debugging endpoint is off: set DEBUG_ENDPOINT=true (and DEBUG_ALLOWED_NETS to the terminals' network) to use it"
    )]
    DebugEndpointDisabled,
    /// The debugging endpoint may not call this terminal.
    #[error("{0}")]
    AddressNotAllowed(String),
    /// The employee or terminals could not be read.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The durable store could not be read or written.
    #[error("The delivery database is unavailable: {0}")]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// A terminal call made for the request failed.
    #[error("{0}")]
    TerminalFailed(String),
    /// The event store could not be read or written.
    #[error("{0}")]
    Events(#[from] crate::events::EventError),
    /// A route that is off because its setting is missing.
    #[error("{0}")]
    NotEnabled(String),
    /// A bug: logged in full, answered without details.
    #[error("internal error")]
    Internal(String),
    /// No active terminal with this id, or no such reconcile run.
    #[error("{message}")]
    Missing {
        /// `device_not_found` or `reconcile_not_found`.
        code: ApiCode,
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
    /// A missing or invalid body or field, with the code that says which.
    pub fn invalid(code: ApiCode, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// The code that tells the client what went wrong (and so the HTTP status).
    pub fn code(&self) -> ApiCode {
        match self {
            Self::Invalid { code, .. } => *code,
            Self::PayloadTooLarge(_) => ApiCode::PayloadTooLarge,
            Self::BodyTimeout(_) => ApiCode::BodyTimeout,
            Self::RequestTimeout(_) => ApiCode::RequestTimeout,
            Self::Unauthorized(_) => ApiCode::Unauthorized,
            Self::Forbidden(_) => ApiCode::Forbidden,
            Self::AuthUnavailable(_) => ApiCode::AuthUnavailable,
            Self::NotFound(_) => ApiCode::NotFound,
            Self::MethodNotAllowed(_) => ApiCode::MethodNotAllowed,
            Self::DebugEndpointDisabled => ApiCode::DebugEndpointDisabled,
            Self::AddressNotAllowed(_) => ApiCode::AddressNotAllowed,
            Self::Directory(e) => match e {
                DirectoryError::NotFound(_) => ApiCode::AngajatNotFound,
                DirectoryError::NotConfigured => ApiCode::SupabaseNotConfigured,
                DirectoryError::Unreachable(_) | DirectoryError::Timeout(_) => {
                    ApiCode::SupabaseUnavailable
                }
                DirectoryError::Unauthorized { .. } => ApiCode::SupabaseAuthFailed,
                DirectoryError::Postgrest { .. } | DirectoryError::InvalidData(_) => {
                    ApiCode::SupabaseError
                }
            },
            Self::Delivery(crate::delivery::DeliveryError::Directory(e)) => {
                Self::Directory(e.clone()).code()
            }
            Self::Delivery(_) => ApiCode::DeliveryUnavailable,
            Self::NotEnabled(_) => ApiCode::NotEnabled,
            Self::TerminalFailed(_) => ApiCode::TerminalFailed,
            Self::Events(e) if e.is_outage() => ApiCode::EventsUnavailable,
            Self::Events(_) => ApiCode::InternalError,
            Self::Internal(_) => ApiCode::InternalError,
            Self::Missing { code, .. } => *code,
            Self::CapacityExceeded { .. } => ApiCode::CapacityExceeded,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
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
                if e.is_outage() {
                    // Logged once per outage by the delivery's availability.
                    tracing::debug!(error = %e, "delivery database unavailable");
                } else {
                    tracing::warn!(error = %e, "delivery store failed");
                }
                e.to_string()
            }
            Self::Events(e) => {
                tracing::warn!(error = %e, "event store failed");
                if e.is_outage() {
                    e.to_string()
                } else {
                    "Internal error; the details are in the service logs".to_string()
                }
            }
            other => other.to_string(),
        };
        let mut body = serde_json::to_value(ErrorBody::new(code, message)).unwrap_or_default();
        if let Self::CapacityExceeded {
            capacity,
            on_terminal,
            to_add,
            ..
        } = &self
        {
            body["capacity"] = serde_json::json!(capacity);
            body["on_terminal"] = serde_json::json!(on_terminal);
            body["to_add"] = serde_json::json!(to_add);
        }
        let mut response = (code.status(), Json(body)).into_response();
        if code == ApiCode::Unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hikvision-sync\""),
            );
        }
        if code == ApiCode::BodyTimeout {
            // The rest of the body may still be on its way: this connection is not reusable.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_codes_keep_their_statuses() {
        for (code, text, status) in [
            (ApiCode::InvalidJson, "invalid_json", 400),
            (ApiCode::EmptyBody, "empty_body", 400),
            (ApiCode::MissingField, "missing_field", 422),
            (ApiCode::InvalidUuid, "invalid_uuid", 422),
            (ApiCode::AngajatNotFound, "angajat_not_found", 404),
            (ApiCode::SupabaseUnavailable, "supabase_unavailable", 503),
            (ApiCode::SupabaseAuthFailed, "supabase_auth_failed", 503),
            (ApiCode::PayloadTooLarge, "payload_too_large", 413),
            (ApiCode::BodyTimeout, "body_timeout", 408),
            (ApiCode::RequestTimeout, "request_timeout", 503),
        ] {
            assert_eq!(code.as_str(), text);
            assert_eq!(code.status().as_u16(), status, "{text}");
        }
        let unique: std::collections::HashSet<_> =
            ApiCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(unique.len(), ApiCode::ALL.len());
    }
}
