//! The simulated terminal as a whole: deviceInfo and unknown calls, the `/_sim/*` control
//! endpoints, and starting and stopping terminals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hikvision_isapi::wire::{DeviceInfo, paths};
use hikvision_simulator::{Faults, StateSnapshot, TerminalConfig, run_many};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::{
    PASS, assert_failure, client, device_info_url, get_as, isapi_url, json_of, person, post,
    real_jpeg, sim_get, start, start_default, user_body,
};

// ---------------------------------------------------------------------------------------------
// device info and unknown calls

#[tokio::test]
async fn device_info_is_hikvision_xml() {
    let t = start(TerminalConfig {
        name: "Front door".into(),
        serial: "SER123".into(),
        ..TerminalConfig::default()
    })
    .await;
    let response = get_as(&client(), &device_info_url(&t), PASS).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/xml");
    let body = response.text().await.expect("body");
    assert!(
        body.contains(
            "<DeviceInfo version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\">"
        ),
        "{body}"
    );
    let info: DeviceInfo = quick_xml::de::from_str(&body).expect("DeviceInfo XML");
    assert_eq!(
        info,
        DeviceInfo {
            device_name: "Front door".into(),
            model: "DS-K1T341AM".into(),
            serial_number: "SER123".into(),
            firmware_version: "V3.2.30".into(),
            device_type: "ACS".into(),
        }
    );
}

#[tokio::test]
async fn unknown_isapi_call_needs_auth_then_answers_not_support() {
    let t = start_default().await;
    let url = format!(
        "{}/ISAPI/AccessControl/UserInfo/Nope?format=json",
        t.base_url()
    );
    let unauthenticated = client().get(&url).send().await.expect("request");
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let response = get_as(&client(), &url, PASS).await;
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_failure(&body, 4, "notSupport");
    assert_eq!(body["errorCode"], 0x4000_0001u64);

    let response = get_as(&client(), &isapi_url(&t, paths::USER_RECORD), PASS).await;
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_failure(&body, 4, "methodNotAllowed");
}

// ---------------------------------------------------------------------------------------------
// control endpoints

/// `PUT /_sim/faults` with `body`: the faults now in force.
async fn put_faults(client: &Client, url: &str, body: Value) -> Faults {
    client
        .put(url)
        .json(&body)
        .send()
        .await
        .expect("PUT faults")
        .json()
        .await
        .expect("faults JSON")
}

#[tokio::test]
async fn control_endpoint_changes_faults_at_runtime() {
    let t = start_default().await;
    let client = client();
    let faults_url = format!("{}/_sim/faults", t.base_url());
    let set: Faults = put_faults(&client, &faults_url, json!({"device_busy": true})).await;
    assert!(set.device_busy);
    assert_eq!(t.faults(), set);
    let (_, body) = json_of(post(&t, paths::USER_RECORD, user_body("1")).await).await;
    assert_eq!(body["subStatusCode"], "deviceBusy");

    let off: Faults = put_faults(&client, &faults_url, json!({})).await;
    assert_eq!(off, Faults::default());
    assert_eq!(
        sim_get::<Faults>(&t, "/_sim/faults").await,
        Faults::default()
    );
    let (status, _) = json_of(post(&t, paths::USER_RECORD, user_body("1")).await).await;
    assert_eq!(status, StatusCode::OK);

    let typo = client
        .put(&faults_url)
        .json(&json!({"hangg": true}))
        .send()
        .await
        .expect("PUT faults");
    assert_eq!(typo.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad = client
        .put(&faults_url)
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("PUT faults");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // In-process API and the control endpoint see the same knobs.
    t.set_faults(Faults {
        latency_ms: 5,
        ..Faults::default()
    });
    assert_eq!(sim_get::<Faults>(&t, "/_sim/faults").await.latency_ms, 5);
}

#[tokio::test]
async fn state_endpoint_shows_persons_faces_and_failed_logins() {
    let t = start_default().await;
    t.add_person(person("5"));
    let picture = real_jpeg(7);
    t.set_face("5", picture.clone());
    get_as(&client(), &device_info_url(&t), "nope").await;
    let state: StateSnapshot = sim_get(&t, "/_sim/state").await;
    assert_eq!(state.persons.len(), 1);
    assert_eq!(state.faces.len(), 1);
    assert_eq!(state.faces[0].fpid, "5");
    assert_eq!(state.faces[0].size, picture.len());
    assert_eq!((state.faces[0].width, state.faces[0].height), (96, 96));
    assert_eq!(state.faces[0].source, "seeded");
    assert_eq!(state.faces[0].sha256.len(), 64);
    assert_eq!(state.failed_logins, 1);
    assert!(!state.locked);
    assert_eq!(state, t.state());
}

// ---------------------------------------------------------------------------------------------
// lifecycle

#[tokio::test]
async fn run_many_starts_terminals_on_consecutive_ports() {
    // Find three free consecutive ports; retry elsewhere if another test got there first.
    let mut attempt = 0u16;
    let terminals = loop {
        let base = 20_000 + (std::process::id() as u16 % 20_000) + attempt * 97;
        match run_many(3, base, TerminalConfig::default()).await {
            Ok(terminals) => break terminals,
            Err(_) if attempt < 20 => attempt += 1,
            Err(err) => panic!("no free ports: {err}"),
        }
    };
    let base = terminals[0].addr().port();
    for (i, t) in terminals.iter().enumerate() {
        assert_eq!(t.addr().port(), base + i as u16);
        let response = get_as(&client(), &device_info_url(t), PASS).await;
        let info: DeviceInfo =
            quick_xml::de::from_str(&response.text().await.expect("body")).expect("XML");
        assert_eq!(info.device_name, format!("Simulated Terminal {}", i + 1));
    }
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let t = start_default().await;
    let addr = t.addr();
    // Leave a kept-alive connection open: shutdown must not wait for it.
    let client = client();
    client
        .get(format!("http://{addr}/_sim/state"))
        .send()
        .await
        .expect("request");
    tokio::time::timeout(Duration::from_secs(2), t.shutdown())
        .await
        .expect("shutdown completes");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let t = start_default().await;
    let addr = t.addr();
    drop(t);
    let mut closed = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "dropping the terminal stops its listener");
}
