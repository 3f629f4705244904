//! Settings, read once at start-up from the environment (and `.env`), validated all at once so a
//! bad configuration stops the service with one message listing every problem.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::isapi::{FaceUrlPolicy, FaceUrlScheme};

/// Every setting the service reads, with a one-line meaning (the source of `.env.example`).
pub const SETTINGS: &[(&str, &str)] = &[
    ("BIND_ADDR", "where the HTTP service listens"),
    (
        "SUPABASE_URL",
        "project URL, e.g. https://<ref>.supabase.co",
    ),
    (
        "SUPABASE_REST_URL",
        "PostgREST base URL override (default {SUPABASE_URL}/rest/v1)",
    ),
    ("SUPABASE_SERVICE_ROLE_KEY", "service key (secret)"),
    ("SUPABASE_STORAGE_BUCKET", "bucket of relative photo paths"),
    ("FACE_URL_SCHEME", "keep | https | http"),
    ("HIKVISION_USERNAME", "terminal login for rows without one"),
    (
        "HIKVISION_PASSWORD",
        "terminal password for rows without one",
    ),
    (
        "RATE_LIMIT_DELAY_MS",
        "pause between two requests to one terminal",
    ),
    ("DEVICE_CONCURRENCY", "terminals worked on at once"),
    ("DEVICE_TIMEOUT_MS", "total timeout of one terminal request"),
    ("REQUEST_DEADLINE_MS", "the most one API request may take"),
    (
        "AUTH_FAILURE_COOLDOWN_MS",
        "how long a terminal that refused a password is not called with it again",
    ),
    ("API_KEY", "static key accepted in x-api-key"),
    (
        "SUPABASE_JWT_SECRET",
        "legacy HS256 JWT secret for user tokens (secret)",
    ),
    (
        "SUPABASE_JWT_ISSUER",
        "expected token issuer override (default {SUPABASE_URL}/auth/v1)",
    ),
    (
        "AUTH_REQUIRED_ROLE",
        "role a user token must carry (role or app_metadata.role[s])",
    ),
    ("CORS_ORIGINS", "comma-separated origins of the React app"),
    ("LOG_FORMAT", "text | json"),
    ("ANGAJATI_TABLE", "employees table"),
    ("BIOMETRIE_TABLE", "biometric records table"),
    ("DEVICES_TABLE", "terminals table"),
    ("RUST_LOG", "log filter"),
];

/// Connection to the Supabase project's PostgREST.
#[derive(Debug, Clone)]
pub struct SupabaseSettings {
    /// Project URL.
    pub url: Option<Url>,
    /// PostgREST base URL.
    pub rest_url: Url,
    /// Service role key.
    pub service_key: SecretString,
}

/// Table names (settings, defaulting to the owner's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Employees.
    pub angajati: String,
    /// Biometric records.
    pub biometrie: String,
    /// Terminals.
    pub devices: String,
}

impl Default for Tables {
    fn default() -> Self {
        Self {
            angajati: "angajati".into(),
            biometrie: "biometrie".into(),
            devices: "hikvision_devices".into(),
        }
    }
}

/// How the fan-out to terminals is paced and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Pause between two requests to the same terminal.
    pub rate_limit_delay: Duration,
    /// Terminals worked on at once.
    pub device_concurrency: usize,
    /// Total timeout of one terminal request.
    pub device_timeout: Duration,
    /// The most one API request may take.
    pub request_deadline: Duration,
    /// How long a terminal that refused a username/password is not called with it again.
    pub auth_failure_cooldown: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            rate_limit_delay: Duration::from_millis(500),
            device_concurrency: 16,
            device_timeout: Duration::from_millis(10_000),
            request_deadline: Duration::from_millis(30_000),
            auth_failure_cooldown: Duration::from_millis(900_000),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Terminal credentials for device rows that have none.
#[derive(Debug, Clone)]
pub struct DeviceDefaults {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: Option<SecretString>,
}

/// How user access tokens on `/api/*` are verified (see `api::auth`). The static `API_KEY` is
/// [`Settings::api_key`].
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Legacy HS256 secret (`SUPABASE_JWT_SECRET`): HS256 tokens are accepted only when set.
    pub jwt_secret: Option<SecretString>,
    /// The project's signing keys (`{SUPABASE_URL}/auth/v1/.well-known/jwks.json`): ES256/RS256
    /// tokens are accepted only when set.
    pub jwks_url: Option<Url>,
    /// The `iss` every token must carry (`{SUPABASE_URL}/auth/v1` or `SUPABASE_JWT_ISSUER`).
    pub issuer: Option<String>,
    /// A role the token must carry (`AUTH_REQUIRED_ROLE`), in `role`, `app_metadata.role` or
    /// `app_metadata.roles`.
    pub required_role: Option<String>,
    /// Least time between two JWKS downloads triggered by an unknown `kid` (not an environment
    /// setting; 30 s).
    pub jwks_min_refresh: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwks_url: None,
            issuer: None,
            required_role: None,
            jwks_min_refresh: Duration::from_secs(30),
        }
    }
}

impl AuthSettings {
    /// Whether any user-token method is configured.
    pub fn accepts_tokens(&self) -> bool {
        self.jwt_secret.is_some() || self.jwks_url.is_some()
    }
}

/// All settings of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub bind_addr: SocketAddr,
    /// Supabase connection, when configured.
    pub supabase: Option<SupabaseSettings>,
    /// Photo-URL rules.
    pub face_url: FaceUrlPolicy,
    /// Default terminal credentials.
    pub device_defaults: DeviceDefaults,
    /// Pacing and bounds.
    pub sync: SyncOptions,
    /// Static API key for `x-api-key`.
    pub api_key: Option<SecretString>,
    /// User access tokens.
    pub auth: AuthSettings,
    /// Allowed CORS origins.
    pub cors_origins: Vec<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Table names.
    pub tables: Tables,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            supabase: None,
            face_url: FaceUrlPolicy::default(),
            device_defaults: DeviceDefaults {
                username: "admin".into(),
                password: None,
            },
            sync: SyncOptions::default(),
            api_key: None,
            auth: AuthSettings::default(),
            cors_origins: Vec::new(),
            log_format: LogFormat::Text,
            tables: Tables::default(),
        }
    }
}

/// Every problem found in the configuration, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Reads `.env` (if present) into the environment, then the settings from the environment.
    ///
    /// Precedence: the environment, then `.env`, then `config/*.toml` (flat `KEY = value` files,
    /// read in name order), then the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is reported.
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(ConfigError(vec![format!(".env: {e}")]));
        }
        let (files, mut problems) = read_toml_dir(Path::new("config"));
        let settings =
            Self::from_lookup(|key| std::env::var(key).ok().or_else(|| files.get(key).cloned()));
        match settings {
            Ok(s) if problems.is_empty() => Ok(s),
            Ok(_) => Err(ConfigError(problems)),
            Err(ConfigError(more)) => {
                problems.extend(more);
                Err(ConfigError(problems))
            }
        }
    }

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
            match get(key).map(|v| (v.parse::<u64>(), v)) {
                None => default,
                Some((Ok(n), _)) if (min..=max).contains(&n) => Duration::from_millis(n),
                Some((_, v)) => {
                    problems.push(format!(
                        "{key}='{v}' must be a whole number of milliseconds between {min} and {max}"
                    ));
                    default
                }
            }
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
        if let Some(v) = get("DEVICE_CONCURRENCY") {
            match v.parse::<usize>() {
                Ok(n) if (1..=4096).contains(&n) => s.sync.device_concurrency = n,
                _ => problems.push(format!(
                    "DEVICE_CONCURRENCY='{v}' must be a whole number between 1 and 4096"
                )),
            }
        }

        s.api_key = get("API_KEY").map(SecretString::from);
        read_auth(
            &get,
            s.face_url.supabase_url.as_ref(),
            &mut s.auth,
            &mut problems,
        );
        if let Some(v) = get("CORS_ORIGINS") {
            for origin in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                match parse_http_url(origin) {
                    Ok(u) if u.path() == "/" && u.query().is_none() => {
                        s.cors_origins.push(u.origin().ascii_serialization())
                    }
                    _ => problems.push(format!(
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
            if let Some(v) = get(key) {
                if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    *slot = v;
                } else {
                    problems.push(format!(
                        "{key}='{v}' must be a plain table name (letters, digits, _)"
                    ));
                }
            }
        }

        if problems.is_empty() {
            Ok(s)
        } else {
            Err(ConfigError(problems))
        }
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
}

/// Reads every `*.toml` in `dir` as flat `KEY = value` settings (keys in any case); unknown keys and
/// non-scalar values are problems. A missing directory is no settings.
pub fn read_toml_dir(dir: &Path) -> (HashMap<String, String>, Vec<String>) {
    let mut values = HashMap::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (values, problems);
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        let name = file.display();
        let table = match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| text.parse::<toml::Table>().map_err(|e| e.to_string()))
        {
            Ok(table) => table,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        for (key, value) in table {
            let upper = key.to_ascii_uppercase();
            if !SETTINGS.iter().any(|(k, _)| *k == upper) {
                problems.push(format!(
                    "{name}: unknown setting '{key}' (see .env.example)"
                ));
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), String::from))
                    .collect::<Vec<_>>()
                    .join(","),
                other => {
                    problems.push(format!(
                        "{name}: '{key}' must be a string, number or list, not {other}"
                    ));
                    continue;
                }
            };
            values.insert(upper, text);
        }
    }
    (values, problems)
}

fn parse_http_url(v: &str) -> Result<Url, String> {
    match Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        Ok(_) => Err(format!("'{v}' must be an http(s) URL")),
        Err(e) => Err(format!("'{v}' is not a URL ({e})")),
    }
}

/// `base` + `dir/`, keeping any path prefix of `base`.
pub fn join_dir(base: &Url, dir: &str) -> Result<Url, url::ParseError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base.join(&format!("{}/", dir.trim_matches('/')))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
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
    fn toml_files_give_settings_and_report_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("hs-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("a.toml"),
            "rate_limit_delay_ms = 250\nCORS_ORIGINS = [\"https://a.example\", \"https://b.example\"]\nnope = 1\n",
        )
        .expect("write");
        std::fs::write(dir.join("b.toml"), "this is not toml").expect("write");
        let (values, problems) = read_toml_dir(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            values.get("RATE_LIMIT_DELAY_MS").map(String::as_str),
            Some("250")
        );
        assert_eq!(
            values.get("CORS_ORIGINS").map(String::as_str),
            Some("https://a.example,https://b.example")
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("unknown setting 'nope'"));
        assert!(problems[1].contains("b.toml"));
    }

    #[test]
    fn env_example_lists_every_setting() {
        let example = include_str!("../.env.example");
        for (key, _) in SETTINGS {
            assert!(
                example.lines().any(|l| l.starts_with(&format!("{key}="))),
                "{key} is missing from .env.example"
            );
        }
    }

    #[test]
    fn env_example_itself_is_a_valid_configuration() {
        let example = include_str!("../.env.example");
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
}
