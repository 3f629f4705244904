//! Bulk resync and reconcile on simulated terminals, over HTTP, with the in-memory store: a fresh
//! terminal receives every employee once; the capacity guard; a new terminal from the webhook is
//! resynced by itself; reconcile finds a hand-enrolled person, a missing face and a missing
//! person across several pages, and its fix does exactly what it names.

use std::time::Duration;

use crate::support::*;
use axum::http::StatusCode;
use hikvision_simulator::{self as simulator, Faults, SimulatedTerminal, TerminalConfig};
use secrecy::SecretString;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn fixture() -> Fixture {
    Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.sync.rate_limit_delay = Duration::ZERO;
        s.delivery.webhook_secret = Some(SecretString::from("hook-secret"));
    })
    .await
}

async fn terminal_with_capacity(face_capacity: usize) -> SimulatedTerminal {
    let config = TerminalConfig {
        password: PASSWORD.into(),
        face_capacity,
        ..TerminalConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// `n` employees with a number and a photo; their numbers.
async fn staff(f: &Fixture, n: usize) -> Vec<String> {
    let mut numbers = Vec::with_capacity(n);
    for i in 0..n {
        let no = unique_employee_no();
        let url = f
            .photos
            .put(&format!("faces/{no}.jpg"), jpeg((i % 250) as u8));
        f.store.insert_angajat(Some(&no), Some(&url)).await;
        numbers.push(no);
    }
    numbers
}

async fn pending(f: &Fixture) -> u64 {
    let (_, body) = f.app.get("/api/hikvision/devices/status").await;
    body["devices"][0]["pending"].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test]
async fn a_fresh_terminal_receives_all_200_employees_once_by_resync() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    f.only_device("new door", &t).await;
    let numbers = staff(&f, 200).await;

    let path = "/api/hikvision/devices/device-0000/resync";
    let (status, body) = f.app.post_raw(path, "").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["device_id"], "device-0000");
    assert_eq!(body["scheduled"], 200, "{body}");
    assert_eq!(body["capacity"], 3000, "{body}");
    assert_eq!(body["on_terminal"], 0, "{body}");
    // Asked again while it runs: nothing is added twice.
    let (status, again) = f.app.post(path, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["scheduled"], 200);
    assert!(again["added"].as_u64().unwrap() < 200, "{again}");

    let all = wait_until(WAIT, async || {
        numbers
            .iter()
            .all(|no| t.person(no).is_some() && t.face(no).is_some())
    })
    .await;
    let held = numbers.iter().filter(|no| t.face(no).is_some()).count();
    assert!(all, "every employee enrolled with a face ({held} of 200)");
    let mut left = u64::MAX;
    for _ in 0..100 {
        left = pending(&f).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "pending falls to 0");
    for no in &numbers {
        assert_eq!(t.face(no).unwrap().updates, 1, "{no}: one face write");
    }
    assert_eq!(t.persons().len(), 200);
}

#[tokio::test]
async fn a_resync_beyond_the_face_capacity_is_refused_and_schedules_nothing() {
    let f = fixture().await;
    let t = terminal_with_capacity(10).await;
    enrol(&t, "hand-1", Some(jpeg(1)));
    f.only_device("small", &t).await;
    let numbers = staff(&f, 12).await;
    let (status, body) = f
        .app
        .post("/api/hikvision/devices/device-0000/resync", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], "capacity_exceeded");
    assert_eq!(body["capacity"], 10);
    assert_eq!(body["on_terminal"], 1);
    assert_eq!(body["to_add"], 12);
    // A kept sleep: nothing may be scheduled afterwards either (no event for "nothing").
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pending(&f).await, 0, "nothing scheduled");
    assert!(numbers.iter().all(|no| t.person(no).is_none()));

    let (status, body) = f
        .app
        .post("/api/hikvision/devices/no-such-device/resync", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "device_not_found");
}

#[tokio::test]
async fn a_terminal_activated_through_the_webhook_is_resynced_by_itself() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    f.only_device("added", &t).await;
    let numbers = staff(&f, 5).await;
    let response = f
        .app
        .http
        .post(f.app.base.join("/api/hikvision/webhooks/supabase").unwrap())
        .header("x-webhook-secret", "hook-secret")
        .json(
            &json!({"type": "INSERT", "table": "hikvision_devices", "schema": "public",
            "record": {"id": "device-0000", "is_active": true}, "old_record": null}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(
        wait_until(WAIT, async || numbers.iter().all(|no| t.face(no).is_some())).await,
        "every employee reached the new terminal"
    );
}

async fn reconcile_done(f: &Fixture, id: &str) -> Value {
    let path = format!("/api/hikvision/devices/device-0000/reconcile/{id}");
    reconcile_finished(|| async {
        let (status, body) = f.app.get(&path).await;
        (status.as_u16(), body)
    })
    .await
}

#[tokio::test]
async fn reconcile_finds_what_differs_over_several_pages_and_the_fix_does_exactly_that() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    f.only_device("door", &t).await;
    let numbers = staff(&f, 42).await;
    // 40 enrolled with their face, one without a face, one not at all; two persons nobody knows.
    for (i, no) in numbers.iter().enumerate().take(41) {
        enrol(&t, no, (i < 40).then(|| jpeg(7)));
    }
    let (no_face, absent) = (numbers[40].clone(), numbers[41].clone());
    enrol(&t, "hand-enrolled", Some(jpeg(8)));
    enrol(&t, "left-in-2019", None);
    t.clear_request_log();

    let (status, body) = f
        .app
        .post_raw("/api/hikvision/devices/device-0000/reconcile", "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["reconcile_id"].as_str().unwrap().to_string();
    let done = reconcile_done(&f, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    let report = &done["report"];
    assert_eq!(report["in_sync"], 40, "{done}");
    assert_eq!(report["face_missing"], json!([no_face]));
    assert_eq!(report["missing_on_terminal"], json!([absent]));
    let unknown: Vec<&str> = report["unknown_on_terminal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["employee_no"].as_str().unwrap())
        .collect();
    assert_eq!(unknown, ["hand-enrolled", "left-in-2019"]);
    assert_eq!(report["unknown_on_terminal"][0]["name"], "Ion Popescu");
    assert_eq!(
        done["progress"]["read"], done["progress"]["total"],
        "{done}"
    );
    // 43 persons: two pages of UserInfo/Search with one searchID, at most 30 a page.
    let searches: Vec<_> = t
        .search_log()
        .into_iter()
        .filter(|s| s.path.contains("UserInfo/Search"))
        .collect();
    assert!(searches.len() >= 2, "{searches:?}");
    assert!(searches.iter().all(|s| s.max_results <= 30));
    assert!(
        searches
            .iter()
            .all(|s| s.search_id.is_some() && s.search_id == searches[0].search_id),
        "one searchID across the pages"
    );
    assert!(
        t.request_log().iter().all(|r| !r.path.contains("Delete")
            && !r.path.contains("Record")
            && !r.path.contains("SetUp")),
        "reconcile changes nothing"
    );

    // A name that is not in the report: 422, nothing deleted.
    let fix = format!("/api/hikvision/devices/device-0000/reconcile/{id}/fix");
    let (status, body) = f
        .app
        .post(
            &fix,
            json!({"schedule_missing": true, "remove": ["hand-enrolled", numbers[0]]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "not_in_report");
    // A kept sleep: nothing may be removed or scheduled afterwards either.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(t.person("hand-enrolled").is_some() && t.person(&numbers[0]).is_some());
    assert!(t.face(&no_face).is_none(), "nothing scheduled either");

    // The data changed since the report: "left-in-2019" is an employee's number now.
    f.store.insert_angajat(Some("left-in-2019"), None).await;
    let (status, body) = f.app.post(&fix, json!({"remove": ["left-in-2019"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "not_in_report");
    assert!(
        body["message"].as_str().unwrap().contains("now belong"),
        "{body}"
    );

    let (status, body) = f
        .app
        .post(
            &fix,
            json!({"schedule_missing": true, "remove": ["hand-enrolled"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["removing"], json!(["hand-enrolled"]));
    assert!(
        wait_until(WAIT, async || t.person("hand-enrolled").is_none()
            && t.face(&no_face).is_some()
            && t.face(&absent).is_some())
        .await,
        "the named person left, the missing face and person arrived"
    );
    assert!(
        t.person("left-in-2019").is_some(),
        "an unknown person not named stays"
    );
    assert_eq!(t.persons().len(), 43);
    assert!(t.person("left-in-2019").is_some());
    assert_eq!(t.mass_deletions(), 0);
    assert_eq!(t.mass_face_deletions(), 0);

    let (status, body) = f
        .app
        .get(&format!(
            "/api/hikvision/devices/device-0000/reconcile/{}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_fix_from_a_stale_report_is_refused() {
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.delivery.reconcile_report_ttl = Duration::from_secs(1);
    })
    .await;
    let t = terminal(Faults::default()).await;
    f.only_device("door", &t).await;
    enrol(&t, "hand-enrolled", None);
    let (_, body) = f
        .app
        .post_raw("/api/hikvision/devices/device-0000/reconcile", "")
        .await;
    let id = body["reconcile_id"].as_str().unwrap().to_string();
    assert_eq!(reconcile_done(&f, &id).await["state"], "done");
    // A kept sleep: the report's 1 s lifetime must pass (the service reads the wall clock).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let fix = format!("/api/hikvision/devices/device-0000/reconcile/{id}/fix");
    let (status, body) = f.app.post(&fix, json!({"remove": ["hand-enrolled"]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "report_expired", "{body}");
    // A kept sleep: nothing may be removed afterwards either.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(t.person("hand-enrolled").is_some(), "nothing removed");
}

#[tokio::test]
async fn a_resync_enrols_with_one_call_each_and_falls_back_on_firmware_without_set_up() {
    let f = fixture().await;
    let modern = terminal(Faults::default()).await;
    let old = terminal(Faults {
        setup_unsupported: true,
        ..Faults::default()
    })
    .await;
    f.store
        .set_devices(vec![
            device_row("modern", &modern, PASSWORD),
            device_row("old firmware", &old, PASSWORD),
        ])
        .await;
    let numbers = staff(&f, 3).await;
    // Already on the modern terminal under an old name and with an old face: add-or-edit fixes both.
    modern.add_person(hikvision_isapi::build_person(
        &numbers[0].parse().unwrap(),
        "Name Before Marriage",
    ));
    modern.set_face(numbers[0].clone(), jpeg(200));
    modern.clear_request_log();

    for device in ["device-0000", "device-0001"] {
        let path = format!("/api/hikvision/devices/{device}/resync");
        let (status, body) = f.app.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    let on_both = |no: &String| {
        [&modern, &old].iter().all(|t| t.person(no).is_some())
            && modern
                .face(no)
                .is_some_and(|face| face.bytes == jpeg(0) || no != &numbers[0])
            && old.face(no).is_some()
    };
    assert!(
        wait_until(WAIT, async || numbers.iter().all(on_both)).await,
        "every employee on both terminals, the old face replaced"
    );
    let name = modern.person(&numbers[0]).unwrap().name;
    assert_ne!(
        name, "Name Before Marriage",
        "UserInfo/SetUp edits the name too"
    );

    // The modern terminal: one person call and one face call per employee, then the read-back.
    let calls = |t: &SimulatedTerminal| -> Vec<String> {
        t.request_log()
            .into_iter()
            .filter(|r| r.status != Some(401))
            .map(|r| format!("{} {}", r.method, r.path.trim_start_matches("/ISAPI/")))
            .collect()
    };
    let modern_calls = calls(&modern);
    for call in [
        "PUT AccessControl/UserInfo/SetUp",
        "PUT Intelligent/FDLib/FDSetUp",
        "POST Intelligent/FDLib/FDSearch",
    ] {
        let n = modern_calls.iter().filter(|c| *c == call).count();
        assert_eq!(n, 3, "{call} once per employee: {modern_calls:?}");
    }
    assert!(
        !modern_calls
            .iter()
            .any(|c| c.contains("Record") || c.contains("FDModify")),
        "{modern_calls:?}"
    );
    // Old firmware: refused SetUp, so UserInfo/Record and the update chain.
    let old_calls = calls(&old);
    assert!(
        old_calls
            .iter()
            .any(|c| c == "POST AccessControl/UserInfo/Record"),
        "{old_calls:?}"
    );
    assert!(
        old_calls
            .iter()
            .any(|c| c == "POST Intelligent/FDLib/FaceDataRecord"),
        "{old_calls:?}"
    );
    let mut left = u64::MAX;
    for _ in 0..100 {
        let (_, body) = f.app.get("/api/hikvision/devices/status").await;
        left = body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["pending"].as_u64().unwrap() + d["failed"].as_u64().unwrap())
            .sum();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "nothing pending or failed on either terminal");
}

#[tokio::test]
async fn a_resync_onto_a_terminal_that_is_away_tries_one_employee_and_catches_up_when_it_is_back() {
    // The sweep as in production (not every second), so only the jobs' own behaviour shows.
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.sync.rate_limit_delay = Duration::ZERO;
        s.delivery.sweep_interval = Duration::from_secs(600);
    })
    .await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    f.only_device("away", &away).await;
    let mut ids = Vec::new();
    for i in 0..20u8 {
        let no = unique_employee_no();
        let url = f.photos.put(&format!("faces/{no}.jpg"), jpeg(100 + i));
        ids.push((
            no.clone(),
            f.store.insert_angajat(Some(&no), Some(&url)).await,
        ));
    }
    away.shutdown().await;

    // The capacity cannot be read: scheduled anyway, and said so.
    let (status, body) = f
        .app
        .post("/api/hikvision/devices/device-0000/resync", json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["capacity_note"].is_string(), "{body}");
    // A refused connection (retried within the attempt for about a second): the job stops at the
    // first employee instead of failing all 20 in a row (with a terminal that times out, each
    // would cost DEVICE_TIMEOUT_MS), and only that one is retried until the terminal answers.
    // Counted once one employee was tried twice: the job has stopped and come back by then.
    let attempts = async || {
        let mut attempts = Vec::new();
        for (_, id) in &ids {
            let (_, status) = f
                .app
                .get(&format!("/api/hikvision/angajat/{id}/status"))
                .await;
            attempts.push(status["devices"][0]["attempts"].as_u64().unwrap_or(0));
        }
        attempts
    };
    assert!(
        wait_until(WAIT, async || attempts().await.iter().any(|&n| n >= 2)).await,
        "an employee is retried"
    );
    let attempted = attempts().await.iter().filter(|&&n| n > 0).count();
    assert_eq!(
        attempted, 1,
        "employees attempted while the terminal was away"
    );

    let back = terminal_at(addr, Faults::default()).await;
    assert!(
        wait_until(WAIT, async || {
            ids.iter()
                .all(|(no, _)| back.person(no).is_some() && back.face(no).is_some())
        })
        .await,
        "every employee reached the terminal once it was back"
    );
}
