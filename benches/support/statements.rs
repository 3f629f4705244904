//! Statements a bench's database ran, counted with `pg_stat_statements` (it must be in
//! `shared_preload_libraries`; without it every count is `None` and the bench says so): all of
//! them, and the job engine's job fetches (`get_job`, one job, and the batch fetch of its local
//! queue: the only statements with `skip locked`).

use std::time::Duration;

/// The calls of the statements on one database since the last reset.
const COUNTS: &str = "select coalesce(sum(s.calls), 0)::bigint,
        coalesce(sum(s.calls) filter (where s.query ilike '%skip locked%'), 0)::bigint,
        coalesce(sum(s.total_exec_time), 0)::float8
     from pg_stat_statements s join pg_database d on d.oid = s.dbid
     where d.datname = current_database()";

/// What a database ran between two readings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    /// Every statement.
    pub(crate) all: i64,
    /// The job engine's job fetches.
    pub(crate) fetches: i64,
    /// The server's time executing them (not the round trips).
    pub(crate) exec: Duration,
}

impl Counts {
    /// Per second over `span`.
    pub(crate) fn per_second(self, span: Duration) -> (f64, f64) {
        let s = span.as_secs_f64().max(1e-9);
        (self.all as f64 / s, self.fetches as f64 / s)
    }
}

/// A connection that reads the counters of the database of its URL.
pub(crate) struct StatementCounter {
    client: tokio_postgres::Client,
    driver: tokio::task::JoinHandle<()>,
}

impl StatementCounter {
    /// `None` (and a line on stderr saying why) when the extension cannot be used.
    pub(crate) async fn connect(url: &str) -> Option<Self> {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .ok()?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let ready = client
            .batch_execute("create extension if not exists pg_stat_statements")
            .await;
        let counter = Self { client, driver };
        match ready {
            Ok(()) if counter.reset().await => Some(counter),
            _ => {
                eprintln!(
                    "pg_stat_statements is not loaded: statements are not counted (see BENCHMARKS.md: \
                     alter system set shared_preload_libraries = 'pg_stat_statements', then restart)"
                );
                None
            }
        }
    }

    /// Starts counting from zero (for the whole server: the counters are shared).
    pub(crate) async fn reset(&self) -> bool {
        self.client
            .batch_execute("select pg_stat_statements_reset()")
            .await
            .is_ok()
    }

    /// The counts since the last reset.
    pub(crate) async fn read(&self) -> Option<Counts> {
        let row = self.client.query_one(COUNTS, &[]).await.ok()?;
        let exec_ms: f64 = row.get(2);
        Some(Counts {
            all: row.get(0),
            fetches: row.get(1),
            exec: Duration::from_secs_f64(exec_ms.max(0.0) / 1000.0),
        })
    }
}

impl Drop for StatementCounter {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
