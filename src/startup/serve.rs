//! The accept loop: HTTP/1.1 by hyper with a Tokio timer, at most `MAX_CONNECTIONS` connections
//! (more wait in the kernel's accept queue, not in the service), and a watchdog per connection
//! that closes it when the client stalls (see [`super::watchdog`]).
//!
//! HTTP/1.1 only: browsers and proxies speak it to an `http://` upstream, and hyper-util's
//! HTTP/2 prior-knowledge sniffing waits for the client's first bytes with no timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_service::Service;

use super::watchdog::{Activity, Stalled, Watched};
use crate::config::HttpOptions;

/// Serves `router` on `listener` until `shutdown` resolves, then lets every connection finish its
/// request (each is bounded by the timeouts) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    raise_descriptor_limit(limits.max_connections);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A backstop: hyper starts this timer when it begins to wait for a request, idle time
        // included; the watchdog closes idle connections and slow headers before it fires.
        .header_read_timeout(limits.keep_alive_timeout + limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            router: router.clone(),
            builder: builder.clone(),
            limits: limits.clone(),
            stopping: stopping.clone(),
            _permit: permit,
        };
        tokio::spawn(connection.run(stream));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it closes.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// One accepted connection and what it needs.
struct Connection {
    router: Router,
    builder: http1::Builder,
    limits: HttpOptions,
    stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let router = self.router.clone();
        let on_request = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let serving = on_request.serving();
            let mut router = router.clone();
            async move {
                let response = router.call(request).await;
                drop(serving);
                response.map_err(|never: Infallible| match never {})
            }
        });
        let conn = self.builder.serve_connection(io, service);
        tokio::pin!(conn);
        let stalled = activity.stalled(
            self.limits.keep_alive_timeout,
            self.limits.header_read_timeout,
        );
        tokio::pin!(stalled);
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                why = &mut stalled => {
                    match why {
                        Stalled::Idle => tracing::debug!("closing an idle connection"),
                        Stalled::Header => tracing::info!(
                            timeout_ms = millis(self.limits.header_read_timeout),
                            "closing a connection whose request header did not arrive in time"
                        ),
                    }
                    return;
                }
                _ = self.stopping.changed(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Too many open files, or the like: wait a little instead of spinning on the error.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Lifts the soft limit on open files to the hard one, and warns when the connection cap could
/// still leave no descriptors for the terminals.
fn raise_descriptor_limit(max_connections: usize) {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_connections as u64 + 256 => tracing::warn!(
            open_files = limit,
            max_connections,
            "MAX_CONNECTIONS is close to the limit on open files: client connections could leave none for the terminals; lower MAX_CONNECTIONS or raise the limit (ulimit -n)"
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "cannot read or raise the open-file limit"),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
