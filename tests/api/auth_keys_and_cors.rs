//! The other ways into `/api/*` against the real router over HTTP: the static API key, no method
//! configured, routes and CORS preflights that need no credentials, missing or malformed
//! credentials, the JWKS cache (key rotation, unknown kids, an unreachable JWKS), and HS256 tokens
//! when the legacy secret is not set.
//!
//! The directory is an empty in-memory one: authentication happens before it, so a 404
//! `angajat_not_found` proves a request got past authentication. No terminals, no PostgREST.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::auth_support::{
    API_KEY, App, AuthServer, ENDPOINT, JWT_SECRET, ec_key, es256, hs256, load, project,
    user_claims,
};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

// ---------------------------------------------------------------------------------------------
// The API key, open mode, and routes without credentials.

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
            .assert_unauthorized("The API key in x-api-key is not valid");
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
// Missing credentials, signing keys, and HS256 without the secret.

#[tokio::test]
async fn missing_or_malformed_credentials_are_401_with_what_to_send() {
    let server = AuthServer::start(vec![]).await;
    let app = App::spawn(project(&server)).await;

    app.call(&[])
        .await
        .assert_unauthorized("Authorization: Bearer");
    app.call(&[("authorization", "Basic YWRtaW46cGFzcw==")])
        .await
        .assert_unauthorized("Bearer");
    for garbage in ["abc", "a.b.c", "....", "eyJhbGciOiJub25lIn0.e30.", "Bearer"] {
        app.bearer(garbage).await.assert_unauthorized("");
    }
    // alg "none" with claims that would otherwise pass.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(user_claims(&server.issuer()).to_string())
    );
    app.bearer(&none).await.assert_unauthorized("ES256");
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
    // A kept sleep: the minimum refresh interval (200 ms) must pass, as it would in production.
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

    // A kid the project never published: one refresh, then 401 (once the minimum refresh
    // interval has passed: a kept sleep, the interval is what is tested).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stranger = ec_key("stranger");
    app.bearer(&es256(&stranger, &user_claims(&server.issuer())))
        .await
        .assert_unauthorized("key this project does not publish");
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
        reply.assert_unauthorized("does not publish");
    }
    assert_eq!(
        server.downloads(),
        1,
        "20 concurrent unknown kids, one download"
    );
    // Even once the key appears, it is not looked for again within the interval.
    server.publish(vec![stranger.jwk.clone()]);
    app.bearer(&token)
        .await
        .assert_unauthorized("does not publish");
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
        .assert_unauthorized("SUPABASE_JWT_SECRET is not set");
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
    app.bearer(&confused)
        .await
        .assert_unauthorized("HS256 tokens are not accepted");
    assert!(
        app.bearer(&es256(&key, &user_claims(&server.issuer())))
            .await
            .passed_auth()
    );
    app.call(&[("x-api-key", "anything")])
        .await
        .assert_unauthorized("does not accept API keys");
}
