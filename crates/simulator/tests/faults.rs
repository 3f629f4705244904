//! The simulated terminal's fault knobs, over real HTTP: latency, hanging, reset connections,
//! HTTP 500, XML-only firmware, FDModify missing, a busy device and failing downloads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diqwest::WithDigestAuth;
use hikvision_isapi::wire::{ResponseStatus, paths};
use hikvision_simulator::Faults;
use reqwest::{Client, StatusCode};
use serde_json::json;
use support::{
    PASS, PictureServer, USER, assert_failure, client, device_info_url, get_as, isapi_url, json_of,
    person, post, real_jpeg, send_face, start_with_faults, user_body,
};

#[tokio::test]
async fn latency_fault_delays_every_answered_call_but_not_the_challenge() {
    let t = start_with_faults(|f| f.latency_ms = 300).await;
    // The challenge leg alone (no credentials): answered at once.
    let started = Instant::now();
    let challenge = client()
        .get(device_info_url(&t))
        .send()
        .await
        .expect("challenge");
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
    let challenge_took = started.elapsed();
    assert!(
        challenge_took < Duration::from_millis(250),
        "{challenge_took:?}"
    );
    // The whole call (challenge, then the answer): the terminal's work once.
    let started = Instant::now();
    let response = get_as(&client(), &device_info_url(&t), PASS).await;
    assert_eq!(response.status(), StatusCode::OK);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[tokio::test]
async fn hang_fault_never_answers_so_the_client_times_out() {
    let t = start_with_faults(|f| f.hang = true).await;
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(400))
        .build()
        .expect("client");
    let err = client
        .get(device_info_url(&t))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(t.request_log()[0].status, None);
    // Shutting down releases the held request instead of waiting for it.
    tokio::time::timeout(Duration::from_secs(2), t.shutdown())
        .await
        .expect("shutdown does not wait for hanging requests");
}

#[tokio::test]
async fn turning_hang_off_cuts_the_held_requests() {
    let t = start_with_faults(|f| f.hang = true).await;
    let url = device_info_url(&t);
    let held = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    t.set_faults(Faults::default());
    let err = held.await.expect("task").expect_err("cut without a reply");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // New requests are answered again.
    let response = get_as(&client(), &device_info_url(&t), PASS).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn reset_fault_cuts_the_connection_without_a_reply() {
    let t = start_with_faults(|f| f.reset = true).await;
    let result = client()
        .post(isapi_url(&t, paths::USER_RECORD))
        .json(&user_body("1"))
        .send_digest_auth((USER, PASS))
        .await;
    let err = result.expect_err("a connection error, not an HTTP status");
    let diqwest::error::Error::Reqwest(err) = err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(err.status().is_none(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert!(t.persons().is_empty());
}

#[tokio::test]
async fn http_500_fault_returns_an_html_error_page() {
    let t = start_with_faults(|f| f.http_500 = true).await;
    let response = post(&t, paths::USER_RECORD, user_body("1")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    assert!(response.text().await.expect("body").contains("<html>"));
}

#[tokio::test]
async fn xml_only_fault_answers_response_status_in_xml() {
    let t = start_with_faults(|f| f.xml_only = true).await;
    let ok = post(&t, paths::USER_RECORD, user_body("1")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["content-type"], "application/xml");
    let ok: ResponseStatus =
        quick_xml::de::from_str(&ok.text().await.expect("body")).expect("XML ResponseStatus");
    assert!(ok.is_ok());

    let dup = post(&t, paths::USER_RECORD, user_body("1")).await;
    assert_eq!(dup.status(), StatusCode::BAD_REQUEST);
    let body = dup.text().await.expect("body");
    assert!(
        body.contains(
            "<ResponseStatus version=\"2.0\" xmlns=\"http://www.std-cgi.org/ver20/XMLSchema\">"
        ),
        "{body}"
    );
    let status: ResponseStatus = quick_xml::de::from_str(&body).expect("XML ResponseStatus");
    assert_eq!(status.status_code, 6);
    assert_eq!(status.sub_status_code.as_str(), "employeeNoAlreadyExist");
    assert_eq!(
        status.request_url.as_deref(),
        Some("/ISAPI/AccessControl/UserInfo/Record?format=json")
    );
}

#[tokio::test]
async fn fdmodify_unsupported_fault_answers_not_support() {
    let t = start_with_faults(|f| f.fdmodify_unsupported = true).await;
    t.add_person(person("5"));
    t.set_face("5", real_jpeg(1));
    let (status, body) = send_face(&t, paths::FACE_MODIFY, "5", "http://127.0.0.1:1/a.jpg").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_failure(&body, 4, "notSupport");
    assert_eq!(body["errorCode"], 0x4000_0001u64);
    assert_eq!(t.face("5").expect("face").updates, 1);
}

#[tokio::test]
async fn device_busy_fault_refuses_writes_with_http_200() {
    let t = start_with_faults(|f| f.device_busy = true).await;
    let (status, body) = json_of(post(&t, paths::USER_RECORD, user_body("1")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_failure(&body, 2, "deviceBusy");
    assert_eq!(body["errorCode"], 0x2000_0004u64);
    assert!(t.persons().is_empty());
    // Reads still answer.
    let (status, body) = json_of(
        post(
            &t,
            paths::USER_SEARCH,
            json!({"UserInfoSearchCond": {"searchID": "1", "searchResultPosition": 0, "maxResults": 10}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["UserInfoSearch"]["responseStatusStrg"], "NO MATCH");
}

#[tokio::test]
async fn face_download_fail_fault_fails_without_downloading() {
    let t = start_with_faults(|f| f.face_download_fail = true).await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), real_jpeg(1))])).await;
    let (status, body) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "urlDownloadFail");
}
