//! Tests of the parent module.
use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;
use crate::photo::FaceUrlScheme;

/// The settings from `pairs` alone (also used by the other settings files' tests).
pub(super) fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_match_the_architecture_table() {
    let s = load(&[]).expect("defaults load");
    assert_eq!(s.bind_addr.to_string(), "0.0.0.0:8080");
    assert_eq!(s.sync, SyncOptions::default());
    assert_eq!(s.face_url.bucket, "photos");
    assert_eq!(s.face_url.scheme, FaceUrlScheme::Https);
    assert_eq!(s.device_defaults.username, "admin");
    assert!(s.supabase.is_none());
}

#[test]
fn rest_url_defaults_to_the_project_rest_path() {
    let s = load(&[
        ("SUPABASE_URL", "https://abc.supabase.co"),
        ("SUPABASE_SERVICE_ROLE_KEY", "k"),
    ])
    .expect("loads");
    let sb = s.supabase.expect("configured");
    assert_eq!(sb.rest_url.as_str(), "https://abc.supabase.co/rest/v1/");
    assert_eq!(sb.service_key.expose_secret(), "k");
}

#[test]
fn every_problem_is_listed_in_one_error() {
    let err = load(&[
        ("BIND_ADDR", "nope"),
        ("SUPABASE_URL", "https://abc.supabase.co"),
        ("DEVICE_CONCURRENCY", "0"),
        ("RATE_LIMIT_DELAY_MS", "-5"),
        ("FACE_URL_SCHEME", "ftp"),
        ("CORS_ORIGINS", "https://ok.example.com, not a url"),
    ])
    .expect_err("invalid");
    assert_eq!(err.0.len(), 6, "{err}");
    let text = err.to_string();
    for key in [
        "BIND_ADDR",
        "SUPABASE_SERVICE_ROLE_KEY",
        "DEVICE_CONCURRENCY",
        "RATE_LIMIT_DELAY_MS",
        "FACE_URL_SCHEME",
        "CORS_ORIGINS",
    ] {
        assert!(text.contains(key), "{key} missing from: {text}");
    }
}

#[test]
fn env_example_lists_every_setting() {
    let example = include_str!("../../.env.example");
    for (key, _) in SETTINGS {
        assert!(
            example.lines().any(|l| l.starts_with(&format!("{key}="))),
            "{key} is missing from .env.example"
        );
    }
}

#[test]
fn env_example_itself_is_a_valid_configuration() {
    let example = include_str!("../../.env.example");
    let map: HashMap<String, String> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // The example has no service key: exactly that one problem is reported.
    let err = Settings::from_lookup(|k| map.get(k).cloned()).expect_err("key missing");
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].contains("SUPABASE_SERVICE_ROLE_KEY"));
}

#[test]
fn token_verification_follows_the_project_url() {
    let s = load(&[
        ("SUPABASE_URL", "https://abc.supabase.co"),
        ("SUPABASE_SERVICE_ROLE_KEY", "k"),
    ])
    .expect("loads");
    assert_eq!(
        s.auth.jwks_url.as_ref().map(Url::as_str),
        Some("https://abc.supabase.co/auth/v1/.well-known/jwks.json")
    );
    assert_eq!(
        s.auth.issuer.as_deref(),
        Some("https://abc.supabase.co/auth/v1")
    );
    assert!(s.auth.jwt_secret.is_none() && s.auth.required_role.is_none());

    let none = load(&[]).expect("loads");
    assert!(!none.auth.accepts_tokens() && none.api_key.is_none());
}

#[test]
fn jwt_secret_issuer_override_and_role_are_read() {
    let secret = "legacy-jwt-secret-with-at-least-32-characters";
    let s = load(&[
        ("SUPABASE_JWT_SECRET", secret),
        ("SUPABASE_JWT_ISSUER", "http://localhost:8000/auth/v1"),
        ("AUTH_REQUIRED_ROLE", "hr_admin"),
    ])
    .expect("loads");
    assert_eq!(
        s.auth.jwt_secret.as_ref().map(|k| k.expose_secret()),
        Some(secret)
    );
    assert_eq!(
        s.auth.issuer.as_deref(),
        Some("http://localhost:8000/auth/v1")
    );
    assert_eq!(s.auth.required_role.as_deref(), Some("hr_admin"));
    assert!(s.auth.jwks_url.is_none());
}

#[test]
fn bad_auth_settings_are_explained_without_echoing_the_secret() {
    let err = load(&[("SUPABASE_JWT_SECRET", "short-secret")]).expect_err("too short");
    assert!(err.to_string().contains("32 characters"), "{err}");
    assert!(!err.to_string().contains("short-secret"));

    let err = load(&[(
        "SUPABASE_JWT_SECRET",
        "legacy-jwt-secret-with-at-least-32-characters",
    )])
    .expect_err("no issuer");
    assert!(err.to_string().contains("SUPABASE_JWT_ISSUER"), "{err}");
    assert!(!err.to_string().contains("legacy-jwt-secret"));

    let err = load(&[("AUTH_REQUIRED_ROLE", "hr_admin")]).expect_err("no token method");
    assert!(err.to_string().contains("no user tokens"), "{err}");
    let err = load(&[
        ("SUPABASE_URL", "https://abc.supabase.co"),
        ("SUPABASE_SERVICE_ROLE_KEY", "k"),
        ("AUTH_REQUIRED_ROLE", "hr admin"),
    ])
    .expect_err("a space");
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].contains("AUTH_REQUIRED_ROLE"));
}

#[test]
fn errors_never_echo_the_service_key() {
    let err = load(&[("SUPABASE_SERVICE_ROLE_KEY", "super-secret-key")]).expect_err("no url");
    assert!(!err.to_string().contains("super-secret-key"));
}

#[test]
fn validity_columns_and_the_terminal_time_zone_are_checked_once() {
    let s = load(&[]).expect("defaults load");
    assert_eq!((s.tables.valid_from, s.tables.valid_until), (None, None));
    assert_eq!(s.sync.terminal_timezone, chrono_tz::Tz::UTC);
    let s = load(&[
        ("EMPLOYEE_VALID_FROM_COLUMN", "angajat_de_la"),
        ("EMPLOYEE_VALID_UNTIL_COLUMN", "data_plecare"),
        ("TERMINAL_TIMEZONE", "Europe/Bucharest"),
    ])
    .expect("loads");
    assert_eq!(s.tables.valid_from.as_deref(), Some("angajat_de_la"));
    assert_eq!(s.tables.valid_until.as_deref(), Some("data_plecare"));
    assert_eq!(s.sync.terminal_timezone, chrono_tz::Europe::Bucharest);
    let err = load(&[
        ("EMPLOYEE_VALID_UNTIL_COLUMN", "end date; drop table"),
        ("TERMINAL_TIMEZONE", "Mars/Olympus"),
    ])
    .expect_err("invalid");
    assert_eq!(err.0.len(), 2, "{err}");
    assert!(
        err.to_string().contains("EMPLOYEE_VALID_UNTIL_COLUMN"),
        "{err}"
    );
    assert!(err.to_string().contains("TERMINAL_TIMEZONE"), "{err}");
}

#[test]
fn serve_refuses_open_doors_nobody_asked_for() {
    let refusal = |env: &[(&str, &str)]| load(env).expect("loads").serve_refusal();
    let open = refusal(&[]).expect("no authentication at all");
    assert!(
        open.contains("API_KEY") && open.contains("AUTH_DISABLED=true"),
        "{open}"
    );
    assert!(refusal(&[("AUTH_DISABLED", "true")]).is_none());
    assert!(
        refusal(&[("API_KEY", "k")]).is_none(),
        "the key alone grants nothing to users"
    );

    let project = [
        ("SUPABASE_URL", "https://abc.supabase.co"),
        ("SUPABASE_SERVICE_ROLE_KEY", "k"),
        ("API_KEY", "k"),
    ];
    let all_admins = refusal(&project).expect("user tokens without an admin role");
    assert!(
        all_admins.contains("AUTH_ADMIN_ROLE") && all_admins.contains("AUTH_ALL_USERS_ADMIN=true"),
        "{all_admins}"
    );
    let with = |extra: (&'static str, &'static str)| {
        let mut env = project.to_vec();
        env.push(extra);
        refusal(&env)
    };
    assert!(with(("AUTH_ADMIN_ROLE", "hr_admin")).is_none());
    assert!(with(("AUTH_ALL_USERS_ADMIN", "true")).is_none());
    let err = load(&[("AUTH_DISABLED", "maybe")]).expect_err("not a boolean");
    assert!(err.to_string().contains("AUTH_DISABLED"), "{err}");
}

#[test]
fn the_pool_is_sized_from_the_device_concurrency_within_a_small_pooler() {
    use super::pool_size_for;
    assert_eq!(pool_size_for(1), 4);
    assert_eq!(pool_size_for(256), 8);
    assert_eq!(pool_size_for(4096), 10);
}
