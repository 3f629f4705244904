//! Group commit of pushed events: the pushes that arrive while a write is in progress are
//! written together by the next one, in ONE call of [`EventStore::record_batch`] (on Postgres
//! one transaction, one commit, the same round trips whatever its size), and each push is
//! answered only after its batch is durable.
//!
//! One writer task takes the pushes from a bounded queue ([`QUEUE`]; a full queue makes the
//! pushes wait, which the terminals see as a slower answer): it waits for the first, takes every
//! one queued behind it up to [`MAX_BATCH`], writes them, answers each push with its own
//! [`Recorded`] (as if its `record` had run alone, in arrival order), and takes the next batch.
//! So a quiet terminal's push is written at once (a batch of one), and under load the batch
//! grows with the pushes that came during the previous write: the commits per second stay
//! about constant while the events per commit follow the load.
//!
//! Failures: a failed batch answers every push in it with the error (never a success), except
//! that a batch failing other than by an outage is retried one push at a time, so one push the
//! database refuses fails alone, not the pushes that happened to share its batch. A writer that
//! panics drops its batch's answers (those pushes get an error) and goes on with the next batch;
//! a writer that is gone (its runtime shut down) makes every push an error at once, never a
//! hang. The writer ends when the batcher is dropped.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::EventError;
use super::model::{IncomingEvent, RecordRequest, Recorded};
use super::store::EventStore;

/// Most pushes written in one batch.
pub const MAX_BATCH: usize = 256;

/// Most pushes waiting for the writer (beyond it a push waits to be queued).
pub const QUEUE: usize = 4096;

/// One push waiting to be written.
struct Job {
    device_id: String,
    event: IncomingEvent,
    answer: oneshot::Sender<Result<Recorded, EventError>>,
}

/// Writes pushed events in batches through one writer task (started with the first push).
pub struct PushBatcher {
    store: Arc<dyn EventStore>,
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for PushBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushBatcher").finish_non_exhaustive()
    }
}

/// The error a push gets when the writer is gone or dropped its answer.
fn writer_gone() -> EventError {
    EventError::Store("the event writer stopped before storing the push".into())
}

impl PushBatcher {
    /// Batches pushes into `store`.
    pub fn new(store: Arc<dyn EventStore>) -> Self {
        Self {
            store,
            queue: OnceLock::new(),
        }
    }

    /// Stores the pushed `event` of `device_id`, with the pushes around it; answers once its
    /// batch is stored (what this push did, as `record` of it alone would say), or with the
    /// error that stopped the batch.
    pub async fn record(
        &self,
        device_id: &str,
        event: IncomingEvent,
    ) -> Result<Recorded, EventError> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            device_id: device_id.to_owned(),
            event,
            answer,
        };
        self.queue().send(job).await.map_err(|_| writer_gone())?;
        answered.await.map_err(|_| writer_gone())?
    }

    /// The writer's queue; the writer starts on the runtime of the first push.
    fn queue(&self) -> &mpsc::Sender<Job> {
        self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(Arc::clone(&self.store), jobs));
            queue
        })
    }
}

/// The writer: one batch at a time, each of the pushes queued when the previous one ended.
async fn write_batches(store: Arc<dyn EventStore>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let taken = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let written = AssertUnwindSafe(write(store.as_ref(), taken))
            .catch_unwind()
            .await;
        if written.is_err() {
            tracing::error!("events: the event writer panicked; the pushes of its batch failed");
        }
    }
}

/// Writes `jobs` as one batch and answers each.
async fn write(store: &dyn EventStore, jobs: Vec<Job>) {
    // A push whose terminal stopped waiting (its request ended) is still written: the
    // terminal sends it again and is answered `duplicate`.
    let result = {
        let requests = requests_of(&jobs);
        store.record_batch(&requests).await
    };
    match result {
        Ok(recorded) if recorded.len() == jobs.len() => {
            for (job, recorded) in jobs.into_iter().zip(recorded) {
                let _ = job.answer.send(Ok(recorded));
            }
        }
        Ok(recorded) => {
            let e = EventError::Store(format!(
                "the event store answered {} of {} pushes",
                recorded.len(),
                jobs.len()
            ));
            answer_all(jobs, &e);
        }
        Err(e) if jobs.len() > 1 && !e.is_outage() => {
            tracing::warn!(error = %e, pushes = jobs.len(), "events: a batch of pushes failed; storing them one at a time");
            for job in jobs {
                let result = {
                    let request = requests_of(std::slice::from_ref(&job));
                    store.record_batch(&request).await
                };
                let answer = result.and_then(|mut r| match (r.pop(), r.is_empty()) {
                    (Some(recorded), true) => Ok(recorded),
                    _ => Err(EventError::Store(
                        "the event store answered a push of one wrongly".into(),
                    )),
                });
                let _ = job.answer.send(answer);
            }
        }
        Err(e) => answer_all(jobs, &e),
    }
}

fn requests_of(jobs: &[Job]) -> Vec<RecordRequest<'_>> {
    jobs.iter()
        .map(|j| RecordRequest {
            device_id: &j.device_id,
            events: std::slice::from_ref(&j.event),
            read_through: None,
        })
        .collect()
}

fn answer_all(jobs: Vec<Job>, error: &EventError) {
    for job in jobs {
        let _ = job.answer.send(Err(error.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use chrono::{DateTime, Utc};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::events::memory::MemoryEventStore;
    use crate::events::model::{EventCursor, EventQuery, StoredEvent};
    use crate::events::store::EventFuture;

    /// A memory store whose batches wait at a gate (permits let them through) and fail for
    /// some terminals: `poison` is refused (alone too), `down` is an outage, `boom` panics.
    struct Gated {
        inner: MemoryEventStore,
        sizes: Mutex<Vec<usize>>,
        gate: Semaphore,
    }

    impl Gated {
        fn new(open: bool) -> Arc<Self> {
            Arc::new(Self {
                inner: MemoryEventStore::default(),
                sizes: Mutex::new(Vec::new()),
                gate: Semaphore::new(if open { 100_000 } else { 0 }),
            })
        }

        fn sizes(&self) -> Vec<usize> {
            self.sizes.lock().unwrap().clone()
        }

        fn open(&self) {
            self.gate.add_permits(100_000);
        }
    }

    impl EventStore for Gated {
        fn record<'a>(
            &'a self,
            device_id: &'a str,
            events: &'a [IncomingEvent],
            read_through: Option<i64>,
        ) -> EventFuture<'a, Recorded> {
            self.inner.record(device_id, events, read_through)
        }

        fn record_batch<'a>(
            &'a self,
            requests: &'a [RecordRequest<'a>],
        ) -> EventFuture<'a, Vec<Recorded>> {
            async move {
                self.sizes.lock().unwrap().push(requests.len());
                self.gate.acquire().await.unwrap().forget();
                let has = |d: &str| requests.iter().any(|r| r.device_id == d);
                if has("poison") {
                    return Err(EventError::Store("invalid byte sequence".into()));
                }
                if has("down") {
                    return Err(EventError::Unavailable("connection refused".into()));
                }
                assert!(!has("boom"), "the store panics");
                self.inner.record_batch(requests).await
            }
            .boxed()
        }

        fn cursor<'a>(&'a self, device_id: &'a str) -> EventFuture<'a, EventCursor> {
            self.inner.cursor(device_id)
        }

        fn list<'a>(&'a self, query: &'a EventQuery) -> EventFuture<'a, Vec<StoredEvent>> {
            self.inner.list(query)
        }

        fn prune(&self, before: DateTime<Utc>) -> EventFuture<'_, u64> {
            self.inner.prune(before)
        }
    }

    fn event(serial_no: i64, day: u32) -> IncomingEvent {
        IncomingEvent {
            serial_no,
            terminal_time: Some(format!(
                "2026-12-{day:02}T10:00:{:02}+02:00",
                serial_no % 60
            )),
            major: 5,
            minor: 75,
            employee_no: Some("7".into()),
            door_no: Some(1),
            verify_mode: None,
            attendance_status: None,
            live: true,
        }
    }

    /// Waits until `n` pushes wait in the batcher's queue.
    async fn queued(batcher: &PushBatcher, n: usize) {
        for _ in 0..500 {
            if let Some(q) = batcher.queue.get()
                && q.max_capacity() - q.capacity() == n
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{n} pushes never queued");
    }

    /// Waits until the store saw `n` batches.
    async fn batches(store: &Gated, n: usize) {
        for _ in 0..500 {
            if store.sizes().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{n} batches never came");
    }

    /// Pushes `pushes` in this order into the queue behind a write held at the gate, opens
    /// it, and returns every answer.
    async fn behind_a_write(
        store: &Arc<Gated>,
        batcher: &Arc<PushBatcher>,
        pushes: Vec<(&'static str, IncomingEvent)>,
    ) -> Vec<Result<Recorded, EventError>> {
        let first = {
            let batcher = Arc::clone(batcher);
            tokio::spawn(async move { batcher.record("first", event(1, 6)).await })
        };
        batches(store, 1).await;
        let n = pushes.len();
        let rest = {
            let batcher = Arc::clone(batcher);
            tokio::spawn(async move {
                // `join_all` polls them in order: they are queued in this order.
                let b = &batcher;
                futures::future::join_all(
                    pushes
                        .into_iter()
                        .map(|(device, e)| async move { b.record(device, e).await }),
                )
                .await
            })
        };
        queued(batcher, n).await;
        store.open();
        assert!(first.await.unwrap().is_ok());
        rest.await.unwrap()
    }

    #[tokio::test]
    async fn pushes_arriving_during_a_write_share_the_next_batch_each_with_its_own_answer() {
        let store = Gated::new(false);
        let batcher = Arc::new(PushBatcher::new(store.clone()));
        let pushes = vec![
            ("a", event(1, 6)),
            ("a", event(2, 6)),
            ("b", event(1, 6)),
            ("a", event(2, 6)),
            ("a", event(4, 6)),
            ("b", event(1, 7)),
        ];
        let got = behind_a_write(&store, &batcher, pushes.clone()).await;
        assert_eq!(
            store.sizes(),
            vec![1, 6],
            "one batch behind the first write"
        );
        // The answers are those of the same pushes stored one after the other.
        let alone = MemoryEventStore::default();
        for ((device, e), got) in pushes.iter().zip(got) {
            let expected = alone
                .record(device, std::slice::from_ref(e), None)
                .await
                .unwrap();
            assert_eq!(got.unwrap(), expected, "{device} {}", e.serial_no);
        }
        let b = store.cursor("b").await.unwrap();
        assert_eq!((b.epoch, b.watermark), (1, 1), "b was reset in the batch");
        let a = store.cursor("a").await.unwrap();
        assert_eq!((a.watermark, a.last_serial), (2, 4), "a's gap at 3");
    }

    #[tokio::test]
    async fn a_batch_is_at_most_max_batch_pushes() {
        let store = Gated::new(false);
        let batcher = Arc::new(PushBatcher::new(store.clone()));
        let n = MAX_BATCH * 2 + 10;
        let pushes = (1..=n)
            .map(|s| ("many", event(i64::try_from(s).unwrap(), 6)))
            .collect();
        let got = behind_a_write(&store, &batcher, pushes).await;
        assert!(got.iter().all(|r| r.as_ref().is_ok_and(|r| r.stored == 1)));
        assert_eq!(store.sizes(), vec![1, MAX_BATCH, MAX_BATCH, 10]);
        assert_eq!(
            store.cursor("many").await.unwrap().watermark,
            i64::try_from(n).unwrap()
        );
    }

    #[tokio::test]
    async fn a_refused_push_fails_alone_and_an_outage_fails_its_whole_batch() {
        let store = Gated::new(false);
        let batcher = Arc::new(PushBatcher::new(store.clone()));
        let got = behind_a_write(
            &store,
            &batcher,
            vec![
                ("a", event(1, 6)),
                ("poison", event(1, 6)),
                ("b", event(1, 6)),
            ],
        )
        .await;
        assert!(got[0].as_ref().is_ok_and(|r| r.stored == 1));
        assert!(matches!(got[1], Err(EventError::Store(_))), "{:?}", got[1]);
        assert!(got[2].as_ref().is_ok_and(|r| r.stored == 1));
        assert_eq!(store.sizes(), vec![1, 3, 1, 1, 1], "retried one by one");

        // An outage is not retried push by push: every push of the batch fails.
        let store = Gated::new(false);
        let batcher = Arc::new(PushBatcher::new(store.clone()));
        let got = behind_a_write(
            &store,
            &batcher,
            vec![("a", event(1, 6)), ("down", event(1, 6))],
        )
        .await;
        assert!(
            got.iter()
                .all(|r| r.as_ref().is_err_and(EventError::is_outage))
        );
        assert_eq!(store.sizes(), vec![1, 2]);
        // Nothing of the failed batch was stored, and the next push works.
        assert_eq!(store.cursor("a").await.unwrap().last_serial, 0);
        let again = batcher.record("a", event(1, 6)).await.unwrap();
        assert_eq!(again.stored, 1);
    }

    #[tokio::test]
    async fn a_writer_that_panics_fails_its_batch_and_writes_the_next() {
        let store = Gated::new(true);
        let batcher = PushBatcher::new(store.clone());
        let boom = batcher.record("boom", event(1, 6)).await;
        assert!(boom.is_err(), "{boom:?}");
        let next = batcher.record("a", event(1, 6)).await.unwrap();
        assert_eq!(next.stored, 1);
    }

    #[test]
    fn a_writer_that_is_gone_is_an_error_not_a_hang() {
        let store = Gated::new(true);
        let batcher = PushBatcher::new(store.clone());
        let first = tokio::runtime::Runtime::new().unwrap();
        assert!(first.block_on(batcher.record("a", event(1, 6))).is_ok());
        // The writer lived on that runtime.
        drop(first);
        let second = tokio::runtime::Runtime::new().unwrap();
        let answer = second.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), batcher.record("a", event(2, 6))).await
        });
        assert!(
            matches!(answer, Ok(Err(EventError::Store(_)))),
            "{answer:?}"
        );
    }
}
