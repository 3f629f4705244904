//! Building the application from settings ([`Application`], [`Services`]), and serving it with
//! graceful shutdown, timeouts against slow clients and a connection cap ([`serve`]).

mod serve;
mod watchdog;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use graphile_worker::Database;
use graphile_worker::tokio_postgres::TokioPostgresDatabase;
use hikvision_isapi::{CallObserver, ClientOptions, IsapiClient, IsapiError};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use crate::api::{AppState, Authenticator, router};
use crate::config::{ConfigError, HttpOptions, LogFormat, Settings, pool_size_for};
use crate::delivery::audit::PgAudit;
use crate::delivery::engine;
use crate::delivery::jobs::JobScheduler;
use crate::delivery::memory::MemoryStore;
use crate::delivery::outage::Availability;
use crate::delivery::postgres::PgStore;
use crate::delivery::schedule::{MemoryQueue, TaskRunner};
use crate::delivery::{Delivery, DeliveryOptions, RetryTiming};
use crate::events::Events;
use crate::events::memory::MemoryEventStore;
use crate::events::metrics::EventMetrics;
use crate::events::postgres::PgEventStore;
use crate::events::store::EventStore;
use crate::metrics::Metrics;
use crate::orchestration::{Orchestrator, PhotoPlanner};
use crate::photo::{PhotoService, SupabaseStorage};
use crate::supabase::{Directory, DirectoryError, PostgrestDirectory};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Bad settings.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The terminal client could not be built.
    #[error("cannot build the terminal client: {0}")]
    Client(#[from] IsapiError),
    /// The authenticator could not be built.
    #[error(transparent)]
    Auth(#[from] crate::api::AuthSetupError),
    /// The Supabase client could not be built.
    #[error("cannot build the Supabase client: {0}")]
    Directory(#[from] DirectoryError),
    /// The delivery database is unusable (unreachable, migrations missing).
    #[error("durable delivery cannot start: {0}")]
    Database(String),
    /// A programming error surfaced at start-up.
    #[error("internal start-up error: {0}")]
    Internal(String),
    /// Binding or serving failed.
    #[error("cannot listen on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The Supabase directory described by the settings, if configured.
pub fn supabase_directory(settings: &Settings) -> Result<Option<Arc<dyn Directory>>, StartupError> {
    let Some(supabase) = &settings.supabase else {
        return Ok(None);
    };
    let dir = PostgrestDirectory::new(
        supabase,
        settings.tables.clone(),
        settings.device_defaults.clone(),
        settings.sync.device_timeout,
    )?;
    Ok(Some(Arc::new(dir)))
}

/// What every entry point shares, HTTP or not: metrics, the terminal client, the orchestrator.
#[derive(Debug, Clone)]
pub struct Services {
    /// Prometheus metrics (terminal calls are reported here).
    pub metrics: Arc<Metrics>,
    /// The terminal flows.
    pub orchestrator: Arc<Orchestrator>,
}

impl Services {
    /// Builds the terminal client and the orchestrator from the settings.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let metrics =
            Arc::new(Metrics::new().map_err(|e| StartupError::Internal(format!("metrics: {e}")))?);
        let client = IsapiClient::new(ClientOptions::with_total_timeout(
            settings.sync.device_timeout,
        ))?
        .with_observer(Arc::clone(&metrics) as Arc<dyn CallObserver>);
        let orchestrator = Orchestrator::new(client, settings.face_url.clone(), settings.sync)
            .with_metrics(Arc::clone(&metrics))
            .with_photos(pictures(settings)?);
        Ok(Self {
            metrics,
            orchestrator: Arc::new(orchestrator),
        })
    }
}

/// The picture service: photos are fetched from Storage with the service key (the project URL
/// of the photo rules; the demo's own photo server in the demo).
fn pictures(settings: &Settings) -> Result<PhotoPlanner, StartupError> {
    let bucket = settings.face_url.bucket.clone();
    let storage = settings
        .face_url
        .supabase_url
        .clone()
        .map(|base| SupabaseStorage {
            base,
            key: settings
                .supabase
                .as_ref()
                .map(|s| s.service_key.clone())
                .unwrap_or_else(|| SecretString::from(String::new())),
            bucket: bucket.clone(),
        });
    let service = PhotoService::new(settings.photo.pipeline.clone(), storage)
        .map_err(|e| StartupError::Internal(format!("cannot build the photo client: {e}")))?;
    Ok(PhotoPlanner::new(service, settings.photo.delivery, bucket))
}

/// The HTTP service, bound to its port and ready to run. `serve`, `demo`, the benchmark and the
/// tests all start the service through it.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    http: HttpOptions,
}

impl Application {
    /// The service as `serve` runs it: Supabase from the settings, listening on `BIND_ADDR`.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let directory = supabase_directory(&settings)?;
        Self::build_with(settings, directory).await
    }

    /// The service on `directory` (e.g. an in-memory one), listening on `BIND_ADDR`.
    pub async fn build_with(
        settings: Settings,
        directory: Option<Arc<dyn Directory>>,
    ) -> Result<Self, StartupError> {
        let listener = bind(settings.bind_addr).await?;
        Self::assemble(listener, settings, directory, Router::new()).await
    }

    /// The service on an already bound `listener`, with `extra` routes beside the API (the demo's
    /// photo server).
    pub async fn assemble(
        listener: TcpListener,
        settings: Settings,
        directory: Option<Arc<dyn Directory>>,
        extra: Router,
    ) -> Result<Self, StartupError> {
        settings
            .check_request_timeout()
            .map_err(|e| ConfigError(vec![e]))?;
        let addr = listener.local_addr().map_err(|source| StartupError::Io {
            addr: settings.bind_addr.to_string(),
            source,
        })?;
        let http = settings.http.clone();
        let Services {
            metrics,
            orchestrator,
        } = Services::build(&settings)?;
        let auth = Authenticator::from_settings(&settings)?;
        let delivery = build_delivery(
            &settings,
            Arc::clone(&orchestrator),
            directory.clone(),
            Arc::clone(&metrics),
        )
        .await?;
        let events = build_events(
            &settings,
            directory.clone(),
            Arc::clone(&orchestrator),
            Arc::clone(&metrics),
            Arc::clone(&delivery) as Arc<dyn crate::events::SharedCredentials>,
        )?;
        events.start_background();
        let state = AppState {
            directory,
            orchestrator,
            settings: Arc::new(settings),
            auth: Arc::new(auth),
            metrics,
            delivery,
            events,
        };
        Ok(Self {
            listener,
            addr,
            router: router(state).merge(extra),
            http,
        })
    }

    /// The address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the service listens on (useful with `BIND_ADDR` port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        serve::serve(self.listener, self.router, self.http, shutdown).await;
        Ok(())
    }
}

/// Durable delivery on the settings' database, or in memory (the demo, the tests) without one;
/// its background work starts here.
pub async fn build_delivery(
    settings: &Settings,
    orchestrator: Arc<Orchestrator>,
    directory: Option<Arc<dyn Directory>>,
    metrics: Arc<Metrics>,
) -> Result<Arc<Delivery>, StartupError> {
    let d = &settings.delivery;
    let fingerprint_key = settings
        .supabase
        .as_ref()
        .map(|s| s.service_key.expose_secret().as_bytes().to_vec())
        .unwrap_or_else(|| b"hikvision-sync".to_vec());
    let options = DeliveryOptions {
        timing: RetryTiming {
            initial: d.retry_initial,
            max: d.retry_max,
        },
        sweep_interval: d.sweep_interval,
        enrol_new: d.enrol_new,
        reconcile_report_ttl: d.reconcile_report_ttl,
        fingerprint_key,
    };
    let Some(url) = d.database_url() else {
        let queue = Arc::new(MemoryQueue::default());
        let delivery = Arc::new(Delivery::new(
            Arc::new(MemoryStore::default()),
            queue.clone(),
            orchestrator,
            directory,
            metrics,
            options,
        ));
        let runner: Weak<dyn TaskRunner> = Arc::downgrade(&delivery) as Weak<dyn TaskRunner>;
        queue.start(runner);
        delivery.start_background();
        return Ok(delivery);
    };
    let pool_size = d
        .pool_size
        .unwrap_or_else(|| pool_size_for(settings.sync.device_concurrency));
    let database = TokioPostgresDatabase::from_config(connection_config(url)?, pool_size)
        .map_err(|e| StartupError::Database(format!("DATABASE_URL: {e}")))?;
    let pool = database.pool().clone();
    let metrics_for_engine = Arc::clone(&metrics);
    let store = PgStore::new(database.pool().clone());
    let audit = Arc::new(PgAudit::new(database.pool().clone()));
    store
        .check_schema()
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    let database: Database = database.into();
    let scheduler = JobScheduler::new(database.clone());
    scheduler
        .migrate()
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    let delivery = Arc::new(
        Delivery::new(
            Arc::new(store),
            Arc::new(scheduler),
            orchestrator,
            directory,
            metrics,
            options,
        )
        .with_audit(audit)
        .with_availability(Arc::new(Availability::on(pool, metrics_for_engine))),
    );
    let runner: Arc<dyn TaskRunner> = delivery.clone();
    engine::start_worker(
        database,
        runner,
        // One job slot per terminal with work, as many as the request path calls at once (up to
        // `jobs::MAX_JOB_SLOTS`), fed by one batch fetch.
        settings.sync.device_concurrency,
        Arc::clone(delivery.availability()),
    )
    .await
    .map_err(|e| StartupError::Database(e.to_string()))?;
    delivery.start_background();
    Ok(delivery)
}

/// Access events on the settings' database (a small pool of their own, 4 connections: the pushes'
/// group commit writes on one at a time, the catch-ups and reads use the others), or in memory
/// without one. The push tokens' key comes from the service key, else `API_KEY`, else is random (the
/// registration then rewrites the terminals' URLs after a restart).
pub fn build_events(
    settings: &Settings,
    directory: Option<Arc<dyn Directory>>,
    orchestrator: Arc<Orchestrator>,
    metrics: Arc<Metrics>,
    shared: Arc<dyn crate::events::SharedCredentials>,
) -> Result<Arc<Events>, StartupError> {
    let store: Arc<dyn EventStore> = match settings.delivery.database_url() {
        Some(url) => {
            let database = TokioPostgresDatabase::from_config(connection_config(url)?, 4)
                .map_err(|e| StartupError::Database(format!("DATABASE_URL: {e}")))?;
            Arc::new(PgEventStore::new(database.pool().clone()))
        }
        None => Arc::new(MemoryEventStore::default()),
    };
    let secret = settings
        .supabase
        .as_ref()
        .map(|s| s.service_key.expose_secret().as_bytes().to_vec())
        .or_else(|| {
            settings
                .api_key
                .as_ref()
                .map(|k| k.expose_secret().as_bytes().to_vec())
        })
        .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
    let event_metrics = EventMetrics::new(&metrics)
        .map_err(|e| StartupError::Internal(format!("event metrics: {e}")))?;
    let client = IsapiClient::new(ClientOptions::with_total_timeout(
        settings.sync.device_timeout,
    ))?
    .with_observer(metrics as Arc<dyn CallObserver>);
    Ok(Arc::new(
        Events::new(
            store,
            client,
            orchestrator,
            directory,
            settings.events.clone(),
            &secret,
            settings.sync.device_concurrency,
        )
        .with_metrics(event_metrics)
        .with_shared_credentials(shared),
    ))
}

/// How long opening a connection to the delivery database may take: during an outage a request
/// answers 503 `delivery_unavailable` within its deadline instead of waiting on the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long sent data may stay unacknowledged before the connection counts as dead (a server that
/// vanished without closing it), so a pooled connection does not hold its query for minutes.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive probes of idle connections: a vanished server is noticed within a minute, not after
/// the system's two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// The connection settings of `DATABASE_URL`, with the timeouts above unless the URL sets its own.
fn connection_config(url: &str) -> Result<tokio_postgres::Config, StartupError> {
    // The parser's message names the bad part, never the password.
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StartupError::Database(format!("DATABASE_URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    // The driver's default idle time is two hours; a URL's own `keepalives_idle` is kept.
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
    }
    Ok(config)
}

/// Binds the listen address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Io {
            addr: addr.to_string(),
            source,
        })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Installs the log subscriber (text or JSON, filtered by `RUST_LOG`, default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(log_directives(
        std::env::var("RUST_LOG").ok().as_deref(),
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Libraries that log a line per job slot per failed poll (the job engine) or per dropped
/// connection (the pool) when the database goes away, and how loud they may be unless `RUST_LOG`
/// names them: the service logs the outage once, the engine's restarts and its tasks' failures
/// itself.
const QUIET: &[(&str, &str)] = &[("graphile_worker", "off"), ("deadpool.postgres", "error")];

/// `RUST_LOG` (default `info`) with the [`QUIET`] libraries turned down unless it names them.
fn log_directives(rust_log: Option<&str>) -> String {
    let base = rust_log
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("info");
    let mut directives = base.to_string();
    for (target, level) in QUIET {
        if !base.contains(target) {
            directives.push_str(&format!(",{target}={level}"));
        }
    }
    directives
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_database_gets_timeouts_unless_its_url_sets_them() {
        let config = connection_config("postgres://u:p@db.example:5432/postgres").unwrap();
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(config.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(config.get_keepalives_idle(), KEEPALIVE_IDLE);
        let own = "postgres://u:p@db.example:5432/postgres?connect_timeout=9&keepalives_idle=60";
        let config = connection_config(own).unwrap();
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(9)));
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(60));
        let bad = connection_config("postgres://u:s3cret@db.example:5432/postgres?sslmode=nope");
        assert!(bad.is_err_and(|e| !e.to_string().contains("s3cret")));
    }

    #[test]
    fn the_noisy_libraries_are_quiet_unless_named() {
        let quiet = "graphile_worker=off,deadpool.postgres=error";
        assert_eq!(log_directives(None), format!("info,{quiet}"));
        assert_eq!(log_directives(Some("warn")), format!("warn,{quiet}"));
        assert_eq!(
            log_directives(Some("info,graphile_worker=debug")),
            "info,graphile_worker=debug,deadpool.postgres=error"
        );
        assert!(tracing_subscriber::EnvFilter::try_new(log_directives(None)).is_ok());
    }
}
