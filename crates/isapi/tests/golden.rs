//! Golden tests: the client parses the literal replies of `docs/isapi.md` and produces its literal
//! request bodies, byte for byte where the document gives them (as JSON values: key order and
//! white space aside).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod examples;

use bytes::Bytes;
use hikvision_isapi::wire::{
    DeviceInfo, EmployeeNoEntry, EmployeeNoList, FaceDeleteBody, FaceSearchCond, FaceSearchReply,
    FdLibCapabilities, UserInfoCountEnvelope, UserInfoDelCond, UserInfoDelEnvelope,
    UserInfoEnvelope, UserInfoSearchCond, UserInfoSearchEnvelope, UserInfoSearchReplyEnvelope,
};
use hikvision_isapi::{
    ErrorClass, IsapiError, RawReply, SubStatus, build_face_image_payload,
    build_face_image_update_payload, build_person, parse_status,
};
use serde_json::Value;

fn reply(status: u16, name: &str) -> RawReply {
    RawReply {
        status,
        body: Bytes::from(examples::get(name)),
    }
}

fn value_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn rejection(status: u16, name: &str) -> hikvision_isapi::Rejection {
    match parse_status(&reply(status, name)) {
        Err(IsapiError::Rejected(r)) => r,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn every_example_parses_in_its_language() {
    let all = examples::all();
    assert!(all.len() >= 20, "only {} examples", all.len());
    for (name, (lang, body)) in all {
        match lang.as_str() {
            "json" => {
                serde_json::from_str::<Value>(&body)
                    .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            }
            "xml" => assert!(body.trim_start().starts_with("<?xml"), "{name}"),
            other => panic!("{name}: unknown language {other}"),
        }
    }
}

#[test]
fn success_reply_is_ok() {
    let ok = parse_status(&reply(200, "response-status-ok")).unwrap();
    assert_eq!(ok.sub_status_code, SubStatus::Ok);
    assert!(ok.is_ok());
}

#[test]
fn refusals_are_typed_and_classified() {
    let not_support = rejection(400, "response-status-not-support");
    assert_eq!(not_support.sub_status_code, SubStatus::NotSupport);
    assert_eq!(not_support.error_code, Some(0x4000_0001));
    assert_eq!(not_support.class(), ErrorClass::Unsupported);

    // Busy comes with HTTP 200 on some firmware: the body decides.
    let busy = rejection(200, "response-status-busy");
    assert_eq!(busy.class(), ErrorClass::Busy);

    let exists = rejection(400, "response-status-person-exists");
    assert!(exists.person_exists());

    let xml = rejection(200, "response-status-xml");
    assert_eq!(xml.sub_status_code, SubStatus::InvalidOperation);
    assert_eq!(xml.status_code, 4);
}

#[test]
fn login_failures_say_attempts_left_and_lock_time() {
    match parse_status(&reply(401, "user-check-401")) {
        Err(IsapiError::WrongCredentials { attempts_left }) => assert_eq!(attempts_left, Some(3)),
        other => panic!("{other:?}"),
    }
    match parse_status(&reply(401, "user-check-locked")) {
        Err(IsapiError::Locked { unlock_in_secs }) => assert_eq!(unlock_in_secs, Some(1780)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_person_body_is_the_documented_one() {
    let doc = examples::json("user-info-record");
    let built = build_person(&"1042".parse().unwrap(), "Ion Popescu");
    assert_eq!(value_of(&UserInfoEnvelope { user_info: built }), doc);
    let parsed: UserInfoEnvelope = serde_json::from_value(doc).unwrap();
    assert_eq!(parsed.user_info.employee_no, "1042");
}

#[test]
fn face_bodies_are_the_documented_ones() {
    let url = "http://192.168.1.10:8080/photos/1042.jpg";
    assert_eq!(
        value_of(&build_face_image_payload(
            &"1042".parse().unwrap(),
            Some(url)
        )),
        examples::json("face-data-record-url")
    );
    assert_eq!(
        value_of(&build_face_image_update_payload(
            &"1042".parse().unwrap(),
            Some(url)
        )),
        examples::json("fdmodify-request")
    );
    assert_eq!(
        value_of(&build_face_image_payload(&"1042".parse().unwrap(), None)),
        examples::json("face-data-record-multipart-json")
    );
}

#[test]
fn person_search_bodies_and_replies() {
    let one = UserInfoSearchEnvelope {
        cond: UserInfoSearchCond {
            search_id: "3f2b8c1e9d4a4f6b8e2a7c5d1b0e9f3a".into(),
            search_result_position: 0,
            max_results: 30,
            employee_no_list: vec![EmployeeNoEntry {
                employee_no: "1042".into(),
            }],
        },
    };
    assert_eq!(value_of(&one), examples::json("user-info-search-request"));
    let all: UserInfoSearchEnvelope =
        serde_json::from_value(examples::json("user-info-search-all-request")).unwrap();
    assert!(all.cond.employee_no_list.is_empty());
    assert_eq!(
        value_of(&all),
        examples::json("user-info-search-all-request")
    );

    let more: UserInfoSearchReplyEnvelope =
        serde_json::from_value(examples::json("user-info-search-reply-more")).unwrap();
    assert_eq!(more.search.response_status_strg, "MORE");
    assert_eq!(more.search.total_matches, 45);
    assert_eq!(more.search.user_info.len(), 2);
    assert_eq!(more.search.user_info[0].num_of_face, Some(1));

    let none: UserInfoSearchReplyEnvelope =
        serde_json::from_value(examples::json("user-info-search-reply-no-match")).unwrap();
    assert_eq!(none.search.response_status_strg, "NO MATCH");
    assert!(none.search.user_info.is_empty());
}

#[test]
fn face_search_bodies_and_replies() {
    let cond = FaceSearchCond {
        search_result_position: 0,
        max_results: 30,
        face_lib_type: "blackFD".into(),
        fdid: "1".into(),
        fpid: Some("1042".into()),
    };
    assert_eq!(value_of(&cond), examples::json("fd-search-request"));
    let found: FaceSearchReply = serde_json::from_value(examples::json("fd-search-reply")).unwrap();
    assert_eq!(found.match_list.len(), 1);
    assert_eq!(found.match_list[0].fpid, "1042");
    let none: FaceSearchReply =
        serde_json::from_value(examples::json("fd-search-reply-no-match")).unwrap();
    assert!(none.match_list.is_empty());
    assert_eq!(none.total_matches, 0);
}

#[test]
fn delete_bodies_always_name_their_persons() {
    let list = EmployeeNoList::new("1042".parse().unwrap(), ["1043".parse().unwrap()]);
    let persons = UserInfoDelEnvelope {
        cond: UserInfoDelCond {
            employee_no_list: list.clone(),
        },
    };
    assert_eq!(
        value_of(&persons),
        examples::json("user-info-delete-request")
    );
    let one = EmployeeNoList::new("1042".parse().unwrap(), []);
    assert_eq!(
        value_of(&FaceDeleteBody::of(&one)),
        examples::json("fd-delete-request")
    );
}

#[test]
fn device_replies() {
    let text = examples::get("device-info");
    let info: DeviceInfo = quick_xml_de(&text);
    assert_eq!(info.model, "DS-K1T341AMF");
    assert_eq!(info.firmware_version, "V3.2.30");
    assert_eq!(info.device_type, "ACS");

    let caps: FdLibCapabilities =
        serde_json::from_value(examples::json("fdlib-capabilities")).unwrap();
    assert_eq!(caps.offers("put"), Some(true));
    assert_eq!(caps.fd_record_data_max_num, Some(3000));

    let count: UserInfoCountEnvelope =
        serde_json::from_value(examples::json("user-info-count")).unwrap();
    assert_eq!(count.count.bind_face_user_number, 44);
}

/// deviceInfo is XML; read it the way the client does (through a 200 reply).
fn quick_xml_de(text: &str) -> DeviceInfo {
    let reply = RawReply {
        status: 200,
        body: Bytes::from(text.to_string()),
    };
    hikvision_isapi::parse_xml(&reply).unwrap()
}
