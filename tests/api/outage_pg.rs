//! Durable delivery rides through an outage of its database (`pg_ctl stop -m immediate`, then
//! started again on the same port), with no restart of the service: while it lasts `/ready` and
//! the requests that need the database answer 503 saying which part is down, and no terminal is
//! called; afterwards every job engine is back by itself, the change waiting for a terminal that
//! was away and the removal waiting for another are delivered, and a new update goes out at once.
//! Each test has a cluster of its own (the stack's is shared); without the stack they skip.

use std::time::{Duration, Instant};

use crate::support::cluster::Cluster;
use crate::support::service::{API_KEY, ServiceProcess, serve_env};
use crate::support::*;
use hikvision_simulator::{Faults, SimulatedTerminal};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

const REMOVE_ENDPOINT: &str = "/api/hikvision/remove-angajat";

/// One service (process or in-process), as a client sees it.
struct Api {
    base: Url,
    key: Option<&'static str>,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &Url, key: Option<&'static str>) -> Self {
        Self {
            base: base.clone(),
            key,
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let mut request = self.http.post(self.base.join(path).unwrap()).json(&body);
        if let Some(key) = self.key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await.expect("the service answers");
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// True when every terminal's pair of `angajat_id` is recorded `in_sync`.
    async fn in_sync(&self, angajat_id: uuid::Uuid) -> bool {
        let path = format!("api/hikvision/angajat/{angajat_id}/status");
        let mut request = self.http.get(self.base.join(&path).unwrap());
        if let Some(key) = self.key {
            request = request.header("x-api-key", key);
        }
        let Ok(response) = request.send().await else {
            return false;
        };
        let body: Value = response.json().await.unwrap_or(Value::Null);
        body["devices"]
            .as_array()
            .is_some_and(|d| !d.is_empty() && d.iter().all(|p| p["state"] == "in_sync"))
    }

    async fn ready(&self) -> (StatusCode, Value) {
        let response = self.http.get(self.base.join("ready").unwrap());
        let response = response.send().await.expect("the service answers");
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// The value of a metric without labels.
    async fn metric(&self, name: &str) -> Option<f64> {
        let response = self.http.get(self.base.join("metrics").unwrap());
        let text = response.send().await.ok()?.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// Polls until `/ready` answers `status` and the engine gauge reads `engine_up`, for at most
    /// `within`; the last `/ready` answer.
    async fn ready_until(&self, status: StatusCode, engine_up: f64, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (now, body) = self.ready().await;
            let up = self.metric("hikvision_delivery_engine_up").await;
            if now == status && up == Some(engine_up) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{}: /ready {now} {body}, engine_up {up:?}; wanted {status} and {engine_up}",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Two terminals, both away when a new photo (for `stays`) and a removal (of `leaves`) are asked.
struct Scene {
    a: SimulatedTerminal,
    b: SimulatedTerminal,
    stays: String,
    leaves: String,
    stays_id: uuid::Uuid,
}

impl Scene {
    fn delivered(&self) -> bool {
        [&self.a, &self.b].iter().all(|t| {
            t.face(&self.stays).is_some_and(|f| f.bytes == jpeg(2))
                && t.person(&self.leaves).is_none()
        })
    }
}

/// The scene on `apis` (services on one delivery database, the `cluster`): the database stops
/// for `outage` and comes back; everything is checked on every service.
async fn ride_through(
    cluster: &Cluster,
    store: &Store,
    photos: &PhotoServer,
    apis: &[Api],
    outage: Duration,
) -> Scene {
    let (first, last) = (&apis[0], &apis[apis.len() - 1]);
    let a = terminal(Faults::default()).await;
    let b = terminal(Faults::default()).await;
    let (a_addr, b_addr) = (a.addr(), b.addr());
    let (stays, leaves) = (unique_employee_no(), unique_employee_no());
    let url = photos.put(&format!("faces/{stays}.jpg"), jpeg(2));
    let stays_id = store.insert_angajat(Some(&stays), Some(&url)).await;
    let leaves_id = store.insert_angajat(Some(&leaves), None).await;
    store
        .set_devices(vec![
            device_row("a", &a, PASSWORD),
            device_row("b", &b, PASSWORD),
        ])
        .await;
    a.shutdown().await;
    b.shutdown().await;
    let (status, body) = first
        .post(UPDATE_ENDPOINT, json!({"angajat_id": stays_id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let queued = body["per_device"].as_array().unwrap();
    assert!(queued.iter().all(|d| d["queued"] == true), "{body}");
    let (status, body) = last
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
    for api in apis {
        let body = api
            .ready_until(
                StatusCode::SERVICE_UNAVAILABLE,
                0.0,
                Duration::from_secs(10),
            )
            .await;
        assert_eq!(body["code"], "not_ready", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("delivery database"), "{body}");
    }
    let asked = Instant::now();
    let (status, body) = first
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
    let scene = Scene {
        a,
        b,
        stays,
        leaves,
        stays_id,
    };
    // Within the lease at worst, plus the terminals' time.
    assert!(
        wait_until(Duration::from_secs(45), async || scene.delivered()).await,
        "both terminals get their change without a restart"
    );
    eprintln!(
        "delivered {:?} after the database came back",
        back.elapsed()
    );
    for api in apis {
        api.ready_until(StatusCode::OK, 1.0, Duration::from_secs(10))
            .await;
        let restarts = api.metric("hikvision_delivery_engine_restarts_total").await;
        assert!(restarts.is_some_and(|n| n >= 1.0), "{restarts:?}");
    }

    // An update after the recovery goes out at once, not through the background: no pair is
    // held by work the outage cut off. (The photo stays the same, so no sweep races the request
    // for the pair, and the delivery is recorded before it is asked.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while !last.in_sync(scene.stays_id).await {
        assert!(Instant::now() < deadline, "the delivery is recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = last
        .post(UPDATE_ENDPOINT, json!({"angajat_id": scene.stays_id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for d in body["per_device"].as_array().unwrap() {
        assert_eq!(d["status"], "success", "{body}");
        assert_ne!(d["queued"], true, "{body}");
    }
    scene
}

async fn one_service_rides_through(outage: Duration) {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let f = Fixture::on(Store::memory(), |s| {
        fast_retries(s);
        s.delivery.database_url = Some(secrecy::SecretString::from(cluster.url.clone()));
    })
    .await;
    let api = Api::new(&f.app.base, None);
    ride_through(&cluster, &f.store, &f.photos, &[api], outage).await;
}

#[tokio::test]
async fn a_five_second_database_outage_is_ridden_through() {
    one_service_rides_through(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_database_outage_longer_than_the_lease_is_ridden_through() {
    // CLAIM_LEASE is 30 s and the job engine declares a replica dead after 20 s.
    one_service_rides_through(Duration::from_secs(35)).await;
}

/// The log lines of one replica (JSON): (level, message).
fn log_lines(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let level = v["level"].as_str().unwrap_or_default().to_string();
            let message = v["fields"]["message"].as_str().unwrap_or_default();
            (level, message.to_string())
        })
        .collect()
}

#[tokio::test]
async fn three_replicas_ride_through_with_one_warning_each() {
    // The REST stack stays up (its tables are this test's own); the delivery database stops.
    let (Some(cluster), Some(store)) = (Cluster::start().await, Store::rest().await) else {
        return;
    };
    let Store::Rest(rest) = &store else {
        unreachable!("Store::rest() makes a REST store")
    };
    let photos = PhotoServer::start().await.unwrap();
    let env = serve_env(rest, &photos, &cluster.url);
    let logs = std::env::temp_dir().join(format!("hs-outage-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&logs).unwrap();
    let mut replicas = Vec::new();
    for n in 0..3 {
        replicas.push(ServiceProcess::start_logged(&env, &logs.join(format!("{n}.log"))).await);
    }
    let apis: Vec<Api> = replicas
        .iter()
        .map(|r| Api::new(&r.base, Some(API_KEY)))
        .collect();
    let scene = ride_through(&cluster, &store, &photos, &apis, Duration::from_secs(5)).await;
    for t in [&scene.a, &scene.b] {
        assert!(
            t.max_concurrent_calls_per_person() <= 1,
            "one call at a time per person"
        );
    }
    for n in 0..3 {
        let lines = log_lines(&logs.join(format!("{n}.log")));
        let warnings: Vec<&String> = lines
            .iter()
            .filter(|(level, _)| level == "WARN")
            .map(|(_, m)| m)
            .collect();
        let recovered = lines
            .iter()
            .filter(|(level, m)| level == "INFO" && m.starts_with("durable delivery recovered"))
            .count();
        let errors = lines.iter().filter(|(level, _)| level == "ERROR").count();
        assert_eq!(
            warnings.len(),
            1,
            "replica {n}: one warning per outage: {warnings:?}"
        );
        assert_eq!(recovered, 1, "replica {n}: one line at recovery");
        assert_eq!(errors, 0, "replica {n}: {lines:?}");
        let raw = std::fs::read_to_string(logs.join(format!("{n}.log"))).unwrap();
        assert!(
            !raw.contains("postgres://"),
            "no connection string in the log"
        );
    }
    drop(replicas);
    let _ = std::fs::remove_dir_all(&logs);
}
