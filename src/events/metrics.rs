//! The access events' metrics, in the service's registry: events stored by how they arrived, and
//! each terminal's clock offset.

use prometheus::{GaugeVec, IntCounterVec, Opts};

use crate::metrics::Metrics;

/// `hikvision_events_stored_total{source}` and `hikvision_terminal_clock_offset_seconds{device_id}`.
#[derive(Debug, Clone)]
pub struct EventMetrics {
    stored: IntCounterVec,
    clock_offset: GaugeVec,
}

impl EventMetrics {
    /// Registers the metrics in `metrics`; fails only on a programming error (duplicate names).
    pub fn new(metrics: &Metrics) -> Result<Self, prometheus::Error> {
        let stored = IntCounterVec::new(
            Opts::new(
                "hikvision_events_stored_total",
                "Access events stored, by how they arrived (push or catch_up); repeats not counted",
            ),
            &["source"],
        )?;
        let clock_offset = GaugeVec::new(
            Opts::new(
                "hikvision_terminal_clock_offset_seconds",
                "A terminal's clock minus the service's, read hourly",
            ),
            &["device_id"],
        )?;
        metrics.register(Box::new(stored.clone()))?;
        metrics.register(Box::new(clock_offset.clone()))?;
        Ok(Self {
            stored,
            clock_offset,
        })
    }

    /// Counts `n` events stored from `source` (`push` or `catch_up`).
    pub fn stored(&self, source: &str, n: usize) {
        if n > 0 {
            self.stored
                .with_label_values(&[source])
                .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// Sets `device_id`'s clock offset in milliseconds.
    pub fn clock_offset(&self, device_id: &str, offset_ms: i64) {
        self.clock_offset
            .with_label_values(&[device_id])
            .set(offset_ms as f64 / 1000.0);
    }
}
