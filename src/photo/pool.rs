//! Runs the CPU-bound pipeline off the async threads, a bounded number at a time.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::error::PhotoError;
use super::limits::PhotoLimits;
use super::process::{Processed, process_hashed, sha256};

/// At most `workers` pictures are decoded at once, on tokio's blocking threads; the others
/// wait (asynchronously) for a permit. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PhotoPool {
    permits: Arc<Semaphore>,
}

impl PhotoPool {
    /// A pool running at most `workers` (`PHOTO_WORKERS`, at least 1) pictures at once.
    pub fn new(workers: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// [`super::process`] on a blocking thread.
    pub async fn process(
        &self,
        source: Bytes,
        limits: PhotoLimits,
    ) -> Result<Processed, PhotoError> {
        self.run(move || process_hashed(&source, &limits, sha256(&source)))
            .await
    }

    /// [`super::process`] for a source whose SHA-256 is already known.
    pub(crate) async fn process_hashed(
        &self,
        source: Bytes,
        limits: PhotoLimits,
        source_sha256: [u8; 32],
    ) -> Result<Processed, PhotoError> {
        self.run(move || process_hashed(&source, &limits, source_sha256))
            .await
    }

    async fn run<F>(&self, job: F) -> Result<Processed, PhotoError>
    where
        F: FnOnce() -> Result<Processed, PhotoError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| PhotoError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| PhotoError::Internal(format!("picture worker stopped: {e}")))?
    }
}
