//! What every process runs beside its requests: the claims heartbeat (an owner still at work keeps
//! its claims; one that ended without releasing them frees them at the next turn; a dead
//! replica's run out within `CLAIM_LEASE`), the sweep, and the backlog metrics. Each loop rides
//! through a database outage: a failed turn is reported to the availability (logged once per
//! outage) and the next turn comes at its usual time.

use std::sync::Arc;
use std::time::Duration;

use super::{CLAIM_LEASE, Delivery, DeliveryError};

/// How often claims are renewed (a third of the lease).
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often the backlog gauges are refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(10);

impl Delivery {
    /// Renews the claims of this replica's owners still at work, and frees those of owners that
    /// ended without releasing them.
    pub(super) async fn renew_claims(&self) -> Result<u64, DeliveryError> {
        // Before the owners are read: see `DeliveryStore::renew`.
        let lease_until = self.lease_until();
        let owners = self.live.names();
        let replica = format!("{}:", self.replica);
        self.store.renew(&replica, &owners, lease_until).await
    }

    /// Starts the heartbeat, the sweep and the backlog metrics; they stop with the runtime.
    pub fn start_background(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT.min(CLAIM_LEASE / 3)).await;
                let renewed = this.renew_claims().await;
                this.availability
                    .report("renewing delivery claims", &renewed);
            }
        });
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let backlog = this.store.backlog().await;
                if let Ok(b) = &backlog {
                    this.metrics.set_backlog(
                        b.pending,
                        b.failed,
                        b.oldest_pending_secs,
                        b.oldest_pending_removal_secs,
                    );
                }
                this.availability
                    .report("reading the backlog metrics", &backlog);
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
                let swept = this.sweep().await;
                this.availability.report("the sweep", &swept);
            }
        });
    }
}
