//! PhotoPlanner: fetch an employee's photo once, make it terminal-ready (upright, flattened onto
//! white, scaled into the envelope, baseline JPEG under the byte limit, no metadata) and cache
//! the result by URL and by content.
//!
//! [`PhotoService::prepare`] is the entry point; [`process`] is the synchronous pipeline.

mod allow;
mod cache;
mod decode;
mod encode;
mod error;
mod face_url;
mod fetch;
mod header;
mod limits;
mod pool;
mod process;
mod source;

pub mod synth;
#[cfg(test)]
mod tests_allow;
#[cfg(test)]
mod tests_cache;
#[cfg(test)]
mod tests_process;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub use allow::{AllowList, NotAllowed};
pub use error::{FetchError, ImageFormat, PhotoError};
pub use face_url::{FaceUrlError, FaceUrlPolicy, FaceUrlScheme};
pub use fetch::{Fetched, FetchedPhoto, PhotoFetcher};
pub use limits::PhotoLimits;
pub use pool::PhotoPool;
pub use process::{Processed, process, qualifies_as_is};
pub use source::{PhotoSource, SupabaseStorage};

/// `faceURL` holds at most 256 bytes (ISAPI field definition).
const FACE_URL_MAX_BYTES: usize = 256;

/// A photo ready for the terminals, with what is known about its source.
#[derive(Debug)]
pub struct Prepared {
    /// The terminal-ready JPEG.
    pub picture: Arc<Processed>,
    /// Where the photo came from.
    pub source: PhotoSource,
    /// The source's `ETag`, when the server sent one.
    pub etag: Option<String>,
    /// The source's `Content-Type`, when the server sent one.
    pub content_type: Option<String>,
    /// A URL terminals could download the original from (absolute URLs only).
    pub url_for_terminal: Option<Url>,
}

impl Prepared {
    /// The URL to send as `faceURL` instead of pushing bytes: only when the original qualifies
    /// as it is and the URL fits the field.
    pub fn deliver_by_url(&self) -> Option<&Url> {
        self.url_for_terminal
            .as_ref()
            .filter(|url| self.picture.qualifies_as_is && url.as_str().len() <= FACE_URL_MAX_BYTES)
    }
}

/// Counters since the service started (for metrics and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhotoStats {
    /// Full downloads (200).
    pub downloads: u64,
    /// Revalidations answered 304.
    pub not_modified: u64,
    /// PhotoPlanner decoded and encoded.
    pub encodes: u64,
    /// Requests served from the cache without any network.
    pub hits: u64,
}

/// Settings of [`PhotoService`].
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// The envelope and guards.
    pub limits: PhotoLimits,
    /// PhotoPlanner decoded at once (`PHOTO_WORKERS`).
    pub workers: usize,
    /// How long a cached photo is used without asking the server again.
    pub ttl: Duration,
    /// Memory for cached pictures, in bytes.
    pub cache_bytes: u64,
    /// Timeout of one download.
    pub fetch_timeout: Duration,
    /// Where photos may be fetched from besides the Supabase project.
    pub allow: AllowList,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            limits: PhotoLimits::default(),
            workers: 2,
            ttl: Duration::from_secs(60),
            cache_bytes: 64 * 1024 * 1024,
            fetch_timeout: Duration::from_secs(15),
            allow: AllowList::default(),
        }
    }
}

/// Fetches, fixes and caches employees' photos. Cheap to clone.
#[derive(Clone)]
pub struct PhotoService {
    core: Arc<cache::Core>,
}

impl PhotoService {
    /// A service downloading with `storage` for Storage paths (none: absolute URLs only), from
    /// `storage`'s origin and what `settings.allow` lists.
    pub fn new(
        settings: PipelineSettings,
        storage: Option<SupabaseStorage>,
    ) -> Result<Self, reqwest::Error> {
        let fetcher = PhotoFetcher::new(
            storage,
            settings.allow,
            settings.fetch_timeout,
            settings.limits.max_source_bytes,
        )?;
        let pool = PhotoPool::new(settings.workers);
        let core = cache::Core::new(
            fetcher,
            pool,
            settings.limits,
            settings.ttl,
            settings.cache_bytes,
        );
        Ok(Self {
            core: Arc::new(core),
        })
    }

    /// The terminal-ready photo for `source`: from the cache while fresh, else downloaded once
    /// (revalidated with its `ETag` when cached) and encoded once per distinct content.
    pub async fn prepare(&self, source: &PhotoSource) -> Result<Arc<Prepared>, PhotoError> {
        self.core.prepare(source).await
    }

    /// Counters since the service started.
    pub fn stats(&self) -> PhotoStats {
        self.core.stats()
    }
}
