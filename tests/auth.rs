//! Authentication of `/api/*` against the real router over HTTP: Supabase user tokens verified with a
//! JWKS served by the test itself (ES256 and RS256 keys generated here), the legacy HS256 secret, the
//! static API key, and every way a credential can be wrong.
//!
//! The directory is an empty in-memory one: authentication happens before it, so a 404
//! `angajat_not_found` proves a request got past authentication. No terminals, no PostgREST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_lc_rs::signature::KeyPair as _;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hikvision_sync::config::Settings;
use hikvision_sync::supabase::MemoryDirectory;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::TestApp;
use support::jwt::{AuthServer, ec_key, es256, now, user_claims};
use url::Url;

const ENDPOINT: &str = "/api/hikvision/update-angajat-photo";
const JWT_SECRET: &str = "test-legacy-jwt-secret-0123456789abcdef";
const API_KEY: &str = "test-api-key-4f1c2b";

// ---------------------------------------------------------------------------------------------
// Keys and tokens (the project's auth server, ES256 keys and user claims are in support::jwt).

/// An RSA-2048 key; its tokens are signed here by hand (no jsonwebtoken), as another issuer would.
struct RsaKey {
    kid: String,
    pair: aws_lc_rs::rsa::KeyPair,
    jwk: Value,
}

fn rsa_key(kid: &str) -> RsaKey {
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

fn rs256(key: &RsaKey, claims: &Value) -> String {
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

fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

// ---------------------------------------------------------------------------------------------
// The service.

struct App {
    base: Url,
    http: reqwest::Client,
}

struct Reply {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Got past authentication: the (empty) directory answered.
    fn passed_auth(&self) -> bool {
        self.status == StatusCode::NOT_FOUND && self.body["code"] == "angajat_not_found"
    }

    #[track_caller]
    fn assert_refused(&self, status: StatusCode, code: &str, message_part: &str) {
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
}

fn load(pairs: &[(&str, &str)]) -> Settings {
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

/// Settings of a project whose tokens come from `server`, with the legacy secret and an API key.
fn project(server: &AuthServer) -> Settings {
    load(&[
        ("SUPABASE_URL", server.base.as_str()),
        ("SUPABASE_JWT_SECRET", JWT_SECRET),
        ("API_KEY", API_KEY),
    ])
}

impl App {
    async fn spawn(settings: Settings) -> Self {
        let TestApp { base, http } =
            TestApp::spawn_with(settings, Some(Arc::new(MemoryDirectory::default()))).await;
        Self { base, http }
    }

    async fn call(&self, headers: &[(&str, &str)]) -> Reply {
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

    async fn bearer(&self, token: &str) -> Reply {
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

// ---------------------------------------------------------------------------------------------
// Valid credentials.

#[tokio::test]
async fn es256_token_verified_with_the_projects_jwks_is_accepted() {
    let key = ec_key("ec-key-1");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;

    let reply = app
        .bearer(&es256(&key, &user_claims(&server.issuer())))
        .await;
    assert!(reply.passed_auth(), "{}", reply.body);
    // The keys are cached: more tokens, no more downloads.
    for _ in 0..3 {
        let reply = app
            .bearer(&es256(&key, &user_claims(&server.issuer())))
            .await;
        assert!(reply.passed_auth(), "{}", reply.body);
    }
    assert_eq!(server.downloads(), 1);
}

#[tokio::test]
async fn rs256_token_verified_with_the_projects_jwks_is_accepted() {
    let ec = ec_key("ec-key-1");
    let rsa = rsa_key("rsa-key-1");
    let server = AuthServer::start(vec![ec.jwk.clone(), rsa.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;

    let reply = app
        .bearer(&rs256(&rsa, &user_claims(&server.issuer())))
        .await;
    assert!(reply.passed_auth(), "{}", reply.body);
    let forged = rs256(&rsa_key("rsa-key-1"), &user_claims(&server.issuer()));
    app.bearer(&forged).await.assert_refused(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "signature is not valid",
    );
}

#[tokio::test]
async fn hs256_token_signed_with_the_legacy_secret_is_accepted() {
    let server = AuthServer::start(vec![]).await;
    let app = App::spawn(project(&server)).await;

    let reply = app
        .bearer(&hs256(JWT_SECRET, &user_claims(&server.issuer())))
        .await;
    assert!(reply.passed_auth(), "{}", reply.body);
    assert_eq!(server.downloads(), 0, "HS256 needs no JWKS");
}

#[tokio::test]
async fn the_api_key_lets_servers_in_and_a_wrong_one_is_401() {
    let server = AuthServer::start(vec![]).await;
    let app = App::spawn(project(&server)).await;

    assert!(app.call(&[("x-api-key", API_KEY)]).await.passed_auth());
    // x-api-key is judged alone: a bogus bearer next to the right key does not matter...
    assert!(
        app.call(&[("x-api-key", API_KEY), ("authorization", "Bearer x.y.z")])
            .await
            .passed_auth()
    );
    // ...and a valid token next to a wrong key does not rescue it.
    let token = hs256(JWT_SECRET, &user_claims(&server.issuer()));
    let bearer = format!("Bearer {token}");
    for key in [
        "wrong-key",
        "test-api-key-4f1c2",
        "test-api-key-4f1c2bX",
        "",
    ] {
        app.call(&[("x-api-key", key), ("authorization", &bearer)])
            .await
            .assert_refused(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The API key in x-api-key is not valid",
            );
    }
}

#[tokio::test]
async fn with_no_method_configured_the_api_is_open() {
    let app = App::spawn(load(&[])).await;
    assert!(app.call(&[]).await.passed_auth());
    assert!(app.bearer("not-even-a-jwt").await.passed_auth());
}

#[tokio::test]
async fn health_and_ready_need_no_credentials() {
    let server = AuthServer::start(vec![]).await;
    let app = App::spawn(project(&server)).await;
    for path in ["/health", "/ready"] {
        let response = app.http.get(app.base.join(path).unwrap()).send().await;
        assert_eq!(response.unwrap().status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn cors_preflight_needs_no_credentials() {
    let server = AuthServer::start(vec![]).await;
    let mut settings = project(&server);
    settings.cors_origins = vec!["http://localhost:5173".into()];
    let app = App::spawn(settings).await;
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.base.join(ENDPOINT).unwrap())
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let allowed = response
        .headers()
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(allowed.contains("authorization"), "{allowed}");
}

// ---------------------------------------------------------------------------------------------
// Wrong credentials.

#[tokio::test]
async fn missing_or_malformed_credentials_are_401_with_what_to_send() {
    let server = AuthServer::start(vec![]).await;
    let app = App::spawn(project(&server)).await;

    app.call(&[]).await.assert_refused(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Authorization: Bearer",
    );
    app.call(&[("authorization", "Basic YWRtaW46cGFzcw==")])
        .await
        .assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    for garbage in ["abc", "a.b.c", "....", "eyJhbGciOiJub25lIn0.e30.", "Bearer"] {
        app.bearer(garbage)
            .await
            .assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "");
    }
    // alg "none" with claims that would otherwise pass.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(user_claims(&server.issuer()).to_string())
    );
    app.bearer(&none)
        .await
        .assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "ES256");
}

#[tokio::test]
async fn expired_token_is_401_but_a_little_clock_skew_is_tolerated() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;
    let claims = |exp: i64| with(user_claims(&server.issuer()), "exp", json!(exp));

    for token in [
        es256(&key, &claims(now() - 120)),
        hs256(JWT_SECRET, &claims(now() - 3600)),
    ] {
        app.bearer(&token).await.assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "expired: refresh the Supabase session",
        );
    }
    assert!(
        app.bearer(&es256(&key, &claims(now() - 5)))
            .await
            .passed_auth()
    );
    let no_exp = {
        let mut c = user_claims(&server.issuer());
        c.as_object_mut().unwrap().remove("exp");
        c
    };
    app.bearer(&hs256(JWT_SECRET, &no_exp))
        .await
        .assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "lacks a required claim",
        );
}

#[tokio::test]
async fn wrong_audience_is_401_so_anon_and_service_keys_are_not_user_tokens() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;

    let wrong_aud = with(user_claims(&server.issuer()), "aud", json!("anon"));
    for token in [es256(&key, &wrong_aud), hs256(JWT_SECRET, &wrong_aud)] {
        app.bearer(&token).await.assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "audience is not 'authenticated'",
        );
    }
    // The legacy service_role / anon keys: HS256, iss "supabase", no aud.
    let service_key = json!({"iss": "supabase", "ref": "abc", "role": "service_role",
                             "iat": now(), "exp": now() + 3600});
    app.bearer(&hs256(JWT_SECRET, &service_key))
        .await
        .assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "lacks a required claim",
        );
}

#[tokio::test]
async fn wrong_issuer_is_401() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;

    for iss in [
        "https://other-project.supabase.co/auth/v1",
        "supabase",
        server.base.as_str(),
    ] {
        let claims = with(user_claims(&server.issuer()), "iss", json!(iss));
        for token in [es256(&key, &claims), hs256(JWT_SECRET, &claims)] {
            app.bearer(&token).await.assert_refused(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "not issued by this project's auth server",
            );
        }
    }
}

#[tokio::test]
async fn wrong_signature_is_401() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;
    let claims = user_claims(&server.issuer());

    // Another key claiming the published kid; another HS256 secret; a payload altered after signing.
    let impostor = ec_key("k");
    let tampered = {
        let token = es256(&key, &claims);
        let parts: Vec<&str> = token.split('.').collect();
        let admin = with(claims.clone(), "app_metadata", json!({"role": "hr_admin"}));
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(admin.to_string()),
            parts[2]
        )
    };
    for token in [
        es256(&impostor, &claims),
        hs256("another-projects-secret-0123456789abcdef", &claims),
        tampered,
    ] {
        app.bearer(&token).await.assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "signature is not valid",
        );
    }
    assert!(app.bearer(&es256(&key, &claims)).await.passed_auth());
}

#[tokio::test]
async fn unknown_kid_triggers_one_refresh_and_a_rotated_key_is_then_accepted() {
    let old = ec_key("old");
    let server = AuthServer::start(vec![old.jwk.clone()]).await;
    let mut settings = project(&server);
    settings.auth.jwks_min_refresh = Duration::from_millis(200);
    let app = App::spawn(settings).await;

    assert!(
        app.bearer(&es256(&old, &user_claims(&server.issuer())))
            .await
            .passed_auth()
    );
    assert_eq!(server.downloads(), 1);

    // The project rotates to a new key: the first token signed with it makes the service re-read.
    let new = ec_key("new");
    server.publish(vec![old.jwk.clone(), new.jwk.clone()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = app
        .bearer(&es256(&new, &user_claims(&server.issuer())))
        .await;
    assert!(reply.passed_auth(), "{}", reply.body);
    assert_eq!(server.downloads(), 2, "exactly one refresh");
    for key in [&new, &old] {
        assert!(
            app.bearer(&es256(key, &user_claims(&server.issuer())))
                .await
                .passed_auth()
        );
    }
    assert_eq!(server.downloads(), 2, "both keys now cached");

    // A kid the project never published: one refresh, then 401.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stranger = ec_key("stranger");
    app.bearer(&es256(&stranger, &user_claims(&server.issuer())))
        .await
        .assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "key this project does not publish",
        );
    assert_eq!(server.downloads(), 3);
}

#[tokio::test]
async fn unknown_kids_cannot_make_the_service_hammer_the_jwks() {
    let server = AuthServer::start(vec![]).await;
    let app = Arc::new(App::spawn(project(&server)).await); // default: one refresh per 30 s
    let stranger = ec_key("stranger");
    let token = es256(&stranger, &user_claims(&server.issuer()));

    let replies = futures::future::join_all((0..20).map(|_| {
        let app = app.clone();
        let token = token.clone();
        async move { app.bearer(&token).await }
    }))
    .await;
    for reply in replies {
        reply.assert_refused(StatusCode::UNAUTHORIZED, "unauthorized", "does not publish");
    }
    assert_eq!(
        server.downloads(),
        1,
        "20 concurrent unknown kids, one download"
    );
    // Even once the key appears, it is not looked for again within the interval.
    server.publish(vec![stranger.jwk.clone()]);
    app.bearer(&token).await.assert_refused(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "does not publish",
    );
    assert_eq!(server.downloads(), 1);
}

#[tokio::test]
async fn unreachable_signing_keys_are_503_and_the_api_key_still_works() {
    let server = AuthServer::start(vec![]).await;
    server.failing.store(true, Ordering::SeqCst);
    let app = App::spawn(project(&server)).await;
    let key = ec_key("k");

    app.bearer(&es256(&key, &user_claims(&server.issuer())))
        .await
        .assert_refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "auth_unavailable",
            "signing keys could not be downloaded (HTTP 500)",
        );
    assert!(app.call(&[("x-api-key", API_KEY)]).await.passed_auth());
    assert!(
        app.bearer(&hs256(JWT_SECRET, &user_claims(&server.issuer())))
            .await
            .passed_auth(),
        "HS256 tokens do not need the JWKS"
    );
}

#[tokio::test]
async fn hs256_tokens_are_refused_without_the_legacy_secret() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(load(&[("SUPABASE_URL", server.base.as_str())])).await;

    app.bearer(&hs256(JWT_SECRET, &user_claims(&server.issuer())))
        .await
        .assert_refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "SUPABASE_JWT_SECRET is not set",
        );
    // An HS256 token "signed" with the public key's text (the classic algorithm confusion).
    let public = key.jwk.to_string();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k".into());
    let confused = jsonwebtoken::encode(
        &header,
        &user_claims(&server.issuer()),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    app.bearer(&confused).await.assert_refused(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "HS256 tokens are not accepted",
    );
    assert!(
        app.bearer(&es256(&key, &user_claims(&server.issuer())))
            .await
            .passed_auth()
    );
    app.call(&[("x-api-key", "anything")]).await.assert_refused(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "does not accept API keys",
    );
}

#[tokio::test]
async fn a_valid_token_without_the_required_role_is_403() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(load(&[
        ("SUPABASE_URL", server.base.as_str()),
        ("API_KEY", API_KEY),
        ("AUTH_REQUIRED_ROLE", "hr_admin"),
    ]))
    .await;
    let iss = server.issuer();

    for claims in [
        user_claims(&iss),
        // user_metadata is editable by the user: it never grants a role.
        with(
            user_claims(&iss),
            "user_metadata",
            json!({"role": "hr_admin"}),
        ),
        with(user_claims(&iss), "app_metadata", json!({"role": "viewer"})),
    ] {
        app.bearer(&es256(&key, &claims)).await.assert_refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            "lacks the role 'hr_admin'",
        );
    }
    for claims in [
        with(
            user_claims(&iss),
            "app_metadata",
            json!({"role": "hr_admin"}),
        ),
        with(
            user_claims(&iss),
            "app_metadata",
            json!({"roles": ["viewer", "hr_admin"]}),
        ),
        with(user_claims(&iss), "role", json!("hr_admin")),
    ] {
        let reply = app.bearer(&es256(&key, &claims)).await;
        assert!(reply.passed_auth(), "{claims}: {}", reply.body);
    }
    // An invalid token is still 401, not 403.
    let expired = with(
        with(
            user_claims(&iss),
            "app_metadata",
            json!({"role": "hr_admin"}),
        ),
        "exp",
        json!(now() - 600),
    );
    app.bearer(&es256(&key, &expired)).await.assert_refused(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "expired",
    );
    // The server-to-server key is trusted with every route.
    assert!(app.call(&[("x-api-key", API_KEY)]).await.passed_auth());
}

#[tokio::test]
async fn anonymous_sign_ins_are_403() {
    let key = ec_key("k");
    let server = AuthServer::start(vec![key.jwk.clone()]).await;
    let app = App::spawn(project(&server)).await;
    let claims = with(user_claims(&server.issuer()), "is_anonymous", json!(true));
    app.bearer(&es256(&key, &claims)).await.assert_refused(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Anonymous sessions",
    );
}
