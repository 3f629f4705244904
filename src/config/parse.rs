//! Turning raw setting values into [`Settings`], collecting every problem instead of stopping at
//! the first.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::edge::read_edge;
use super::read::{flag, parse_http_url, parse_origin, read_millis, whole_number};
use super::{AuthSettings, ConfigError, LogFormat, SETTINGS, Settings, SupabaseSettings, join_dir};
use crate::photo::FaceUrlScheme;

impl Settings {
    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let get = |key: &str| {
            // Every setting read must be declared in SETTINGS (and so in .env.example).
            debug_assert!(
                SETTINGS.iter().any(|(k, _)| *k == key),
                "setting {key} is not declared in SETTINGS"
            );
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut s = Settings::default();

        if let Some(v) = get("BIND_ADDR") {
            match v.parse() {
                Ok(a) => s.bind_addr = a,
                Err(_) => problems.push(format!(
                    "BIND_ADDR='{v}' is not an address like 0.0.0.0:8080"
                )),
            }
        }

        let supabase_url = get("SUPABASE_URL").and_then(|v| match parse_http_url(&v) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(format!("SUPABASE_URL: {e}"));
                None
            }
        });
        let rest_url = get("SUPABASE_REST_URL").and_then(|v| match parse_http_url(&v) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(format!("SUPABASE_REST_URL: {e}"));
                None
            }
        });
        let key = get("SUPABASE_SERVICE_ROLE_KEY").map(SecretString::from);
        let rest_url = rest_url.or_else(|| {
            supabase_url
                .as_ref()
                .and_then(|u| join_dir(u, "rest/v1").ok())
        });
        match (rest_url, key) {
            (Some(rest_url), Some(service_key)) => {
                s.supabase = Some(SupabaseSettings {
                    url: supabase_url.clone(),
                    rest_url,
                    service_key,
                });
            }
            (Some(_), None) => problems.push(
                "SUPABASE_SERVICE_ROLE_KEY is missing: set it to the project's service role key (Supabase dashboard > Project Settings > API)".into(),
            ),
            (None, Some(_)) => problems.push(
                "SUPABASE_URL is missing: set it to the project URL, e.g. https://<ref>.supabase.co".into(),
            ),
            (None, None) => {}
        }

        s.face_url.supabase_url = supabase_url;
        if let Some(bucket) = get("SUPABASE_STORAGE_BUCKET") {
            s.face_url.bucket = bucket;
        }
        if let Some(v) = get("FACE_URL_SCHEME") {
            match v.parse::<FaceUrlScheme>() {
                Ok(scheme) => s.face_url.scheme = scheme,
                Err(e) => problems.push(format!("FACE_URL_SCHEME: {e}")),
            }
        }
        if let Some(u) = get("HIKVISION_USERNAME") {
            s.device_defaults.username = u;
        }
        s.device_defaults.password = get("HIKVISION_PASSWORD").map(SecretString::from);

        let mut millis = |key: &str, default: Duration, min: u64, max: u64| -> Duration {
            read_millis(&get, &mut problems, key, default, (min, max))
        };
        s.sync.rate_limit_delay = millis("RATE_LIMIT_DELAY_MS", s.sync.rate_limit_delay, 0, 60_000);
        s.sync.device_timeout = millis("DEVICE_TIMEOUT_MS", s.sync.device_timeout, 100, 300_000);
        s.sync.request_deadline =
            millis("REQUEST_DEADLINE_MS", s.sync.request_deadline, 100, 600_000);
        s.sync.auth_failure_cooldown = millis(
            "AUTH_FAILURE_COOLDOWN_MS",
            s.sync.auth_failure_cooldown,
            0,
            86_400_000,
        );
        s.http.header_read_timeout = millis(
            "HEADER_READ_TIMEOUT_MS",
            s.http.header_read_timeout,
            100,
            600_000,
        );
        s.http.body_read_timeout = millis(
            "BODY_READ_TIMEOUT_MS",
            s.http.body_read_timeout,
            100,
            600_000,
        );
        s.http.keep_alive_timeout = millis(
            "KEEP_ALIVE_TIMEOUT_MS",
            s.http.keep_alive_timeout,
            100,
            3_600_000,
        );
        if get("REQUEST_TIMEOUT_MS").is_some() {
            s.http.request_timeout =
                Some(millis("REQUEST_TIMEOUT_MS", Duration::ZERO, 100, 3_600_000))
                    .filter(|t| !t.is_zero());
        }
        if let Some(n) = whole_number(&get, "DEVICE_CONCURRENCY", 1, 4096, &mut problems) {
            s.sync.device_concurrency = n;
        }
        read_edge(&get, &mut s, &mut problems);

        if let Some(v) = flag(&get, "VERIFY_AFTER_WRITE", &mut problems) {
            s.sync.verify_after_write = v;
        }
        if let Some(v) = flag(&get, "AUTH_DISABLED", &mut problems) {
            s.auth.disabled = v;
        }
        if let Some(v) = flag(&get, "AUTH_ALL_USERS_ADMIN", &mut problems) {
            s.auth.all_users_admin = v;
        }
        s.delivery = super::delivery::read_delivery(&get, &mut problems);
        s.photo = super::photo::read_photo(&get, &mut problems);
        s.events = super::events::read_events(&get, &mut problems);

        s.api_key = get("API_KEY").map(SecretString::from);
        read_auth(
            &get,
            s.face_url.supabase_url.as_ref(),
            &mut s.auth,
            &mut problems,
        );
        if let Some(v) = get("CORS_ORIGINS") {
            for origin in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                match parse_origin(origin) {
                    Some(u) => s.cors_origins.push(u.origin().ascii_serialization()),
                    None => problems.push(format!(
                        "CORS_ORIGINS: '{origin}' is not an origin like https://app.example.com"
                    )),
                }
            }
        }
        match get("LOG_FORMAT").as_deref().map(str::to_ascii_lowercase) {
            None => {}
            Some(f) if f == "text" => s.log_format = LogFormat::Text,
            Some(f) if f == "json" => s.log_format = LogFormat::Json,
            Some(f) => problems.push(format!("LOG_FORMAT='{f}' must be text or json")),
        }
        for (key, slot) in [
            ("ANGAJATI_TABLE", &mut s.tables.angajati),
            ("BIOMETRIE_TABLE", &mut s.tables.biometrie),
            ("DEVICES_TABLE", &mut s.tables.devices),
        ] {
            if let Some(v) = plain_name(&get, key, "table", &mut problems) {
                *slot = v;
            }
        }
        s.tables.valid_from =
            plain_name(&get, "EMPLOYEE_VALID_FROM_COLUMN", "column", &mut problems);
        s.tables.valid_until =
            plain_name(&get, "EMPLOYEE_VALID_UNTIL_COLUMN", "column", &mut problems);
        if let Some(v) = get("TERMINAL_TIMEZONE") {
            match v.parse::<chrono_tz::Tz>() {
                Ok(tz) => s.sync.terminal_timezone = tz,
                Err(_) => problems.push(format!(
                    "TERMINAL_TIMEZONE='{v}' is not an IANA time zone name like Europe/Bucharest or UTC"
                )),
            }
        }

        if problems.is_empty() {
            Ok(s)
        } else {
            Err(ConfigError(problems))
        }
    }
}

/// A table or column name (letters, digits, _); `None` when unset, a problem when not plain.
fn plain_name(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let v = get(key)?;
    if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(v)
    } else {
        problems.push(format!(
            "{key}='{v}' must be a plain {what} name (letters, digits, _)"
        ));
        None
    }
}

/// The token settings: JWKS and issuer follow `SUPABASE_URL`; the HS256 secret, the issuer
/// override and the required role are their own settings.
fn read_auth(
    get: &impl Fn(&str) -> Option<String>,
    supabase_url: Option<&Url>,
    auth: &mut AuthSettings,
    problems: &mut Vec<String>,
) {
    if let Some(url) = supabase_url {
        auth.jwks_url = join_dir(url, "auth/v1")
            .and_then(|u| u.join(".well-known/jwks.json"))
            .ok();
        auth.issuer = Some(format!("{}/auth/v1", url.as_str().trim_end_matches('/')));
    }
    if let Some(issuer) = get("SUPABASE_JWT_ISSUER") {
        auth.issuer = Some(issuer);
    }
    if let Some(secret) = get("SUPABASE_JWT_SECRET") {
        if secret.len() < 32 {
            problems.push(
                "SUPABASE_JWT_SECRET is shorter than 32 characters: copy the project's JWT secret (Supabase dashboard > Project Settings > JWT Keys > Legacy JWT Secret)".into(),
            );
        } else if auth.issuer.is_none() {
            problems.push(
                "SUPABASE_JWT_SECRET is set but the token issuer is unknown: set SUPABASE_URL (the issuer is {SUPABASE_URL}/auth/v1) or SUPABASE_JWT_ISSUER".into(),
            );
        }
        auth.jwt_secret = Some(SecretString::from(secret));
    }
    if let Some(role) = get("AUTH_REQUIRED_ROLE") {
        if role.len() > 64 || !role.chars().all(|c| c.is_ascii_graphic()) {
            problems.push(format!(
                "AUTH_REQUIRED_ROLE='{}' must be one role name (at most 64 printable characters, no spaces)",
                role.chars().take(80).collect::<String>()
            ));
        } else if !auth.accepts_tokens() {
            problems.push(
                "AUTH_REQUIRED_ROLE is set but no user tokens are accepted: set SUPABASE_URL (its JWKS) or SUPABASE_JWT_SECRET".into(),
            );
        }
        auth.required_role = Some(role);
    }
    if let Some(role) = get("AUTH_ADMIN_ROLE") {
        if role.len() > 64 || !role.chars().all(|c| c.is_ascii_graphic()) {
            problems.push(format!(
                "AUTH_ADMIN_ROLE='{}' must be one role name (at most 64 printable characters, no spaces)",
                role.chars().take(80).collect::<String>()
            ));
        } else if !auth.accepts_tokens() {
            problems.push(
                "AUTH_ADMIN_ROLE is set but no user tokens are accepted: set SUPABASE_URL (its JWKS) or SUPABASE_JWT_SECRET".into(),
            );
        }
        auth.admin_role = Some(role);
    }
}
