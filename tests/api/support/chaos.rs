//! Misbehaving "terminals" for the chaos tests: raw TCP listeners on loopback that write exact
//! bytes (or nothing), for the faults the simulator cannot produce. Real sockets, no mocks: the
//! service's own client talks to them over TCP as it would to a broken device.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// How a fault server misbehaves, once it has read a whole request.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// `HTTP 200` declaring `Content-Length: len`, then `len` bytes.
    HugeDeclared { len: usize },
    /// `HTTP 200` without a length (`Connection: close`), then `len` bytes, then close.
    HugeUndeclared { len: usize },
    /// Valid headers (`Content-Length: 4096`), then one body byte every `every`, forever.
    Drip { every: Duration },
    /// Bytes that are not HTTP at all, then close.
    Garbage,
    /// A well-formed `HTTP 200` whose body is binary junk, not ISAPI.
    GarbageBody,
    /// Valid headers (`Content-Length: 512`), a few body bytes, then the connection ends: with a
    /// FIN (`rst: false`) or a RST (`rst: true`).
    CloseMidBody { rst: bool },
    /// The kernel accepts the TCP connection (listen queue), the server never reads or answers.
    Silent,
    /// The listen queue is full: the kernel drops new SYNs, connecting never completes.
    BacklogFull,
}

/// What a fault server saw.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections taken by the server (0 for `Silent` and `BacklogFull`, which never accept).
    pub connections: AtomicU64,
    /// Complete requests read.
    pub requests: AtomicU64,
    /// Body bytes the server managed to write before the peer went away (all connections).
    pub body_bytes_sent: AtomicU64,
}

/// A running fault server. It lives as long as the test's runtime.
pub struct FaultServer {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
}

impl FaultServer {
    /// Starts a fault server on a random loopback port.
    pub async fn start(fault: Fault) -> Self {
        let stats = Arc::new(Stats::default());
        let socket = TcpSocket::new_v4().unwrap();
        // A small send buffer (inherited by accepted sockets), so the bytes a server manages to
        // write say how much the peer really read rather than how much the kernel could queue.
        socket.set_send_buffer_size(16 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        match fault {
            Fault::Silent => {
                let listener = socket.listen(1024).unwrap();
                tokio::spawn(async move {
                    // Held, never accepted: connections complete in the kernel and sit there.
                    let _listener = listener;
                    std::future::pending::<()>().await;
                });
            }
            Fault::BacklogFull => {
                // Backlog 0 leaves room for exactly one queued connection; fill it and keep it.
                let listener = socket.listen(0).unwrap();
                let filler = TcpStream::connect(addr).await.unwrap();
                let probe =
                    tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr))
                        .await;
                assert!(
                    probe.is_err(),
                    "the listen queue should be full, but a second connect completed"
                );
                tokio::spawn(async move {
                    let _held = (listener, filler);
                    std::future::pending::<()>().await;
                });
            }
            _ => {
                let listener = socket.listen(1024).unwrap();
                tokio::spawn(accept_loop(listener, fault, Arc::clone(&stats)));
            }
        }
        Self { addr, stats }
    }

    /// A `hikvision_devices` row pointing at this server.
    pub fn device_row(&self, name: &str, password: &str) -> Value {
        json!({
            "name": name, "ip": self.addr.ip().to_string(), "port": self.addr.port(),
            "username": "admin", "password": password, "is_active": true
        })
    }

    pub fn requests(&self) -> u64 {
        self.stats.requests.load(Ordering::Relaxed)
    }

    pub fn body_bytes_sent(&self) -> u64 {
        self.stats.body_bytes_sent.load(Ordering::Relaxed)
    }
}

async fn accept_loop(listener: TcpListener, fault: Fault, stats: Arc<Stats>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            let _ = serve(stream, fault, &stats).await;
        });
    }
}

/// One connection: read one whole request (so closing never discards unread request bytes,
/// which would turn every close into a RST), then misbehave.
async fn serve(mut stream: TcpStream, fault: Fault, stats: &Stats) -> std::io::Result<()> {
    if !read_request(&mut stream).await? {
        return Ok(());
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let sent = |n: usize| {
        stats.body_bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    };
    match fault {
        Fault::HugeDeclared { len } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            write_filler(&mut stream, len, sent).await?;
        }
        Fault::HugeUndeclared { len } => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                )
                .await?;
            write_filler(&mut stream, len, sent).await?;
        }
        Fault::Drip { every } => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{",
                )
                .await?;
            loop {
                tokio::time::sleep(every).await;
                stream.write_all(b" ").await?;
                stream.flush().await?;
                sent(1);
            }
        }
        Fault::Garbage => {
            stream
                .write_all(b"\x16\x03\x01\x00\xa5\x01\x00\xff\xfe<<not http at all>>\x00\r\n\r\n")
                .await?;
            stream.shutdown().await?;
        }
        Fault::GarbageBody => {
            let body: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xde\xad\xbe\xef{{{ not isapi";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            sent(body.len());
            stream.shutdown().await?;
        }
        Fault::CloseMidBody { rst } => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 512\r\n\r\n{\"statusCode\": 1, \"statusStr",
                )
                .await?;
            stream.flush().await?;
            sent(27);
            // Let the client take the headers before the connection ends.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if rst {
                stream.set_zero_linger()?;
            } else {
                stream.shutdown().await?;
            }
        }
        Fault::Silent | Fault::BacklogFull => unreachable!("these never accept"),
    }
    Ok(())
}

/// Writes `len` filler bytes in 16 KiB chunks from one static buffer (the fault server itself
/// must not allocate what it sends), counting what got out.
async fn write_filler(
    stream: &mut TcpStream,
    len: usize,
    sent: impl Fn(usize),
) -> std::io::Result<()> {
    static CHUNK: [u8; 16 * 1024] = [b'x'; 16 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK.len());
        stream.write_all(&CHUNK[..n]).await?;
        sent(n);
        left -= n;
    }
    stream.shutdown().await
}

/// Reads one request head and its `Content-Length` body. `false` when the peer left first.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<bool> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(false);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < body_len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        have += n;
    }
    Ok(true)
}

/// This process's resident set size, in KiB (Linux `/proc/self/status` `VmRSS`).
pub fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

/// This process's peak resident set size since start or the last [`reset_peak_rss`], in KiB
/// (`VmHWM`). A reply buffered whole and freed again shows here even when `VmRSS` is back down.
pub fn peak_rss_kib() -> u64 {
    proc_status_kib("VmHWM:")
}

/// Resets `VmHWM` to the current RSS (Linux >= 4.0: `5` into `/proc/self/clear_refs`).
pub fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}
