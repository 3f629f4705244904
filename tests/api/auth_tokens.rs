//! Supabase user tokens against the real router over HTTP: ES256 and RS256 tokens verified with a
//! JWKS served by the test itself, the legacy HS256 secret, and every way a valid-looking token
//! can be wrong (expiry, audience, issuer, signature, role, anonymous sign-in).
//!
//! The directory is an empty in-memory one: authentication happens before it, so a 404
//! `angajat_not_found` proves a request got past authentication. No terminals, no PostgREST.

use crate::auth_support::{
    API_KEY, App, AuthServer, JWT_SECRET, ec_key, es256, hs256, load, now, project,
    project_with_one_key, rs256, rsa_key, user_claims, with,
};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Valid tokens.

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
    app.bearer(&forged)
        .await
        .assert_unauthorized("signature is not valid");
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

// ---------------------------------------------------------------------------------------------
// Wrong tokens.

#[tokio::test]
async fn expired_token_is_401_but_a_little_clock_skew_is_tolerated() {
    let (key, server, app) = project_with_one_key().await;
    let claims = |exp: i64| with(user_claims(&server.issuer()), "exp", json!(exp));

    for token in [
        es256(&key, &claims(now() - 120)),
        hs256(JWT_SECRET, &claims(now() - 3600)),
    ] {
        app.bearer(&token)
            .await
            .assert_unauthorized("expired: refresh the Supabase session");
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
        .assert_unauthorized("lacks a required claim");
}

#[tokio::test]
async fn wrong_audience_is_401_so_anon_and_service_keys_are_not_user_tokens() {
    let (key, server, app) = project_with_one_key().await;

    let wrong_aud = with(user_claims(&server.issuer()), "aud", json!("anon"));
    for token in [es256(&key, &wrong_aud), hs256(JWT_SECRET, &wrong_aud)] {
        app.bearer(&token)
            .await
            .assert_unauthorized("audience is not 'authenticated'");
    }
    // The legacy service_role / anon keys: HS256, iss "supabase", no aud.
    let service_key = json!({"iss": "supabase", "ref": "abc", "role": "service_role",
                             "iat": now(), "exp": now() + 3600});
    app.bearer(&hs256(JWT_SECRET, &service_key))
        .await
        .assert_unauthorized("lacks a required claim");
}

#[tokio::test]
async fn wrong_issuer_is_401() {
    let (key, server, app) = project_with_one_key().await;

    for iss in [
        "https://other-project.supabase.co/auth/v1",
        "supabase",
        server.base.as_str(),
    ] {
        let claims = with(user_claims(&server.issuer()), "iss", json!(iss));
        for token in [es256(&key, &claims), hs256(JWT_SECRET, &claims)] {
            app.bearer(&token)
                .await
                .assert_unauthorized("not issued by this project's auth server");
        }
    }
}

#[tokio::test]
async fn wrong_signature_is_401() {
    let (key, server, app) = project_with_one_key().await;
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
        app.bearer(&token)
            .await
            .assert_unauthorized("signature is not valid");
    }
    assert!(app.bearer(&es256(&key, &claims)).await.passed_auth());
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
    app.bearer(&es256(&key, &expired))
        .await
        .assert_unauthorized("expired");
    // The server-to-server key is trusted with every route.
    assert!(app.call(&[("x-api-key", API_KEY)]).await.passed_auth());
}

#[tokio::test]
async fn anonymous_sign_ins_are_403() {
    let (key, server, app) = project_with_one_key().await;
    let claims = with(user_claims(&server.issuer()), "is_anonymous", json!(true));
    app.bearer(&es256(&key, &claims)).await.assert_refused(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Anonymous sessions",
    );
}
