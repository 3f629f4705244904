//! The one helper every cross-HTTP test uses: a store (in memory, or per-test tables on the
//! PostgREST-compatible stack of `scripts/test-stack.sh`), simulated terminals, a photo server,
//! and the service on a random port.

pub mod alone;
pub mod chaos;
pub mod cluster;
pub mod database;
pub mod service;
mod store;

pub use hikvision_testkit::{PhotoServer, wait_until};
pub use store::{Rest, Store};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use hikvision_simulator::{Faults, SimulatedTerminal, TerminalConfig};
use hikvision_sync::config::{
    DebugOptions, Settings, SupabaseSettings, SyncOptions, Tables, parse_nets,
};
use hikvision_sync::photo::{FaceUrlPolicy, FaceUrlScheme};
use hikvision_sync::startup::{self, Application};
use hikvision_sync::supabase::Directory;
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

/// A device row for a simulated terminal.
pub fn device_row(name: &str, terminal: &SimulatedTerminal, password: &str) -> Value {
    json!({
        "name": name, "ip": terminal.addr().ip().to_string(), "port": terminal.addr().port(),
        "username": "admin", "password": password, "is_active": true
    })
}

/// A distinct real JPEG (96 x 128, a few KB): terminals and the picture pipeline accept it as it
/// is, and different seeds give different bytes.
pub fn jpeg(seed: u8) -> Vec<u8> {
    hikvision_sync::photo::synth::seeded_jpeg(u32::from(seed) * 7919 + 1, 96, 128).expect("a JPEG")
}

/// A fresh employee number, so tests never see each other's persons.
pub fn unique_employee_no() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Enrols a person on a terminal directly (as if done earlier), with an optional face.
pub fn enrol(terminal: &SimulatedTerminal, employee_no: &str, face: Option<Vec<u8>>) {
    hikvision_testkit::enrol(terminal, employee_no, "Ion Popescu", face).expect("valid person");
}

/// The terminals' password in tests.
pub const PASSWORD: &str = "Sim-Pass-123";

/// The tests' terminal: login `admin` / [`PASSWORD`], with `faults`.
fn terminal_config(faults: Faults) -> TerminalConfig {
    TerminalConfig {
        username: "admin".into(),
        password: PASSWORD.into(),
        faults,
        ..TerminalConfig::default()
    }
}

/// A simulated terminal at `addr` (e.g. one that was shut down, coming back).
pub async fn terminal_at(addr: SocketAddr, faults: Faults) -> SimulatedTerminal {
    hikvision_testkit::spawn_terminal_at(terminal_config(faults), addr)
        .await
        .unwrap_or_else(|e| panic!("simulator starts on {addr}: {e}"))
}

/// Fast background retries for tests: first retry after 200 ms, at most 1 s apart, sweep every 1 s.
pub fn fast_retries(s: &mut Settings) {
    s.delivery.retry_initial = Duration::from_millis(200);
    s.delivery.retry_max = Duration::from_millis(1_000);
    s.delivery.sweep_interval = Duration::from_millis(1_000);
}

/// A simulated terminal on a random free loopback port that can be taken away and brought back
/// on the same address ([`terminal_at`]).
pub async fn terminal(faults: Faults) -> SimulatedTerminal {
    hikvision_testkit::spawn_terminal(terminal_config(faults))
        .await
        .expect("a free simulator port")
}

/// The debugging endpoint as the tests use it: on, and calling loopback addresses only.
pub fn loopback_debug() -> DebugOptions {
    DebugOptions {
        enabled: true,
        allowed_nets: parse_nets("127.0.0.0/8,::1/128").unwrap(),
    }
}

/// Settings for `store`, with fast pacing and timeouts, and the debugging endpoint on for
/// loopback only. Photos are served by `photos`, which also stands for the Supabase project URL
/// (Storage paths resolve against it, and its loopback origin is the one the service fetches
/// photos from without any `PHOTO_ALLOWED_*` setting; `outbound.rs` lists others).
pub fn settings(store: &Store, photos: &PhotoServer) -> Settings {
    let (supabase, tables) = match store {
        Store::Memory(_) => (None, Tables::default()),
        Store::Rest(rest) => (
            Some(SupabaseSettings {
                url: Some(photos.base.clone()),
                rest_url: rest.url.clone(),
                service_key: SecretString::from(rest.key.clone()),
            }),
            rest.tables.clone(),
        ),
    };
    Settings {
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        supabase,
        tables,
        face_url: FaceUrlPolicy {
            supabase_url: Some(photos.base.clone()),
            bucket: "photos".into(),
            scheme: FaceUrlScheme::Keep,
        },
        sync: SyncOptions {
            rate_limit_delay: Duration::from_millis(20),
            device_concurrency: 16,
            device_timeout: Duration::from_millis(2_000),
            request_deadline: Duration::from_millis(8_000),
            ..SyncOptions::default()
        },
        debug: loopback_debug(),
        // The tests that count terminal calls must see only their own: the events tests turn
        // event reading on.
        events: hikvision_sync::config::EventSettings {
            enabled: false,
            ..Default::default()
        },
        ..Settings::default()
    }
}

/// The service on a random port.
pub struct TestApp {
    pub base: Url,
    pub http: reqwest::Client,
}

impl TestApp {
    /// The service on `store`'s data with `settings` (Supabase from the settings for a REST
    /// store).
    pub async fn spawn(store: &Store, settings: Settings) -> Self {
        let directory: Option<Arc<dyn Directory>> = match store {
            Store::Memory(dir) => Some(dir.clone()),
            Store::Rest(_) => startup::supabase_directory(&settings).expect("directory builds"),
        };
        Self::spawn_with(settings, directory).await
    }

    /// The service with `directory` (or none: Supabase not configured).
    pub async fn spawn_with(settings: Settings, directory: Option<Arc<dyn Directory>>) -> Self {
        let app = Application::build_with(settings, directory)
            .await
            .expect("the application builds");
        let addr: SocketAddr = app.addr();
        tokio::spawn(app.run_until_stopped());
        Self {
            base: Url::parse(&format!("http://{addr}/")).unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// POSTs a raw body and returns (status, JSON body).
    pub async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.base.join(path).unwrap())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("service answers");
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path` and returns (status, JSON body).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.base.join(path).unwrap())
            .send()
            .await
            .expect("service answers");
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs JSON and returns (status, JSON body).
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_raw(path, &body.to_string()).await
    }
}

/// Polls a reconcile run with `get` (status code and body) until it is no longer `running`;
/// its last body.
pub async fn reconcile_finished<F, Fut>(mut get: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (u16, Value)>,
{
    for _ in 0..400 {
        let (status, body) = get().await;
        assert_eq!(status, 200, "{body}");
        if body["state"] != "running" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the reconcile did not end");
}

/// The owner's endpoint.
pub const UPDATE_ENDPOINT: &str = "/api/hikvision/update-angajat-photo";

/// POSTs an update for `angajat_id`; asserts HTTP 200 with `status: ok` and returns the body.
pub async fn update(app: &TestApp, angajat_id: Uuid) -> Value {
    let (status, body) = app
        .post(UPDATE_ENDPOINT, json!({"angajat_id": angajat_id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    body
}

/// A store, a photo server and the service on them: what most tests start with.
pub struct Fixture {
    pub store: Store,
    pub photos: PhotoServer,
    pub app: TestApp,
}

impl Fixture {
    /// On an in-memory store (no database).
    pub async fn memory() -> Self {
        Self::on(Store::memory(), |_| {}).await
    }

    /// On `store`, after `tune` adjusts the settings.
    pub async fn on(store: Store, tune: impl FnOnce(&mut Settings)) -> Self {
        let photos = PhotoServer::start().await.unwrap();
        let mut s = settings(&store, &photos);
        tune(&mut s);
        let app = TestApp::spawn(&store, s).await;
        Self { store, photos, app }
    }

    /// A new employee (a fresh number) whose photo is `photo`, published at `faces/<no>.jpg`:
    /// the employee number and the angajat id.
    pub async fn employee(&self, photo: Vec<u8>) -> (String, Uuid) {
        let no = unique_employee_no();
        let url = self.photos.put(&format!("faces/{no}.jpg"), photo);
        let id = self.store.insert_angajat(Some(&no), Some(&url)).await;
        (no, id)
    }

    /// Makes `terminal`, named `name`, the only active device (login `admin` / [`PASSWORD`]).
    pub async fn only_device(&self, name: &str, terminal: &SimulatedTerminal) {
        self.store
            .set_devices(vec![device_row(name, terminal, PASSWORD)])
            .await;
    }
}

/// An employee enrolled with an old face (`jpeg(1)`) on a new simulated terminal named `name`, the
/// only active one, with a new photo (`jpeg(2)`) to send: the terminal, the employee number and
/// the angajat id.
pub async fn one_enrolled(f: &Fixture, name: &str) -> (SimulatedTerminal, String, Uuid) {
    let t = terminal(Faults::default()).await;
    let (no, id) = f.employee(jpeg(2)).await;
    enrol(&t, &no, Some(jpeg(1)));
    f.only_device(name, &t).await;
    (t, no, id)
}

/// The `device_name`s of `per_device`, in the response's order.
pub fn device_names(body: &Value) -> Vec<&str> {
    body["per_device"]
        .as_array()
        .expect("per_device is a list")
        .iter()
        .map(|d| d["device_name"].as_str().unwrap_or_default())
        .collect()
}

/// `per_device` entries by device name.
pub fn by_name(body: &Value) -> HashMap<String, Value> {
    body["per_device"]
        .as_array()
        .expect("per_device is a list")
        .iter()
        .map(|d| {
            (
                d["device_name"].as_str().unwrap_or_default().to_string(),
                d.clone(),
            )
        })
        .collect()
}
