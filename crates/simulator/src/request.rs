//! Reading ISAPI request bodies: the buffered body, JSON with ISAPI-style errors, and the
//! two shapes of a face upload (flat JSON with `faceURL`, or multipart with the picture).
//!
//! A multipart face upload is read as terminals read it: the JSON part first (`FaceDataRecord`;
//! FDModify also takes `FaceDataModify`), then the picture part (`img` or `FaceImage`). A
//! picture part before the JSON part is `badParameters` naming the picture part; a missing JSON
//! part is `MessageParametersLack`; parts with other names are ignored.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use hikvision_isapi::wire::{FaceRecord, MAX_EMPLOYEE_NO_BYTES};

use super::reply::Failure;

/// Largest body the terminal reads; a larger one is drained and refused with `badJsonFormat`.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How much of a refused body is read and thrown away to keep the connection usable.
const MAX_DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Name of the JSON part of a multipart face upload (and of the JSON body of a URL upload).
const RECORD_PART: &str = "FaceDataRecord";
/// Accepted names of the picture part of a multipart face upload.
const IMAGE_PARTS: [&str; 2] = ["img", "FaceImage"];

/// What a body read produced.
#[derive(Debug)]
pub(crate) enum BodyRead {
    /// The whole body, within [`MAX_BODY_BYTES`].
    Complete(Bytes),
    /// Too large (the excess was drained as far as [`MAX_DRAIN_BYTES`]).
    TooLarge,
    /// The client went away or sent a broken body.
    Broken,
}

/// Reads a body, keeping at most `keep` bytes and draining the rest (up to a cap) so the
/// kept-alive connection stays in step. `keep = 0` just discards.
pub(crate) async fn read_body(body: Body, keep: usize) -> BodyRead {
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return BodyRead::Broken;
        };
        seen = seen.saturating_add(chunk.len());
        if seen <= keep {
            kept.extend_from_slice(&chunk);
        } else if seen > MAX_DRAIN_BYTES {
            return BodyRead::TooLarge;
        }
    }
    if seen > keep {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(Bytes::from(kept))
    }
}

/// An authenticated ISAPI request with its body already buffered.
#[derive(Debug)]
pub(crate) struct IsapiRequest {
    /// Path and query, echoed as `requestURL`.
    pub(crate) url: String,
    /// The request headers.
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for IsapiRequest {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let url = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        match read_body(body, MAX_BODY_BYTES).await {
            BodyRead::Complete(body) => Ok(Self {
                url,
                headers: parts.headers,
                body,
            }),
            BodyRead::TooLarge | BodyRead::Broken => {
                Err(axum::http::StatusCode::BAD_REQUEST.into_response())
            }
        }
    }
}

impl IsapiRequest {
    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn is_multipart(&self) -> bool {
        self.content_type()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    }
}

/// Parses a JSON body the way the terminal complains about it: not JSON -> `badJsonFormat`,
/// a missing field -> `MessageParametersLack` naming it, a wrong type -> `badParameters`.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|err| match err.classify() {
        Category::Data => match missing_field(&err.to_string()) {
            Some(field) => Failure::parameters_lack(&field),
            None => Failure::bad_parameters(what),
        },
        Category::Io | Category::Syntax | Category::Eof => Failure::bad_json_format(),
    })
}

/// Checks an employeeNo the way the terminal does.
pub(crate) fn check_employee_no(employee_no: &str, field: &str) -> Result<(), Failure> {
    if employee_no.is_empty() || employee_no.len() > MAX_EMPLOYEE_NO_BYTES {
        return Err(Failure::bad_parameters(field));
    }
    Ok(())
}

/// `missing field `employeeNo` at line 1 column 20` -> `employeeNo`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// Where a face upload's picture comes from.
#[derive(Debug)]
pub(crate) enum Picture {
    /// Download it from this URL.
    Url(String),
    /// These bytes came in the multipart body.
    Inline(Bytes),
}

/// A face upload: the record and its picture.
#[derive(Debug)]
pub(crate) struct FaceUpload {
    pub(crate) record: FaceRecord,
    pub(crate) picture: Picture,
}

/// Reads FaceDataRecord / FDModify / FDSetUp bodies in either shape; `record_parts` are the
/// accepted names of the JSON part of a multipart body (the first is named when it is missing).
pub(crate) async fn face_upload(
    req: &IsapiRequest,
    record_parts: &[&str],
) -> Result<FaceUpload, Failure> {
    if !req.is_multipart() {
        let record: FaceRecord = parse_json(&req.body, RECORD_PART)?;
        let url = record
            .face_url
            .clone()
            .ok_or_else(|| Failure::parameters_lack("faceURL"))?;
        return Ok(FaceUpload {
            record,
            picture: Picture::Url(url),
        });
    }

    let rebuilt = Request::builder()
        .header(header::CONTENT_TYPE, req.content_type())
        .body(Body::from(req.body.clone()))
        .map_err(|_| Failure::bad_json_format())?;
    let mut multipart = Multipart::from_request(rebuilt, &())
        .await
        .map_err(|_| Failure::bad_json_format())?;
    let mut record = None;
    let mut image = None;
    // The picture part that came before the JSON part, if one did.
    let mut misplaced = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| Failure::bad_json_format())?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field
            .bytes()
            .await
            .map_err(|_| Failure::bad_json_format())?;
        if record_parts.contains(&name.as_str()) {
            record = Some(parse_json::<FaceRecord>(&data, &name)?);
        } else if IMAGE_PARTS.contains(&name.as_str()) {
            if record.is_none() && misplaced.is_none() {
                misplaced = Some(name);
            }
            image = Some(data);
        }
    }
    let missing = record_parts.first().copied().unwrap_or(RECORD_PART);
    let record = record.ok_or_else(|| Failure::parameters_lack(missing))?;
    if let Some(part) = misplaced {
        return Err(Failure::bad_parameters(&part));
    }
    let picture = match (image, &record.face_url) {
        (Some(bytes), _) => Picture::Inline(bytes),
        (None, Some(url)) => Picture::Url(url.clone()),
        (None, None) => return Err(Failure::parameters_lack(IMAGE_PARTS[0])),
    };
    Ok(FaceUpload { record, picture })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hikvision_isapi::wire::UserInfoEnvelope;

    #[test]
    fn missing_nested_field_is_named() {
        let err = parse_json::<UserInfoEnvelope>(br#"{"UserInfo":{"name":"x"}}"#, "UserInfo");
        assert_eq!(err, Err(Failure::parameters_lack("employeeNo")));
    }

    #[test]
    fn broken_json_is_bad_format() {
        let err = parse_json::<UserInfoEnvelope>(b"{\"UserInfo\":", "UserInfo");
        assert_eq!(err, Err(Failure::bad_json_format()));
    }

    #[test]
    fn wrong_type_is_bad_parameters() {
        let err = parse_json::<UserInfoEnvelope>(br#"{"UserInfo":{"employeeNo":5}}"#, "UserInfo");
        assert_eq!(err, Err(Failure::bad_parameters("UserInfo")));
    }
}
