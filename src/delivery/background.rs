//! What every process runs beside its requests: the claims heartbeat (a live replica keeps its
//! claims, a dead one's run out within `CLAIM_LEASE`), the sweep, and the backlog metrics.

use std::sync::Arc;
use std::time::Duration;

use super::{CLAIM_LEASE, Delivery};

/// How often claims are renewed (a third of the lease).
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often the backlog gauges are refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(10);

impl Delivery {
    /// Starts the heartbeat, the sweep and the backlog metrics; they stop with the runtime.
    pub fn start_background(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let prefix = format!("{}:", this.replica);
            loop {
                tokio::time::sleep(HEARTBEAT.min(CLAIM_LEASE / 3)).await;
                if let Err(e) = this.store.renew(&prefix, this.lease_until()).await {
                    tracing::warn!(error = %e, "could not renew delivery claims");
                }
            }
        });
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match this.store.backlog().await {
                    Ok(b) => this.metrics.set_backlog(
                        b.pending,
                        b.failed,
                        b.oldest_pending_secs,
                        b.oldest_pending_removal_secs,
                    ),
                    Err(e) => tracing::debug!(error = %e, "backlog metrics unavailable"),
                }
                tokio::time::sleep(METRICS_EVERY).await;
            }
        });
        if self.directory.is_none() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(this.options.sweep_interval).await;
                if let Err(e) = this.sweep().await {
                    tracing::warn!(error = %e, "sweep failed; it runs again at the next interval");
                }
            }
        });
    }
}
