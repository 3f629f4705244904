//! Bulk resync on real PostgreSQL with the job engine, the service as its own process: `kill -9`
//! half-way through a resync of 200 employees onto a fresh terminal, a new process resumes it,
//! nothing is lost and nothing is written twice; every write is audited. And the command line:
//! `devices resync` and `devices reconcile --fix --remove`. Without the stack they skip.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::database::rest_and_database;
use crate::support::service::{API_KEY, ServiceProcess, serve_env};
use crate::support::*;
use hikvision_simulator::Faults;
use serde_json::{Value, json};

async fn api(base: &url::Url, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, base.join(path).unwrap())
        .header("x-api-key", API_KEY)
        .json(&json!({}))
        .send()
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn query_count(database: &str, sql: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls)
        .await
        .expect("connects");
    let driver = tokio::spawn(connection);
    let n: i64 = client.query_one(sql, &[]).await.expect("query").get(0);
    drop(client);
    let _ = driver.await;
    n
}

#[tokio::test]
async fn a_resync_of_200_survives_kill_9_half_way_nothing_lost_nothing_twice() {
    let Some((store, rest, database)) = rest_and_database().await else {
        return;
    };
    let rest = &rest;
    let photos = PhotoServer::start().await.unwrap();
    // ~10 ms a reply (twice per call with Digest): the resync takes seconds, so the kill lands
    // in its middle.
    let t = terminal(Faults {
        latency_ms: 10,
        ..Faults::default()
    })
    .await;
    store
        .set_devices(vec![device_row("fresh", &t, PASSWORD)])
        .await;
    let mut numbers = Vec::new();
    for i in 0..200usize {
        let no = unique_employee_no();
        let url = photos.put(&format!("faces/{no}.jpg"), jpeg((i % 250) as u8));
        store.insert_angajat(Some(&no), Some(&url)).await;
        numbers.push(no);
    }
    let env = serve_env(rest, &photos, &database);
    let first = ServiceProcess::start(&env).await;
    let (_, devices) = api(
        &first.base,
        reqwest::Method::GET,
        "api/hikvision/devices/status",
    )
    .await;
    let device_id = devices["devices"][0]["device_id"]
        .as_str()
        .expect("the terminal is listed")
        .to_string();
    let (status, body) = api(
        &first.base,
        reqwest::Method::POST,
        &format!("api/hikvision/devices/{device_id}/resync"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["scheduled"], 200, "{body}");

    let faces = |t: &hikvision_simulator::SimulatedTerminal| {
        numbers.iter().filter(|no| t.face(no).is_some()).count()
    };
    assert!(
        wait_until(Duration::from_secs(60), async || faces(&t) >= 60).await,
        "the resync got going"
    );
    first.kill().await;
    let at_kill = faces(&t);
    assert!(
        at_kill < 200,
        "killed half-way ({at_kill} of 200 delivered)"
    );

    let second = ServiceProcess::start(&env).await;
    let all = wait_until(Duration::from_secs(120), async || faces(&t) == 200).await;
    assert!(all, "resumed after the restart: {} of 200", faces(&t));
    let mut pending = u64::MAX;
    for _ in 0..100 {
        let (_, status) = api(
            &second.base,
            reqwest::Method::GET,
            "api/hikvision/devices/status",
        )
        .await;
        pending = status["devices"][0]["pending"].as_u64().unwrap_or(u64::MAX);
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "pending falls to 0");
    assert_eq!(t.persons().len(), 200, "no person twice, none missing");
    let writes: Vec<u32> = numbers
        .iter()
        .map(|no| t.face(no).unwrap().updates)
        .collect();
    let twice = writes.iter().filter(|w| **w > 1).count();
    // Exactly once for everyone except, possibly, the one face write that was on the wire when
    // the process was killed: the terminal may have stored it without the answer reaching us;
    // it is then repeated (an idempotent replace). Nothing else is ever sent twice.
    assert!(
        twice <= 1 && writes.iter().all(|w| *w <= 2),
        "face writes per person: {twice} written more than once ({writes:?})"
    );
    eprintln!("resync across kill -9: {at_kill} delivered before the kill, {twice} written twice");
    assert_eq!(
        query_count(
            &database,
            "select count(*) from hikvision_sync.audit where action = 'resync' and actor = 'api-key'"
        )
        .await,
        200,
        "every scheduled write audited with who asked"
    );
}

fn cli(env: &HashMap<String, String>, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hikvision-sync"))
        .args(args)
        .env_clear()
        .envs(env)
        .env("RUST_LOG", "warn")
        .env("USER", "tester")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    eprintln!(
        "$ hikvision-sync {}\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), stdout)
}

#[tokio::test]
async fn the_command_line_resyncs_and_reconciles_a_terminal() {
    let Some((store, rest, database)) = rest_and_database().await else {
        return;
    };
    let rest = &rest;
    let photos = PhotoServer::start().await.unwrap();
    let t = terminal(Faults::default()).await;
    store
        .set_devices(vec![device_row("Main entrance", &t, PASSWORD)])
        .await;
    let mut numbers = Vec::new();
    for i in 0..25u8 {
        let no = unique_employee_no();
        let url = photos.put(&format!("faces/{no}.jpg"), jpeg(i));
        store.insert_angajat(Some(&no), Some(&url)).await;
        numbers.push(no);
    }
    let env = serve_env(rest, &photos, &database);
    let resync_env = env.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        cli(&resync_env, &["devices", "resync", "Main entrance"])
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("25 employee(s)"), "{out}");
    assert!(out.contains("25 of 25 in sync"), "{out}");
    assert!(numbers.iter().all(|no| t.face(no).is_some()));

    enrol(&t, "hand-enrolled", Some(jpeg(99)));
    let reconcile_env = env.clone();
    let (clean, out) = tokio::task::spawn_blocking(move || {
        cli(&reconcile_env, &["devices", "reconcile", "Main entrance"])
    })
    .await
    .unwrap();
    assert!(!clean, "a hand-enrolled person is a finding: {out}");
    assert!(out.contains("hand-enrolled"), "{out}");
    let fix_env = env.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        cli(
            &fix_env,
            &[
                "devices",
                "reconcile",
                "Main entrance",
                "--fix",
                "--remove",
                "hand-enrolled",
            ],
        )
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(t.person("hand-enrolled").is_none());
    assert_eq!(t.persons().len(), 25);
    assert_eq!(t.mass_deletions(), 0);
    assert_eq!(
        query_count(
            &database,
            "select count(*) from hikvision_sync.audit where actor = 'cli:tester' and action = 'reconcile_remove'"
        )
        .await,
        1
    );
}
