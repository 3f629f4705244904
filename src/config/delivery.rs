//! Settings of durable delivery: the direct database connection, backoff, sweep, webhooks.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::read::{flag, read_millis};

/// Durable delivery settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Direct Postgres connection (Supabase session mode, port 5432). `None`: in-memory store.
    pub database_url: Option<SecretString>,
    /// Connections in the pool (Supabase plans allow few); `None`: sized from
    /// `DEVICE_CONCURRENCY` ([`pool_size_for`]).
    pub pool_size: Option<usize>,
    /// First retry delay; doubles per attempt.
    pub retry_initial: Duration,
    /// Largest retry delay.
    pub retry_max: Duration,
    /// How often the sweep compares the tables with the desired state.
    pub sweep_interval: Duration,
    /// Shared secret of the Supabase webhook (`x-webhook-secret`); `None` turns the route off.
    pub webhook_secret: Option<SecretString>,
    /// Whether a new biometrie row enrols the person on every terminal (grants door access).
    pub enrol_new: bool,
    /// How long a reconcile report may be used for a fix (`RECONCILE_REPORT_TTL_MS`).
    pub reconcile_report_ttl: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            database_url: None,
            pool_size: None,
            retry_initial: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(600),
            webhook_secret: None,
            enrol_new: false,
            reconcile_report_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// The default pool for `device_concurrency` job slots. A job holds a connection only for each of
/// its statements (about 6 per pair, none across a terminal call), so a slot needs the pool for
/// milliseconds of each second its terminal takes: one connection per 32 slots, at least 4 and at
/// most 10 (1,000 terminals at the default pacing, about a pair a second each, are 6,000
/// statements a second, which 10 connections carry up to ~1.5 ms a round trip). With the job
/// engine's LISTEN connection and the access events' 4 (both outside this pool), one replica
/// stays within the 15 server connections of a small Supabase project's session pooler.
pub fn pool_size_for(device_concurrency: usize) -> usize {
    device_concurrency.div_ceil(32).clamp(4, 10)
}

/// Reads the delivery settings, adding every problem to `problems`.
pub(super) fn read_delivery(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> DeliverySettings {
    let mut d = DeliverySettings::default();
    if let Some(url) = get("DATABASE_URL") {
        match check_database_url(&url) {
            Ok(()) => d.database_url = Some(SecretString::from(url)),
            Err(why) => problems.push(why),
        }
    }
    if let Some(v) = get("DATABASE_POOL_SIZE") {
        match v.parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => d.pool_size = Some(n),
            _ => problems.push(format!(
                "DATABASE_POOL_SIZE='{v}' must be a whole number between 1 and 64"
            )),
        }
    }
    d.retry_initial = read_millis(
        get,
        problems,
        "RETRY_INITIAL_MS",
        d.retry_initial,
        (100, 86_400_000),
    );
    d.retry_max = read_millis(
        get,
        problems,
        "RETRY_MAX_MS",
        d.retry_max,
        (100, 7 * 86_400_000),
    );
    if d.retry_max < d.retry_initial {
        problems.push("RETRY_MAX_MS must not be smaller than RETRY_INITIAL_MS".into());
    }
    d.sweep_interval = read_millis(
        get,
        problems,
        "SWEEP_INTERVAL_MS",
        d.sweep_interval,
        (1_000, 86_400_000),
    );
    d.reconcile_report_ttl = read_millis(
        get,
        problems,
        "RECONCILE_REPORT_TTL_MS",
        d.reconcile_report_ttl,
        (1_000, 86_400_000),
    );
    d.webhook_secret = get("WEBHOOK_SECRET").map(SecretString::from);
    if let Some(v) = flag(get, "WEBHOOK_ENROL_NEW", problems) {
        d.enrol_new = v;
    }
    d
}

/// A usable direct connection string, never echoed back (it holds the database password).
fn check_database_url(raw: &str) -> Result<(), String> {
    let parsed = url::Url::parse(raw).map_err(|_| {
        "DATABASE_URL is not a postgres:// connection string (Supabase: Project Settings > Database > Connection string, \"Session pooler\" or \"Direct connection\")".to_string()
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err("DATABASE_URL must start with postgres:// or postgresql://".into());
    }
    if parsed.port() == Some(6543) {
        return Err("DATABASE_URL points at Supabase's transaction pooler (port 6543), which supports neither LISTEN/NOTIFY nor advisory locks nor prepared statements: use the Session pooler string (port 5432) or the direct connection (Project Settings > Database > Connection string)".into());
    }
    Ok(())
}

impl DeliverySettings {
    /// The connection string, for the pool only.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(|s| s.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_pooler_is_refused_with_the_reason() {
        let e = check_database_url("postgres://u:p@aws-0.pooler.supabase.com:6543/postgres");
        assert!(e.is_err_and(|m| m.contains("5432") && !m.contains("u:p")));
        assert!(check_database_url("postgres://u:p@db.x.supabase.co:5432/postgres").is_ok());
        assert!(check_database_url("mysql://x").is_err());
    }
}
