//! Door access follows the data and one durable revocation: a removal sticks (photo updates, the
//! webhook and the sweep leave a revoked employee alone, and a terminal that was away drops the
//! person when it returns), every number an employee was given is removed, and only an admin's
//! restore gives access back. The store rules are one contract, checked on both stores.

use std::sync::Arc;
use std::time::Duration;

use crate::support::database::fresh_database;
use crate::support::*;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use graphile_worker::tokio_postgres::TokioPostgresDatabase;
use hikvision_isapi::EmployeeNo;
use hikvision_simulator::Faults;
use hikvision_sync::delivery::memory::MemoryStore;
use hikvision_sync::delivery::postgres::PgStore;
use hikvision_sync::delivery::{Change, DeliveryError, DeliveryStore, PairKey, Want, Wanted};
use hikvision_sync::orchestration::Flow;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);

// ---- the store contract: the same rules on the in-memory store (demo) and on Postgres ----

fn lease() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(30)
}

fn number(no: &str) -> EmployeeNo {
    no.parse().unwrap()
}

fn change(id: Uuid, device: &str, want: Want, no: &str, old: Option<&str>) -> Change {
    Change {
        key: PairKey::new(id, device),
        want,
        employee_no: Some(number(no)),
        remove_employee_no: old.map(number),
        photo: (want != Want::Remove).then(|| format!("faces/{no}.jpg")),
        create_missing_person: false,
        validity: None,
    }
}

const UPDATE: Want = Want::Sync(Flow::UpdatePhoto);

async fn a_removal_sticks_until_restored(store: &dyn DeliveryStore) {
    let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
    let update = change(id, "d1", UPDATE, "7", None);
    assert_eq!(
        store
            .want(std::slice::from_ref(&update), None, lease(), "u1")
            .await
            .unwrap(),
        vec![Wanted::Recorded]
    );
    let removal = change(id, "d1", Want::Remove, "7", None);
    assert_eq!(
        store
            .want(&[removal], Some("r1:req:0"), lease(), "admin-1")
            .await
            .unwrap(),
        vec![Wanted::Claimed]
    );
    // An ordinary change afterwards is refused, on this terminal and on a new one.
    let later = [
        update.clone(),
        change(id, "d2", Want::Sync(Flow::Enrol), "7", None),
    ];
    let wanted = store
        .want(&later, Some("r2:req:0"), lease(), "u2")
        .await
        .unwrap();
    for w in &wanted {
        let Wanted::Revoked(r) = w else {
            panic!("a revoked employee's change was stored: {wanted:?}")
        };
        assert_eq!(
            (r.revoked_by.as_str(), r.employee_no.as_ref()),
            ("admin-1", None)
        );
        assert!(r.message().contains("restore-angajat"), "{}", r.message());
    }
    let pairs = store.pairs_of(id).await.unwrap();
    assert_eq!(pairs.len(), 1, "nothing stored for the new terminal");
    assert_eq!(pairs[0].change.want, Want::Remove, "the removal stays");
    assert!(
        store
            .lease(&pairs[0].change.key, "r1:req:0")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.revoked_among(&[id, other]).await.unwrap(), vec![id]);

    // Only a restore lifts it.
    assert_eq!(store.restore(id).await.unwrap().len(), 1);
    assert!(store.revocations_of(id).await.unwrap().is_empty());
    assert_eq!(
        store.want(&[update], None, lease(), "u3").await.unwrap(),
        vec![Wanted::Recorded]
    );
    assert_eq!(store.pairs_of(id).await.unwrap()[0].change.want, UPDATE);
}

async fn a_number_change_revokes_the_old_number_only(store: &dyn DeliveryStore) {
    let id = Uuid::new_v4();
    store
        .want(&[change(id, "d1", UPDATE, "7", None)], None, lease(), "u")
        .await
        .unwrap();
    store
        .want(
            &[change(id, "d1", Want::Sync(Flow::Enrol), "8", Some("7"))],
            None,
            lease(),
            "webhook",
        )
        .await
        .unwrap();
    let revocations = store.revocations_of(id).await.unwrap();
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0].employee_no, Some(number("7")));
    // A late change that still carries the old number is refused; the new number goes on.
    let stale = store
        .want(&[change(id, "d1", UPDATE, "7", None)], None, lease(), "u")
        .await
        .unwrap();
    assert!(matches!(&stale[0], Wanted::Revoked(_)), "{stale:?}");
    assert_eq!(
        store
            .want(&[change(id, "d1", UPDATE, "8", None)], None, lease(), "u")
            .await
            .unwrap(),
        vec![Wanted::Recorded]
    );
    assert!(
        store.revoked_among(&[id]).await.unwrap().is_empty(),
        "not the employee"
    );
    let numbers = &store.pairs_of(id).await.unwrap()[0].numbers;
    assert_eq!(
        numbers,
        &vec![number("7"), number("8")],
        "every number is kept"
    );
}

async fn numbers_given_to_someone_else_are_not_removed(store: &dyn DeliveryStore) {
    let (leaver, newcomer) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .want(
            &[change(leaver, "d-reused", UPDATE, "8", Some("7"))],
            None,
            lease(),
            "u",
        )
        .await
        .unwrap();
    store
        .want(
            &[change(
                newcomer,
                "d-reused",
                Want::Sync(Flow::Enrol),
                "7",
                None,
            )],
            None,
            lease(),
            "u",
        )
        .await
        .unwrap();
    let numbers = [number("7"), number("8")];
    assert_eq!(
        store
            .numbers_held_by_others("d-reused", leaver, &numbers)
            .await
            .unwrap(),
        vec![number("7")]
    );
    assert!(
        store
            .numbers_held_by_others("d2", leaver, &numbers)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_newer_change_makes_an_older_claim_stale(store: &dyn DeliveryStore) {
    let id = Uuid::new_v4();
    let first = change(id, "d1", UPDATE, "7", None);
    let key = first.key.clone();
    assert_eq!(
        store
            .want(std::slice::from_ref(&first), Some("r1:req:0"), lease(), "u")
            .await
            .unwrap(),
        vec![Wanted::Claimed]
    );
    assert_eq!(
        store
            .want(&[first], Some("r2:req:0"), lease(), "u")
            .await
            .unwrap(),
        vec![Wanted::Recorded],
        "one owner at a time"
    );
    let mut newer = change(id, "d1", UPDATE, "7", None);
    newer.photo = Some("faces/newer.jpg".into());
    store.want(&[newer], None, lease(), "u").await.unwrap();
    assert!(
        store.lease(&key, "r1:req:0").await.unwrap().is_none(),
        "stale claim"
    );
}

async fn contract(store: &dyn DeliveryStore) {
    a_removal_sticks_until_restored(store).await;
    a_number_change_revokes_the_old_number_only(store).await;
    numbers_given_to_someone_else_are_not_removed(store).await;
    a_newer_change_makes_an_older_claim_stale(store).await;
}

#[tokio::test]
async fn the_memory_store_keeps_the_access_rules() {
    contract(&MemoryStore::default()).await;
}

#[tokio::test]
async fn the_postgres_store_keeps_the_access_rules() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let database = TokioPostgresDatabase::from_url(&url, 4).unwrap();
    let store = PgStore::new(database.pool().clone());
    store.check_schema().await.unwrap();
    contract(&store).await;
}

#[tokio::test]
async fn a_stored_number_no_terminal_takes_is_a_store_error_not_a_panic() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let database = TokioPostgresDatabase::from_url(&url, 2).unwrap();
    let store = PgStore::new(database.pool().clone());
    let id = Uuid::new_v4();
    store
        .want(&[change(id, "d1", UPDATE, "7", None)], None, lease(), "u")
        .await
        .unwrap();
    let client = database.pool().get().await.unwrap();
    client
        .execute(
            "update hikvision_sync.delivery set employee_no = ' 7' where angajat_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    match store.pairs_of(id).await {
        Err(DeliveryError::Store(why)) => assert!(
            why.contains("employee_no in hikvision_sync.delivery") && why.contains("' 7'"),
            "{why}"
        ),
        other => panic!("a bad stored number was read as {other:?}"),
    }
}

#[tokio::test]
async fn on_postgres_a_removal_and_an_update_racing_leave_the_removal() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let database = TokioPostgresDatabase::from_url(&url, 8).unwrap();
    let store: Arc<dyn DeliveryStore> = Arc::new(PgStore::new(database.pool().clone()));
    for _ in 0..20 {
        let id = Uuid::new_v4();
        let devices = ["d1", "d2", "d3"];
        let updates: Vec<Change> = devices
            .iter()
            .map(|d| change(id, d, UPDATE, "7", None))
            .collect();
        let removals: Vec<Change> = devices
            .iter()
            .map(|d| change(id, d, Want::Remove, "7", None))
            .collect();
        let (a, b) = (store.clone(), store.clone());
        let (u, r) = tokio::join!(
            async move { a.want(&updates, None, lease(), "user").await },
            async move { b.want(&removals, None, lease(), "admin").await }
        );
        u.unwrap();
        r.unwrap();
        let pairs = store.pairs_of(id).await.unwrap();
        assert_eq!(pairs.len(), 3);
        assert!(
            pairs.iter().all(|p| p.change.want == Want::Remove),
            "{pairs:?}"
        );
    }
}

// ---- over HTTP, on Postgres, with simulated terminals ----

async fn on_postgres() -> Option<Fixture> {
    let database = fresh_database().await?;
    Some(
        Fixture::on(Store::memory(), |s| {
            fast_retries(s);
            s.delivery.database_url = Some(SecretString::from(database));
            s.delivery.webhook_secret = Some(SecretString::from("hook-secret"));
        })
        .await,
    )
}

fn line<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["device_name"] == name))
        .unwrap_or(&Value::Null)
}

async fn status(f: &Fixture, id: Uuid) -> Value {
    f.app
        .get(&format!("/api/hikvision/angajat/{id}/status"))
        .await
        .1
}

async fn post_webhook(f: &Fixture, event: Value) -> StatusCode {
    f.app
        .http
        .post(f.app.base.join("/api/hikvision/webhooks/supabase").unwrap())
        .header("x-webhook-secret", "hook-secret")
        .json(&event)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn an_update_after_a_removal_does_not_give_a_returning_terminal_the_person_back() {
    let Some(f) = on_postgres().await else {
        return;
    };
    let here = terminal(Faults::default()).await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let no = unique_employee_no();
    for t in [&here, &away] {
        enrol(t, &no, Some(jpeg(1)));
    }
    let url = f.photos.put(&format!("faces/{no}.jpg"), jpeg(2));
    let id = f.store.insert_angajat(Some(&no), Some(&url)).await;
    f.store
        .set_devices(vec![
            device_row("a here", &here, PASSWORD),
            device_row("b away", &away, PASSWORD),
        ])
        .await;
    away.shutdown().await;

    let (code, removed) = f
        .app
        .post("/api/hikvision/remove-angajat", json!({"angajat_id": id}))
        .await;
    assert_eq!(code, StatusCode::OK, "{removed}");
    assert_eq!(by_name(&removed)["b away"]["queued"], true, "{removed}");

    // Anyone updates the photo; HR edits the row and the webhook fires.
    let body = update(&f.app, id).await;
    for (name, entry) in by_name(&body) {
        assert_eq!(entry["status"], "skipped", "{name}: {body}");
        assert_eq!(entry["error_code"], "revoked", "{name}: {body}");
        let message = entry["message"].as_str().unwrap();
        // Authentication is off in these tests: the actor is "anonymous".
        assert!(
            message.contains("by anonymous") && message.contains("restore-angajat"),
            "{message}"
        );
    }
    let newer = f.photos.put(&format!("faces/{no}-b.jpg"), jpeg(3));
    f.store.set_biometrie(id, Some(&no), Some(&newer)).await;
    let event = json!({"type": "UPDATE", "table": "biometrie", "schema": "public",
        "record": {"angajat_id": id, "employee_no": no, "foto_fata_url": newer},
        "old_record": {"angajat_id": id, "employee_no": no, "foto_fata_url": url}});
    assert_eq!(post_webhook(&f, event).await, StatusCode::ACCEPTED);

    // What anyone reading the status sees names no terminal address or photo location.
    let pending = status(&f, id).await;
    let (_, devices) = f.app.get("/api/hikvision/devices/status").await;
    for body in [&pending, &devices] {
        let text = body.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("faces/"),
            "{text}"
        );
    }
    assert!(
        pending.to_string().contains("[address]"),
        "the away terminal's message says it could not be reached: {pending}"
    );

    // The terminal returns still holding the person: the removal, not an update, reaches it.
    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(1)));
    assert!(
        wait_until(WAIT, async || back.person(&no).is_none()
            && back.face(&no).is_none())
        .await,
        "the terminal that was away ends with neither person nor face"
    );
    // The sweep (every second here) does not put them back either. A kept sleep: what is tested
    // is that nothing happens over two sweeps, and a sweep that changes nothing shows no event.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(back.person(&no).is_none() && here.person(&no).is_none());
    assert!(back.face(&no).is_none() && here.face(&no).is_none());
    let s = status(&f, id).await;
    for name in ["a here", "b away"] {
        assert_eq!(line(&s, name)["want"], "removed", "{s}");
    }
    assert_eq!(s["revocations"][0]["revoked_by"], "anonymous", "{s}");
    assert_eq!(back.mass_deletions() + here.mass_deletions(), 0);
}

#[tokio::test]
async fn a_removal_while_away_after_a_number_change_removes_both_numbers() {
    let Some(f) = on_postgres().await else {
        return;
    };
    let here = terminal(Faults::default()).await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let (old, new, colleague) = (
        unique_employee_no(),
        unique_employee_no(),
        unique_employee_no(),
    );
    let url = f.photos.put(&format!("faces/{old}.jpg"), jpeg(4));
    let id = f.store.insert_angajat(Some(&old), Some(&url)).await;
    for t in [&here, &away] {
        enrol(t, &old, Some(jpeg(4)));
        enrol(t, &colleague, Some(jpeg(5)));
    }
    f.store
        .set_devices(vec![
            device_row("a here", &here, PASSWORD),
            device_row("b away", &away, PASSWORD),
        ])
        .await;
    update(&f.app, id).await;
    away.shutdown().await;

    // The number changes while one terminal is away (HR edits the row; the webhook fires).
    f.store.set_biometrie(id, Some(&new), Some(&url)).await;
    let event = json!({"type": "UPDATE", "table": "biometrie", "schema": "public",
        "record": {"angajat_id": id, "employee_no": new, "foto_fata_url": url},
        "old_record": {"angajat_id": id, "employee_no": old, "foto_fata_url": url}});
    assert_eq!(post_webhook(&f, event).await, StatusCode::ACCEPTED);
    assert!(
        wait_until(WAIT, async || here.person(&old).is_none()
            && here.person(&new).is_some())
        .await,
        "the terminal that is here moves to the new number"
    );
    let (code, body) = f
        .app
        .post("/api/hikvision/remove-angajat", json!({"angajat_id": id}))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert!(wait_until(WAIT, async || here.person(&new).is_none()).await);

    // It returns holding both numbers (say the old one, and the new one from elsewhere).
    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &old, Some(jpeg(4)));
    enrol(&back, &new, Some(jpeg(4)));
    enrol(&back, &colleague, Some(jpeg(5)));
    assert!(
        wait_until(WAIT, async || back.person(&old).is_none()
            && back.person(&new).is_none())
        .await,
        "both numbers are gone from the terminal that was away"
    );
    assert!(back.person(&colleague).is_some() && here.person(&colleague).is_some());
    assert_eq!(back.mass_deletions() + here.mass_deletions(), 0);
}

#[tokio::test]
async fn restore_gives_the_person_and_face_back_on_every_terminal_and_is_audited() {
    let Some(f) = on_postgres().await else {
        return;
    };
    let (t1, t2) = (
        terminal(Faults::default()).await,
        terminal(Faults::default()).await,
    );
    let (no, id) = f.employee(jpeg(6)).await;
    for t in [&t1, &t2] {
        enrol(t, &no, Some(jpeg(6)));
    }
    f.store
        .set_devices(vec![
            device_row("t1", &t1, PASSWORD),
            device_row("t2", &t2, PASSWORD),
        ])
        .await;
    let (code, _) = f
        .app
        .post("/api/hikvision/remove-angajat", json!({"angajat_id": id}))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert!(t1.person(&no).is_none() && t2.person(&no).is_none());

    let (code, body) = f
        .app
        .post("/api/hikvision/restore-angajat", json!({"angajat_id": id}))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["summary"]["success"], 2, "{body}");
    for t in [&t1, &t2] {
        assert!(t.person(&no).is_some(), "person back");
        assert!(t.face(&no).is_some_and(|f| f.bytes == jpeg(6)), "face back");
    }
    let s = status(&f, id).await;
    assert_eq!(line(&s, "t1")["want"], "enrolled", "{s}");
    assert_eq!(s["revocations"], json!([]), "{s}");
    // Updates flow again.
    let newer = f.photos.put(&format!("faces/{no}-b.jpg"), jpeg(7));
    f.store.set_biometrie(id, Some(&no), Some(&newer)).await;
    let body = update(&f.app, id).await;
    assert_eq!(body["summary"]["success"], 2, "{body}");
    let device_id = body["per_device"][0]["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, audit) = f
        .app
        .get(&format!("/api/hikvision/devices/{device_id}/audit"))
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["restore", "remove"], "{audit}");
}

async fn post_as_admin(base: &url::Url, path: &str, id: Uuid) -> Value {
    let response = reqwest::Client::new()
        .post(base.join(path).unwrap())
        .header("x-api-key", crate::support::service::API_KEY)
        .json(&json!({"angajat_id": id}))
        .send()
        .await
        .expect("a replica answers");
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn three_replicas_racing_a_removal_against_updates_end_with_the_removal_everywhere() {
    let Some((store, rest, database)) = crate::support::database::rest_and_database().await else {
        return;
    };
    let photos = PhotoServer::start().await.unwrap();
    let here = terminal(Faults::default()).await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let no = unique_employee_no();
    let url = photos.put(&format!("faces/{no}.jpg"), jpeg(8));
    let id = store.insert_angajat(Some(&no), Some(&url)).await;
    for t in [&here, &away] {
        enrol(t, &no, Some(jpeg(8)));
    }
    store
        .set_devices(vec![
            device_row("a here", &here, PASSWORD),
            device_row("b away", &away, PASSWORD),
        ])
        .await;
    away.shutdown().await;
    let env = crate::support::service::serve_env(&rest, &photos, &database);
    let replicas = [
        crate::support::service::ServiceProcess::start(&env).await,
        crate::support::service::ServiceProcess::start(&env).await,
        crate::support::service::ServiceProcess::start(&env).await,
    ];
    // One removal among a burst of photo updates on every replica.
    let update = "api/hikvision/update-angajat-photo";
    let mut calls = Vec::new();
    for round in 0..4 {
        for (n, replica) in replicas.iter().enumerate() {
            let path = if round == 1 && n == 0 {
                "api/hikvision/remove-angajat"
            } else {
                update
            };
            calls.push(post_as_admin(&replica.base, path, id));
        }
    }
    futures::future::join_all(calls).await;
    // After it, every update is refused on every replica.
    for replica in &replicas {
        let body = post_as_admin(&replica.base, update, id).await;
        for entry in body["per_device"].as_array().unwrap() {
            assert_eq!(entry["error_code"], "revoked", "{body}");
        }
    }
    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(8)));
    assert!(
        wait_until(Duration::from_secs(30), async || here.person(&no).is_none()
            && back.person(&no).is_none()
            && here.face(&no).is_none()
            && back.face(&no).is_none())
        .await,
        "the removal wins on both terminals"
    );
    // A kept sleep: "and stays" is nothing happening over two sweeps (no event to wait on).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        here.person(&no).is_none() && back.person(&no).is_none(),
        "and stays"
    );
    assert_eq!(here.mass_deletions() + back.mass_deletions(), 0);
}

#[tokio::test]
async fn the_status_view_is_not_readable_by_signed_in_users() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let read_as = |role: &'static str| {
        let client = &client;
        async move {
            client
                .batch_execute(&format!("reset role; set role {role}"))
                .await
                .unwrap();
            let read = client
                .query("select * from public.hikvision_sync_status", &[])
                .await;
            client.batch_execute("reset role").await.unwrap();
            read
        }
    };
    for role in ["authenticated", "anon"] {
        let denied = read_as(role).await.expect_err("denied");
        assert_eq!(
            denied.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{role}: {denied:?}"
        );
    }
    assert!(
        read_as("service_role").await.is_ok(),
        "the service role reads it"
    );
    let columns: Vec<String> = client
        .query(
            "select column_name::text from information_schema.columns
             where table_schema = 'public' and table_name = 'hikvision_sync_status'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(columns.contains(&"want".to_string()), "{columns:?}");
    assert!(
        !columns.contains(&"message".to_string()),
        "no messages: {columns:?}"
    );
}
