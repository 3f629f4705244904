//! Supabase-like user tokens for the tests: an auth server that publishes a JWKS, ES256 keys
//! made per run, and the claims Supabase Auth puts in a signed-in user's access token.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use url::Url;

/// A stand-in for a Supabase project's auth server: serves the JWKS and counts downloads.
#[derive(Clone)]
pub struct AuthServer {
    /// The project URL (`SUPABASE_URL`).
    pub base: Url,
    /// The published public keys (JWKs).
    pub keys: Arc<Mutex<Vec<Value>>>,
    /// JWKS downloads so far.
    pub downloads: Arc<AtomicUsize>,
    /// Answer 500 instead of the keys.
    pub failing: Arc<AtomicBool>,
}

impl AuthServer {
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

    pub fn publish(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

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

pub fn es256(key: &EcKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

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
