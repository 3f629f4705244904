//! Golden tests of the simulator: over real HTTP with Digest auth, it answers what the literal
//! replies of `docs/isapi.md` show, field by field where a client reads them. Requests are the
//! document's own examples where it has them. The client's side of the same examples is
//! `crates/isapi/tests/golden.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../isapi/tests/examples/mod.rs"]
mod examples;
mod support;

use std::collections::BTreeSet;

use bytes::Bytes;
use hikvision_isapi::wire::{DeviceInfo, FdLibCapabilities, UserCheck, UserInfo, paths};
use hikvision_isapi::{IsapiError, RawReply, parse_status, parse_xml};
use hikvision_simulator::SimulatedTerminal;
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    PASS, client, device_info_url, get_as, isapi_url, json_of, person, post, put, real_jpeg,
    start_default, start_with_faults,
};

/// Where the face of a write points instead of the document's LAN address: tests send traffic to
/// loopback only, and nothing listens on port 1.
const LOOPBACK_FACE_URL: &str = "http://127.0.0.1:1/1042.jpg";

/// The fields of a `ResponseStatus` a client reads to classify a refusal.
const REFUSAL_FIELDS: [&str; 4] = ["statusCode", "statusString", "subStatusCode", "errorCode"];

/// `reply` carries each of `fields` with the value example `name` gives it.
#[track_caller]
fn assert_as_documented(reply: &Value, name: &str, fields: &[&str]) {
    assert_same_values(reply, &examples::json(name), fields, name);
}

/// `reply` carries each of `fields` (present in `doc`) with `doc`'s value.
#[track_caller]
fn assert_same_values(reply: &Value, doc: &Value, fields: &[&str], what: &str) {
    for field in fields {
        assert!(!doc[field].is_null(), "{what} has no {field}: {doc}");
        assert_eq!(
            reply[field], doc[field],
            "{field} differs from {what}: reply {reply}"
        );
    }
}

/// `reply[key]` is there with the JSON type `doc[key]` has.
#[track_caller]
fn assert_same_type(reply: &Value, doc: &Value, key: &str) {
    assert!(!doc[key].is_null(), "the example has no {key}: {doc}");
    assert_eq!(
        json_type(&reply[key]),
        json_type(&doc[key]),
        "{key}: reply {reply}"
    );
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "absent or null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Local names of the elements of an XML text, in document order (namespaces aside, as
/// `docs/isapi.md` says to match them).
fn element_names(text: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let local = e.local_name();
                let name: &str = local.as_ref();
                names.push(name.to_owned());
            }
            Event::Eof => return names,
            _ => {}
        }
    }
}

/// An authenticated GET of `url`: its status and body text.
async fn get_text(url: &str) -> (StatusCode, String) {
    let response = get_as(&client(), url, PASS).await;
    (response.status(), response.text().await.expect("body"))
}

/// The document's person (`user-info-record`) under each of `employee_nos`.
fn seed_documented_persons(t: &SimulatedTerminal, employee_nos: impl Iterator<Item = u32>) {
    let documented = examples::json("user-info-record")["UserInfo"].clone();
    for no in employee_nos {
        let mut body = documented.clone();
        body["employeeNo"] = json!(no.to_string());
        t.add_person(serde_json::from_value::<UserInfo>(body).expect("UserInfo"));
    }
}

// ---------------------------------------------------------------------------------------------
// ResponseStatus

#[tokio::test]
async fn fdmodify_on_old_firmware_answers_the_documented_not_support() {
    let t = start_with_faults(|f| f.fdmodify_unsupported = true).await;
    let mut request = examples::json("fdmodify-request");
    let fpid = request["FPID"].as_str().expect("FPID").to_owned();
    t.add_person(person(&fpid));
    t.set_face(fpid, real_jpeg(1));
    request["faceURL"] = json!(LOOPBACK_FACE_URL);
    let (_, reply) = json_of(put(&t, paths::FACE_MODIFY, request).await).await;
    assert_as_documented(&reply, "response-status-not-support", &REFUSAL_FIELDS);
}

#[tokio::test]
async fn adding_a_person_twice_answers_the_documented_person_exists() {
    let t = start_default().await;
    let request = examples::json("user-info-record");
    let (status, first) = json_of(post(&t, paths::USER_RECORD, request.clone()).await).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_as_documented(
        &first,
        "response-status-ok",
        &["statusCode", "statusString", "subStatusCode"],
    );
    let (_, second) = json_of(post(&t, paths::USER_RECORD, request).await).await;
    assert_as_documented(
        &second,
        "response-status-person-exists",
        &[
            "requestURL",
            "statusCode",
            "statusString",
            "subStatusCode",
            "errorCode",
            "errorMsg",
        ],
    );
}

#[tokio::test]
async fn a_write_to_a_busy_terminal_answers_the_documented_busy() {
    let t = start_with_faults(|f| f.device_busy = true).await;
    let (_, reply) =
        json_of(post(&t, paths::USER_RECORD, examples::json("user-info-record")).await).await;
    assert_as_documented(&reply, "response-status-busy", &REFUSAL_FIELDS);
}

// ---------------------------------------------------------------------------------------------
// userCheck

/// What a client makes of a 401 body: the logins left it reports.
fn attempts_left(body: &str) -> Option<u32> {
    let reply = RawReply {
        status: 401,
        body: Bytes::from(body.to_owned()),
    };
    match parse_status(&reply) {
        Err(IsapiError::WrongCredentials { attempts_left }) => attempts_left,
        other => panic!("not a wrong-credentials failure: {other:?} for {body}"),
    }
}

/// The `<userCheck>` body of the 401 that the `n`th wrong login in a row gets.
async fn user_check_after_wrong_logins(t: &SimulatedTerminal, n: usize) -> String {
    let url = device_info_url(t);
    let mut body = String::new();
    for _ in 0..n {
        let response = get_as(&client(), &url, "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        body = response.text().await.expect("body");
    }
    body
}

#[tokio::test]
async fn a_wrong_password_gets_the_documented_user_check() {
    let t = start_default().await;
    // Two failures of the five allowed: three logins left, the state the example shows.
    let body = user_check_after_wrong_logins(&t, 2).await;
    let doc = examples::get("user-check-401");

    assert_eq!(attempts_left(&doc), Some(3));
    assert_eq!(attempts_left(&body), attempts_left(&doc), "{body}");
    let check = |text: &str| quick_xml::de::from_str::<UserCheck>(text).expect("userCheck");
    assert_eq!(check(&body), check(&doc), "{body}");

    // The elements a client reads are there, in the documented order.
    let read = [
        "statusValue",
        "statusString",
        "lockStatus",
        "unlockTime",
        "retryLoginTime",
    ];
    let read_in_order = |text: &str| -> Vec<String> {
        element_names(text)
            .into_iter()
            .filter(|n| read.contains(&n.as_str()))
            .collect()
    };
    assert_eq!(read_in_order(&doc).len(), read.len());
    assert_eq!(read_in_order(&body), read_in_order(&doc), "{body}");
    assert_eq!(element_names(&body)[0], element_names(&doc)[0], "{body}");
}

#[tokio::test]
async fn a_wrong_password_gets_every_documented_user_check_element_in_order() {
    let t = start_default().await;
    let body = user_check_after_wrong_logins(&t, 2).await;
    let doc = examples::get("user-check-401");
    assert_eq!(element_names(&body), element_names(&doc), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Capabilities and identity

#[tokio::test]
async fn face_capabilities_carry_the_documented_keys_the_client_reads() {
    let t = start_default().await;
    let (status, text) = get_text(&isapi_url(&t, paths::FACE_CAPABILITIES)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let reply: Value = serde_json::from_str(&text).expect("JSON capabilities");
    let doc = examples::json("fdlib-capabilities");
    for key in [
        "supportFDFunction",
        "FDRecordDataMaxNum",
        "statusCode",
        "statusString",
        "subStatusCode",
    ] {
        assert_same_type(&reply, &doc, key);
    }
    assert_as_documented(
        &reply,
        "fdlib-capabilities",
        &["statusCode", "statusString", "subStatusCode"],
    );

    // Read as the client reads them.
    let caps = |v: Value| serde_json::from_value::<FdLibCapabilities>(v).expect("capabilities");
    let (simulated, documented) = (caps(reply), caps(doc));
    for function in ["post", "delete", "put", "get", "setUp"] {
        assert_eq!(documented.offers(function), Some(true));
        assert_eq!(simulated.offers(function), Some(true), "{function}");
    }
    assert!(documented.fd_record_data_max_num.is_some());
    assert!(simulated.fd_record_data_max_num.is_some());
}

#[tokio::test]
async fn device_info_is_the_documented_xml() {
    let t = start_default().await;
    let (status, text) = get_text(&device_info_url(&t)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let doc = examples::get("device-info");
    let (simulated, documented) = (element_names(&text), element_names(&doc));
    assert_eq!(documented[0], "DeviceInfo");
    assert_eq!(simulated[0], documented[0], "{text}");
    for name in ["model", "serialNumber", "firmwareVersion", "deviceType"] {
        assert!(documented.iter().any(|n| n == name), "example lacks {name}");
        assert!(
            simulated.iter().any(|n| n == name),
            "{name} missing: {text}"
        );
    }

    // Read as the client reads it.
    let info = |text: &str| {
        parse_xml::<DeviceInfo>(&RawReply {
            status: 200,
            body: Bytes::from(text.to_owned()),
        })
        .expect("DeviceInfo")
    };
    let (simulated, documented) = (info(&text), info(&doc));
    assert_eq!(simulated.device_type, documented.device_type, "{text}");
    assert!(!simulated.model.is_empty() && !simulated.serial_number.is_empty());
    assert!(!simulated.firmware_version.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Searches

#[tokio::test]
async fn face_search_for_an_enrolled_face_answers_like_the_documented_reply() {
    let t = start_default().await;
    let request = examples::json("fd-search-request");
    let fpid = request["FPID"].as_str().expect("FPID").to_owned();
    t.add_person(person(&fpid));
    t.set_face(fpid, real_jpeg(2));
    let (status, reply) = json_of(post(&t, paths::FACE_SEARCH, request).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let doc = examples::json("fd-search-reply");
    assert_same_values(
        &reply,
        &doc,
        &["responseStatusStrg", "numOfMatches", "totalMatches"],
        "fd-search-reply",
    );
    let (found, documented) = (&reply["MatchList"][0], &doc["MatchList"][0]);
    assert_same_values(
        found,
        documented,
        &["FPID"],
        "fd-search-reply's MatchList[0]",
    );
    assert_same_type(found, documented, "faceURL");
}

#[tokio::test]
async fn face_search_for_an_unknown_fpid_answers_the_documented_end_marker() {
    let t = start_default().await;
    let mut request = examples::json("fd-search-request");
    t.add_person(person("2000"));
    t.set_face("2000", real_jpeg(3));
    request["FPID"] = json!("9999");
    let (status, reply) = json_of(post(&t, paths::FACE_SEARCH, request).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_as_documented(
        &reply,
        "fd-search-reply-no-match",
        &["responseStatusStrg", "numOfMatches", "totalMatches"],
    );
}

#[tokio::test]
async fn person_search_with_more_pages_answers_the_documented_keys() {
    let t = start_default().await;
    // The document's request asks for the second page of 30: 61 persons leave a third.
    seed_documented_persons(&t, 1000..1061);
    t.set_face("1042", real_jpeg(4));
    let request = examples::json("user-info-search-all-request");
    let (status, reply) = json_of(post(&t, paths::USER_SEARCH, request).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let doc = examples::json("user-info-search-reply-more");
    assert_eq!(keys(&reply), keys(&doc), "{reply}");
    let (page, documented) = (&reply["UserInfoSearch"], &doc["UserInfoSearch"]);
    assert_eq!(keys(page), keys(documented), "{page}");
    assert_same_values(
        page,
        documented,
        &["searchID", "responseStatusStrg"],
        "user-info-search-reply-more",
    );
    assert_eq!(
        (&page["numOfMatches"], &page["totalMatches"]),
        (&json!(30), &json!(61))
    );

    let persons = page["UserInfo"].as_array().expect("UserInfo list");
    assert_eq!(persons.len(), 30);
    let documented_person = &documented["UserInfo"][0];
    for person in persons {
        for key in [
            "employeeNo",
            "name",
            "userType",
            "Valid",
            "doorRight",
            "RightPlan",
            "numOfFace",
        ] {
            assert_same_type(person, documented_person, key);
        }
    }
}

#[tokio::test]
async fn person_search_for_an_unknown_employee_no_answers_the_documented_marker() {
    let t = start_default().await;
    // The document's request names employee 1042; this terminal has others only.
    seed_documented_persons(&t, 2000..2003);
    let request = examples::json("user-info-search-request");
    let (status, reply) = json_of(post(&t, paths::USER_SEARCH, request).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_same_values(
        &reply["UserInfoSearch"],
        &examples::json("user-info-search-reply-no-match")["UserInfoSearch"],
        &[
            "searchID",
            "responseStatusStrg",
            "numOfMatches",
            "totalMatches",
        ],
        "user-info-search-reply-no-match",
    );
}
