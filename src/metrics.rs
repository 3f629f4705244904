//! Prometheus metrics: per-terminal call counts by outcome, call latency histograms, and sync
//! results per flow and status. Served as text at `GET /metrics`.

use std::time::Duration;

use hikvision_isapi::{CallObserver, CallOutcome, TerminalCall};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The service's metrics, registered in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    latency: HistogramVec,
    results: IntCounterVec,
    attempts: IntCounterVec,
    pending: IntGauge,
    failed: IntGauge,
    oldest_pending: Gauge,
    oldest_removal: Gauge,
    engine_up: IntGauge,
    engine_restarts: IntCounter,
}

impl Metrics {
    /// Registers the metrics; fails only on a programming error (duplicate names).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let calls = IntCounterVec::new(
            Opts::new(
                "hikvision_terminal_calls_total",
                "ISAPI calls to terminals, by terminal address, call and outcome",
            ),
            &["terminal", "call", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "hikvision_terminal_call_duration_seconds",
                "Duration of ISAPI calls, Digest handshake and reply included",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["terminal", "call"],
        )?;
        let results = IntCounterVec::new(
            Opts::new(
                "hikvision_sync_results_total",
                "Per-terminal sync results, by flow and status",
            ),
            &["flow", "status"],
        )?;
        let attempts = IntCounterVec::new(
            Opts::new(
                "hikvision_delivery_attempts_total",
                "Durable delivery attempts, by the state they left the pair in",
            ),
            &["state"],
        )?;
        let pending = IntGauge::new(
            "hikvision_delivery_pending",
            "Changes waiting to be applied (employee x terminal)",
        )?;
        let failed = IntGauge::new(
            "hikvision_delivery_failed",
            "Changes waiting for a person (rejected picture, wrong password, invalid device row)",
        )?;
        let oldest_pending = Gauge::new(
            "hikvision_delivery_oldest_pending_seconds",
            "Age of the oldest pending change",
        )?;
        let oldest_removal = Gauge::new(
            "hikvision_delivery_oldest_pending_removal_seconds",
            "Age of the oldest pending removal: someone who left may still open a door",
        )?;
        let engine_up = IntGauge::new(
            "hikvision_delivery_engine_up",
            "1 while the job engine runs and its database answers, 0 during an outage",
        )?;
        let engine_restarts = IntCounter::new(
            "hikvision_delivery_engine_restarts_total",
            "Times the job engine was started again after it stopped (a database outage)",
        )?;
        registry.register(Box::new(engine_up.clone()))?;
        registry.register(Box::new(engine_restarts.clone()))?;
        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(oldest_pending.clone()))?;
        registry.register(Box::new(oldest_removal.clone()))?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(results.clone()))?;
        Ok(Self {
            registry,
            calls,
            latency,
            results,
            attempts,
            pending,
            failed,
            oldest_pending,
            oldest_removal,
            engine_up,
            engine_restarts,
        })
    }

    /// Records one terminal call.
    pub fn observe_call(&self, terminal: &str, call: &str, outcome: &str, seconds: f64) {
        self.calls
            .with_label_values(&[terminal, call, outcome])
            .inc();
        self.latency
            .with_label_values(&[terminal, call])
            .observe(seconds);
    }

    /// Records one terminal's sync result.
    pub fn observe_result(&self, flow: &str, status: &str) {
        self.results.with_label_values(&[flow, status]).inc();
    }

    /// Records one durable delivery attempt and the state it left the pair in.
    pub fn observe_delivery_attempt(&self, state: &str) {
        self.attempts.with_label_values(&[state]).inc();
    }

    /// Sets the backlog gauges: pending and failed pairs, oldest pending change and removal (s).
    pub fn set_backlog(
        &self,
        pending: u64,
        failed: u64,
        oldest_secs: f64,
        oldest_removal_secs: f64,
    ) {
        self.pending.set(pending as i64);
        self.failed.set(failed as i64);
        self.oldest_pending.set(oldest_secs);
        self.oldest_removal.set(oldest_removal_secs);
    }

    /// Sets whether the job engine is up.
    pub fn set_engine_up(&self, up: bool) {
        self.engine_up.set(i64::from(up));
    }

    /// Counts one restart of the job engine.
    pub fn count_engine_restart(&self) {
        self.engine_restarts.inc();
    }

    /// Registers another part's metrics (e.g. the access events') in this registry, so
    /// `GET /metrics` shows them.
    pub fn register(
        &self,
        collector: Box<dyn prometheus::core::Collector>,
    ) -> Result<(), prometheus::Error> {
        self.registry.register(collector)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl CallObserver for Metrics {
    fn observe(&self, terminal: &str, call: TerminalCall, outcome: CallOutcome, elapsed: Duration) {
        self.observe_call(terminal, call.name(), outcome.name(), elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new().expect("registers");
        m.observe_call("10.0.0.1:80", "FDModify", "ok", 0.2);
        m.observe_result("update_photo", "success");
        let text = m.render();
        assert!(text.contains(
            r#"hikvision_terminal_calls_total{call="FDModify",outcome="ok",terminal="10.0.0.1:80"} 1"#
        ));
        assert!(text.contains("hikvision_terminal_call_duration_seconds_bucket"));
        assert!(
            text.contains(
                r#"hikvision_sync_results_total{flow="update_photo",status="success"} 1"#
            )
        );
    }
}
