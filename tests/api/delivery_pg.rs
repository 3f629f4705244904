//! Durable delivery on real PostgreSQL with the job engine: a terminal that was offline catches up
//! with no click; `kill -9` mid fan-out loses nothing; three replicas on one database deliver
//! everything, never call a terminal twice at once for one person, and cost a wrong password one
//! failed login. Each test has a database of its own; without the stack they skip.

use std::time::Duration;

use crate::support::database::{fresh_database, rest_and_database};
use crate::support::service::{API_KEY, ServiceProcess, serve_env};
use crate::support::*;
use hikvision_simulator::{Faults, SimulatedTerminal};
use serde_json::{Value, json};

async fn post_update(base: &url::Url, id: uuid::Uuid) -> Option<Value> {
    let response = reqwest::Client::new()
        .post(base.join("api/hikvision/update-angajat-photo").unwrap())
        .header("x-api-key", API_KEY)
        .json(&json!({"angajat_id": id}))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

async fn slow_terminal() -> SimulatedTerminal {
    terminal(Faults {
        latency_ms: 400,
        ..Faults::default()
    })
    .await
}

#[tokio::test]
async fn on_postgres_an_offline_terminal_catches_up_with_no_click() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.delivery.database_url = Some(secrecy::SecretString::from(database));
    })
    .await;
    let away = terminal(Faults::default()).await;
    let addr = away.addr();
    let (no, id) = f.employee(jpeg(1)).await;
    f.only_device("t", &away).await;
    away.shutdown().await;

    let body = update(&f.app, id).await;
    assert_eq!(body["per_device"][0]["queued"], true, "{body}");
    let back = terminal_at(addr, Faults::default()).await;
    enrol(&back, &no, Some(jpeg(9)));
    assert!(
        wait_until(Duration::from_secs(15), async || back
            .face(&no)
            .is_some_and(|f| f.bytes == jpeg(1)))
        .await,
        "delivered through the job engine"
    );
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_fan_out_loses_nothing() {
    let Some((store, rest, database)) = rest_and_database().await else {
        return;
    };
    let rest = &rest;
    let photos = PhotoServer::start().await.unwrap();
    let no = unique_employee_no();
    let url = photos.put(&format!("faces/{no}.jpg"), jpeg(2));
    let id = store.insert_angajat(Some(&no), Some(&url)).await;
    let mut online = Vec::new();
    let mut offline = Vec::new();
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for i in 0..20 {
        let t = slow_terminal().await;
        enrol(&t, &no, Some(jpeg(9)));
        rows.push(device_row(&format!("t{i:02}"), &t, PASSWORD));
        all.push(t);
    }
    // Half go offline only now, so no new terminal could have been given a freed port.
    for (i, t) in all.into_iter().enumerate() {
        if i % 2 == 0 {
            online.push(t);
        } else {
            offline.push(t.addr());
            t.shutdown().await;
        }
    }
    store.set_devices(rows).await;
    let env = serve_env(rest, &photos, &database);

    let first = ServiceProcess::start(&env).await;
    let base = first.base.clone();
    let request = tokio::spawn(async move { post_update(&base, id).await });
    // Mid fan-out: once the first terminal has been called.
    assert!(
        wait_until(Duration::from_secs(10), async || online
            .iter()
            .any(|t| !t.request_log().is_empty()))
        .await,
        "the fan-out started"
    );
    first.kill().await;
    let _ = request.await;

    let mut back = Vec::new();
    for addr in offline {
        let t = terminal_at(addr, Faults::default()).await;
        enrol(&t, &no, Some(jpeg(9)));
        back.push(t);
    }
    let _second = ServiceProcess::start(&env).await;
    let all = wait_until(Duration::from_secs(75), async || {
        online
            .iter()
            .chain(&back)
            .all(|t| t.face(&no).is_some_and(|f| f.bytes == jpeg(2)))
    })
    .await;
    let missing: Vec<_> = online
        .iter()
        .chain(&back)
        .filter(|t| t.face(&no).is_none_or(|f| f.bytes != jpeg(2)))
        .map(|t| t.addr())
        .collect();
    assert!(
        all,
        "every terminal ends with the new face; missing: {missing:?}"
    );
}

#[tokio::test]
async fn three_replicas_deliver_everything_one_call_per_person_at_a_time() {
    let Some((store, rest, database)) = rest_and_database().await else {
        return;
    };
    let rest = &rest;
    let photos = PhotoServer::start().await.unwrap();
    let mut addrs = Vec::new();
    let mut rows = Vec::new();
    for i in 0..5 {
        let t = terminal(Faults::default()).await;
        rows.push(device_row(&format!("t{i}"), &t, PASSWORD));
        addrs.push(t.addr());
        t.shutdown().await;
    }
    store.set_devices(rows).await;
    let mut people = Vec::new();
    for i in 0..50u8 {
        let no = unique_employee_no();
        let url = photos.put(&format!("faces/{no}.jpg"), jpeg(i));
        let id = store.insert_angajat(Some(&no), Some(&url)).await;
        people.push((id, no, i));
    }
    let env = serve_env(rest, &photos, &database);
    let replicas = [
        ServiceProcess::start(&env).await,
        ServiceProcess::start(&env).await,
        ServiceProcess::start(&env).await,
    ];
    let answers = futures::future::join_all(
        people
            .iter()
            .enumerate()
            .map(|(n, (id, _, _))| post_update(&replicas[n % 3].base, *id)),
    )
    .await;
    for body in answers {
        let body = body.expect("an answer");
        assert_eq!(body["summary"]["partial"], 5, "{body}");
    }

    let mut terminals = Vec::new();
    for addr in &addrs {
        let t = terminal_at(
            *addr,
            Faults {
                latency_ms: 30,
                ..Faults::default()
            },
        )
        .await;
        for (_, no, _) in &people {
            enrol(&t, no, None);
        }
        terminals.push(t);
    }
    // A kept sleep: the replicas get going on the backlog before one of them is killed.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let [first, second, third] = replicas;
    first.kill().await;
    let delivered = |terminals: &[SimulatedTerminal]| {
        terminals.iter().all(|t| {
            people
                .iter()
                .all(|(_, no, seed)| t.face(no).is_some_and(|f| f.bytes == jpeg(*seed)))
        })
    };
    // A bound on a hang, not a speed target: the drain takes 35 to 170 s on a 2-core machine
    // depending on its load (the killed replica's claims wait out their lease first).
    let all = wait_until(Duration::from_secs(300), async || delivered(&terminals)).await;
    let held: usize = terminals
        .iter()
        .map(|t| {
            people
                .iter()
                .filter(|(_, no, _)| t.face(no).is_some())
                .count()
        })
        .sum();
    assert!(all, "every change delivered ({held} of 250)");
    for t in &terminals {
        assert_eq!(
            t.max_concurrent_calls_per_person(),
            1,
            "never two calls for one person at once"
        );
    }
    drop((second, third));
}

#[tokio::test]
async fn three_replicas_cost_a_wrong_password_one_failed_login() {
    let Some((store, rest, database)) = rest_and_database().await else {
        return;
    };
    let rest = &rest;
    let photos = PhotoServer::start().await.unwrap();
    let t = terminal(Faults::default()).await;
    store.set_devices(vec![device_row("t", &t, "typo")]).await;
    let env = serve_env(rest, &photos, &database);
    let replicas = [
        ServiceProcess::start(&env).await,
        ServiceProcess::start(&env).await,
        ServiceProcess::start(&env).await,
    ];
    for replica in &replicas {
        let no = unique_employee_no();
        enrol(&t, &no, Some(jpeg(3)));
        let url = photos.put(&format!("faces/{no}.jpg"), jpeg(4));
        let id = store.insert_angajat(Some(&no), Some(&url)).await;
        let body = post_update(&replica.base, id).await.expect("an answer");
        assert_eq!(body["per_device"][0]["status"], "partial", "{body}");
    }
    // "Nothing more happens": three replicas' workers get three seconds to try the password again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        t.failed_logins(),
        1,
        "one failed login across three replicas and their workers"
    );
}

/// A fleet larger than two waves (the request path claims and calls the first 32 terminals before
/// it claims the others): every terminal is called once, gets the face, and is answered in the
/// devices' order, on the durable store and on the in-memory one.
#[tokio::test]
async fn a_fleet_of_two_waves_is_delivered_whole_and_answered_in_order() {
    let Some(database) = fresh_database().await else {
        return;
    };
    for durable in [true, false] {
        let database = database.clone();
        let f = Fixture::on(Store::memory(), |s| {
            fast_retries(s);
            if durable {
                s.delivery.database_url = Some(secrecy::SecretString::from(database));
            }
        })
        .await;
        let (no, id) = f.employee(jpeg(2)).await;
        let mut terminals = Vec::new();
        let mut rows = Vec::new();
        for i in 0..70 {
            let t = terminal(Faults::default()).await;
            enrol(&t, &no, Some(jpeg(1)));
            rows.push(device_row(&format!("t{i:02}"), &t, PASSWORD));
            terminals.push(t);
        }
        f.store.set_devices(rows).await;

        let body = update(&f.app, id).await;
        let names: Vec<String> = (0..70).map(|i| format!("t{i:02}")).collect();
        assert_eq!(device_names(&body), names, "durable: {durable}");
        assert_eq!(body["summary"]["success"], 70, "durable: {durable}: {body}");
        for t in &terminals {
            assert!(
                t.face(&no).is_some_and(|f| f.bytes == jpeg(2)),
                "durable: {durable}"
            );
            let modifies = t
                .request_log()
                .iter()
                .filter(|r| r.path.contains("FDModify") && r.status == Some(200))
                .count();
            assert_eq!(modifies, 1, "durable: {durable}: one FDModify per terminal");
        }
    }
}
