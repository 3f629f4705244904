//! Building the application from settings, and serving it with graceful shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{AppState, Authenticator, router};
use crate::config::{LogFormat, Settings};
use crate::isapi::{ClientOptions, IsapiClient, IsapiError};
use crate::metrics::Metrics;
use crate::orchestration::Orchestrator;
use crate::supabase::{DeviceRowDefaults, Directory, DirectoryError, PostgrestDirectory};

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
        device_defaults(settings),
        settings.sync.device_timeout,
    )?;
    Ok(Some(Arc::new(dir)))
}

/// Default credentials for device rows without their own.
pub fn device_defaults(settings: &Settings) -> DeviceRowDefaults {
    DeviceRowDefaults {
        username: settings.device_defaults.username.clone(),
        password: settings.device_defaults.password.clone(),
    }
}

/// The shared state: terminal client, orchestrator, directory.
pub fn build_state(
    settings: Settings,
    directory: Option<Arc<dyn Directory>>,
) -> Result<AppState, StartupError> {
    let metrics =
        Arc::new(Metrics::new().map_err(|e| StartupError::Internal(format!("metrics: {e}")))?);
    let client = IsapiClient::new(ClientOptions::with_total_timeout(
        settings.sync.device_timeout,
    ))?
    .with_metrics(Arc::clone(&metrics));
    let orchestrator = Orchestrator::new(client, settings.face_url.clone(), settings.sync)
        .with_metrics(Arc::clone(&metrics));
    let auth = Authenticator::from_settings(&settings)?;
    Ok(AppState {
        directory,
        orchestrator: Arc::new(orchestrator),
        settings: Arc::new(settings),
        auth: Arc::new(auth),
        metrics,
    })
}

/// Serves `state` on `listener` until SIGINT/SIGTERM, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, state: AppState) -> Result<(), StartupError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| StartupError::Io { addr, source })
}

/// Binds the listen address.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, StartupError> {
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
