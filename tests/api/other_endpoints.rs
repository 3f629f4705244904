//! The ported endpoints next to update-angajat-photo: photo-only, full sync, the one-terminal
//! debugging endpoint, health and readiness.

use crate::support::*;
use axum::http::StatusCode;
use hikvision_isapi::build_person;
use hikvision_simulator::Faults;
use serde_json::json;

#[tokio::test]
async fn photo_only_posts_face_data_record_and_never_fdmodify() {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let app = TestApp::spawn(&rest, settings(&rest, &photos)).await;
    let (fresh, has_face) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let no = unique_employee_no();
    fresh.add_person(build_person(&no.parse().unwrap(), "Ion Popescu"));
    has_face.add_person(build_person(&no.parse().unwrap(), "Ion Popescu"));
    has_face.set_face(no.as_str(), jpeg(1));
    let url = photos.put(&format!("{no}.jpg"), jpeg(2));
    let id = rest.insert_angajat(Some(&no), Some(&url)).await;
    rest.set_devices(vec![
        device_row("a fresh", &fresh, PASSWORD),
        device_row("b has face", &has_face, PASSWORD),
    ])
    .await;

    let (status, body) = app
        .post(
            "/api/hikvision/sync-angajat-photo-only",
            json!({"angajat_id": id}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["summary"],
        json!({"success": 1, "partial": 1, "skipped": 0, "fatal": 0})
    );
    let d = by_name(&body);
    assert_eq!(d["a fresh"]["method"], "FaceDataRecord");
    assert_eq!(d["b has face"]["error_code"], "deviceUserAlreadyExistFace");
    assert!(
        fresh
            .request_log()
            .iter()
            .all(|r| !r.path.contains("FDModify"))
    );
    assert_eq!(fresh.face(&no).unwrap().bytes, jpeg(2));
    assert_eq!(has_face.face(&no).unwrap().bytes, jpeg(1), "untouched");

    let metrics = app
        .http
        .get(app.base.join("/metrics").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fresh_addr = fresh.addr().to_string();
    assert!(
        metrics.contains(&format!(
            r#"hikvision_terminal_calls_total{{call="FaceDataRecord",outcome="ok",terminal="{fresh_addr}"}} 1"#
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"hikvision_sync_results_total{flow="photo_only",status="partial"} 1"#)
    );
}

#[tokio::test]
async fn full_sync_enrols_the_person_then_the_face() {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let app = TestApp::spawn(&rest, settings(&rest, &photos)).await;
    let (empty, known) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let no = unique_employee_no();
    known.add_person(build_person(&no.parse().unwrap(), "Ion Popescu"));
    let url = photos.put(&format!("{no}.jpg"), jpeg(3));
    let id = rest.insert_angajat(Some(&no), Some(&url)).await;
    rest.set_devices(vec![
        device_row("empty", &empty, PASSWORD),
        device_row("known", &known, PASSWORD),
    ])
    .await;

    let (status, body) = app
        .post("/api/hikvision/sync-angajat", json!({"angajat_id": id}))
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["summary"]["success"], 2, "{body}");
    for t in [&empty, &known] {
        assert_eq!(t.person(&no).map(|p| p.name), Some("Ion Popescu".into()));
        assert_eq!(t.face(&no).unwrap().bytes, jpeg(3));
    }
}

#[tokio::test]
async fn full_sync_without_a_photo_enrols_the_person_only() {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let app = TestApp::spawn(&rest, settings(&rest, &photos)).await;
    let t = terminal(Faults::default()).await;
    let no = unique_employee_no();
    let id = rest.insert_angajat(Some(&no), None).await;
    rest.set_devices(vec![device_row("t", &t, PASSWORD)]).await;

    let (_, body) = app
        .post("/api/hikvision/sync-angajat", json!({"angajat_id": id}))
        .await;

    assert_eq!(body["per_device"][0]["status"], "success");
    assert_eq!(body["per_device"][0]["step"], "person");
    assert!(t.person(&no).is_some() && t.face(&no).is_none());
}

#[tokio::test]
async fn the_debug_endpoint_runs_the_update_flow_on_one_terminal() {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let app = TestApp::spawn(&rest, settings(&rest, &photos)).await;
    let t = terminal(Faults {
        fdmodify_unsupported: true,
        ..Faults::default()
    })
    .await;
    t.add_person(build_person(&"77".parse().unwrap(), "X"));
    let url = photos.put("77.jpg", jpeg(4));

    let (status, body) = app
        .post(
            "/api/test-isapi/update-face-image",
            json!({"device": {"ip": "127.0.0.1", "port": t.addr().port(), "username": "admin", "password": PASSWORD},
                   "employee_no": "77", "face_url": url}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["per_device"][0]["method"], "FaceDataRecord");
    assert_eq!(body["per_device"][0]["fallback"], true);
    assert_eq!(t.face("77").unwrap().bytes, jpeg(4));
    assert!(
        !body.to_string().contains(PASSWORD),
        "the password is never echoed"
    );

    let (status, body) = app
        .post(
            "/api/test-isapi/update-face-image",
            json!({"employee_no": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("device"));
}

#[tokio::test]
async fn health_is_open_and_ready_checks_supabase() {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let app = TestApp::spawn(&rest, settings(&rest, &photos)).await;
    for (path, status) in [("/health", 200), ("/ready", 200), ("/nope", 404)] {
        let r = app
            .http
            .get(app.base.join(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert!(
            r.headers().contains_key("x-request-id"),
            "{path} has a request id"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["status"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_contract() {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let app = TestApp::spawn(&rest, settings(&rest, &photos)).await;
    let doc: serde_json::Value = app
        .http
        .get(app.base.join("/api/openapi.json").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/hikvision/update-angajat-photo",
        "/api/hikvision/sync-angajat-photo-only",
        "/api/hikvision/sync-angajat",
        "/api/test-isapi/update-face-image",
    ] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} missing");
    }
    let per_device = &doc["components"]["schemas"]["PerDevice"]["properties"];
    for field in ["device_id", "device_ip", "status", "message", "step"] {
        assert!(per_device[field].is_object(), "PerDevice.{field} missing");
    }
    let summary = &doc["components"]["schemas"]["Summary"]["properties"];
    for field in ["success", "partial", "skipped", "fatal"] {
        assert!(summary[field].is_object(), "Summary.{field} missing");
    }
}
