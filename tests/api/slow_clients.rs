//! Slow and hostile clients against the running service, over real sockets: half-sent headers,
//! dripped bodies, silent and idle connections, more connections than the cap, and a request
//! that outlives `REQUEST_TIMEOUT_MS`. Each is closed (or answered) within its configured timeout
//! while `/health` and a real update on a simulated terminal keep answering. The timeouts are
//! short here so every test ends in a few seconds; the measured times are printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use futures::future::BoxFuture;
use hikvision_sync::config::HttpOptions;
use hikvision_sync::models::{DeviceEntry, Employee};
use hikvision_sync::startup::Application;
use hikvision_sync::supabase::{Directory, DirectoryError, MemoryDirectory};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

const HEADER: Duration = Duration::from_millis(1_000);
const BODY: Duration = Duration::from_millis(1_500);
const KEEP_ALIVE: Duration = Duration::from_millis(2_000);
/// Scheduling on a busy 2-core machine: how much later than its timeout a closure may come.
const SLACK: Duration = Duration::from_millis(1_500);

fn limits(max_connections: usize) -> HttpOptions {
    HttpOptions {
        header_read_timeout: HEADER,
        body_read_timeout: BODY,
        request_timeout: None,
        keep_alive_timeout: KEEP_ALIVE,
        max_connections,
    }
}

/// The service with short timeouts, and an employee whose update really reaches a terminal.
struct Edge {
    f: Fixture,
    terminal: hikvision_simulator::SimulatedTerminal,
    employee_no: String,
    id: Uuid,
    addr: String,
}

impl Edge {
    async fn start(max_connections: usize) -> Self {
        let f = Fixture::on(Store::memory(), |s| s.http = limits(max_connections)).await;
        let (terminal, no, id) = one_enrolled(&f, "Door").await;
        let addr = format!(
            "{}:{}",
            f.app.base.host_str().unwrap(),
            f.app.base.port().unwrap()
        );
        Self {
            f,
            terminal,
            employee_no: no,
            id,
            addr,
        }
    }

    /// `/health` answers and an update puts the face on the terminal, each within a second.
    async fn still_answers(&self) {
        let started = Instant::now();
        let health = self
            .f
            .app
            .http
            .get(self.f.app.base.join("/health").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(health.status().as_u16(), 200);
        let body = update(&self.f.app, self.id).await;
        assert_eq!(body["per_device"][0]["status"], "success", "{body}");
        let face = self
            .terminal
            .face(&self.employee_no)
            .expect("the terminal holds a face");
        assert_eq!(face.bytes, jpeg(2));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "health + update took {:?}",
            started.elapsed()
        );
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.addr).await.unwrap()
    }
}

/// Reads until the service closes the connection; returns what it sent. Gives up after 15 s.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the service still holds the connection after 15 s"
    );
    received
}

/// (shortest, longest) of the durations.
fn spread(times: &[Duration]) -> (Duration, Duration) {
    let min = times.iter().min().copied().unwrap_or_default();
    let max = times.iter().max().copied().unwrap_or_default();
    (min, max)
}

#[track_caller]
fn assert_within(what: &str, times: &[Duration], timeout: Duration) {
    let (min, max) = spread(times);
    eprintln!(
        "{what}: {} connections closed after {min:?} .. {max:?} (timeout {timeout:?})",
        times.len()
    );
    assert!(
        min + Duration::from_millis(100) >= timeout,
        "{what}: closed early ({min:?})"
    );
    assert!(max <= timeout + SLACK, "{what}: closed late ({max:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_cut_off_at_the_header_timeout_while_the_service_answers() {
    const CONNECTIONS: usize = 1_100;
    // This process holds both ends of every connection.
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        limit >= 4 * CONNECTIONS as u64,
        "the open-file limit ({limit}) is too low for this test: raise the hard limit (ulimit -Hn)"
    );
    let edge = Edge::start(2 * CONNECTIONS).await;
    let mut slow = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let mut stream = edge.connect().await;
        stream
            .write_all(
                b"POST /api/hikvision/update-angajat-photo HTTP/1.1\r\nHost: edge\r\nContent-Ty",
            )
            .await
            .unwrap();
        slow.push((stream, Instant::now()));
    }
    edge.still_answers().await;

    let waits: Vec<_> = slow
        .into_iter()
        .map(|(mut stream, sent)| {
            tokio::spawn(async move {
                let received = until_closed(&mut stream).await;
                (sent.elapsed(), received)
            })
        })
        .collect();
    let mut times = Vec::new();
    for wait in waits {
        let (elapsed, received) = wait.await.unwrap();
        assert!(received.is_empty(), "no answer to half a header");
        times.push(elapsed);
    }
    assert_within("half-sent headers", &times, HEADER);
    edge.still_answers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dripped_bodies_get_408_body_timeout_and_are_closed() {
    const CONNECTIONS: usize = 50;
    let edge = Edge::start(1024).await;
    let mut drips = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = edge.connect().await;
        stream
            .write_all(
                b"POST /api/hikvision/update-angajat-photo HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: 61440\r\n\r\n{",
            )
            .await
            .unwrap();
        let sent = Instant::now();
        drips.push(tokio::spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            let drip = tokio::spawn(async move {
                // One byte every 250 ms, until the service hangs up (or 10 s).
                for _ in 0..40 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    if writer.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
            let mut received = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(15), reader.read_to_end(&mut received))
                    .await;
            drip.abort();
            (sent.elapsed(), received)
        }));
    }
    edge.still_answers().await;

    let mut times = Vec::new();
    for drip in drips {
        let (elapsed, received) = drip.await.unwrap();
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["status"], "error");
        assert_eq!(body["code"], "body_timeout", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("BODY_READ_TIMEOUT_MS")
        );
        times.push(elapsed);
    }
    assert_within("dripped bodies", &times, BODY);
    edge.still_answers().await;
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed_at_the_keep_alive_timeout() {
    let edge = Edge::start(1024).await;
    // Connected, never a byte: the keep-alive timeout, not the (shorter) header timeout.
    let mut silent = edge.connect().await;
    let opened = Instant::now();
    // One request, then nothing: closed the same time after the answer.
    let mut idle = edge.connect().await;
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: edge\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let answered = Instant::now();

    let (silent_closed, idle_closed) = tokio::join!(
        async {
            assert!(until_closed(&mut silent).await.is_empty());
            opened.elapsed()
        },
        async {
            assert!(until_closed(&mut idle).await.is_empty());
            answered.elapsed()
        }
    );
    assert_within("silent connection", &[silent_closed], KEEP_ALIVE);
    assert_within("idle keep-alive connection", &[idle_closed], KEEP_ALIVE);
    edge.still_answers().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_in_the_backlog_until_one_closes() {
    const CAP: usize = 20;
    let edge = Edge::start(CAP).await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(edge.connect().await);
    }
    // A kept sleep: the server takes the held connections off its accept queue (nothing outside
    // it shows when).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    let mut extra = edge.connect().await;
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut extra).await;
    let waited = asked.elapsed();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    eprintln!(
        "connection over the cap of {CAP}: answered after {waited:?}, when the held ones idled out ({KEEP_ALIVE:?})"
    );
    assert!(
        waited + Duration::from_millis(400) >= KEEP_ALIVE,
        "served before a slot was free: {waited:?}"
    );
    assert!(waited <= KEEP_ALIVE + SLACK, "{waited:?}");
    drop(held);
    edge.still_answers().await;
}

/// A directory whose employee lookups take `delay`: a request stuck before the terminals.
struct SlowDirectory {
    inner: MemoryDirectory,
    delay: Duration,
}

impl Directory for SlowDirectory {
    fn get_angajat_with_biometrie(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Employee, DirectoryError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.get_angajat_with_biometrie(id).await
        })
    }

    fn get_active_devices(&self) -> BoxFuture<'_, Result<Vec<DeviceEntry>, DirectoryError>> {
        self.inner.get_active_devices()
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DirectoryError>> {
        self.inner.ping()
    }

    fn list_angajati(&self) -> BoxFuture<'_, Result<Vec<Employee>, DirectoryError>> {
        self.inner.list_angajati()
    }
}

#[tokio::test]
async fn a_request_outliving_the_request_timeout_is_503_request_timeout() {
    let photos = PhotoServer::start().await.unwrap();
    let mut s = settings(&Store::memory(), &photos);
    s.sync.request_deadline = Duration::from_millis(500);
    s.http.request_timeout = Some(Duration::from_millis(1_000));
    let directory = SlowDirectory {
        inner: MemoryDirectory::default(),
        delay: Duration::from_secs(5),
    };
    let app = TestApp::spawn_with(s, Some(Arc::new(directory))).await;
    let started = Instant::now();
    let (status, body) = app
        .post(UPDATE_ENDPOINT, json!({"angajat_id": Uuid::new_v4()}))
        .await;
    let took = started.elapsed();
    eprintln!("request timeout 1 s: answered 503 after {took:?}");
    assert_eq!(status.as_u16(), 503, "{body}");
    assert_eq!(body["code"], "request_timeout");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("REQUEST_TIMEOUT_MS")
    );
    assert!(took >= Duration::from_millis(1_000) && took <= Duration::from_millis(1_000) + SLACK);
    let health = app
        .http
        .get(app.base.join("/health").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn start_up_refuses_a_request_timeout_within_the_deadline() {
    let photos = PhotoServer::start().await.unwrap();
    let mut s = settings(&Store::memory(), &photos);
    s.http.request_timeout = Some(s.sync.request_deadline);
    let error = Application::build_with(s, None)
        .await
        .err()
        .expect("refused");
    let message = error.to_string();
    assert!(
        message.contains("REQUEST_TIMEOUT_MS")
            && message.contains("must be larger than REQUEST_DEADLINE_MS"),
        "{message}"
    );
}
