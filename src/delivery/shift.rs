//! One run of the job engine's worker, from its start to its stop (a shift): how the supervisor
//! learns that the worker lost its database, and how it knows that none of the worker's jobs runs
//! any more before it hands them to the other replicas.
//!
//! The worker fetches its jobs through graphile_worker's local queue (one batch fetch feeds every
//! idle slot, so a thousand slots cost one query per poll, not a thousand). A failed fetch of the
//! local queue is logged and retried by the engine itself: its `Worker::run` does not return when
//! the database goes away, as the engine's one-job-per-slot fetch did. So the engine's database is
//! watched instead ([`Watched`]): the first of the worker's own statements that finds no database
//! (no SQLSTATE, or the connection and shutdown classes) ends the shift, and so does an outage a
//! job runs into; the supervisor then stops the worker, reports it, and starts a new one when the
//! database answers (`resume()`, the stopped worker's jobs unlocked).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use graphile_worker::{
    BoxFuture, Database, DatabaseDriver, DbError, DbExecutor, DbParams, DbRow, DbTransaction,
    NotificationStream,
};
use tokio::sync::{RwLock, watch};

/// Whether a job engine error with this SQLSTATE means the database did not answer: no SQLSTATE
/// (the connection could not be made or broke), or [`crate::database::is_outage_sqlstate`].
pub(super) fn is_outage_code(code: Option<&str>) -> bool {
    code.is_none_or(crate::database::is_outage_sqlstate)
}

/// A job that did not run to its end because its worker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CutOff;

/// One run of a worker, shared by the supervisor, the worker's database and its jobs.
#[derive(Debug)]
pub(super) struct Shift {
    /// Why the worker lost its database, once it has.
    lost: watch::Sender<Option<String>>,
    /// Held (read) by every job while it runs; `true` once the shift has ended, when no job
    /// starts any more.
    jobs: RwLock<bool>,
    /// Tells the jobs still running to stop.
    stop: watch::Sender<bool>,
}

impl Default for Shift {
    fn default() -> Self {
        Self {
            lost: watch::channel(None).0,
            jobs: RwLock::new(false),
            stop: watch::channel(false).0,
        }
    }
}

impl Shift {
    /// Notes that the worker lost its database (the first reason is kept).
    pub(super) fn lose(&self, why: impl Into<String>) {
        let why = why.into();
        self.lost.send_if_modified(|lost| {
            if lost.is_some() {
                return false;
            }
            *lost = Some(why);
            true
        });
    }

    /// Waits until the worker lost its database; why.
    pub(super) async fn lost(&self) -> String {
        let mut lost = self.lost.subscribe();
        let why = lost
            .wait_for(Option::is_some)
            .await
            .map(|why| why.clone().unwrap_or_default());
        match why {
            Ok(why) => why,
            // The sender lives as long as `self`: never.
            Err(_) => std::future::pending().await,
        }
    }

    /// Runs `job` unless the shift has ended; a job still running when it ends is cut off.
    pub(super) async fn run<T>(&self, job: impl Future<Output = T>) -> Result<T, CutOff> {
        let ended = self.jobs.read().await;
        if *ended {
            return Err(CutOff);
        }
        let mut stop = self.stop.subscribe();
        tokio::select! {
            done = job => Ok(done),
            _ = stop.wait_for(|stop| *stop) => Err(CutOff),
        }
    }

    /// Ends the shift: the jobs still running are cut off, none starts any more, and this
    /// returns once none runs.
    pub(super) async fn end(&self) {
        self.stop.send_replace(true);
        *self.jobs.write().await = true;
    }
}

/// The worker's database, watched: an outage of one of the worker's own statements ends its shift.
#[derive(Debug)]
pub(super) struct Watched {
    database: Database,
    shift: Arc<Shift>,
}

impl Watched {
    /// `database` as the worker of `shift` sees it.
    pub(super) fn database(database: Database, shift: Arc<Shift>) -> Database {
        Database::new(Self { database, shift })
    }

    fn watch<T>(&self, result: Result<T, DbError>) -> Result<T, DbError> {
        if let Err(e) = &result
            && is_outage_code(e.code())
        {
            self.shift
                .lose(format!("the job engine's query found no database: {e}"));
        }
        result
    }
}

impl DbExecutor for Watched {
    fn execute<'a>(
        &'a self,
        sql: &'a str,
        params: DbParams,
    ) -> BoxFuture<'a, Result<u64, DbError>> {
        Box::pin(async move { self.watch(self.database.execute(sql, params).await) })
    }

    fn fetch_all<'a>(
        &'a self,
        sql: &'a str,
        params: DbParams,
    ) -> BoxFuture<'a, Result<Vec<DbRow>, DbError>> {
        Box::pin(async move { self.watch(self.database.fetch_all(sql, params).await) })
    }
}

impl DatabaseDriver for Watched {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn begin<'a>(&'a self) -> BoxFuture<'a, Result<DbTransaction, DbError>> {
        Box::pin(async move { self.watch(self.database.begin().await) })
    }

    fn listen<'a>(
        &'a self,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<Option<NotificationStream>, DbError>> {
        // The driver's listener connects again by itself after a lost connection.
        Box::pin(async move { self.watch(self.database.listen(channel).await) })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_a_database_that_did_not_answer_is_an_outage() {
        assert!(is_outage_code(None));
        assert!(is_outage_code(Some("08006")));
        assert!(is_outage_code(Some("57P01")));
        assert!(!is_outage_code(Some("42601")));
        assert!(!is_outage_code(Some("23505")));
    }

    #[tokio::test]
    async fn the_first_reason_for_losing_the_database_is_kept() {
        let shift = Shift::default();
        shift.lose("refused");
        shift.lose("reset");
        assert_eq!(shift.lost().await, "refused");
    }

    #[tokio::test]
    async fn ending_a_shift_cuts_its_jobs_off_and_starts_none() {
        let shift = Arc::new(Shift::default());
        let running = tokio::spawn({
            let shift = Arc::clone(&shift);
            async move { shift.run(std::future::pending::<()>()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tokio::time::timeout(Duration::from_secs(5), shift.end())
            .await
            .unwrap_or_else(|_| panic!("the shift ends"));
        assert!(running.await.is_ok_and(|r| r == Err(CutOff)));
        assert_eq!(shift.run(async { 1 }).await, Err(CutOff));
        let open = Shift::default();
        assert_eq!(open.run(async { 1 }).await, Ok(1));
    }
}
