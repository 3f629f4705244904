//! What one connection is doing, so it can be closed when a client stalls: waiting for a request
//! (`KEEP_ALIVE_TIMEOUT_MS` from the accept or the last response), sending a request header
//! (`HEADER_READ_TIMEOUT_MS` from its first byte), or being served (bounded by the body and
//! request timeouts instead).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request under way since this instant.
    Idle(Instant),
    /// The first byte of a request header arrived at this instant.
    Head(Instant),
    /// A request is being served.
    Busy,
}

/// Why a connection was closed by its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stalled {
    /// No request within the keep-alive timeout.
    Idle,
    /// A request header took longer than the header read timeout.
    Header,
}

/// The phase of one connection, shared by its socket, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::Idle(Instant::now())),
            changed: Notify::new(),
        })
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, update: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = update(*phase) {
            *phase = next;
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts a request header.
    fn on_read(&self) {
        self.set(|phase| match phase {
            Phase::Idle(_) => Some(Phase::Head(Instant::now())),
            _ => None,
        });
    }

    /// A request header is complete and the request is being served, until the guard drops.
    pub fn serving(self: &Arc<Self>) -> Serving {
        self.set(|_| Some(Phase::Busy));
        Serving(Arc::clone(self))
    }

    /// Resolves when the connection has been idle for `keep_alive`, or sending one header for
    /// longer than `header`; never while a request is served.
    pub async fn stalled(&self, keep_alive: Duration, header: Duration) -> Stalled {
        loop {
            let phase = self.phase();
            let (deadline, why) = match phase {
                Phase::Idle(since) => (since + keep_alive, Stalled::Idle),
                Phase::Head(since) => (since + header, Stalled::Header),
                Phase::Busy => {
                    self.changed.notified().await;
                    continue;
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    if self.phase() == phase {
                        return why;
                    }
                }
                () = self.changed.notified() => {}
            }
        }
    }
}

/// Marks the connection busy while alive; idle again (from now) when dropped.
#[derive(Debug)]
pub struct Serving(Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.set(|_| Some(Phase::Idle(Instant::now())));
    }
}

/// A socket that tells its [`Activity`] when bytes arrive.
#[derive(Debug)]
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    /// `inner`, reporting reads to `activity`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP_ALIVE: Duration = Duration::from_secs(60);
    const HEADER: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_stalls_after_the_keep_alive_timeout() {
        let activity = Activity::new();
        let started = Instant::now();
        assert_eq!(activity.stalled(KEEP_ALIVE, HEADER).await, Stalled::Idle);
        assert_eq!(started.elapsed(), KEEP_ALIVE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_header_has_the_header_timeout_from_its_first_byte() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.on_read();
        let first_byte = Instant::now();
        assert_eq!(activity.stalled(KEEP_ALIVE, HEADER).await, Stalled::Header);
        assert_eq!(first_byte.elapsed(), HEADER);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_served_never_stalls_and_idles_afresh_after() {
        let activity = Activity::new();
        activity.on_read();
        let serving = activity.serving();
        let watchdog = {
            let activity = Arc::clone(&activity);
            tokio::spawn(async move { activity.stalled(KEEP_ALIVE, HEADER).await })
        };
        tokio::time::sleep(KEEP_ALIVE * 3).await;
        assert!(!watchdog.is_finished());
        drop(serving);
        let done = Instant::now();
        assert_eq!(watchdog.await.unwrap(), Stalled::Idle);
        assert_eq!(done.elapsed(), KEEP_ALIVE);
    }
}
