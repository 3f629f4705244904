//! The terminal's event log through the client: faces presented become numbered events, the
//! search pages them by serial number (30 a page, `MORE` then `OK`, `NO MATCH` past the end),
//! the count agrees, a registered listener gets every event pushed in order (again and again
//! while it fails), and a reset numbers from 1 again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use client_support::Rig;
use hikvision_isapi::wire::{EventNotification, HttpHostNotification};
use hikvision_simulator::{Faults, TerminalConfig};

#[tokio::test]
async fn faces_become_numbered_events_the_search_pages_by_serial() {
    let rig = Rig::default().await;
    rig.seed(["7"], true);
    let (answer, first) = rig.sim.present_face("7", 1);
    assert!(answer.granted);
    assert_eq!(first, 1);
    for _ in 0..40 {
        rig.sim.present_face("nobody", 1);
    }
    rig.sim.door_event(1, 23);
    let page = rig
        .client
        .search_events_page(&rig.terminal, "s", 0, 5)
        .await
        .unwrap();
    assert_eq!(page.response_status_strg, "MORE");
    assert_eq!(page.total_matches, 38);
    assert_eq!(page.info_list.len(), 30);
    assert_eq!(page.info_list[0].serial_no, 5);
    let last = rig
        .client
        .search_events_page(&rig.terminal, "s", 30, 5)
        .await
        .unwrap();
    assert_eq!(last.response_status_strg, "OK");
    assert_eq!(last.info_list.last().unwrap().minor, 23);
    let past = rig
        .client
        .search_events_page(&rig.terminal, "t", 0, 43)
        .await
        .unwrap();
    assert_eq!(past.response_status_strg, "NO MATCH");
    assert_eq!(rig.client.event_total(&rig.terminal).await.unwrap(), 42);
    let events = rig.sim.events();
    assert_eq!(events[0].minor, 75);
    assert_eq!(events[0].employee_no_string.as_deref(), Some("7"));
    assert_eq!(events[1].minor, 76);
    assert_eq!(
        events[1].employee_no_string, None,
        "an unknown face names nobody"
    );
    rig.sim.reset_event_log();
    assert_eq!(rig.sim.present_face("7", 1).1, 1);
}

#[tokio::test]
async fn firmware_without_the_event_search_answers_not_support() {
    let rig = Rig::with_faults(Faults {
        acs_event_unsupported: true,
        ..Faults::default()
    })
    .await;
    let err = rig
        .client
        .search_events_page(&rig.terminal, "s", 0, 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("notSupport"), "{err}");
}

#[derive(Clone, Default)]
struct Listener {
    got: Arc<Mutex<Vec<i64>>>,
    failing: Arc<Mutex<bool>>,
}

async fn receive(State(l): State<Listener>, body: axum::body::Bytes) -> StatusCode {
    if *l.failing.lock().unwrap() {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let text = String::from_utf8_lossy(&body);
    let json = text
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|rest| rest.split("\r\n--").next())
        .unwrap();
    let note: EventNotification = serde_json::from_str(json).unwrap();
    let event = note.access_controller_event.unwrap();
    l.got.lock().unwrap().push(event.serial_no);
    StatusCode::OK
}

#[tokio::test]
async fn a_registered_listener_gets_every_event_in_order_and_retries_while_it_fails() {
    let rig = Rig::start(TerminalConfig {
        push_retry: Duration::from_millis(50),
        ..TerminalConfig::default()
    })
    .await;
    let listener = Listener::default();
    *listener.failing.lock().unwrap() = true;
    let app = Router::new()
        .route("/push", post(receive))
        .with_state(listener.clone());
    let socket = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(socket, app).await });

    let hosts = rig.client.http_hosts(&rig.terminal).await.unwrap();
    assert_eq!(hosts.len(), 2);
    assert!(hosts.iter().all(HttpHostNotification::is_free));
    let mut ours = hosts[1].clone();
    ours.url = "/push".into();
    ours.ip_address = Some("127.0.0.1".into());
    ours.port_no = port;
    rig.client
        .set_http_host(&rig.terminal, &ours)
        .await
        .unwrap();
    assert_eq!(
        rig.client.http_hosts(&rig.terminal).await.unwrap()[1].url,
        "/push"
    );

    for _ in 0..20 {
        rig.sim.present_face("x", 1);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(listener.got.lock().unwrap().is_empty());
    *listener.failing.lock().unwrap() = false;
    let expected: Vec<i64> = (1..=20).collect();
    for _ in 0..100 {
        if *listener.got.lock().unwrap() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("pushed: {:?}", listener.got.lock().unwrap());
}

#[tokio::test]
async fn the_terminal_reports_its_counts_and_capabilities_and_wipes_every_person_on_request() {
    let rig = Rig::default().await;
    rig.seed(["1", "2", "3"], true);
    let get = reqwest::Method::GET;
    let (status, caps) = rig
        .raw(
            get.clone(),
            "/ISAPI/AccessControl/capabilities?format=json",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(caps["AccessControl"]["isSupportAcsEvent"], true);
    let (_, faces) = rig
        .raw(
            get.clone(),
            "/ISAPI/Intelligent/FDLib/Count?format=json",
            None,
        )
        .await;
    assert_eq!(faces["FDRecordDataInfo"][0]["recordDataNumber"], 3);
    let (_, cards) = rig
        .raw(
            get.clone(),
            "/ISAPI/AccessControl/CardInfo/Count?format=json",
            None,
        )
        .await;
    assert_eq!(cards["CardInfoCount"]["cardNumber"], 0);

    let one = serde_json::json!({"UserInfoDetail": {"mode": "byEmployeeNo", "EmployeeNoList": [{"employeeNo": "1"}]}});
    let (status, _) = rig
        .raw_put(
            "/ISAPI/AccessControl/UserInfoDetail/Delete?format=json",
            Some(one),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(rig.persons(), ["2", "3"]);
    let all = serde_json::json!({"UserInfoDetail": {"mode": "all"}});
    rig.raw_put(
        "/ISAPI/AccessControl/UserInfoDetail/Delete?format=json",
        Some(all),
    )
    .await;
    assert!(rig.persons().is_empty());
    assert!(rig.sim.state().faces.is_empty());
    assert_eq!(rig.sim.mass_deletions(), 1);
    let (_, process) = rig
        .raw(
            get,
            "/ISAPI/AccessControl/UserInfoDetail/DeleteProcess?format=json",
            None,
        )
        .await;
    assert_eq!(process["UserInfoDetailDeleteProcess"]["status"], "success");
}
