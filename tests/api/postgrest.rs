//! The PostgREST contract: the service's reads against a PostgREST-compatible server on real
//! PostgreSQL (`scripts/test-stack.sh`), each test on tables of its own (no shared rows, no lock).
//! Without the stack these tests skip with a message; `./scripts/test` (and CI) make a missing
//! stack a failure. The flows' decisions are tested without a database in `update_photo.rs`.

use crate::support::*;
use axum::http::StatusCode;
use hikvision_simulator::Faults;
use serde_json::json;

const ENDPOINT: &str = UPDATE_ENDPOINT;

#[tokio::test]
async fn an_update_reads_the_angajat_with_its_embedded_biometrie_and_the_active_devices() {
    let Some(store) = Store::rest().await else {
        return;
    };
    let f = Fixture::on(store, |_| {}).await;
    let (a, b) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let (no, id) = f.employee(jpeg(2)).await;
    enrol(&a, &no, Some(jpeg(1)));
    enrol(&b, &no, Some(jpeg(1)));
    f.store
        .set_devices(vec![
            device_row("b second", &b, PASSWORD),
            device_row("a first", &a, PASSWORD),
            json!({"name": "c inactive", "ip": "127.0.0.1", "port": 9, "password": "x", "is_active": false}),
        ])
        .await;

    let body = update(&f.app, id).await;

    assert_eq!(
        device_names(&body),
        ["a first", "b second"],
        "order=name,id; inactive left out"
    );
    assert_eq!(
        body["summary"],
        json!({"success": 2, "partial": 0, "skipped": 0, "fatal": 0})
    );
    assert_eq!(a.face(&no).unwrap().bytes, jpeg(2));
    assert_eq!(b.face(&no).unwrap().bytes, jpeg(2));
}

#[tokio::test]
async fn an_angajat_without_biometrie_row_is_skipped_on_every_terminal() {
    let Some(store) = Store::rest().await else {
        return;
    };
    let f = Fixture::on(store, |_| {}).await;
    let t = terminal(Faults::default()).await;
    let id = f.store.insert_angajat(None, None).await;
    f.only_device("A", &t).await;

    let body = update(&f.app, id).await;

    assert_eq!(body["per_device"][0]["status"], "skipped");
    assert_eq!(body["per_device"][0]["error_code"], "missing_employee_no");
    assert!(t.request_log().is_empty(), "no terminal called");
}

#[tokio::test]
async fn an_unknown_angajat_is_404() {
    let Some(store) = Store::rest().await else {
        return;
    };
    let f = Fixture::on(store, |_| {}).await;
    let (status, body) = f
        .app
        .post(ENDPOINT, json!({"angajat_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "angajat_not_found");
}

#[tokio::test]
async fn ready_answers_when_the_rest_server_does() {
    let Some(store) = Store::rest().await else {
        return;
    };
    let f = Fixture::on(store, |_| {}).await;
    let ready = f
        .app
        .http
        .get(f.app.base.join("/ready").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test]
async fn an_invalid_device_row_is_fatal_and_does_not_stop_the_others() {
    let Some(store) = Store::rest().await else {
        return;
    };
    let f = Fixture::on(store, |_| {}).await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(17)).await;
    enrol(&t, &no, Some(jpeg(16)));
    f.store
        .set_devices(vec![
            device_row("A", &t, PASSWORD),
            json!({"name": "B no password", "ip": "127.0.0.1", "port": 9, "is_active": true}),
        ])
        .await;

    let body = update(&f.app, id).await;

    assert_eq!(
        body["summary"],
        json!({"success": 1, "partial": 0, "skipped": 0, "fatal": 1})
    );
    let d = by_name(&body);
    assert!(
        d["B no password"]["message"]
            .as_str()
            .unwrap()
            .contains("HIKVISION_PASSWORD")
    );
}

#[tokio::test]
async fn supabase_down_is_503() {
    let Some(rest) = Store::rest().await else {
        return;
    };
    let photos = PhotoServer::start().await.unwrap();
    let mut s = settings(&rest, &photos);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    if let Some(sb) = s.supabase.as_mut() {
        sb.rest_url = url::Url::parse(&format!("http://{closed}/")).unwrap();
    }
    let app = TestApp::spawn(&rest, s).await;
    let (status, body) = app
        .post(ENDPOINT, json!({"angajat_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "supabase_unavailable");
    let ready = app
        .http
        .get(app.base.join("/ready").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
}

#[tokio::test]
async fn a_wrong_service_key_is_503_with_a_clear_message() {
    let Some(rest) = Store::rest().await else {
        return;
    };
    let photos = PhotoServer::start().await.unwrap();
    let mut s = settings(&rest, &photos);
    if let Some(sb) = s.supabase.as_mut() {
        // A JWT signed with another secret.
        sb.service_key = secrecy::SecretString::from(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXdyb25n".to_string(),
        );
    }
    let app = TestApp::spawn(&rest, s).await;
    let (status, body) = app
        .post(ENDPOINT, json!({"angajat_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "supabase_auth_failed");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("SUPABASE_SERVICE_ROLE_KEY")
    );
}
