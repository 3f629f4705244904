//! A photo server playing Supabase Storage: GET any path answers the picture published there.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use bytes::Bytes;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;
use url::Url;

/// Makes the picture of a path nobody published (e.g. a distinct picture per path).
type Fallback = Arc<dyn Fn(&str) -> Option<Bytes> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    files: Arc<Mutex<HashMap<String, Bytes>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
    total: Arc<AtomicU64>,
    fallback: Option<Fallback>,
}

/// The photo server on a loopback port. Clones share it; it stops when the last one is dropped.
#[derive(Clone)]
pub struct PhotoServer {
    /// `http://127.0.0.1:<port>/`: where the pictures are (a service's `SUPABASE_URL`).
    pub base: Url,
    shared: Shared,
    _task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PhotoServer {
    /// Starts it with nothing published: unknown paths answer 404.
    pub async fn start() -> std::io::Result<Self> {
        Self::serve(None).await
    }

    /// Starts it answering an unpublished path with `make(path)` (404 when that is `None`).
    pub async fn start_with(
        make: impl Fn(&str) -> Option<Bytes> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        Self::serve(Some(Arc::new(make))).await
    }

    // Its listen backlog is 4,096, not tokio's default of 128: many terminals download at the
    // same moment, and with 128 the kernel drops the SYNs of the burst's tail, which then wait
    // the 1 s SYN retransmission timeout. Supabase Storage does not have that limit.
    async fn serve(fallback: Option<Fallback>) -> std::io::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            files: Arc::default(),
            hits: Arc::default(),
            total: Arc::default(),
            fallback,
        };
        let app = Router::new().fallback(photo).with_state(shared.clone());
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        Ok(Self {
            base,
            shared,
            _task: Arc::new(AbortOnDrop(task)),
        })
    }

    /// Publishes `bytes` at `path` and returns its absolute URL.
    pub fn put(&self, path: &str, bytes: impl Into<Bytes>) -> String {
        let path = path.trim_start_matches('/');
        lock(&self.shared.files).insert(path.to_string(), bytes.into());
        self.url(path)
    }

    /// The absolute URL of `path` (published or not).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    /// How many times `path` was requested.
    pub fn hits(&self, path: &str) -> u64 {
        let path = path.trim_start_matches('/');
        lock(&self.shared.hits).get(path).copied().unwrap_or(0)
    }

    /// How many requests it answered in all.
    pub fn total_hits(&self) -> u64 {
        self.shared.total.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn photo(State(shared): State<Shared>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/').to_string();
    shared.total.fetch_add(1, Ordering::Relaxed);
    *lock(&shared.hits).entry(path.clone()).or_default() += 1;
    let published = lock(&shared.files).get(&path).cloned();
    let bytes = published.or_else(|| shared.fallback.as_ref().and_then(|make| make(uri.path())));
    match bytes {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
