//! End dates on the terminal: every person write carries the employee's validity window in the
//! terminals' local time, a changed date reaches a terminal that was away by `UserInfo/Modify`,
//! and a terminal that never receives a removal refuses the face after the end date by itself.

use std::time::Duration;

use crate::support::database::fresh_database;
use crate::support::*;
use chrono::{DateTime, Offset, TimeZone, Utc};
use hikvision_simulator::{AccessDecision, Faults, SimulatedTerminal, TerminalConfig};
use serde_json::json;
use uuid::Uuid;

const SYNC: &str = "/api/hikvision/sync-angajat";

/// The validity settings the tests use: the columns of the test tables, terminals in Bucharest.
fn validity_settings(s: &mut hikvision_sync::config::Settings) {
    s.tables.valid_from = Some("valid_from".into());
    s.tables.valid_until = Some("valid_until".into());
    s.sync.terminal_timezone = chrono_tz::Europe::Bucharest;
}

async fn sync(app: &TestApp, id: Uuid) -> serde_json::Value {
    let (status, body) = app.post(SYNC, json!({"angajat_id": id})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `(beginTime, endTime, enable)` of the person on `t`.
fn window(t: &SimulatedTerminal, no: &str) -> Option<(String, String, bool)> {
    let valid = t.person(no)?.valid?;
    Some((valid.begin_time, valid.end_time, valid.enable))
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_person_write_carries_the_dates_of_the_real_columns_in_terminal_time() {
    let Some(store) = Store::rest().await else {
        return;
    };
    let f = Fixture::on(store, validity_settings).await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(1)).await;
    // A date begin (the whole day) and a timestamptz end (Bucharest is UTC+3 in summer).
    f.store
        .set_validity(id, Some("2026-01-15"), Some("2030-06-30T18:00:00+00:00"))
        .await;
    f.only_device("t", &t).await;

    let body = sync(&f.app, id).await;
    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    assert_eq!(
        window(&t, &no),
        Some((
            "2026-01-15T00:00:00".into(),
            "2030-06-30T21:00:00".into(),
            true
        ))
    );
    assert_eq!(
        t.person(&no).and_then(|p| p.valid?.time_type).as_deref(),
        Some("local")
    );
}

#[tokio::test]
async fn without_dates_a_person_gets_the_wide_window_as_before() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(1)).await;
    f.only_device("t", &t).await;
    sync(&f.app, id).await;
    assert_eq!(
        window(&t, &no),
        Some((
            "2020-01-01T00:00:00".into(),
            "2037-12-31T23:59:59".into(),
            true
        ))
    );
}

#[tokio::test]
async fn a_changed_end_date_reaches_a_terminal_that_was_away_by_user_info_modify() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        validity_settings(s);
        s.delivery.database_url = Some(secrecy::SecretString::from(database));
    })
    .await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let (no, id) = f.employee(jpeg(1)).await;
    f.only_device("t", &away).await;
    let body = sync(&f.app, id).await;
    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    away.shutdown().await;

    // HR sets an end date while the terminal is away: the sweep makes it a durable change.
    f.store.set_validity(id, None, Some("2031-03-31")).await;
    let status = format!("/api/hikvision/angajat/{id}/status");
    let mut pending = false;
    for _ in 0..100 {
        let (_, body) = f.app.get(&status).await;
        if body["devices"][0]["state"] == "pending" {
            pending = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        pending,
        "the sweep scheduled the change while the terminal was away"
    );

    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(1)));
    let end = || window(&back, &no).map(|(_, end, _)| end);
    assert!(
        wait_until(Duration::from_secs(15), async || end().as_deref()
            == Some("2031-03-31T23:59:59"))
        .await,
        "the new end date arrived: {:?}",
        end()
    );
    let modified = back
        .request_log()
        .iter()
        .any(|e| e.path == "/ISAPI/AccessControl/UserInfo/Modify" && e.status == Some(200));
    assert!(modified, "{:?}", back.request_log());
    // A person edit: the face was not sent again.
    assert_eq!(back.face(&no).map(|f| f.updates), Some(1));
}

#[tokio::test]
async fn a_terminal_that_never_gets_the_removal_refuses_the_face_after_the_end_date() {
    let f = Fixture::on(Store::memory(), validity_settings).await;
    // The terminal's clock shows Bucharest time now, like TERMINAL_TIMEZONE's.
    let offset = chrono_tz::Europe::Bucharest
        .offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc();
    let config = TerminalConfig {
        password: PASSWORD.into(),
        utc_offset_secs: offset,
        ..TerminalConfig::default()
    };
    let t = hikvision_simulator::spawn(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let (no, id) = f.employee(jpeg(1)).await;
    // Ends in a few seconds (a timestamptz), with room for a slow enrolment before.
    let end = Utc::now() + chrono::Duration::seconds(5);
    let end_text = end.to_rfc3339();
    f.store.set_validity(id, None, Some(&end_text)).await;
    f.only_device("t", &t).await;
    let body = sync(&f.app, id).await;
    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    assert_eq!(
        t.face_access(&no, Utc::now()).decision,
        AccessDecision::Granted
    );

    // The terminal is cut off from the service: no removal can reach it.
    t.set_faults(Faults {
        reset: true,
        ..Faults::default()
    });
    // A face presented a second after the end (the terminal's clock is an argument: no waiting
    // for the end to come).
    let answer = t.face_access(&no, end + chrono::Duration::seconds(1));
    assert_eq!(answer.decision, AccessDecision::Expired, "{answer:?}");
    assert!(!answer.granted);
    assert!(t.person(&no).is_some(), "never removed, still refused");
    assert!(
        !t.request_log()
            .iter()
            .any(|e| e.path.contains("Delete") && e.status == Some(200))
    );
    // The window is read in the terminal's local time: a second before the end still opens.
    let before = end - chrono::Duration::seconds(1);
    assert!(t.face_access(&no, before).granted);
}

#[tokio::test]
async fn an_end_date_closes_the_door_after_its_last_local_second() {
    let f = Fixture::on(Store::memory(), validity_settings).await;
    // Bucharest in summer: UTC+3.
    let config = TerminalConfig {
        password: PASSWORD.into(),
        utc_offset_secs: 3 * 3600,
        ..TerminalConfig::default()
    };
    let t = hikvision_simulator::spawn(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let (no, id) = f.employee(jpeg(1)).await;
    f.store
        .set_validity(id, Some("2030-06-01"), Some("2030-06-30"))
        .await;
    f.only_device("t", &t).await;
    sync(&f.app, id).await;
    let at = |text: &str| t.face_access(&no, utc(text)).decision;
    assert_eq!(at("2030-05-31T20:59:59Z"), AccessDecision::NotYetValid);
    assert_eq!(at("2030-05-31T21:00:00Z"), AccessDecision::Granted);
    // 20:59:59 UTC is 23:59:59 in Bucharest: the last second of June 30th there.
    assert_eq!(at("2030-06-30T20:59:59Z"), AccessDecision::Granted);
    assert_eq!(at("2030-06-30T21:00:00Z"), AccessDecision::Expired);
}

#[tokio::test]
async fn the_webhook_sends_a_changed_date_only_where_the_person_is() {
    let f = Fixture::on(Store::memory(), |s| {
        validity_settings(s);
        s.delivery.webhook_secret = Some(secrecy::SecretString::from("hook-secret"));
    })
    .await;
    let (holds, never) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let (no, id) = f.employee(jpeg(1)).await;
    f.only_device("a", &holds).await;
    sync(&f.app, id).await;
    // A terminal added since, that was never given the person.
    f.store
        .set_devices(vec![
            device_row("a", &holds, PASSWORD),
            device_row("b", &never, PASSWORD),
        ])
        .await;

    f.store.set_validity(id, None, Some("2031-03-31")).await;
    let event = json!({"type": "UPDATE", "table": "angajati", "schema": "public",
        "record": {"id": id, "nume": "Popescu", "valid_until": "2031-03-31"},
        "old_record": {"id": id, "nume": "Popescu", "valid_until": null}});
    let response = f
        .app
        .http
        .post(f.app.base.join("/api/hikvision/webhooks/supabase").unwrap())
        .header("x-webhook-secret", "hook-secret")
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let end = || window(&holds, &no).map(|(_, end, _)| end);
    assert!(
        wait_until(Duration::from_secs(10), async || end().as_deref()
            == Some("2031-03-31T23:59:59"))
        .await,
        "{:?}",
        end()
    );
    // A date change never enrols anyone: the other terminal was not called at all.
    assert!(never.person(&no).is_none());
    assert!(never.request_log().is_empty(), "{:?}", never.request_log());
}

/// The first device's line of the employee's status, once `state` (within 15 s).
async fn pair_reaches(f: &Fixture, id: Uuid, state: &str) -> serde_json::Value {
    let path = format!("/api/hikvision/angajat/{id}/status");
    for _ in 0..150 {
        let (_, body) = f.app.get(&path).await;
        if body["devices"][0]["state"] == state {
            return body["devices"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pair did not become {state}");
}

#[tokio::test]
async fn firmware_without_user_info_modify_gets_the_window_by_set_up() {
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        validity_settings(s);
    })
    .await;
    let t = terminal(Faults {
        user_modify_unsupported: true,
        ..Faults::default()
    })
    .await;
    let (no, id) = f.employee(jpeg(1)).await;
    f.only_device("t", &t).await;
    sync(&f.app, id).await;

    f.store.set_validity(id, None, Some("2031-03-31")).await;
    let end = || window(&t, &no).map(|(_, end, _)| end);
    assert!(
        wait_until(Duration::from_secs(10), async || end().as_deref()
            == Some("2031-03-31T23:59:59"))
        .await,
        "{:?}",
        end()
    );
    let calls = t.request_log();
    let answered = |path: &str, status: u16| {
        calls
            .iter()
            .any(|e| e.path == path && e.status == Some(status))
    };
    assert!(
        answered("/ISAPI/AccessControl/UserInfo/Modify", 404),
        "{calls:?}"
    );
    assert!(
        answered("/ISAPI/AccessControl/UserInfo/SetUp", 200),
        "{calls:?}"
    );
    let line = pair_reaches(&f, id, "in_sync").await;
    assert!(
        line["message"]
            .as_str()
            .unwrap_or_default()
            .contains("SetUp"),
        "{line}"
    );
}

#[tokio::test]
async fn a_date_change_never_enrols_a_person_the_terminal_lost() {
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        validity_settings(s);
    })
    .await;
    let t = terminal(Faults::default()).await;
    let addr = t.addr();
    let (no, id) = f.employee(jpeg(1)).await;
    f.only_device("t", &t).await;
    sync(&f.app, id).await;
    // The terminal is reset: it comes back empty.
    t.shutdown().await;
    let reset = terminal_at(addr, Faults::default()).await;

    f.store.set_validity(id, None, Some("2031-03-31")).await;
    let line = pair_reaches(&f, id, "failed").await;
    let message = line["message"].as_str().unwrap_or_default();
    assert!(message.contains("UserInfo/Modify"), "{line}");
    assert!(message.contains("not enrolled"), "{line}");
    assert!(reset.person(&no).is_none(), "a date change enrolled nobody");
}

#[tokio::test]
async fn reconcile_reports_a_window_the_terminal_never_got() {
    let f = Fixture::on(Store::memory(), validity_settings).await;
    let t = terminal(Faults::default()).await;
    f.only_device("t", &t).await;
    let (dated, undated) = (unique_employee_no(), unique_employee_no());
    let mut ids = Vec::new();
    for no in [&dated, &undated] {
        // Enrolled earlier with the wide window, face and all.
        enrol(&t, no, Some(jpeg(1)));
        let url = f.photos.put(&format!("faces/{no}.jpg"), jpeg(1));
        ids.push(f.store.insert_angajat(Some(no), Some(&url)).await);
    }
    f.store.set_validity(ids[0], None, Some("2031-03-31")).await;

    let (status, body) = f
        .app
        .post_raw("/api/hikvision/devices/device-0000/reconcile", "")
        .await;
    assert_eq!(status, 202, "{body}");
    let path = format!(
        "/api/hikvision/devices/device-0000/reconcile/{}",
        body["reconcile_id"].as_str().unwrap()
    );
    let done = reconcile_finished(|| async {
        let (status, body) = f.app.get(&path).await;
        (status.as_u16(), body)
    })
    .await;
    assert_eq!(done["report"]["in_sync"], 2, "{done}");
    assert_eq!(
        done["report"]["validity_differs"],
        json!([{
            "employee_no": dated,
            "expected": {"begin": "2020-01-01T00:00:00", "end": "2031-03-31T23:59:59"},
            "on_terminal": {"begin": "2020-01-01T00:00:00", "end": "2037-12-31T23:59:59"}
        }]),
        "{done}"
    );
}

#[tokio::test]
async fn a_passed_end_date_revokes_the_employee_and_the_removal_reaches_a_terminal_that_was_away() {
    let f = Fixture::on(Store::memory(), |s| {
        validity_settings(s);
        // The simulated terminals' clocks show UTC.
        s.sync.terminal_timezone = chrono_tz::UTC;
        fast_retries(s);
    })
    .await;
    let (here, away) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let (no, id) = f.employee(jpeg(1)).await;
    let end = Utc::now() + chrono::Duration::seconds(4);
    f.store
        .set_validity(id, None, Some(&end.to_rfc3339()))
        .await;
    f.store
        .set_devices(vec![
            device_row("a here", &here, PASSWORD),
            device_row("b away", &away, PASSWORD),
        ])
        .await;
    let body = sync(&f.app, id).await;
    assert_eq!(body["summary"]["success"], 2, "{body}");

    // One terminal is cut off before the end date.
    away.set_faults(Faults {
        reset: true,
        ..Faults::default()
    });
    // A kept sleep: the service reads the wall clock, and the end date must really pass.
    tokio::time::sleep((end - Utc::now()).to_std().unwrap_or_default()).await;
    assert!(
        wait_until(Duration::from_secs(10), async || here.person(&no).is_none()).await,
        "the sweep revokes the employee once the end date passed"
    );
    assert!(
        !away.face_access(&no, Utc::now()).granted,
        "the terminal that is away refuses by its own Valid.endTime"
    );
    let (_, status) = f
        .app
        .get(&format!("/api/hikvision/angajat/{id}/status"))
        .await;
    let by = status["revocations"][0]["revoked_by"]
        .as_str()
        .unwrap_or("");
    assert!(by.contains("end date"), "{status}");

    // It returns: the removal arrives; an update does not bring the person back.
    away.set_faults(Faults::default());
    assert!(
        wait_until(Duration::from_secs(10), async || away.person(&no).is_none()).await,
        "the removal reaches it when it returns"
    );
    let body = update(&f.app, id).await;
    assert_eq!(body["per_device"][0]["error_code"], "revoked", "{body}");
    assert!(here.person(&no).is_none() && away.person(&no).is_none());
}
