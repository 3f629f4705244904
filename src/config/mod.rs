//! Settings, read once at start-up from the environment (and `.env`), validated all at once so a
//! bad configuration stops the service with one message listing every problem.

mod delivery;
mod edge;
mod events;
mod files;
mod parse;
mod photo;
mod read;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::photo::FaceUrlPolicy;

pub use delivery::{DeliverySettings, pool_size_for};
pub use edge::{DebugOptions, HttpOptions};
pub use events::EventSettings;
pub use files::read_toml_dir;
pub use photo::{PhotoSettings, PhotoTransferMode};
pub use read::parse_nets;

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
    (
        "PHOTO_DELIVERY",
        "auto | url | push: how photos reach the terminals",
    ),
    (
        "PHOTO_MAX_SIDE",
        "longest side of a picture sent, in pixels",
    ),
    (
        "PHOTO_MIN_SIDE",
        "shortest side a photo may have, in pixels",
    ),
    ("PHOTO_MAX_BYTES", "largest picture sent, in bytes"),
    ("PHOTO_WORKERS", "photos decoded at once (threads)"),
    (
        "PHOTO_FETCH_TIMEOUT_MS",
        "timeout of one photo download by the service",
    ),
    (
        "PHOTO_ALLOWED_ORIGINS",
        "other origins the service downloads photos from (comma list, e.g. a CDN)",
    ),
    (
        "PHOTO_ALLOWED_BUCKETS",
        "Storage buckets read with the service key besides SUPABASE_STORAGE_BUCKET",
    ),
    (
        "PHOTO_ALLOWED_NETS",
        "internal networks a listed photo origin may be reached on (CIDR list)",
    ),
    (
        "VERIFY_AFTER_WRITE",
        "confirm each acknowledged face write with a face search (true/false)",
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
    (
        "AUTH_ADMIN_ROLE",
        "role a user token must carry to grant or revoke door access (sync-angajat, create_missing_person, restore-angajat, remove-angajat, resync, the reconcile fix, the audit, the debugging endpoint)",
    ),
    (
        "RECONCILE_REPORT_TTL_MS",
        "how long a reconcile report may be used for a fix (older: 409 report_expired)",
    ),
    (
        "EVENTS_ENABLED",
        "false: terminals' access events are not read (no catch-up, no registration)",
    ),
    (
        "AUTH_DISABLED",
        "true: let `serve` run with no authentication at all (refused otherwise)",
    ),
    (
        "AUTH_ALL_USERS_ADMIN",
        "true: with user tokens on and no AUTH_ADMIN_ROLE, every signed-in user is an admin (refused otherwise)",
    ),
    ("CORS_ORIGINS", "comma-separated origins of the React app"),
    (
        "HEADER_READ_TIMEOUT_MS",
        "from a request's first byte to the end of its header",
    ),
    (
        "BODY_READ_TIMEOUT_MS",
        "from the start of reading a request body to its last byte",
    ),
    (
        "REQUEST_TIMEOUT_MS",
        "the most one HTTP request may take (default REQUEST_DEADLINE_MS + 5000)",
    ),
    (
        "KEEP_ALIVE_TIMEOUT_MS",
        "how long an idle connection may wait for its next request",
    ),
    ("MAX_CONNECTIONS", "client connections served at once"),
    (
        "DEBUG_ENDPOINT",
        "true enables POST /api/test-isapi/update-face-image",
    ),
    (
        "DEBUG_ALLOWED_NETS",
        "networks the debugging endpoint may call (CIDR list)",
    ),
    ("LOG_FORMAT", "text | json"),
    ("ANGAJATI_TABLE", "employees table"),
    ("BIOMETRIE_TABLE", "biometric records table"),
    ("DEVICES_TABLE", "terminals table"),
    (
        "EMPLOYEE_VALID_FROM_COLUMN",
        "date or timestamptz column of the employees table: from when the face opens doors",
    ),
    (
        "EMPLOYEE_VALID_UNTIL_COLUMN",
        "date or timestamptz column of the employees table: until when (a date: that whole day)",
    ),
    (
        "TERMINAL_TIMEZONE",
        "the terminals' time zone (IANA name, e.g. Europe/Bucharest): validity is sent in their local time",
    ),
    ("RUST_LOG", "log filter"),
    (
        "DATABASE_URL",
        "direct Postgres connection for durable delivery (Supabase session mode, port 5432; secret)",
    ),
    ("DATABASE_POOL_SIZE", "database connections in the pool"),
    ("RETRY_INITIAL_MS", "first background retry delay (doubles)"),
    ("RETRY_MAX_MS", "largest background retry delay"),
    (
        "SWEEP_INTERVAL_MS",
        "how often the tables are compared with the desired state",
    ),
    (
        "WEBHOOK_SECRET",
        "shared secret of the Supabase webhook (x-webhook-secret; secret)",
    ),
    (
        "WEBHOOK_ENROL_NEW",
        "true: a new biometrie row enrols the person everywhere",
    ),
    (
        "EVENTS_PUBLIC_URL",
        "this service's address as the terminals reach it, for their event push (unset: push off, catch-up only)",
    ),
    (
        "EVENTS_POLL_INTERVAL_MS",
        "how often every terminal's event log is read forward from the last stored event",
    ),
    (
        "EVENTS_REGISTRATION_CHECK_MS",
        "how often the push registration on every terminal is checked",
    ),
    (
        "EVENTS_RETENTION_DAYS",
        "access events older than this are deleted",
    ),
    (
        "CLOCK_DRIFT_WARN_MS",
        "a terminal clock further off than this is logged as a warning",
    ),
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
    /// The employees' column the validity window starts at (`EMPLOYEE_VALID_FROM_COLUMN`).
    pub valid_from: Option<String>,
    /// The employees' column the validity window ends at (`EMPLOYEE_VALID_UNTIL_COLUMN`).
    pub valid_until: Option<String>,
}

impl Default for Tables {
    fn default() -> Self {
        Self {
            angajati: "angajati".into(),
            biometrie: "biometrie".into(),
            devices: "hikvision_devices".into(),
            valid_from: None,
            valid_until: None,
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
    /// Confirm every acknowledged face write with a face search (one more paced call).
    pub verify_after_write: bool,
    /// The terminals' time zone (`TERMINAL_TIMEZONE`): validity windows are sent in its local
    /// time.
    pub terminal_timezone: chrono_tz::Tz,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            rate_limit_delay: Duration::from_millis(500),
            // 16 in the original design, then 256; 1,024 calls a 1,000-terminal building in one wave
            // (256 made four: 4x one terminal's time) at ~100 MiB of peak memory (BENCHMARKS.md,
            // issue 19). Each terminal still gets one call at a time from one request: this bounds
            // the service's own connections, not a terminal's.
            device_concurrency: 1024,
            device_timeout: Duration::from_millis(10_000),
            request_deadline: Duration::from_millis(30_000),
            auth_failure_cooldown: Duration::from_millis(900_000),
            verify_after_write: true,
            terminal_timezone: chrono_tz::Tz::UTC,
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
    /// The role a user token must carry for the endpoints that grant or revoke door access
    /// (`AUTH_ADMIN_ROLE`: resync, remove-angajat, the reconcile fix); the API key always may.
    pub admin_role: Option<String>,
    /// Least time between two JWKS downloads triggered by an unknown `kid` (not an environment
    /// setting; 30 s).
    pub jwks_min_refresh: Duration,
    /// `AUTH_DISABLED=true`: `serve` may run with no authentication at all.
    pub disabled: bool,
    /// `AUTH_ALL_USERS_ADMIN=true`: with user tokens on and no admin role, every signed-in user
    /// is an admin.
    pub all_users_admin: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwks_url: None,
            issuer: None,
            required_role: None,
            admin_role: None,
            jwks_min_refresh: Duration::from_secs(30),
            disabled: false,
            all_users_admin: false,
        }
    }
}

impl AuthSettings {
    /// Whether any user-token method is configured.
    pub fn accepts_tokens(&self) -> bool {
        self.jwt_secret.is_some() || self.jwks_url.is_some()
    }
}

impl Settings {
    /// Why `serve` must not start with these settings: an open door nobody asked for. No
    /// authentication at all needs `AUTH_DISABLED=true`; user tokens without `AUTH_ADMIN_ROLE`
    /// (every signed-in user an admin: Supabase allows public sign-up by default) need
    /// `AUTH_ALL_USERS_ADMIN=true`. The embedded demo does not ask.
    pub fn serve_refusal(&self) -> Option<String> {
        let tokens = self.auth.accepts_tokens();
        if self.api_key.is_none() && !tokens && !self.auth.disabled {
            return Some("no authentication is configured: anyone who can reach the service could enrol faces on every terminal. Set API_KEY and/or user tokens (SUPABASE_URL's JWKS or SUPABASE_JWT_SECRET), or set AUTH_DISABLED=true to run open on purpose".into());
        }
        if tokens && self.auth.admin_role.is_none() && !self.auth.all_users_admin {
            return Some("user tokens are accepted but AUTH_ADMIN_ROLE is not set, so every signed-in user (Supabase allows public sign-up by default) could grant door access. Set AUTH_ADMIN_ROLE to the role your administrators carry (app_metadata.role), or set AUTH_ALL_USERS_ADMIN=true if every user of this project is an administrator".into());
        }
        None
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
    /// Timeouts and the connection cap of the HTTP edge.
    pub http: HttpOptions,
    /// The debugging endpoint.
    pub debug: DebugOptions,
    /// Log format.
    pub log_format: LogFormat,
    /// Table names.
    pub tables: Tables,
    /// Durable delivery.
    pub delivery: DeliverySettings,
    /// The picture pipeline.
    pub photo: PhotoSettings,
    /// Access events.
    pub events: EventSettings,
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
            http: HttpOptions::default(),
            debug: DebugOptions::default(),
            log_format: LogFormat::Text,
            tables: Tables::default(),
            delivery: DeliverySettings::default(),
            photo: PhotoSettings::default(),
            events: EventSettings::default(),
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
mod tests;
