//! A real browser calls the API the way the React app does: headless Chromium (Debian's
//! `chromium` and `chromium-driver`, driven over WebDriver with fantoccini) loads a page from a
//! second origin, which `fetch`es the update endpoint with `Authorization: Bearer <ES256 token>`
//! and a JSON body. The token is signed by a key whose JWKS this test serves at the service's
//! `SUPABASE_URL`. The preflight must pass for the origin in `CORS_ORIGINS`, the page must be able
//! to read the response and `x-request-id`, and a page from any other origin must be blocked by
//! the browser itself.
//!
//! Outside CI a machine without the browser skips this test with a message; under `CI=true` a
//! missing browser fails it. Everything listens on 127.0.0.1.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::auth_support::{AuthServer, ec_key, es256, user_claims};
use crate::support::*;
use axum::Router;
use axum::response::Html;
use fantoccini::{Client, ClientBuilder};
use hikvision_sync::config::Settings;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use url::Url;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// What the React app does: a JSON POST with the user's access token, then read the answer.
const CALL_API: &str = r#"
const [url, token, body, done] = arguments;
fetch(url, {
  method: "POST",
  headers: token ? { "Authorization": "Bearer " + token, "Content-Type": "application/json" }
                 : { "Content-Type": "application/json" },
  body: JSON.stringify(body),
})
  .then(async (r) => done({ status: r.status, requestId: r.headers.get("x-request-id"), body: await r.json() }))
  .catch((e) => done({ error: String(e) }));
"#;

/// A page served from an origin of its own (a port of its own on 127.0.0.1).
async fn page_origin() -> Url {
    let app = Router::new().route(
        "/",
        axum::routing::get(|| async { Html("<!doctype html><title>HR app</title><p>hr</p>") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Url::parse(&format!("http://{addr}")).unwrap()
}

/// Debian's chromedriver on a free loopback port, and a WebDriver session on headless Chromium.
struct Browser {
    client: Client,
    _driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    /// `None` (with a message) when the browser is not installed and this is not CI.
    async fn start() -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "{} not installed: `apt-get install chromium chromium-driver` (.ci/run does it)",
                missing.join(" and ")
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            eprintln!("SKIPPED: {message}");
            return None;
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("hs-chromium-{}", uuid::Uuid::new_v4()));
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display()),
                    // Names never resolve: the pages and the API are addressed as 127.0.0.1.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            }
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..50 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Some(Self {
                        client,
                        _driver: driver,
                        profile,
                    });
                }
                Err(e) => last = Some(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no WebDriver session with Chromium: {last:?}");
    }

    /// Opens `page`, runs the React app's call from it, and returns what the page saw.
    async fn call_from(&self, page: &Url, api: &Url, token: Option<&str>, body: Value) -> Value {
        self.client.goto(page.as_str()).await.unwrap();
        let args = vec![json!(api.as_str()), json!(token), body];
        self.client.execute_async(CALL_API, args).await.unwrap()
    }

    async fn close(self) {
        let _ = self.client.close().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test]
async fn a_browser_on_the_configured_origin_calls_the_api_and_others_are_blocked() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let key = ec_key("browser-key");
    let auth = AuthServer::start(vec![key.jwk.clone()]).await;
    let (app_page, foreign_page) = (page_origin().await, page_origin().await);
    let app_origin = app_page.origin().ascii_serialization();
    // The service's SUPABASE_URL is the test's auth server, so its JWKS verifies the token.
    let project = Settings::from_lookup(|k| match k {
        "SUPABASE_URL" => Some(auth.base.to_string()),
        "SUPABASE_SERVICE_ROLE_KEY" => Some("unused: the directory is in memory".into()),
        "CORS_ORIGINS" => Some(app_origin.clone()),
        _ => None,
    })
    .unwrap();
    let f = Fixture::on(Store::memory(), |s| {
        s.auth = project.auth.clone();
        s.cors_origins = project.cors_origins.clone();
    })
    .await;
    let (t, no, id) = one_enrolled(&f, "Door").await;
    let api = f.app.base.join(UPDATE_ENDPOINT).unwrap();
    let token = es256(&key, &user_claims(&auth.issuer()));
    let body = json!({"angajat_id": id});

    let seen = browser
        .call_from(&app_page, &api, Some(&token), body.clone())
        .await;
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["body"]["summary"]["success"], 1, "{seen}");
    assert_eq!(seen["body"]["per_device"][0]["method"], "FDModify");
    let request_id = seen["requestId"].as_str().unwrap_or_default();
    assert!(
        !request_id.is_empty(),
        "x-request-id is readable by the page: {seen}"
    );
    assert_eq!(t.face(&no).unwrap().bytes, jpeg(2));

    // The errors are readable too: the app can show why.
    let refused = browser.call_from(&app_page, &api, None, body.clone()).await;
    assert_eq!(refused["status"], 401, "{refused}");
    assert_eq!(refused["body"]["code"], "unauthorized");

    let calls = t.request_log().len();
    let blocked = browser
        .call_from(&foreign_page, &api, Some(&token), body)
        .await;
    assert!(
        blocked["error"]
            .as_str()
            .is_some_and(|e| e.contains("Failed to fetch")),
        "a page from {foreign_page} must be blocked: {blocked}"
    );
    assert_eq!(
        t.request_log().len(),
        calls,
        "the preflight failed, so the update was never sent"
    );
    browser.close().await;
}
