//! The door: a face presented at a moment opens it only when the person and their face are
//! there and the moment, in the terminal's local time, lies inside the person's enabled `Valid`
//! window. Written windows the terminal cannot read are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, Utc};
use hikvision_isapi::wire::paths;
use hikvision_simulator::{AccessDecision, TerminalConfig};
use reqwest::StatusCode;
use serde_json::json;
use support::{assert_failure, json_of, post, put, real_jpeg, sim_get, start, user_body};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn with_window(employee_no: &str, enable: bool, begin: &str, end: &str) -> serde_json::Value {
    let mut body = user_body(employee_no);
    body["UserInfo"]["Valid"] =
        json!({"enable": enable, "beginTime": begin, "endTime": end, "timeType": "local"});
    body
}

#[tokio::test]
async fn the_valid_window_is_kept_and_enforced_in_local_time() {
    // A terminal two hours ahead of UTC.
    let t = start(TerminalConfig {
        utc_offset_secs: 2 * 3600,
        ..TerminalConfig::default()
    })
    .await;
    let body = with_window("7", true, "2026-03-01T08:00:00", "2026-12-31T23:59:59");
    let (status, _) = json_of(post(&t, paths::USER_RECORD, body).await).await;
    assert_eq!(status, StatusCode::OK);
    let at = |text: &str| t.face_access("7", utc(text)).decision;
    assert_eq!(at("2026-06-01T12:00:00Z"), AccessDecision::NoFace);
    t.set_face("7", real_jpeg(3));
    assert_eq!(at("2026-03-01T05:59:59Z"), AccessDecision::NotYetValid);
    assert_eq!(at("2026-03-01T06:00:00Z"), AccessDecision::Granted);
    assert_eq!(at("2026-12-31T21:59:59Z"), AccessDecision::Granted);
    assert_eq!(at("2026-12-31T22:00:00Z"), AccessDecision::Expired);
    assert_eq!(
        t.face_access("8", utc("2026-06-01T12:00:00Z")).decision,
        AccessDecision::UnknownPerson
    );

    // A Modify moves the end; a disabled window no longer restricts.
    let later = with_window("7", true, "2026-03-01T08:00:00", "2027-06-30T23:59:59");
    let (status, _) = json_of(put(&t, paths::USER_MODIFY, later).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t.face_access("7", utc("2027-01-01T00:00:00Z")).granted);
    let off = with_window("7", false, "1970-01-01T00:00:00", "1970-01-01T00:00:00");
    let (status, _) = json_of(put(&t, paths::USER_SETUP, off).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t.face_access("7", utc("2036-01-01T00:00:00Z")).granted);

    // The control endpoint answers the same.
    let answer: serde_json::Value = sim_get(&t, "/_sim/access/7?at=2036-01-01T00:00:00Z").await;
    assert_eq!(answer["granted"], true, "{answer}");
    assert_eq!(answer["localTime"], "2036-01-01T02:00:00");
    let (status, _) = {
        let response = reqwest::get(format!("{}/_sim/access/7?at=tomorrow", t.base_url()))
            .await
            .unwrap();
        (response.status(), response.text().await)
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_window_the_terminal_cannot_read_is_refused() {
    let t = start(TerminalConfig::default()).await;
    for (begin, end) in [
        ("2026-03-01", "2026-12-31T23:59:59"),
        ("2026-03-01T08:00:00", "31.12.2026"),
    ] {
        let body = with_window("7", true, begin, end);
        let (status, reply) = json_of(post(&t, paths::USER_RECORD, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_failure(&reply, 6, "badParameters");
        assert_eq!(reply["errorMsg"], "Valid");
    }
    assert!(t.persons().is_empty());
    // Disabled, its times are not looked at.
    let body = with_window("7", false, "", "");
    let (status, _) = json_of(post(&t, paths::USER_RECORD, body).await).await;
    assert_eq!(status, StatusCode::OK);
}
