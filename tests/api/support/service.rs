//! The service as its own process (`hikvision-sync serve`), for what only a process can show:
//! `kill -9` in the middle of work, several replicas on one database.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use url::Url;

use super::{PhotoServer, Rest};

/// The API key the service processes of the tests accept.
pub const API_KEY: &str = "process-test-key";

/// `serve`'s environment for a REST store, a photo server and a database: fast retries and
/// sweeps, no pacing, short terminal timeouts.
pub fn serve_env(rest: &Rest, photos: &PhotoServer, database: &str) -> HashMap<String, String> {
    [
        ("SUPABASE_URL", photos.base.as_str()),
        ("SUPABASE_REST_URL", rest.url.as_str()),
        ("SUPABASE_SERVICE_ROLE_KEY", rest.key.as_str()),
        ("ANGAJATI_TABLE", rest.tables.angajati.as_str()),
        ("BIOMETRIE_TABLE", rest.tables.biometrie.as_str()),
        ("DEVICES_TABLE", rest.tables.devices.as_str()),
        ("FACE_URL_SCHEME", "keep"),
        ("DATABASE_URL", database),
        ("API_KEY", API_KEY),
        // User tokens are on (SUPABASE_URL's JWKS): `serve` needs an admin role.
        ("AUTH_ADMIN_ROLE", "hr_admin"),
        ("RATE_LIMIT_DELAY_MS", "0"),
        ("DEVICE_TIMEOUT_MS", "2000"),
        ("REQUEST_DEADLINE_MS", "8000"),
        ("RETRY_INITIAL_MS", "300"),
        ("RETRY_MAX_MS", "1000"),
        ("SWEEP_INTERVAL_MS", "1000"),
        // As in `settings()`: only the events tests read terminals' events (they turn it on).
        ("EVENTS_ENABLED", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What `serve` printed when it refused to start with `env` (it must exit, and fail).
pub async fn serve_refusal(env: &[(&str, &str)]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(env!("CARGO_BIN_EXE_hikvision-sync"))
            .arg("serve")
            .env_clear()
            .envs(env.iter().copied())
            .env("BIND_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("serve exits by itself")
    .expect("the service binary runs");
    assert!(!out.status.success(), "serve started with {env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

/// A running `hikvision-sync serve`.
pub struct ServiceProcess {
    /// Where it listens.
    pub base: Url,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl ServiceProcess {
    /// Starts `serve` with exactly `env` (plus a loopback `BIND_ADDR`) and waits for `/health`.
    pub async fn start(env: &HashMap<String, String>) -> Self {
        Self::spawn(env, "warn", Stdio::null()).await
    }

    /// As [`Self::start`], logging from `info` up as JSON lines into `log` (the log goes to
    /// standard output).
    pub async fn start_logged(env: &HashMap<String, String>, log: &std::path::Path) -> Self {
        let file = std::fs::File::create(log).expect("a log file");
        let mut env = env.clone();
        env.insert("LOG_FORMAT".into(), "json".into());
        Self::spawn(&env, "info", Stdio::from(file)).await
    }

    async fn spawn(env: &HashMap<String, String>, rust_log: &str, stdout: Stdio) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_hikvision-sync"))
            .arg("serve")
            .env_clear()
            .envs(env)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the service binary starts");
        let base = Url::parse(&format!("http://127.0.0.1:{port}/")).expect("a URL");
        let health = base.join("health").expect("a URL");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(health.clone())
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Self { base, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not answer /health within 10 s");
    }

    /// `kill -9`: no shutdown, no flush, claims left as they are.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
