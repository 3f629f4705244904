//! What the authentication tests share: a stand-in for the project's auth server (it serves the
//! JWKS and counts downloads), signing keys and tokens made here (ES256, RS256, HS256), Supabase
//! user claims, and the service on a random port with an empty in-memory directory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::TestApp;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hikvision_sync::config::Settings;
use hikvision_sync::supabase::MemoryDirectory;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use url::Url;

/// The route every test calls.
pub const ENDPOINT: &str = "/api/hikvision/update-angajat-photo";
/// The project's legacy HS256 secret.
pub const JWT_SECRET: &str = "test-legacy-jwt-secret-0123456789abcdef";
/// The server-to-server key.
pub const API_KEY: &str = "test-api-key-4f1c2b";

// ---------------------------------------------------------------------------------------------
// A stand-in for the project's auth server: serves the JWKS and counts downloads.

#[derive(Clone)]
pub struct AuthServer {
    /// `http://127.0.0.1:<port>/`, the project's `SUPABASE_URL`.
    pub base: Url,
    keys: Arc<Mutex<Vec<Value>>>,
    downloads: Arc<AtomicUsize>,
    /// When set, the JWKS answers HTTP 500.
    pub failing: Arc<AtomicBool>,
}

impl AuthServer {
    /// Serves `keys` as the JWKS on a random port.
    pub async fn start(keys: Vec<Value>) -> Self {
        let server = Self {
            base: Url::parse("http://127.0.0.1/").unwrap(),
            keys: Arc::new(Mutex::new(keys)),
            downloads: Arc::default(),
            failing: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/auth/v1/.well-known/jwks.json",
                axum::routing::get(serve_jwks),
            )
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: Url::parse(&format!("http://{addr}")).unwrap(),
            ..server
        }
    }

    /// `{SUPABASE_URL}/auth/v1`, the issuer of the project's tokens.
    pub fn issuer(&self) -> String {
        format!("{}auth/v1", self.base)
    }

    /// Replaces the published keys.
    pub fn publish(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    /// How many times the JWKS was downloaded.
    pub fn downloads(&self) -> usize {
        self.downloads.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(server): State<AuthServer>) -> axum::response::Response {
    use axum::response::IntoResponse;
    server.downloads.fetch_add(1, Ordering::SeqCst);
    if server.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    let keys = server.keys.lock().unwrap().clone();
    axum::Json(json!({ "keys": keys })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Keys and tokens.

/// A P-256 key made for this test run, with its public JWK.
pub struct EcKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

pub fn ec_key(kid: &str) -> EcKey {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let encoding = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let jwk = serde_json::to_value(jwk).unwrap();
    assert!(jwk.get("d").is_none(), "a JWKS holds public keys only");
    EcKey {
        kid: kid.into(),
        encoding,
        jwk,
    }
}

/// A token signed with `key`.
pub fn es256(key: &EcKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// An RSA-2048 key; its tokens are signed here by hand (no jsonwebtoken), as another issuer would.
pub struct RsaKey {
    pub kid: String,
    pub pair: aws_lc_rs::rsa::KeyPair,
    pub jwk: Value,
}

pub fn rsa_key(kid: &str) -> RsaKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    });
    RsaKey {
        kid: kid.into(),
        pair,
        jwk,
    }
}

/// A token signed with `key`, built by hand.
pub fn rs256(key: &RsaKey, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.pair.public_modulus_len()];
    key.pair
        .sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut signature,
        )
        .unwrap();
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A token signed with `secret`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a signed-in user's access token, as Supabase Auth issues them.
pub fn user_claims(issuer: &str) -> Value {
    json!({
        "sub": uuid::Uuid::new_v4(), "aud": "authenticated", "iss": issuer, "role": "authenticated",
        "exp": now() + 3600, "iat": now(), "email": "ion.popescu@example.com", "aal": "aal1",
        "session_id": uuid::Uuid::new_v4(), "is_anonymous": false,
        "app_metadata": {"provider": "email", "providers": ["email"]}, "user_metadata": {},
    })
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

// ---------------------------------------------------------------------------------------------
// The service.

/// The service on a random port, with an empty in-memory directory.
pub struct App {
    pub base: Url,
    pub http: reqwest::Client,
}

/// The service's answer.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Got past authentication: the (empty) directory answered.
    pub fn passed_auth(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.body["code"] == "angajat_not_found"
    }

    /// Refused with `status` and `code`, the message naming `message_part`.
    #[track_caller]
    pub fn assert_refused(&self, status: StatusCode, code: &str, message_part: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["status"], "error", "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
        let message = self.body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(message_part),
            "'{message_part}' not in '{message}'"
        );
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                self.headers
                    .get("www-authenticate")
                    .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")),
                "401 without WWW-Authenticate"
            );
        }
    }

    /// Refused with 401 `unauthorized`, the message naming `message_part`.
    #[track_caller]
    pub fn assert_unauthorized(&self, message_part: &str) {
        self.assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", message_part);
    }
}

/// Settings from `pairs` (as environment variables), listening on a random port.
pub fn load(pairs: &[(&str, &str)]) -> Settings {
    let mut map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.insert("BIND_ADDR".into(), "127.0.0.1:0".into());
    if map.contains_key("SUPABASE_URL") {
        // Needed for a valid configuration; the directory used here is in memory.
        map.insert("SUPABASE_SERVICE_ROLE_KEY".into(), "unused".into());
    }
    Settings::from_lookup(|k| map.get(k).cloned()).expect("valid settings")
}

/// A project publishing one ES256 key (kid `k`), with the legacy secret and an API key, and the
/// service trusting it: the key, the auth server, the service.
pub async fn project_with_one_key() -> (EcKey, AuthServer, App) {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;
    (key, server, app)
}

/// Settings of a project whose tokens come from `server`, with the legacy secret and an API key.
pub fn project(server: &AuthServer) -> Settings {
    load(&[
        ("SUPABASE_URL", server.base.as_str()),
        ("SUPABASE_JWT_SECRET", JWT_SECRET),
        ("API_KEY", API_KEY),
    ])
}

impl App {
    /// Starts the service with `settings`.
    pub async fn spawn(settings: Settings) -> Self {
        let TestApp { base, http } =
            TestApp::spawn_with(settings, Some(Arc::new(MemoryDirectory::default()))).await;
        Self { base, http }
    }

    /// POSTs to [`ENDPOINT`] with `headers`.
    pub async fn call(&self, headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .http
            .post(self.base.join(ENDPOINT).unwrap())
            .json(&json!({"angajat_id": uuid::Uuid::new_v4()}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("service answers");
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    /// POSTs with `Authorization: Bearer <token>`; the token must not come back.
    pub async fn bearer(&self, token: &str) -> Reply {
        let reply = self
            .call(&[("authorization", &format!("Bearer {token}"))])
            .await;
        assert!(
            !reply.body.to_string().contains(token),
            "the token is echoed"
        );
        reply
    }
}
