//! The picture cache: one download and one encode per photo, however many terminals ask.
//!
//! Built on `moka` (well kept, used widely): its future cache bounds the memory by a weigher
//! (bytes of JPEG held) with true LRU eviction, and `try_get_with` coalesces concurrent encodes
//! of the same content. Freshness is ours, not moka's expiry: a stale entry must stay to be
//! revalidated with its `ETag` (a 304 keeps the encoded picture), so each entry records when it
//! was last checked. Concurrent requests for the same URL share one in-flight future
//! (`futures::Shared`), errors included, so a 100-terminal fan-out makes one source request.
//! When revalidation fails for a passing reason (timeout, unreachable, 5xx), the stale copy is
//! used (stale-if-error) and the next request asks again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use moka::future::Cache;
use moka::policy::EvictionPolicy;

use super::error::PhotoError;
use super::fetch::{Fetched, PhotoFetcher};
use super::limits::PhotoLimits;
use super::pool::PhotoPool;
use super::process::{Processed, sha256};
use super::source::PhotoSource;
use super::{PhotoStats, Prepared};

type Flight = Shared<BoxFuture<'static, Result<Arc<Prepared>, PhotoError>>>;

/// Bytes counted for an entry besides its JPEG (headers, URL, bookkeeping).
const ENTRY_OVERHEAD: usize = 1024;

struct Entry {
    prepared: Arc<Prepared>,
    checked_at: Instant,
}

fn weight(picture: &Processed) -> u32 {
    u32::try_from(picture.jpeg.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

#[derive(Default)]
struct Counters {
    downloads: AtomicU64,
    not_modified: AtomicU64,
    encodes: AtomicU64,
    hits: AtomicU64,
}

/// Fetcher, pool and caches; shared by the service's clones and its in-flight futures.
pub(crate) struct Core {
    fetcher: PhotoFetcher,
    pool: PhotoPool,
    limits: PhotoLimits,
    ttl: Duration,
    by_url: Cache<String, Arc<Entry>>,
    by_content: Cache<[u8; 32], Arc<Processed>>,
    inflight: Mutex<HashMap<String, Flight>>,
    counters: Counters,
}

impl Core {
    /// A core whose two maps each hold at most `max_bytes` of pictures (shared through `Arc`,
    /// so together usually about `max_bytes`).
    pub(crate) fn new(
        fetcher: PhotoFetcher,
        pool: PhotoPool,
        limits: PhotoLimits,
        ttl: Duration,
        max_bytes: u64,
    ) -> Self {
        Self {
            fetcher,
            pool,
            limits,
            ttl,
            by_url: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, entry: &Arc<Entry>| weight(&entry.prepared.picture))
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            by_content: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, picture: &Arc<Processed>| weight(picture))
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            inflight: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    pub(crate) fn stats(&self) -> PhotoStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PhotoStats {
            downloads: read(&self.counters.downloads),
            not_modified: read(&self.counters.not_modified),
            encodes: read(&self.counters.encodes),
            hits: read(&self.counters.hits),
        }
    }

    async fn fresh(&self, key: &str) -> Option<Arc<Prepared>> {
        let entry = self.by_url.get(key).await?;
        (entry.checked_at.elapsed() < self.ttl).then(|| Arc::clone(&entry.prepared))
    }

    pub(crate) async fn prepare(
        self: &Arc<Self>,
        source: &PhotoSource,
    ) -> Result<Arc<Prepared>, PhotoError> {
        let key = self.fetcher.download_url(source)?.to_string();
        if let Some(prepared) = self.fresh(&key).await {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(prepared);
        }
        let flight = {
            let mut inflight = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            let flight = inflight.entry(key.clone()).or_insert_with(|| {
                let core = Arc::clone(self);
                let source = source.clone();
                async move {
                    let result = core.refresh(&key, &source).await;
                    core.inflight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&key);
                    result
                }
                .boxed()
                .shared()
            });
            flight.clone()
        };
        flight.await
    }

    /// Downloads (conditionally when a stale entry exists) and encodes if the content changed.
    async fn refresh(&self, key: &str, source: &PhotoSource) -> Result<Arc<Prepared>, PhotoError> {
        let existing = self.by_url.get(key).await;
        if let Some(entry) = &existing
            && entry.checked_at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(&entry.prepared));
        }
        let etag = existing.as_ref().and_then(|e| e.prepared.etag.as_deref());
        let fetched = match self.fetcher.fetch_if_changed(source, etag).await {
            Ok(fetched) => fetched,
            // Stale-if-error: a server that is down for a moment does not stop the fan-out
            // while we hold the copy it served last; the next request asks again.
            Err(error) if error.is_transient() && existing.is_some() => {
                tracing::warn!(photo = %source.describe(), %error, "using the cached copy of the photo");
                return existing
                    .map(|entry| Arc::clone(&entry.prepared))
                    .ok_or(PhotoError::Fetch(error));
            }
            Err(error) => return Err(error.into()),
        };
        let (photo, existing) = match (fetched, existing) {
            (Fetched::NotModified, Some(entry)) => {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                let prepared = Arc::clone(&entry.prepared);
                self.remember(key, &prepared).await;
                return Ok(prepared);
            }
            (Fetched::NotModified, None) => {
                return Err(PhotoError::Internal(
                    "the server answered 304 to an unconditional request".into(),
                ));
            }
            (Fetched::Photo(photo), existing) => (photo, existing),
        };
        self.counters.downloads.fetch_add(1, Ordering::Relaxed);
        let bytes = photo.bytes.clone();
        let hash = tokio::task::spawn_blocking(move || sha256(&bytes))
            .await
            .map_err(|e| PhotoError::Internal(e.to_string()))?;
        let picture = match existing.filter(|e| e.prepared.picture.source_sha256 == hash) {
            Some(entry) => Arc::clone(&entry.prepared.picture),
            None => self
                .by_content
                .try_get_with(hash, async {
                    self.counters.encodes.fetch_add(1, Ordering::Relaxed);
                    self.pool
                        .process_hashed(photo.bytes.clone(), self.limits.clone(), hash)
                        .await
                        .map(Arc::new)
                })
                .await
                .map_err(|e| (*e).clone())?,
        };
        let prepared = Arc::new(Prepared {
            picture,
            source: source.clone(),
            etag: photo.etag,
            content_type: photo.content_type,
            url_for_terminal: photo.url_for_terminal,
        });
        self.remember(key, &prepared).await;
        Ok(prepared)
    }

    async fn remember(&self, key: &str, prepared: &Arc<Prepared>) {
        let entry = Arc::new(Entry {
            prepared: Arc::clone(prepared),
            checked_at: Instant::now(),
        });
        self.by_url.insert(key.to_owned(), entry).await;
    }
}
