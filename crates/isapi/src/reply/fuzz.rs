//! Property tests (proptest) of the reply parser. The test suite runs 256 cases per property; the
//! long run is `PROPTEST_CASES=100000 cargo test --release --lib fuzz_` (see the README).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

fn reply(status: u16, body: impl Into<bytes::Bytes>) -> RawReply {
    RawReply {
        status,
        body: body.into(),
    }
}

fn any_status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(401),
        Just(400),
        100u16..600,
        any::<u16>()
    ]
}

/// Any JSON value, numbers and strings biased towards what the parser looks at.
fn any_json() -> impl Strategy<Value = Value> {
    crate::fuzz::json_with(
        prop_oneof![
            (-3i64..10).prop_map(Value::from),
            "(0x|0X)?[0-9a-fA-F -]{0,20}".prop_map(Value::String),
            ".{0,40}".prop_map(Value::String),
        ]
        .boxed(),
        6,
    )
}

const FIELDS: &[&str] = &[
    "statusCode",
    "statusString",
    "subStatusCode",
    "errorCode",
    "errorMsg",
    "requestURL",
    "FPID",
];

/// Objects made mostly of the ResponseStatus field names, with any values.
fn status_object() -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(String::from),
        1 => ".{0,12}",
    ];
    prop::collection::vec((key, any_json()), 0..10).prop_map(|kv| kv.into_iter().collect())
}

/// Strings assembled from XML pieces the parser meets (and breaks on): tags, entities, CDATA,
/// comments, prologs, HTML, digits and noise.
fn xmlish() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "<ResponseStatus>",
        "</ResponseStatus>",
        "<ResponseStatus version=\"2.0\" xmlns=\"http://www.std-cgi.org/ver20/XMLSchema\">",
        "<statusCode>",
        "</statusCode>",
        "<statusString>",
        "</statusString>",
        "<subStatusCode>",
        "</subStatusCode>",
        "<errorCode>",
        "</errorCode>",
        "<errorMsg>",
        "</errorMsg>",
        "<requestURL>",
        "</requestURL>",
        "<userCheck>",
        "</userCheck>",
        "<lockStatus>",
        "</lockStatus>",
        "locked",
        "unlock",
        "<retryLoginTime>",
        "</retryLoginTime>",
        "<unlockTime>",
        "</unlockTime>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<!DOCTYPE html>",
        "<html>",
        "<title>",
        "</title>",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "&amp;",
        "&lt;",
        "&#0;",
        "&#x110000;",
        "&#xD800;",
        "&bogus;",
        "&",
        "<",
        ">",
        "/>",
        "</>",
        "\"",
        "'",
        "=",
        " ",
        "\n",
        "0x",
        "-",
    ];
    let piece = prop_oneof![
        6 => prop::sample::select(PIECES).prop_map(String::from),
        2 => "[0-9]{1,22}",
        1 => ".{0,6}",
    ];
    prop::collection::vec(piece, 0..48).prop_map(|p| p.concat())
}

/// What must hold for any reply.
fn check(status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    let result = parse_status(&reply(status, body.to_vec()));
    match &result {
        Ok(s) => {
            prop_assert!((200..300).contains(&status), "OK on HTTP {status}");
            prop_assert!(s.is_ok());
        }
        Err(IsapiError::WrongCredentials { .. } | IsapiError::Locked { .. }) => {
            prop_assert_eq!(status, 401)
        }
        Err(IsapiError::Rejected(r)) => {
            prop_assert_ne!(status, 401);
            prop_assert_eq!(r.http_status, status);
            prop_assert!(r.status_code != 1 || !(200..300).contains(&status));
        }
        Err(IsapiError::UnexpectedReply {
            http_status,
            detail,
        }) => {
            prop_assert_eq!(*http_status, status);
            // A short, printable description, never the body itself.
            prop_assert!(detail.chars().count() <= 120, "{}", detail);
            prop_assert!(!detail.chars().any(char::is_control), "{:?}", detail);
        }
        Err(other) => prop_assert!(false, "unexpected error kind {other:?}"),
    }
    if let Err(e) = result {
        let _ = e.to_string();
    }
    // The read-call parsers take the same bodies.
    let _ = parse_json::<ResponseStatus>(&reply(status, body.to_vec()));
    let _ = parse_xml::<UserCheck>(&reply(status, body.to_vec()));
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_reply_arbitrary_bytes(status in any_status(), body in prop::collection::vec(any::<u8>(), 0..1024)) {
        check(status, &body)?;
    }

    #[test]
    fn fuzz_reply_arbitrary_json_objects(status in any_status(), object in status_object()) {
        let body = Value::Object(object.clone()).to_string();
        check(status, body.as_bytes())?;
        // Whenever statusCode is an integer (or integer text), the reply is understood.
        let code = object.get("statusCode").and_then(as_i64);
        if let (Some(code), true) = (code, status != 401) {
            match parse_status(&reply(status, body)) {
                Ok(s) => prop_assert_eq!(s.status_code, code),
                Err(IsapiError::Rejected(r)) => prop_assert_eq!(r.status_code, code),
                Err(e) => prop_assert!(false, "statusCode {code} not understood: {e}"),
            }
        }
    }

    #[test]
    fn fuzz_reply_arbitrary_json_values(status in any_status(), value in any_json()) {
        check(status, value.to_string().as_bytes())?;
    }

    #[test]
    fn fuzz_reply_xmlish_text(status in any_status(), text in xmlish()) {
        check(status, text.as_bytes())?;
    }

    #[test]
    fn fuzz_reply_well_formed_status_round_trips(
        http in prop_oneof![200u16..300, 400u16..600],
        code in any::<i64>(),
        status_string in "[A-Za-z0-9._-]{1,30}",
        sub in "[A-Za-z0-9]{1,24}",
        error_code in proptest::option::of(any::<u32>()),
        message in ".{0,40}",
        as_xml in any::<bool>(),
    ) {
        prop_assume!(http != 401);
        let body = if as_xml {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ResponseStatus version=\"2.0\" xmlns=\"http://www.std-cgi.org/ver20/XMLSchema\">\n<statusCode>{code}</statusCode>\n<statusString>{status_string}</statusString>\n<subStatusCode>{sub}</subStatusCode>\n{}</ResponseStatus>",
                error_code.map(|c| format!("<errorCode>0x{c:x}</errorCode>\n")).unwrap_or_default()
            )
        } else {
            json!({"statusCode": code, "statusString": status_string, "subStatusCode": sub,
                   "errorCode": error_code, "errorMsg": message}).to_string()
        };
        let (got_code, got_string, got_sub, got_error) = match parse_status(&reply(http, body)) {
            Ok(s) => (s.status_code, s.status_string, s.sub_status_code, s.error_code),
            Err(IsapiError::Rejected(r)) => (r.status_code, r.status_string, r.sub_status_code, r.error_code),
            Err(e) => return Err(TestCaseError::fail(format!("not understood: {e}"))),
        };
        prop_assert_eq!(got_code, code);
        prop_assert_eq!(got_string, status_string);
        prop_assert_eq!(got_sub.as_str(), sub.as_str());
        prop_assert_eq!(got_error, error_code.map(u64::from));
    }

    #[test]
    fn fuzz_reply_user_check_round_trips(
        locked in any::<bool>(),
        retry in proptest::option::of(any::<u32>()),
        unlock in proptest::option::of(any::<u64>()),
    ) {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<userCheck version=\"2.0\" xmlns=\"http://www.isapi.org/ver20/XMLSchema\">\n<statusValue>401</statusValue>\n<statusString>Unauthorized</statusString>\n<lockStatus>{}</lockStatus>\n{}{}</userCheck>",
            if locked { "locked" } else { "unlock" },
            unlock.map(|u| format!("<unlockTime>{u}</unlockTime>\n")).unwrap_or_default(),
            retry.map(|r| format!("<retryLoginTime>{r}</retryLoginTime>\n")).unwrap_or_default(),
        );
        match parse_status(&reply(401, body)) {
            Err(IsapiError::Locked { unlock_in_secs }) => {
                prop_assert!(locked);
                prop_assert_eq!(unlock_in_secs, unlock.filter(|u| *u > 0));
            }
            Err(IsapiError::WrongCredentials { attempts_left }) => {
                prop_assert!(!locked);
                prop_assert_eq!(attempts_left, retry);
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }
}
