//! Reading JSON request bodies straight into the documented request types: any content type
//! (curl's `-d` sends form encoding), a deadline for the whole body, and our error shape for every
//! failure (never axum's plain-text rejection). Unknown fields are ignored.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AppState;
use super::error::{ApiCode, ApiError};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request type of the API: what is checked beyond its types, and how a bad field is reported.
pub trait RequestBody: DeserializeOwned {
    /// The code of an invalid value at `path` (e.g. `angajat_id`, `device.port`).
    fn invalid_code(_path: &str) -> ApiCode {
        ApiCode::InvalidField
    }

    /// Whether the value at `path` is a secret, so an error about it must not quote it.
    fn is_secret(_path: &str) -> bool {
        false
    }

    /// What the types alone do not say (lengths, ranges), as the OpenAPI document states it.
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A JSON request body deserialized into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: RequestBody> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.settings.http.body_read_timeout;
        let bytes = match tokio::time::timeout(limit, Bytes::from_request(req, state)).await {
            Err(_) => return Err(ApiError::BodyTimeout(limit)),
            Ok(Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(
                _,
            )))) => return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES)),
            Ok(Err(e)) => {
                return Err(ApiError::invalid(
                    ApiCode::InvalidJson,
                    format!("The request body could not be read: {e}"),
                ));
            }
            Ok(Ok(bytes)) => bytes,
        };
        let value = parse_object(&bytes)?;
        let request: T =
            serde_path_to_error::deserialize(&value).map_err(|e| field_error::<T>(&value, e))?;
        request.validate()?;
        Ok(Self(request))
    }
}

/// The body as a JSON object, or the 400 that says why not.
fn parse_object(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            ApiCode::EmptyBody,
            "The request body is empty; send JSON like {\"angajat_id\": \"<uuid>\"}",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ApiError::invalid(
            ApiCode::InvalidJson,
            "The request body must be a JSON object like {\"angajat_id\": \"<uuid>\"}",
        )),
        Err(e) => Err(ApiError::invalid(
            ApiCode::InvalidJson,
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

/// A 422 naming the field: `missing_field` when it is absent or null, else the type's code.
fn field_error<T: RequestBody>(
    value: &Value,
    error: serde_path_to_error::Error<serde_json::Error>,
) -> ApiError {
    let path = error.path().to_string();
    let detail = error.into_inner().to_string();
    // serde reports an absent field at its parent, as "missing field `name`".
    if let Some(name) = detail
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return missing(&join(&path, name));
    }
    if value_at(value, &path).is_none_or(Value::is_null) {
        return missing(&path);
    }
    let code = T::invalid_code(&path);
    let message = match code {
        ApiCode::InvalidUuid => format!(
            "'{path}' must be a UUID like 6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01 ({})",
            short(&detail)
        ),
        _ if T::is_secret(&path) => format!("'{path}' must be a string"),
        _ => format!("'{path}' is invalid: {}", short(&detail)),
    };
    ApiError::invalid(code, message)
}

fn missing(path: &str) -> ApiError {
    ApiError::invalid(ApiCode::MissingField, format!("'{path}' is required"))
}

/// `parent.name`, or `name` at the top level (serde_path_to_error writes the root as ".").
fn join(parent: &str, name: &str) -> String {
    if parent == "." || parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// The value at a dotted path (object keys and array indexes).
fn value_at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path == "." {
        return Some(value);
    }
    path.split('.').try_fold(value, |v, segment| match v {
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => v.get(segment),
    })
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
        secret: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        id: uuid::Uuid,
        inner: Inner,
        flag: Option<bool>,
    }

    impl RequestBody for Outer {
        fn invalid_code(path: &str) -> ApiCode {
            if path == "id" {
                ApiCode::InvalidUuid
            } else {
                ApiCode::InvalidField
            }
        }

        fn is_secret(path: &str) -> bool {
            path == "inner.secret"
        }
    }

    fn reject(value: Value) -> (ApiCode, String) {
        let e = serde_path_to_error::deserialize::<_, Outer>(&value).unwrap_err();
        let e = field_error::<Outer>(&value, e);
        (e.code(), e.to_string())
    }

    const ID: &str = "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01";

    #[test]
    fn errors_name_the_field_and_the_right_code() {
        let cases = [
            (json!({"inner": {"port": 1}}), ApiCode::MissingField, "'id'"),
            (
                json!({"id": null, "inner": {"port": 1}}),
                ApiCode::MissingField,
                "'id'",
            ),
            (
                json!({"id": "x", "inner": {"port": 1}}),
                ApiCode::InvalidUuid,
                "'id'",
            ),
            (
                json!({"id": 42, "inner": {"port": 1}}),
                ApiCode::InvalidUuid,
                "'id'",
            ),
            (
                json!({"id": ID, "inner": {}}),
                ApiCode::MissingField,
                "'inner.port'",
            ),
            (
                json!({"id": ID, "inner": {"port": 70000}}),
                ApiCode::InvalidField,
                "'inner.port'",
            ),
            (
                json!({"id": ID, "inner": {"port": 1}, "flag": "yes"}),
                ApiCode::InvalidField,
                "'flag'",
            ),
        ];
        for (value, code, field) in cases {
            let (got, message) = reject(value.clone());
            assert_eq!(got, code, "{value}: {message}");
            assert!(message.contains(field), "{value}: {message}");
        }
    }

    #[test]
    fn a_secret_field_is_never_quoted() {
        let (code, message) = reject(json!({"id": ID, "inner": {"port": 1, "secret": 98765}}));
        assert_eq!(code, ApiCode::InvalidField);
        assert!(
            message.contains("inner.secret") && !message.contains("98765"),
            "{message}"
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_400() {
        assert_eq!(
            parse_object(b"  \n").unwrap_err().code(),
            ApiCode::EmptyBody
        );
        assert_eq!(
            parse_object(b"[1]").unwrap_err().code(),
            ApiCode::InvalidJson
        );
        assert_eq!(
            parse_object(b"{\"a\":").unwrap_err().code(),
            ApiCode::InvalidJson
        );
        assert!(parse_object(b"{\"unknown\": 1}").is_ok());
    }
}
