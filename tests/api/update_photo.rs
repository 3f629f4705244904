//! update-angajat-photo end to end: the service on a random port, the PostgREST-compatible server on
//! PostgreSQL, simulated terminals with real Digest auth, all over real HTTP.

use std::time::{Duration, Instant};

use crate::support::*;
use axum::http::StatusCode;
use hikvision_simulator::Faults;
use serde_json::{Value, json};

const ENDPOINT: &str = UPDATE_ENDPOINT;

#[tokio::test]
async fn put_succeeds_and_the_terminal_holds_the_new_picture() {
    let f = Fixture::memory().await;
    let (t, no, id) = one_enrolled(&f, "Door A").await;

    let body = update(&f.app, id).await;

    assert_eq!(
        body["summary"],
        json!({"success": 1, "partial": 0, "skipped": 0, "fatal": 0})
    );
    let d = &body["per_device"][0];
    assert_eq!(d["status"], "success");
    assert_eq!(d["method"], "FDModify");
    assert_eq!(d["fallback"], false);
    assert_eq!(d["step"], "photo");
    assert_eq!(d["message"], "Face image updated successfully");
    assert_eq!(d["device_ip"], t.addr().ip().to_string());
    assert!(d["device_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(t.face(&no).expect("face stored").bytes, jpeg(2));
}

#[tokio::test]
async fn falls_back_to_post_when_fdmodify_is_not_supported() {
    let f = Fixture::memory().await;
    let t = terminal(Faults {
        fdmodify_unsupported: true,
        ..Faults::default()
    })
    .await;
    let (no, id) = f.employee(jpeg(3)).await;
    enrol(&t, &no, None);
    f.only_device("Old firmware", &t).await;

    let body = update(&f.app, id).await;

    let d = &body["per_device"][0];
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["method"], "FaceDataRecord");
    assert_eq!(d["fallback"], true);
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("FDModify failed") && message.contains("notSupport"),
        "{message}"
    );
    assert_eq!(t.face(&no).expect("face stored").bytes, jpeg(3));
}

#[tokio::test]
async fn old_firmware_with_an_existing_face_replaces_it_with_fdsetup() {
    let f = Fixture::memory().await;
    let t = terminal(Faults {
        fdmodify_unsupported: true,
        ..Faults::default()
    })
    .await;
    let (no, id) = f.employee(jpeg(5)).await;
    enrol(&t, &no, Some(jpeg(4)));
    f.only_device("Old firmware", &t).await;

    let body = update(&f.app, id).await;

    let d = &body["per_device"][0];
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["method"], "FDSetUp");
    assert_eq!(d["fallback"], true);
    assert_eq!(t.face(&no).expect("face stored").bytes, jpeg(5));
}

#[tokio::test]
async fn both_fail_for_a_person_the_terminal_does_not_know_and_nobody_is_invented() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(6)).await;
    f.only_device("Door A", &t).await;

    let body = update(&f.app, id).await;

    assert_eq!(
        body["summary"],
        json!({"success": 0, "partial": 1, "skipped": 0, "fatal": 0})
    );
    let d = &body["per_device"][0];
    assert_eq!(d["status"], "partial");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("FDModify failed") && message.contains("FaceDataRecord failed"),
        "{message}"
    );
    assert!(
        message.contains("/api/hikvision/sync-angajat")
            && message.contains("create_missing_person"),
        "{message}"
    );
    assert!(
        t.persons().iter().all(|p| p.employee_no != no),
        "no person may be created"
    );
    assert!(t.face(&no).is_none());
}

#[tokio::test]
async fn create_missing_person_enrols_first_when_asked() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(7)).await;
    f.only_device("Door A", &t).await;

    let (status, body) = f
        .app
        .post(
            ENDPOINT,
            json!({"angajat_id": id, "create_missing_person": true}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    assert!(
        t.persons()
            .iter()
            .any(|p| p.employee_no == no && p.name == "Ion Popescu")
    );
    assert_eq!(t.face(&no).expect("face stored").bytes, jpeg(7));
}

#[tokio::test]
async fn missing_employee_no_skips_every_terminal() {
    let f = Fixture::memory().await;
    let (t1, t2) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let url = f.photos.put("faces/x.jpg", jpeg(8));
    let id = f.store.insert_angajat(None, Some(&url)).await;
    f.store
        .set_devices(vec![
            device_row("A", &t1, PASSWORD),
            device_row("B", &t2, PASSWORD),
        ])
        .await;

    let body = update(&f.app, id).await;

    assert_eq!(
        body["summary"],
        json!({"success": 0, "partial": 0, "skipped": 2, "fatal": 0})
    );
    for d in body["per_device"].as_array().unwrap() {
        assert_eq!(d["status"], "skipped");
        assert!(
            d["message"].as_str().unwrap().contains("employee_no"),
            "{d}"
        );
    }
    assert!(
        t1.request_log().is_empty(),
        "a skipped terminal is not called"
    );
}

#[tokio::test]
async fn missing_photo_skips_every_terminal() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let id = f
        .store
        .insert_angajat(Some(&unique_employee_no()), None)
        .await;
    f.only_device("A", &t).await;

    let body = update(&f.app, id).await;

    assert_eq!(body["summary"]["skipped"], 1);
    assert!(
        body["per_device"][0]["message"]
            .as_str()
            .unwrap()
            .contains("foto_fata_url")
    );
}

#[tokio::test]
async fn several_terminals_are_aggregated_within_the_deadline() {
    let f = Fixture::memory().await;
    let good = terminal(Faults::default()).await;
    let old = terminal(Faults {
        fdmodify_unsupported: true,
        ..Faults::default()
    })
    .await;
    let locked_out = terminal(Faults::default()).await;
    let offline = terminal(Faults::default()).await;
    let offline_addr = offline.addr();
    offline.shutdown().await;
    let (no, id) = f.employee(jpeg(10)).await;
    enrol(&good, &no, Some(jpeg(9)));
    enrol(&old, &no, None);
    enrol(&locked_out, &no, Some(jpeg(9)));
    f.store
        .set_devices(vec![
            device_row("1 good", &good, PASSWORD),
            device_row("2 old firmware", &old, PASSWORD),
            device_row("3 wrong password", &locked_out, "typo"),
            json!({"name": "4 offline", "ip": offline_addr.ip().to_string(), "port": offline_addr.port(),
                   "username": "admin", "password": PASSWORD, "is_active": true}),
            json!({"name": "5 inactive", "ip": "127.0.0.1", "port": 9, "password": "x", "is_active": false}),
        ])
        .await;

    let started = Instant::now();
    let body = update(&f.app, id).await;
    let took = started.elapsed();

    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(
        body["summary"],
        json!({"success": 2, "partial": 2, "skipped": 0, "fatal": 0})
    );
    let names = device_names(&body);
    assert_eq!(
        names,
        ["1 good", "2 old firmware", "3 wrong password", "4 offline"]
    );
    let d = by_name(&body);
    assert_eq!(d["1 good"]["method"], "FDModify");
    assert_eq!(d["2 old firmware"]["method"], "FaceDataRecord");
    let wrong = d["3 wrong password"]["message"].as_str().unwrap();
    assert!(
        wrong.contains("Wrong username or password") && wrong.contains("4 attempts left"),
        "{wrong}"
    );
    assert_eq!(d["3 wrong password"]["error_code"], "wrong_credentials");
    assert_eq!(
        locked_out.failed_logins(),
        1,
        "one failed login per update, no POST retry"
    );
    let off = d["4 offline"]["message"].as_str().unwrap();
    assert!(off.contains("Cannot reach the terminal"), "{off}");
    assert_eq!(good.face(&no).unwrap().bytes, jpeg(10));
    assert_eq!(old.face(&no).unwrap().bytes, jpeg(10));
}

#[tokio::test]
async fn a_hanging_terminal_is_reported_and_the_others_are_unaffected() {
    let f = Fixture::on(Store::memory(), |s| {
        s.sync.device_timeout = Duration::from_millis(700);
    })
    .await;
    let good = terminal(Faults::default()).await;
    let hung = terminal(Faults {
        hang: true,
        ..Faults::default()
    })
    .await;
    let (no, id) = f.employee(jpeg(12)).await;
    enrol(&good, &no, Some(jpeg(11)));
    f.store
        .set_devices(vec![
            device_row("good", &good, PASSWORD),
            device_row("hung", &hung, PASSWORD),
        ])
        .await;

    let started = Instant::now();
    let body = update(&f.app, id).await;
    let took = started.elapsed();

    // A reply timeout is not retried (the terminal is hung) and an unanswered PUT gets no fallback.
    assert!(took < Duration::from_millis(700 + 800), "took {took:?}");
    assert_eq!(hung.request_log().len(), 1, "the PUT only");
    let d = by_name(&body);
    assert_eq!(d["good"]["status"], "success");
    assert_eq!(d["hung"]["status"], "partial");
    assert_eq!(d["hung"]["error_code"], "timeout");
    assert!(
        d["hung"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer within 700 ms")
    );
}

#[tokio::test]
async fn the_request_deadline_bounds_the_whole_request() {
    let f = Fixture::on(Store::memory(), |s| {
        s.sync.device_timeout = Duration::from_millis(5_000);
        s.sync.request_deadline = Duration::from_millis(600);
    })
    .await;
    let hung = terminal(Faults {
        hang: true,
        ..Faults::default()
    })
    .await;
    let (_, id) = f.employee(jpeg(13)).await;
    f.only_device("hung", &hung).await;

    let started = Instant::now();
    let body = update(&f.app, id).await;

    assert!(
        started.elapsed() < Duration::from_millis(600 + 1_000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        body["per_device"][0]["error_code"], "deadline_exceeded",
        "{body}"
    );
    assert_eq!(body["summary"]["partial"], 1);
}

#[tokio::test]
async fn a_relative_photo_path_is_resolved_to_the_storage_url() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let no = unique_employee_no();
    enrol(&t, &no, Some(jpeg(14)));
    f.photos.put(
        &format!("storage/v1/object/public/photos/angajati/{no}.jpg"),
        jpeg(15),
    );
    let id = f
        .store
        .insert_angajat(Some(&no), Some(&format!("angajati/{no}.jpg")))
        .await;
    f.only_device("A", &t).await;

    let body = update(&f.app, id).await;

    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    let face = t.face(&no).unwrap();
    assert_eq!(face.bytes, jpeg(15));
    let expected = f
        .photos
        .base
        .join(&format!(
            "storage/v1/object/public/photos/angajati/{no}.jpg"
        ))
        .unwrap();
    assert!(face.source.contains(expected.as_str()), "{}", face.source);
}

#[tokio::test]
async fn unknown_angajat_is_404() {
    let f = Fixture::memory().await;
    let (status, body) = f
        .app
        .post(ENDPOINT, json!({"angajat_id": uuid::Uuid::new_v4()}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], "angajat_not_found");
}

#[tokio::test]
async fn bad_bodies_get_structured_errors() {
    let f = Fixture::memory().await;
    for (body, status, code) in [
        (
            r#"{"angajat_id": "not-a-uuid"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_uuid",
        ),
        (
            r#"{"angajat_id": 42}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_uuid",
        ),
        (r#"{}"#, StatusCode::UNPROCESSABLE_ENTITY, "missing_field"),
        (
            r#"{"angajat_id": "#,
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (r#"[1,2]"#, StatusCode::BAD_REQUEST, "invalid_json"),
        ("", StatusCode::BAD_REQUEST, "empty_body"),
    ] {
        let (got, json) = f.app.post_raw(ENDPOINT, body).await;
        assert_eq!(got, status, "{body}: {json}");
        assert_eq!(json["status"], "error");
        assert_eq!(json["code"], code, "{body}");
        assert!(json["message"].as_str().is_some_and(|m| m.len() > 10));
    }
    let huge = format!(r#"{{"angajat_id": "{}"}}"#, "x".repeat(100_000));
    let (got, json) = f.app.post_raw(ENDPOINT, &huge).await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    let response = f
        .app
        .http
        .get(f.app.base.join(ENDPOINT).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["code"], "method_not_allowed");
}

#[tokio::test]
async fn curl_style_form_content_type_is_accepted() {
    let f = Fixture::memory().await;
    let response = f
        .app
        .http
        .post(f.app.base.join(ENDPOINT).unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(r#"{{"angajat_id": "{}"}}"#, uuid::Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        404,
        "parsed as JSON, then not found"
    );
}

#[tokio::test]
async fn a_refused_password_is_not_tried_again_until_it_changes() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(19)).await;
    enrol(&t, &no, Some(jpeg(18)));
    f.store.set_devices(vec![device_row("A", &t, "typo")]).await;

    let first = update(&f.app, id).await;
    assert_eq!(first["per_device"][0]["error_code"], "wrong_credentials");
    for _ in 0..3 {
        let again = update(&f.app, id).await;
        assert_eq!(
            again["per_device"][0]["error_code"], "credentials_blocked",
            "{again}"
        );
        let message = again["per_device"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("4 attempt(s) left") && message.contains("devices table"),
            "{message}"
        );
    }
    assert_eq!(
        t.failed_logins(),
        1,
        "repeated clicks cost one failed login in all"
    );

    f.only_device("A", &t).await;
    let fixed = update(&f.app, id).await;
    assert_eq!(fixed["per_device"][0]["status"], "success", "{fixed}");
    assert_eq!(t.face(&no).unwrap().bytes, jpeg(19));
}
