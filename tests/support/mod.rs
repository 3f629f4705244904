//! The one helper every cross-HTTP test uses: the PostgREST-compatible stack started by
//! `scripts/test-stack.sh`, simulated terminals, a photo server, and the service on a random port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod chaos;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hikvision_sync::config::{Settings, SupabaseSettings, SyncOptions};
use hikvision_sync::isapi::{FaceUrlPolicy, FaceUrlScheme};
use hikvision_sync::simulator::{self, Faults, SimulatedTerminal, TerminalConfig};
use hikvision_sync::startup;
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

/// The devices table is global: tests that set it take this lock.
static DEVICES_LOCK: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

/// Takes the devices-table lock for the rest of the test.
pub async fn lock_devices() -> tokio::sync::MutexGuard<'static, ()> {
    DEVICES_LOCK.lock().await
}

/// The PostgREST-compatible server of `scripts/test-stack.sh`.
#[derive(Clone)]
pub struct Rest {
    pub url: Url,
    pub key: String,
    http: reqwest::Client,
}

impl Rest {
    /// Reads the stack's env vars; the tests cannot run without it.
    pub fn from_env() -> Self {
        let url = std::env::var("HS_TEST_REST_URL").expect(
            "HS_TEST_REST_URL is not set: run the tests with ./scripts/test (it starts PostgreSQL and the PostgREST-compatible server)",
        );
        let key = std::env::var("HS_TEST_SERVICE_KEY")
            .expect("HS_TEST_SERVICE_KEY is not set: run ./scripts/test");
        Self {
            url: Url::parse(&url).expect("HS_TEST_REST_URL is a URL"),
            key,
            http: reqwest::Client::new(),
        }
    }

    fn table(&self, table: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("/{table}"));
        url
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Value {
        let response = rb
            .header("apikey", &self.key)
            .bearer_auth(&self.key)
            .header("Prefer", "return=representation")
            .send()
            .await
            .expect("PostgREST answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "PostgREST said {status}: {body}");
        body
    }

    /// Inserts an angajat and (when any field is given) their biometrie; returns the id.
    pub async fn insert_angajat(&self, employee_no: Option<&str>, foto: Option<&str>) -> Uuid {
        let id = Uuid::new_v4();
        self.send(self.http.post(self.table("angajati")).json(&json!({
            "id": id, "nume": "Popescu", "prenume": "Ion"
        })))
        .await;
        if employee_no.is_some() || foto.is_some() {
            self.send(self.http.post(self.table("biometrie")).json(&json!({
                "angajat_id": id, "employee_no": employee_no, "foto_fata_url": foto
            })))
            .await;
        }
        id
    }

    /// Replaces every device row with `rows`.
    pub async fn set_devices(&self, rows: Vec<Value>) {
        let mut url = self.table("hikvision_devices");
        url.query_pairs_mut().append_pair("id", "not.is.null");
        self.send(self.http.delete(url)).await;
        // One by one: PostgREST bulk inserts need identical keys in every object.
        for row in rows {
            self.send(self.http.post(self.table("hikvision_devices")).json(&row))
                .await;
        }
    }
}

/// A device row for a simulated terminal.
pub fn device_row(name: &str, terminal: &SimulatedTerminal, password: &str) -> Value {
    json!({
        "name": name, "ip": terminal.addr().ip().to_string(), "port": terminal.addr().port(),
        "username": "admin", "password": password, "is_active": true
    })
}

/// A distinct, valid-looking JPEG: SOI marker, a few bytes of `seed`, EOI marker.
pub fn jpeg(seed: u8) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    bytes.extend(std::iter::repeat_n(seed, 512));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// Serves pictures at any path, like Supabase Storage would.
#[derive(Clone)]
pub struct PhotoServer {
    pub base: Url,
    files: Files,
}

impl PhotoServer {
    pub async fn start() -> Self {
        let files: Files = Arc::default();
        let app = Router::new()
            .route("/{*path}", axum::routing::get(serve_photo))
            .with_state(files.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: Url::parse(&format!("http://{addr}/")).unwrap(),
            files,
        }
    }

    /// Publishes `bytes` at `path` and returns the absolute URL.
    pub fn put(&self, path: &str, bytes: Vec<u8>) -> String {
        let path = path.trim_start_matches('/').to_string();
        self.files.lock().unwrap().insert(path.clone(), bytes);
        self.base.join(&path).unwrap().to_string()
    }
}

async fn serve_photo(State(files): State<Files>, Path(path): Path<String>) -> impl IntoResponse {
    match files.lock().unwrap().get(&path) {
        Some(bytes) => (
            StatusCode::OK,
            [("content-type", "image/jpeg")],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A fresh employee number, so tests never see each other's persons.
pub fn unique_employee_no() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Enrols a person on a terminal directly (as if done earlier), with an optional face.
pub fn enrol(terminal: &SimulatedTerminal, employee_no: &str, face: Option<Vec<u8>>) {
    terminal.add_person(
        hikvision_sync::isapi::build_person(employee_no, "Ion Popescu").expect("valid person"),
    );
    if let Some(face) = face {
        terminal.set_face(employee_no, face);
    }
}

/// The terminals' password in tests.
pub const PASSWORD: &str = "Sim-Pass-123";

/// A simulated terminal on a random loopback port.
pub async fn terminal(faults: Faults) -> SimulatedTerminal {
    let config = TerminalConfig {
        username: "admin".into(),
        password: PASSWORD.into(),
        faults,
        ..TerminalConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// Settings pointing at the test stack, with fast pacing and timeouts.
pub fn settings(rest: &Rest, photos: &PhotoServer) -> Settings {
    Settings {
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        supabase: Some(SupabaseSettings {
            url: Some(photos.base.clone()),
            rest_url: rest.url.clone(),
            service_key: SecretString::from(rest.key.clone()),
        }),
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
        ..Settings::default()
    }
}

/// The service on a random port.
pub struct TestApp {
    pub base: Url,
    pub http: reqwest::Client,
}

impl TestApp {
    pub async fn spawn(settings: Settings) -> Self {
        let directory = startup::supabase_directory(&settings).expect("directory builds");
        let listener = startup::bind(settings.bind_addr).await.expect("binds");
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = startup::build_state(settings, directory).expect("state builds");
        tokio::spawn(startup::serve(listener, state));
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

    /// POSTs JSON and returns (status, JSON body).
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_raw(path, &body.to_string()).await
    }
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
