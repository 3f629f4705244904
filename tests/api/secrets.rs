//! No secret ever leaves the service: the full update flow runs with recognisable secret values
//! (terminal passwords, the default terminal password, the Supabase service key, a wrong service
//! key, the API key, the JWT secret and the users' tokens) while every log line at TRACE level, from
//! every crate (the `log` crate's records included), is captured in memory, and every response,
//! status line, headers and body, is kept. Then none of those values, nor the HTTP Basic encoding of
//! a terminal login, may appear anywhere.
//!
//! Needs the PostgREST-compatible stack (`scripts/test-stack.sh start`, then source its stack.env).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hikvision_isapi::build_person;
use hikvision_simulator::{self as simulator, SimulatedTerminal, TerminalConfig};
use hikvision_sync::config::AuthSettings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt;

const DEVICE_PW: &str = "DevPw-S3cret-7Qx9";
const DEFAULT_PW: &str = "DefaultPw-S3cret-Zk41";
const WRONG_PW: &str = "WrongPw-S3cret-Lm27";
const DEBUG_PW: &str = "DebugPw-S3cret-Tt08";
const API_KEY: &str = "ApiKey-S3cret-Hv83";
const WRONG_API_KEY: &str = "ApiKey-S3cret-Hv84";
const JWT_SECRET: &str = "JwtSecret-S3cret-Pq55-0123456789abcdef";
const OTHER_JWT_SECRET: &str = "OtherJwtSecret-S3cret-Yy19-0123456789ab";
const WRONG_SERVICE_KEY: &str = "sb_secret_WrongServiceKey-S3cret-Bn62";

/// Everything written by the log subscriber of this test binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
            .with_ansi(false)
            .finish()
            .try_init()
            .expect("the only subscriber of this test binary");
        logs
    })
    .clone()
}

/// Status line, headers and body of every response.
#[derive(Default)]
struct Transcript(String);

impl Transcript {
    async fn send(&mut self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("service answers");
        let status = response.status().as_u16();
        self.0.push_str(&format!("HTTP {status}\n"));
        for (name, value) in response.headers() {
            self.0.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let body = response.text().await.unwrap_or_default();
        self.0.push_str(&body);
        self.0.push('\n');
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

async fn terminal_with(password: &str) -> SimulatedTerminal {
    let config = TerminalConfig {
        password: password.into(),
        ..TerminalConfig::default()
    };
    simulator::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn token(secret: &str, issuer: &str, exp: i64) -> String {
    let claims = json!({"sub": uuid::Uuid::new_v4(), "aud": "authenticated", "iss": issuer,
                        "role": "authenticated", "exp": exp, "iat": now()});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn no_secret_appears_in_any_log_line_or_response() {
    let logs = capture_logs();
    let Some(rest) = Rest::isolated().await else {
        return;
    };
    let store = Store::Rest(rest.clone());
    let photos = PhotoServer::start().await.unwrap();
    let issuer = "https://secrets-test.supabase.co/auth/v1";

    let mut settings = settings(&store, &photos);
    settings.api_key = Some(SecretString::from(API_KEY));
    settings.auth = AuthSettings {
        jwt_secret: Some(SecretString::from(JWT_SECRET)),
        issuer: Some(issuer.into()),
        // The user below enrols (sync-angajat, the debugging endpoint): an admin here.
        all_users_admin: true,
        ..AuthSettings::default()
    };
    settings.device_defaults.password = Some(SecretString::from(DEFAULT_PW));
    let app = TestApp::spawn(&store, settings.clone()).await;

    // Terminals: one with its own password, one using HIKVISION_PASSWORD, one given a wrong password.
    let own = terminal_with(DEVICE_PW).await;
    let by_default = terminal_with(DEFAULT_PW).await;
    let mistyped = terminal_with(DEVICE_PW).await;
    let no = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    for t in [&own, &by_default, &mistyped] {
        t.add_person(build_person(&no.parse().unwrap(), "Ion Popescu"));
        t.set_face(&no, jpeg(1));
    }
    let url = photos.put(&format!("faces/{no}.jpg"), jpeg(2));
    let id = rest.insert_angajat(Some(&no), Some(&url)).await;
    rest.set_devices(vec![
        device_row("own password", &own, DEVICE_PW),
        json!({"name": "default password", "ip": "127.0.0.1", "port": by_default.addr().port(),
               "username": "admin", "password": null, "is_active": true}),
        device_row("wrong password", &mistyped, WRONG_PW),
    ])
    .await;

    let user = token(JWT_SECRET, issuer, now() + 3600);
    let expired = token(JWT_SECRET, issuer, now() - 3600);
    let forged = token(OTHER_JWT_SECRET, issuer, now() + 3600);
    let mut t = Transcript::default();
    let post = |path: &str, body: Value| app.http.post(app.base.join(path).unwrap()).json(&body);
    let update = json!({"angajat_id": id});

    // The flows, by API key and by user token.
    let (status, body) = t
        .send(
            post("/api/hikvision/update-angajat-photo", update.clone())
                .header("x-api-key", API_KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["summary"],
        json!({"success": 2, "partial": 1, "skipped": 0, "fatal": 0}),
        "{body}"
    );
    assert_eq!(
        by_name(&body)["wrong password"]["error_code"],
        "wrong_credentials"
    );
    for path in [
        "/api/hikvision/update-angajat-photo",
        "/api/hikvision/sync-angajat-photo-only",
        "/api/hikvision/sync-angajat",
    ] {
        let (status, body) = t.send(post(path, update.clone()).bearer_auth(&user)).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The debug endpoint, which takes a terminal password in its body: right and wrong.
    for password in [DEVICE_PW, DEBUG_PW] {
        let debug = json!({"device": {"ip": "127.0.0.1", "port": own.addr().port(),
                                      "username": "admin", "password": password},
                           "employee_no": no, "face_url": url});
        let (status, body) = t
            .send(post("/api/test-isapi/update-face-image", debug).header("x-api-key", API_KEY))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Refused credentials.
    for request in [
        post("/api/hikvision/update-angajat-photo", update.clone()).bearer_auth(&expired),
        post("/api/hikvision/update-angajat-photo", update.clone()).bearer_auth(&forged),
        post("/api/hikvision/update-angajat-photo", update.clone())
            .header("x-api-key", WRONG_API_KEY),
        post("/api/hikvision/update-angajat-photo", update.clone()).header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("admin:{API_KEY}"))),
        ),
        post("/api/hikvision/update-angajat-photo", update.clone()),
    ] {
        let (status, body) = t.send(request).await;
        assert_eq!(status, 401, "{body}");
    }
    for path in ["/health", "/ready"] {
        t.send(app.http.get(app.base.join(path).unwrap())).await;
    }

    // Supabase failures: a wrong service key, then Supabase unreachable.
    let mut wrong_key = settings.clone();
    if let Some(sb) = wrong_key.supabase.as_mut() {
        sb.service_key = SecretString::from(WRONG_SERVICE_KEY);
    }
    let mut down = settings.clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    if let Some(sb) = down.supabase.as_mut() {
        sb.rest_url = url::Url::parse(&format!("http://{closed}/")).unwrap();
    }
    for broken in [wrong_key, down] {
        let app = TestApp::spawn(&store, broken).await;
        let request = app
            .http
            .post(
                app.base
                    .join("/api/hikvision/update-angajat-photo")
                    .unwrap(),
            )
            .bearer_auth(&user)
            .json(&update);
        let (status, body) = t.send(request).await;
        assert_eq!(status, 503, "{body}");
        t.send(app.http.get(app.base.join("/ready").unwrap())).await;
    }
    // A kept sleep: background work (retries, the sweep) gets time to log a secret, if it would.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    // The capture really saw the service at work, down to TRACE.
    for expected in [
        "update-angajat-photo",
        "authenticated",
        "request refused",
        "terminal replied",
        "directory read failed",
        "TRACE",
    ] {
        assert!(
            logs.contains(expected),
            "no '{expected}' in the captured logs"
        );
    }
    let mut secrets: Vec<(String, String)> = [
        ("terminal password", DEVICE_PW),
        ("HIKVISION_PASSWORD", DEFAULT_PW),
        ("a wrong terminal password", WRONG_PW),
        ("the debug endpoint's password", DEBUG_PW),
        ("API_KEY", API_KEY),
        ("a presented wrong API key", WRONG_API_KEY),
        ("SUPABASE_JWT_SECRET", JWT_SECRET),
        ("another project's JWT secret", OTHER_JWT_SECRET),
        ("a wrong service key", WRONG_SERVICE_KEY),
        ("SUPABASE_SERVICE_ROLE_KEY", &rest.key),
        ("a user's token", &user),
        ("an expired token", &expired),
        ("a forged token", &forged),
    ]
    .iter()
    .map(|(what, value)| (what.to_string(), value.to_string()))
    .collect();
    for (what, token) in [("user", &user), ("expired", &expired), ("forged", &forged)] {
        let signature = token.rsplit('.').next().unwrap().to_string();
        secrets.push((format!("the {what} token's signature"), signature));
    }
    for pw in [DEVICE_PW, DEFAULT_PW, WRONG_PW, DEBUG_PW] {
        secrets.push((
            format!("the Basic encoding of admin:{pw}"),
            STANDARD.encode(format!("admin:{pw}")),
        ));
    }
    for (what, value) in &secrets {
        assert!(!logs.contains(value.as_str()), "{what} appears in the logs");
        assert!(
            !t.0.contains(value.as_str()),
            "{what} appears in a response"
        );
    }
    // Printed for the record when run with --nocapture.
    println!(
        "checked {} secrets against {} log lines and {} response bytes",
        secrets.len(),
        logs.lines().count(),
        t.0.len()
    );
}
