//! Whether durable delivery works right now: its database answers and its job engine runs. `/ready`,
//! the `hikvision_delivery_engine_up` gauge and the log read it from here, and every background
//! loop reports here, so an outage is logged once when it starts (WARN) and once when delivery has
//! recovered (INFO), however many loops and job slots notice it in between.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use super::DeliveryError;
use crate::metrics::Metrics;

/// How long `/ready` waits for the database's answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct State {
    /// When the current outage began, if one is going on.
    down_since: Option<Instant>,
    /// Whether the database answered last time it was asked.
    database_ok: bool,
    /// Whether the job engine runs.
    engine_up: bool,
    /// Times the engine started again during the current outage.
    restarts: u32,
}

/// The health of durable delivery in this process.
#[derive(Debug)]
pub struct Availability {
    pool: Option<Pool>,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

impl Availability {
    /// Delivery in memory (the demo): no database, and a queue that cannot stop.
    pub fn in_memory(metrics: Arc<Metrics>) -> Self {
        metrics.set_engine_up(true);
        Self::with(None, true, metrics)
    }

    /// Delivery on `pool`, whose job engine is not running yet.
    pub fn on(pool: Pool, metrics: Arc<Metrics>) -> Self {
        metrics.set_engine_up(false);
        Self::with(Some(pool), false, metrics)
    }

    fn with(pool: Option<Pool>, engine_up: bool, metrics: Arc<Metrics>) -> Self {
        Self {
            pool,
            state: Mutex::new(State {
                down_since: None,
                database_ok: true,
                engine_up,
                restarts: 0,
            }),
            metrics,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes what a database call of `what` (a background loop) came to: an outage is logged once
    /// for all, another failure as a warning of its own.
    pub fn report<T>(&self, what: &str, result: &Result<T, DeliveryError>) {
        match result {
            Ok(_) => self.answered(),
            Err(e) if e.is_outage() => self.unreachable(e),
            Err(e) => tracing::warn!(error = %e, "{what} failed; it runs again at its next turn"),
        }
    }

    /// The database answered.
    pub fn answered(&self) {
        let mut s = self.state();
        s.database_ok = true;
        Self::maybe_recovered(&mut s);
    }

    /// The database did not answer.
    pub fn unreachable(&self, error: &DeliveryError) {
        let mut s = self.state();
        s.database_ok = false;
        if s.down_since.is_none() {
            s.down_since = Some(Instant::now());
            tracing::warn!(
                error = %error,
                "the delivery database does not answer: requests that need it answer 503 delivery_unavailable, /ready answers 503, and background delivery resumes by itself when it is back"
            );
        } else {
            tracing::debug!(error = %error, "the delivery database still does not answer");
        }
    }

    /// The job engine runs (again, when `restart`).
    pub fn engine_started(&self, restart: bool) {
        self.metrics.set_engine_up(true);
        if restart {
            self.metrics.count_engine_restart();
        }
        let mut s = self.state();
        s.engine_up = true;
        if restart {
            s.restarts += 1;
            // The engine starts only once the database answers.
            s.database_ok = true;
        }
        Self::maybe_recovered(&mut s);
    }

    /// The job engine stopped (it is started again by its supervisor).
    pub fn engine_stopped(&self, reason: &str) {
        self.metrics.set_engine_up(false);
        let mut s = self.state();
        s.engine_up = false;
        if s.down_since.is_none() {
            s.down_since = Some(Instant::now());
            tracing::warn!(
                reason,
                "the job engine stopped: it starts again as soon as the delivery database answers; until then /ready answers 503"
            );
        } else {
            tracing::debug!(reason, "the job engine stopped during an outage");
        }
    }

    fn maybe_recovered(s: &mut State) {
        if !(s.database_ok && s.engine_up) {
            return;
        }
        if let Some(since) = s.down_since.take() {
            tracing::info!(
                down_for_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                engine_restarts = s.restarts,
                "durable delivery recovered: the database answers and the job engine runs"
            );
            s.restarts = 0;
        }
    }

    /// `Ok` when the database answers now and the job engine runs; else what does not work.
    pub async fn check(&self) -> Result<(), String> {
        if let Some(pool) = &self.pool {
            let ping = async {
                let client = pool.get().await?;
                client.simple_query("select 1").await?;
                Ok::<(), DeliveryError>(())
            };
            let answer = tokio::time::timeout(PING_TIMEOUT, ping)
                .await
                .unwrap_or_else(|_| {
                    Err(DeliveryError::Unavailable(format!(
                        "no answer within {} ms",
                        PING_TIMEOUT.as_millis()
                    )))
                });
            if let Err(e) = answer {
                if e.is_outage() {
                    self.unreachable(&e);
                }
                return Err(e.to_string());
            }
            self.answered();
        }
        if self.state().engine_up {
            Ok(())
        } else {
            Err(
                "the job engine is not running: it is being started again after a database outage"
                    .into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new().unwrap_or_else(|e| panic!("metrics: {e}")))
    }

    #[tokio::test]
    async fn an_outage_ends_when_the_database_answers_and_the_engine_runs_again() {
        let m = metrics();
        let a = Availability::with(None, true, Arc::clone(&m));
        assert!(a.check().await.is_ok());
        a.unreachable(&DeliveryError::Unavailable("refused".into()));
        a.engine_stopped("fetch failed");
        assert!(a.check().await.is_err_and(|m| m.contains("job engine")));
        assert!(m.render().contains("hikvision_delivery_engine_up 0"));
        a.answered();
        assert!(a.state().down_since.is_some(), "the engine is still down");
        a.engine_started(true);
        assert!(a.state().down_since.is_none());
        assert!(a.check().await.is_ok());
        let text = m.render();
        assert!(text.contains("hikvision_delivery_engine_up 1"), "{text}");
        assert!(
            text.contains("hikvision_delivery_engine_restarts_total 1"),
            "{text}"
        );
    }
}
