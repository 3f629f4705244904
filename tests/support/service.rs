//! The service as its own process (`hikvision-sync serve`), for what only a process can show:
//! `kill -9` in the middle of work, several replicas on one database.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use url::Url;

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
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_hikvision-sync"))
            .arg("serve")
            .env_clear()
            .envs(env)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
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
