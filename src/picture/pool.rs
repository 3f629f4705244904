//! Runs the CPU-bound pipeline off the async threads, a bounded number at a time.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::error::PictureError;
use super::limits::PictureLimits;
use super::process::{Processed, process};

/// At most `workers` pictures are decoded at once, on tokio's blocking threads; the others
/// wait (asynchronously) for a permit. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PicturePool {
    permits: Arc<Semaphore>,
}

impl PicturePool {
    /// A pool running at most `workers` (`PHOTO_WORKERS`, at least 1) pictures at once.
    pub fn new(workers: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// [`process`] on a blocking thread.
    pub async fn process(
        &self,
        source: Bytes,
        limits: PictureLimits,
    ) -> Result<Processed, PictureError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| PictureError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            process(&source, &limits)
        })
        .await
        .map_err(|e| PictureError::Internal(format!("picture worker stopped: {e}")))?
    }
}
