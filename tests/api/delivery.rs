//! Durable delivery, decided without a database (the in-memory store, the same trait as Postgres):
//! what does not reach a terminal now reaches it later, with no further request; what waits for a
//! person is not retried; removals reach terminals that were away; the sweep and the webhook.

use std::time::Duration;

use crate::support::*;
use axum::http::StatusCode;
use hikvision_simulator::Faults;
use secrecy::SecretString;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn fixture() -> Fixture {
    Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.delivery.webhook_secret = Some(SecretString::from("hook-secret"));
    })
    .await
}

fn status_of<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["device_name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn an_offline_terminal_receives_the_face_soon_after_it_comes_back() {
    let f = fixture().await;
    let online = terminal(Faults::default()).await;
    let away = terminal(Faults::default()).await;
    let away_addr = away.addr();
    let (no, id) = f.employee(jpeg(2)).await;
    enrol(&online, &no, Some(jpeg(1)));
    f.store
        .set_devices(vec![
            device_row("a online", &online, PASSWORD),
            device_row("b away", &away, PASSWORD),
        ])
        .await;
    away.shutdown().await;

    let body = update(&f.app, id).await;
    let d = by_name(&body);
    assert_eq!(d["a online"]["status"], "success");
    assert_eq!(d["b away"]["status"], "partial");
    assert_eq!(d["b away"]["queued"], true, "{body}");
    assert!(d["b away"]["next_attempt_at"].as_str().is_some(), "{body}");
    assert!(
        d["a online"].get("queued").is_none(),
        "additive: absent when not queued"
    );
    let (_, status) = f
        .app
        .get(&format!("/api/hikvision/angajat/{id}/status"))
        .await;
    assert_eq!(status_of(&status, "b away")["state"], "pending", "{status}");
    assert_eq!(
        status_of(&status, "a online")["state"],
        "in_sync",
        "{status}"
    );

    // It comes back (still holding the person and an old face), and nobody clicks again.
    let back = terminal_at(away_addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(1)));
    let arrived = wait_until(WAIT, async || {
        back.face(&no).is_some_and(|f| f.bytes == jpeg(2))
    })
    .await;
    assert!(arrived, "the face reached the terminal that came back");
    let mut state = Value::Null;
    for _ in 0..100 {
        let (_, status) = f
            .app
            .get(&format!("/api/hikvision/angajat/{id}/status"))
            .await;
        state = status_of(&status, "b away")["state"].clone();
        if state == "in_sync" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "in_sync");
}

#[tokio::test]
async fn a_newer_photo_supersedes_a_pending_older_one() {
    let f = fixture().await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let no = unique_employee_no();
    let old_url = f.photos.put(&format!("faces/{no}-old.jpg"), jpeg(3));
    let new_url = f.photos.put(&format!("faces/{no}-new.jpg"), jpeg(4));
    let id = f.store.insert_angajat(Some(&no), Some(&old_url)).await;
    f.only_device("t", &away).await;
    away.shutdown().await;

    let first = update(&f.app, id).await;
    assert_eq!(first["per_device"][0]["queued"], true);
    f.store.set_biometrie(id, Some(&no), Some(&new_url)).await;
    let second = update(&f.app, id).await;
    assert_eq!(second["per_device"][0]["queued"], true);

    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(9)));
    assert!(
        wait_until(WAIT, async || back
            .face(&no)
            .is_some_and(|f| f.bytes == jpeg(4)))
        .await
    );
    // Give a stale retry every chance to arrive, then check it never did (a kept sleep: what does
    // not arrive shows no event).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let face = back.face(&no).unwrap();
    assert_eq!(face.bytes, jpeg(4), "the newest photo stays");
    assert!(face.source.contains("-new.jpg"), "{}", face.source);
    assert_eq!(
        face.updates, 2,
        "seeded once, then written once: never the older photo"
    );
}

#[tokio::test]
async fn a_rejected_picture_waits_for_a_new_photo_and_is_not_retried() {
    // By URL, so the terminal (not the service's picture pipeline) is the one that refuses it.
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.photo.delivery = hikvision_sync::config::PhotoTransferMode::Url;
    })
    .await;
    let t = terminal(Faults::default()).await;
    let no = unique_employee_no();
    enrol(&t, &no, Some(jpeg(5)));
    let url = f
        .photos
        .put(&format!("faces/{no}.jpg"), b"not a picture at all".to_vec());
    let id = f.store.insert_angajat(Some(&no), Some(&url)).await;
    f.only_device("t", &t).await;

    let body = update(&f.app, id).await;
    assert_eq!(body["per_device"][0]["status"], "partial");
    assert!(body["per_device"][0].get("queued").is_none(), "{body}");
    let writes = t.request_log().len();
    // A kept sleep: no retry within two sweeps (a retry that does not happen shows no event).
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        t.request_log().len(),
        writes,
        "no retry of a rejected picture"
    );
    let (_, status) = f
        .app
        .get(&format!("/api/hikvision/angajat/{id}/status"))
        .await;
    assert_eq!(status_of(&status, "t")["state"], "failed", "{status}");

    // A new photo is a new change: it goes out.
    let fixed = f.photos.put(&format!("faces/{no}-2.jpg"), jpeg(6));
    f.store.set_biometrie(id, Some(&no), Some(&fixed)).await;
    assert!(
        wait_until(WAIT, async || t
            .face(&no)
            .is_some_and(|f| f.bytes == jpeg(6)))
        .await,
        "the sweep sends the new photo"
    );
}

#[tokio::test]
async fn a_wrong_password_costs_one_failed_login_until_the_credentials_change() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    let (a, b) = (unique_employee_no(), unique_employee_no());
    enrol(&t, &a, Some(jpeg(7)));
    enrol(&t, &b, Some(jpeg(7)));
    let url_a = f.photos.put(&format!("faces/{a}.jpg"), jpeg(8));
    let url_b = f.photos.put(&format!("faces/{b}.jpg"), jpeg(10));
    let id_a = f.store.insert_angajat(Some(&a), Some(&url_a)).await;
    let id_b = f.store.insert_angajat(Some(&b), Some(&url_b)).await;
    f.store.set_devices(vec![device_row("t", &t, "typo")]).await;

    update(&f.app, id_a).await;
    update(&f.app, id_b).await;
    // A kept sleep: the background (retries, two sweeps) must not log in again meanwhile.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        t.failed_logins(),
        1,
        "one failed login in all, background included"
    );

    f.only_device("t", &t).await;
    let both = wait_until(WAIT, async || {
        t.face(&a).is_some_and(|f| f.bytes == jpeg(8))
            && t.face(&b).is_some_and(|f| f.bytes == jpeg(10))
    })
    .await;
    assert!(both, "fixed credentials resume delivery with no click");
    assert_eq!(t.failed_logins(), 1);
}

#[tokio::test]
async fn a_removal_reaches_a_terminal_that_was_away_and_names_only_that_person() {
    let f = fixture().await;
    let here = terminal(Faults::default()).await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let (no, colleague) = (unique_employee_no(), unique_employee_no());
    for t in [&here, &away] {
        enrol(t, &no, Some(jpeg(11)));
        enrol(t, &colleague, Some(jpeg(12)));
    }
    let id = f.store.insert_angajat(Some(&no), None).await;
    f.store
        .set_devices(vec![
            device_row("a here", &here, PASSWORD),
            device_row("b away", &away, PASSWORD),
        ])
        .await;
    away.shutdown().await;

    let (status, body) = f
        .app
        .post("/api/hikvision/remove-angajat", json!({"angajat_id": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = by_name(&body);
    assert_eq!(d["a here"]["status"], "success", "{body}");
    assert_eq!(d["b away"]["queued"], true, "{body}");
    assert!(here.person(&no).is_none() && here.face(&no).is_none());
    assert!(
        here.person(&colleague).is_some(),
        "only the named person goes"
    );

    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(11)));
    enrol(&back, &colleague, Some(jpeg(12)));
    assert!(
        wait_until(WAIT, async || back.person(&no).is_none()).await,
        "removed after it came back"
    );
    assert!(back.person(&colleague).is_some());
    assert_eq!(
        back.mass_deletions() + here.mass_deletions(),
        0,
        "never an empty delete list"
    );
}

#[tokio::test]
async fn the_sweep_makes_up_for_a_lost_webhook() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(14)).await;
    enrol(&t, &no, Some(jpeg(13)));
    f.only_device("t", &t).await;
    update(&f.app, id).await;

    // HR changes the photo; the webhook never arrives.
    let newer = f.photos.put(&format!("faces/{no}-b.jpg"), jpeg(15));
    f.store.set_biometrie(id, Some(&no), Some(&newer)).await;
    assert!(
        wait_until(WAIT, async || t
            .face(&no)
            .is_some_and(|f| f.bytes == jpeg(15)))
        .await
    );
}

#[tokio::test]
async fn a_deleted_employee_leaves_every_terminal_through_the_sweep() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(17)).await;
    enrol(&t, &no, Some(jpeg(16)));
    f.only_device("t", &t).await;
    update(&f.app, id).await;
    f.store.delete_angajat(id).await;
    assert!(
        wait_until(WAIT, async || t.person(&no).is_none()).await,
        "door access revoked"
    );
    assert_eq!(t.mass_deletions(), 0);
}

#[tokio::test]
async fn the_webhook_is_authenticated_and_schedules_a_changed_photo() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(19)).await;
    let url = f.photos.url(&format!("faces/{no}.jpg"));
    enrol(&t, &no, Some(jpeg(18)));
    f.only_device("t", &t).await;
    let path = "/api/hikvision/webhooks/supabase";
    let event = json!({"type": "UPDATE", "table": "biometrie", "schema": "public",
        "record": {"angajat_id": id, "employee_no": no, "foto_fata_url": url},
        "old_record": {"angajat_id": id, "employee_no": no, "foto_fata_url": "old.jpg"}});

    let post = |secret: Option<&'static str>, body: String| {
        let mut rb = f
            .app
            .http
            .post(f.app.base.join(path).unwrap())
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = secret {
            rb = rb.header("x-webhook-secret", s);
        }
        rb.send()
    };
    assert_eq!(post(None, event.to_string()).await.unwrap().status(), 401);
    assert_eq!(
        post(Some("wrong"), event.to_string())
            .await
            .unwrap()
            .status(),
        401
    );
    let bad = post(Some("hook-secret"), "{not json".into()).await.unwrap();
    assert_eq!(bad.status(), 400);
    let ok = post(Some("hook-secret"), event.to_string()).await.unwrap();
    assert_eq!(ok.status(), 202);
    assert!(
        wait_until(WAIT, async || t
            .face(&no)
            .is_some_and(|f| f.bytes == jpeg(19)))
        .await
    );
}

#[tokio::test]
async fn the_webhook_is_off_without_a_secret() {
    let f = Fixture::memory().await;
    let (status, body) = f
        .app
        .post(
            "/api/hikvision/webhooks/supabase",
            json!({"type": "INSERT", "table": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["message"].as_str().unwrap().contains("WEBHOOK_SECRET"));
}

#[tokio::test]
async fn a_changed_employee_number_leaves_the_terminal_and_the_new_one_is_enrolled() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    let (old, new) = (unique_employee_no(), unique_employee_no());
    let url = f.photos.put(&format!("faces/{old}.jpg"), jpeg(20));
    let id = f.store.insert_angajat(Some(&old), Some(&url)).await;
    f.only_device("t", &t).await;
    let (status, body) = f
        .app
        .post("/api/hikvision/sync-angajat", json!({"angajat_id": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(t.person(&old).is_some());

    f.store.set_biometrie(id, Some(&new), Some(&url)).await;
    assert!(
        wait_until(WAIT, async || t.person(&old).is_none()
            && t.face(&new).is_some())
        .await,
        "the old number lost door access and the new one was enrolled"
    );
    assert_eq!(t.mass_deletions(), 0);
}

#[tokio::test]
async fn devices_status_counts_what_waits_per_terminal() {
    let f = fixture().await;
    let t = terminal(Faults::default()).await;
    let (_, id) = f.employee(jpeg(21)).await;
    f.only_device("t", &t).await;
    t.set_faults(Faults {
        device_busy: true,
        ..Faults::default()
    });
    update(&f.app, id).await;
    let (status, body) = f.app.get("/api/hikvision/devices/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["devices"][0]["device_name"], "t");
    assert_eq!(body["devices"][0]["pending"], 1, "{body}");
    assert_eq!(body["devices"][0]["failed"], 0);
}
