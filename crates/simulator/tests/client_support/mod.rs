//! What the client-against-simulator tests share: a simulated terminal with the `hikvision-isapi`
//! client pointed at it, seeded persons and faces, raw Digest requests for what the client
//! refuses to send, and a picture server whose downloads can be held until several arrive.
#![allow(dead_code)]

#[path = "../picture_kit/mod.rs"]
mod picture_kit;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use diqwest::WithDigestAuth;
use hikvision_isapi::{ClientOptions, IsapiClient, Terminal, build_person};
use hikvision_simulator::{SimulatedTerminal, TerminalConfig, spawn};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::Barrier;

/// A simulated terminal and a client for it.
pub struct Rig {
    /// The simulated terminal.
    pub sim: SimulatedTerminal,
    /// The client.
    pub client: IsapiClient,
    /// The terminal as the client addresses it.
    pub terminal: Terminal,
}

impl Rig {
    /// A terminal with `config` on a random loopback port.
    pub async fn start(config: TerminalConfig) -> Self {
        let password = SecretString::from(config.password.clone());
        let username = config.username.clone();
        let sim = spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("simulator starts");
        let terminal =
            Terminal::new("127.0.0.1", sim.addr().port(), &username, password).expect("terminal");
        let client = IsapiClient::new(ClientOptions::with_total_timeout(Duration::from_secs(10)))
            .expect("client");
        Self {
            sim,
            client,
            terminal,
        }
    }

    /// A terminal with `faults` from the start.
    pub async fn with_faults(faults: hikvision_simulator::Faults) -> Self {
        Self::start(TerminalConfig {
            faults,
            ..TerminalConfig::default()
        })
        .await
    }

    /// A terminal with the default configuration.
    pub async fn default() -> Self {
        Self::start(TerminalConfig::default()).await
    }

    /// Seeds persons `employee_nos`, each with a face when `with_faces`.
    pub fn seed<'a>(&self, employee_nos: impl IntoIterator<Item = &'a str>, with_faces: bool) {
        for (i, employee_no) in employee_nos.into_iter().enumerate() {
            let person = build_person(
                &employee_no.parse().unwrap(),
                &format!("Person {employee_no}"),
            );
            self.sim.add_person(person);
            if with_faces {
                self.sim.set_face(employee_no, picture(i));
            }
        }
    }

    /// The employeeNos the terminal holds, in order.
    pub fn persons(&self) -> Vec<String> {
        self.sim
            .persons()
            .into_iter()
            .map(|p| p.employee_no)
            .collect()
    }

    /// The FPIDs the terminal holds faces for, in order.
    pub fn faces(&self) -> Vec<String> {
        self.sim.state().faces.into_iter().map(|f| f.fpid).collect()
    }

    /// A Digest-authenticated PUT of `body` to `path_and_query`, as a careless client would
    /// send it: the HTTP status and the JSON reply.
    pub async fn raw_put(&self, path_and_query: &str, body: Option<Value>) -> (u16, Value) {
        self.raw(reqwest::Method::PUT, path_and_query, body).await
    }

    /// A Digest-authenticated request with a JSON `body`: the HTTP status and the JSON reply.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("reqwest client");
        let url = format!("{}{path_and_query}", self.sim.base_url());
        let mut request = http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send_digest_auth((
                self.sim.config().username.as_str(),
                self.sim.config().password.as_str(),
            ))
            .await
            .expect("request completes");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON reply"))
    }
}

/// A small real JPEG, distinct for each `seed` (the terminal decodes every picture, and
/// refuses the same picture under two persons).
pub fn picture(seed: usize) -> Vec<u8> {
    picture_kit::real_jpeg(u64::try_from(seed).expect("seed fits in 64 bits"))
}

/// Serves `/pictures/{n}.jpg` as `picture(n)`, holding each download until `together`
/// downloads are waiting (1: at once).
pub struct PictureHost {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl PictureHost {
    /// Starts the server.
    pub async fn start(together: usize) -> Self {
        async fn serve(State(barrier): State<Arc<Barrier>>, Path(name): Path<String>) -> Vec<u8> {
            barrier.wait().await;
            let seed = name.trim_end_matches(".jpg").parse().unwrap_or(0);
            picture(seed)
        }
        let app = Router::new()
            .route("/pictures/{name}", get(serve))
            .with_state(Arc::new(Barrier::new(together)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("picture host");
        });
        Self { base, task }
    }

    /// The URL of `picture(seed)`.
    pub fn url(&self, seed: usize) -> url::Url {
        url::Url::parse(&format!("{}/pictures/{seed}.jpg", self.base)).expect("URL")
    }
}

impl Drop for PictureHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}
