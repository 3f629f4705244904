//! Durable delivery rides through an outage of its database (`pg_ctl stop -m immediate`, then
//! started again on the same port), with no restart of the service: while it lasts `/ready` and
//! the requests that need the database answer 503 saying which part is down, and no terminal is
//! called; afterwards the job engine is back by itself, the change waiting for a terminal that was
//! away and the removal waiting for another are delivered, and a new update goes out at once.
//! Each test has a cluster of its own (the stack's is shared); without the stack they skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use hikvision_simulator::{Faults, SimulatedTerminal};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::cluster::Cluster;
use support::*;

const REMOVE_ENDPOINT: &str = "/api/hikvision/remove-angajat";

/// Polls `/ready` (and `/metrics`) until `check` holds on them, for at most `within`.
async fn ready_until(
    app: &TestApp,
    within: Duration,
    check: impl Fn(StatusCode, &Value, &str) -> bool,
) -> (StatusCode, Value) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = app.get("/ready").await;
        let metrics = app
            .http
            .get(app.base.join("metrics").unwrap())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if check(status, &body, &metrics) || Instant::now() >= deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of a metric line without labels (`name value`).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn rides_through_an_outage_of(outage: Duration) {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.delivery.database_url = Some(secrecy::SecretString::from(cluster.url.clone()));
    })
    .await;
    // One terminal will miss a new photo, the other a removal: both are away when they are asked.
    let a = terminal(Faults::default()).await;
    let b = terminal(Faults::default()).await;
    let (a_addr, b_addr) = (a.addr(), b.addr());
    let stays = unique_employee_no();
    let leaves = unique_employee_no();
    let url = f.photos.put(&format!("faces/{stays}.jpg"), jpeg(2));
    let stays_id = f.store.insert_angajat(Some(&stays), Some(&url)).await;
    let leaves_id = f.store.insert_angajat(Some(&leaves), None).await;
    f.store
        .set_devices(vec![
            device_row("a", &a, PASSWORD),
            device_row("b", &b, PASSWORD),
        ])
        .await;
    a.shutdown().await;
    b.shutdown().await;
    let body = update(&f.app, stays_id).await;
    assert!(
        body["per_device"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["queued"] == true),
        "{body}"
    );
    let (status, body) = f
        .app
        .post(REMOVE_ENDPOINT, json!({"angajat_id": leaves_id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    cluster.stop_immediately().await;
    let stopped = Instant::now();
    // The terminals come back meanwhile, as they were: the old face, the person who left.
    let a = terminal_at(a_addr, Faults::default()).await;
    let b = terminal_at(b_addr, Faults::default()).await;
    for t in [&a, &b] {
        enrol(t, &stays, Some(jpeg(1)));
        enrol(t, &leaves, Some(jpeg(4)));
    }

    let (status, body) = ready_until(&f.app, Duration::from_secs(10), |status, _, metrics| {
        status == StatusCode::SERVICE_UNAVAILABLE
            && metric(metrics, "hikvision_delivery_engine_up") == Some(0.0)
    })
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "not_ready", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("delivery database"),
        "{body}"
    );
    let asked = Instant::now();
    let (status, body) = f
        .app
        .post(UPDATE_ENDPOINT, json!({"angajat_id": stays_id}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "delivery_unavailable", "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "within the deadline"
    );
    assert!(!body.to_string().contains("postgres://"), "{body}");
    assert!(
        a.face(&stays).is_some_and(|f| f.bytes == jpeg(1)),
        "nothing is sent that could not be recorded"
    );

    tokio::time::sleep(outage.saturating_sub(stopped.elapsed())).await;
    cluster.start_again().await;
    let back = Instant::now();

    let delivered = |t: &SimulatedTerminal| {
        t.face(&stays).is_some_and(|f| f.bytes == jpeg(2)) && t.person(&leaves).is_none()
    };
    // Within the lease (claims of work cut short by the outage run out) plus the terminals' time.
    assert!(
        eventually(Duration::from_secs(45), || delivered(&a) && delivered(&b)).await,
        "both terminals get their change without a restart: a {:?}, b {:?}",
        a.face(&stays).map(|f| f.bytes.len()),
        b.person(&leaves).is_some()
    );
    eprintln!(
        "delivered {:?} after the database came back",
        back.elapsed()
    );
    let (status, body) = ready_until(&f.app, Duration::from_secs(10), |status, _, metrics| {
        status == StatusCode::OK && metric(metrics, "hikvision_delivery_engine_up") == Some(1.0)
    })
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = f
        .app
        .http
        .get(f.app.base.join("metrics").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metric(&text, "hikvision_delivery_engine_restarts_total").is_some_and(|n| n >= 1.0),
        "{text}"
    );

    // A new photo after the recovery goes out at once, not through the background.
    let url = f.photos.put(&format!("faces/{stays}-3.jpg"), jpeg(3));
    f.store
        .set_biometrie(stays_id, Some(&stays), Some(&url))
        .await;
    let body = update(&f.app, stays_id).await;
    for d in body["per_device"].as_array().unwrap() {
        assert_eq!(d["status"], "success", "{body}");
        assert_ne!(d["queued"], true, "{body}");
    }
    assert!(a.face(&stays).is_some_and(|f| f.bytes == jpeg(3)));
    assert!(b.face(&stays).is_some_and(|f| f.bytes == jpeg(3)));
}

#[tokio::test]
async fn a_five_second_database_outage_is_ridden_through() {
    rides_through_an_outage_of(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_database_outage_longer_than_the_lease_is_ridden_through() {
    // CLAIM_LEASE is 30 s and the job engine declares a replica dead after 20 s.
    rides_through_an_outage_of(Duration::from_secs(35)).await;
}
