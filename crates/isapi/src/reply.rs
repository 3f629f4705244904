//! Turning a terminal's raw reply (status, content type, capped body) into a typed result.
//!
//! Terminals answer JSON `ResponseStatus`, old firmware answers the same fields as XML, a failed login
//! answers a `<userCheck>` XML body, and broken devices or proxies answer HTML pages, garbage or
//! nothing at all. Every case ends in [`ResponseStatus`] or an [`IsapiError`]; nothing here panics.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{IsapiError, Rejection};
use crate::sub_status::SubStatus;
use crate::wire::{ResponseStatus, UserCheck};

/// A reply as read off the wire (body already capped by the caller).
#[derive(Debug, Clone)]
pub struct RawReply {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: bytes::Bytes,
}

/// Interprets a reply to a write call: OK status, or the typed reason it failed.
pub fn parse_status(reply: &RawReply) -> Result<ResponseStatus, IsapiError> {
    if reply.status == 401 {
        return Err(parse_unauthorized(&reply.body));
    }
    let status = parse_response_status(&reply.body).ok_or_else(|| unexpected(reply))?;
    if status.is_ok() && (200..300).contains(&reply.status) {
        return Ok(status);
    }
    Err(IsapiError::Rejected(Rejection {
        http_status: reply.status,
        status_code: status.status_code,
        status_string: status.status_string,
        sub_status_code: status.sub_status_code,
        error_code: status.error_code,
        error_msg: status.error_msg,
    }))
}

/// Interprets a reply to a read call whose success body is `T` (JSON).
pub fn parse_json<T: for<'de> Deserialize<'de>>(reply: &RawReply) -> Result<T, IsapiError> {
    if (200..300).contains(&reply.status)
        && let Ok(value) = serde_json::from_slice::<T>(&reply.body)
    {
        return Ok(value);
    }
    Err(parse_status(reply)
        .err()
        .unwrap_or_else(|| unexpected(reply)))
}

/// Interprets a reply to a read call whose success body is `T` (XML).
pub fn parse_xml<T: for<'de> Deserialize<'de>>(reply: &RawReply) -> Result<T, IsapiError> {
    if (200..300).contains(&reply.status)
        && let Ok(text) = std::str::from_utf8(&reply.body)
        && let Some(value) = from_xml::<T>(text)
    {
        return Ok(value);
    }
    Err(parse_status(reply)
        .err()
        .unwrap_or_else(|| unexpected(reply)))
}

/// Reads the 401 `<userCheck>` body: attempts left or lockout.
fn parse_unauthorized(body: &[u8]) -> IsapiError {
    let check = std::str::from_utf8(body)
        .ok()
        .and_then(from_xml::<UserCheck>)
        .unwrap_or_default();
    // "locked" in the guide; "lock" seen on a DS-K1T342MWX (docs/isapi.md, "Digest").
    if check.lock_status.eq_ignore_ascii_case("locked")
        || check.lock_status.eq_ignore_ascii_case("lock")
    {
        IsapiError::Locked {
            unlock_in_secs: check.unlock_time.filter(|s| *s > 0),
        }
    } else {
        IsapiError::WrongCredentials {
            attempts_left: check.retry_login_time,
        }
    }
}

/// JSON first, then the old-firmware XML form. `None` when the body is neither.
fn parse_response_status(body: &[u8]) -> Option<ResponseStatus> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return from_json_fields(&map);
    }
    let text = std::str::from_utf8(body).ok()?;
    from_xml::<XmlResponseStatus>(text).and_then(XmlResponseStatus::into_status)
}

/// XML from a terminal, read with quick-xml. quick-xml 0.38 panicked (an `unreachable!()`) on a
/// `<!DOCTYPE>` between two text runs, e.g. `<a><b>]]><!DOCTYPE html>0` (found by the property tests
/// below; fixed upstream in 0.42, which we now use). ISAPI replies never carry a DOCTYPE, so a body
/// with one is still not read as ISAPI XML: the guard costs nothing and keeps the parser's panic
/// surface small.
fn from_xml<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    let has_doctype = text
        .as_bytes()
        .windows(b"<!doctype".len())
        .any(|w| w.eq_ignore_ascii_case(b"<!doctype"));
    if has_doctype {
        return None;
    }
    quick_xml::de::from_str::<T>(text).ok()
}

fn from_json_fields(map: &serde_json::Map<String, Value>) -> Option<ResponseStatus> {
    let status_code = map.get("statusCode").and_then(as_i64)?;
    let text = |key: &str| map.get(key).and_then(as_string);
    Some(ResponseStatus {
        request_url: text("requestURL"),
        status_code,
        status_string: text("statusString").unwrap_or_default(),
        sub_status_code: text("subStatusCode")
            .map(|s| SubStatus::parse(&s))
            .unwrap_or_default(),
        error_code: map.get("errorCode").and_then(as_error_code),
        error_msg: text("errorMsg"),
        fpid: text("FPID"),
    })
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Error codes arrive as decimal numbers, decimal strings or `0x...` strings.
fn as_error_code(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

/// Old firmware's `<ResponseStatus>`; every field optional so partial bodies still parse.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct XmlResponseStatus {
    #[serde(rename = "requestURL")]
    request_url: Option<String>,
    status_code: Option<String>,
    status_string: Option<String>,
    sub_status_code: Option<String>,
    error_code: Option<String>,
    error_msg: Option<String>,
}

impl XmlResponseStatus {
    fn into_status(self) -> Option<ResponseStatus> {
        let status_code = self.status_code?.trim().parse().ok()?;
        Some(ResponseStatus {
            request_url: self.request_url,
            status_code,
            status_string: self.status_string.unwrap_or_default(),
            sub_status_code: self
                .sub_status_code
                .map(|s| SubStatus::parse(&s))
                .unwrap_or_default(),
            error_code: self
                .error_code
                .and_then(|c| as_error_code(&Value::String(c))),
            error_msg: self.error_msg,
            fpid: None,
        })
    }
}

/// Describes a reply that is not ISAPI, without echoing more than a short, printable snippet.
fn unexpected(reply: &RawReply) -> IsapiError {
    let detail = if reply.body.iter().all(u8::is_ascii_whitespace) {
        "empty body".to_string()
    } else {
        let text = String::from_utf8_lossy(&reply.body);
        let lower = text.to_ascii_lowercase();
        if lower.contains("<html") || lower.contains("<!doctype html") {
            match html_title(&text) {
                Some(title) => format!("an HTML error page titled '{title}'"),
                None => "an HTML error page".to_string(),
            }
        } else {
            format!("not an ISAPI reply: '{}'", snippet(&text))
        }
    };
    IsapiError::UnexpectedReply {
        http_status: reply.status,
        detail,
    }
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower.get(start..)?.find("</title>")?;
    Some(snippet(text.get(start..end)?.trim()))
}

fn snippet(text: &str) -> String {
    const MAX: usize = 80;
    let clean: String = text
        .chars()
        // Binary junk decodes to control and replacement characters: show them as dots.
        .map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                '.'
            } else {
                c
            }
        })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        format!("{clean}...")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> RawReply {
        RawReply {
            status,
            body: bytes::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn json_ok_is_success() {
        let r = parse_status(&reply(
            200,
            r#"{"statusCode":1,"statusString":"OK","subStatusCode":"ok","FPID":"7"}"#,
        ));
        assert_eq!(r.ok().and_then(|s| s.fpid), Some("7".into()));
    }

    #[test]
    fn json_failure_becomes_a_rejection_with_all_fields() {
        let body = r#"{"requestURL":"/ISAPI/Intelligent/FDLib/FDModify","statusCode":4,"statusString":"Invalid Operation","subStatusCode":"notSupport","errorCode":1073741825,"errorMsg":"x"}"#;
        let err = parse_status(&reply(400, body)).err();
        let Some(IsapiError::Rejected(r)) = err else {
            panic!("expected a rejection, got {err:?}")
        };
        assert_eq!(r.sub_status_code, SubStatus::NotSupport);
        assert_eq!(r.error_code, Some(0x4000_0001));
        assert_eq!(r.http_status, 400);
    }

    #[test]
    fn http_200_with_a_failure_status_is_still_a_failure() {
        let body = r#"{"statusCode":2,"statusString":"Device Busy","subStatusCode":"deviceBusy","errorCode":"0x20000004"}"#;
        let err = parse_status(&reply(200, body)).err();
        assert!(
            matches!(err, Some(IsapiError::Rejected(ref r)) if r.class() == crate::ErrorClass::Busy && r.error_code == Some(0x2000_0004))
        );
    }

    #[test]
    fn old_firmware_xml_status_is_understood() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<ResponseStatus version="2.0" xmlns="http://www.std-cgi.org/ver20/XMLSchema">
<requestURL>/ISAPI/Intelligent/FDLib/FDModify</requestURL>
<statusCode>4</statusCode>
<statusString>Invalid Operation</statusString>
<subStatusCode>notSupport</subStatusCode>
</ResponseStatus>"#;
        let err = parse_status(&reply(400, body)).err();
        assert!(
            matches!(err, Some(IsapiError::Rejected(ref r)) if r.sub_status_code == SubStatus::NotSupport && r.status_code == 4)
        );
        let ok = r#"<ResponseStatus><statusCode>1</statusCode><statusString>OK</statusString><subStatusCode>ok</subStatusCode></ResponseStatus>"#;
        assert!(parse_status(&reply(200, ok)).is_ok());
    }

    #[test]
    fn unauthorized_body_reports_attempts_left() {
        let body = "<userCheck><statusValue>401</statusValue><statusString>Unauthorized</statusString><lockStatus>unlock</lockStatus><unlockTime>0</unlockTime><retryLoginTime>4</retryLoginTime></userCheck>";
        assert!(matches!(
            parse_status(&reply(401, body)),
            Err(IsapiError::WrongCredentials {
                attempts_left: Some(4)
            })
        ));
    }

    #[test]
    fn unauthorized_locked_reports_unlock_time() {
        let body = "<userCheck><lockStatus>locked</lockStatus><unlockTime>1700</unlockTime><retryLoginTime>0</retryLoginTime></userCheck>";
        assert!(matches!(
            parse_status(&reply(401, body)),
            Err(IsapiError::Locked {
                unlock_in_secs: Some(1700)
            })
        ));
    }

    #[test]
    fn unauthorized_without_body_is_still_wrong_credentials() {
        assert!(matches!(
            parse_status(&reply(401, "")),
            Err(IsapiError::WrongCredentials {
                attempts_left: None
            })
        ));
    }

    #[test]
    fn empty_body_is_an_unexpected_reply() {
        let err = parse_status(&reply(200, "")).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("The terminal gave an unexpected reply (HTTP 200): empty body")
        );
    }

    #[test]
    fn html_error_page_is_described_by_its_title() {
        let err = parse_status(&reply(
            500,
            "<html><head><title>500 Internal Server Error</title></head><body>boom</body></html>",
        ))
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "The terminal gave an unexpected reply (HTTP 500): an HTML error page titled '500 Internal Server Error'"
            )
        );
    }

    #[test]
    fn garbage_is_quoted_short_and_printable() {
        let garbage = format!("\u{1}\u{2}{}", "x".repeat(500));
        let err = parse_status(&reply(200, &garbage))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not an ISAPI reply"), "{err}");
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn a_doctype_between_text_runs_does_not_panic_the_xml_reader() {
        // quick-xml 0.38 hits an unreachable!() on this body.
        for body in [
            "<requestURL><statusCode>]]><!DOCTYPE html>0",
            "<ResponseStatus><statusCode>1<!doctype x>2</statusCode></ResponseStatus>",
        ] {
            assert!(matches!(
                parse_status(&reply(400, body)),
                Err(IsapiError::UnexpectedReply { .. })
            ));
            assert!(matches!(
                parse_status(&reply(401, body)),
                Err(IsapiError::WrongCredentials { .. })
            ));
            assert!(parse_xml::<UserCheck>(&reply(200, body)).is_err());
        }
    }

    #[test]
    fn json_without_status_code_is_unexpected() {
        assert!(matches!(
            parse_status(&reply(200, r#"{"hello":"world"}"#)),
            Err(IsapiError::UnexpectedReply { .. })
        ));
    }
}

/// Property tests (proptest) of the reply parser. The test suite runs 256 cases per property; the
/// long run is `PROPTEST_CASES=100000 cargo test --release --lib fuzz_` (see the README).
#[cfg(test)]
mod fuzz;
