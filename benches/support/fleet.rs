//! The world around the service, in the bench process: simulated terminals (healthy, old
//! firmware, offline with a closed port, or hanging) and a tiny photo server playing Supabase
//! Storage, from which the terminals download `faceURL`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{Uri, header};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use hikvision_isapi::build_person;
use hikvision_simulator::{self as simulator, Faults, SimulatedTerminal, TerminalConfig};
use hikvision_sync::demo::demo_picture;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;

use super::BoxError;
use super::child::{DeviceSpec, PersonSpec};

/// What one terminal of the fleet does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Current firmware; the person has an old face, so FDModify replaces it.
    Healthy,
    /// Old firmware: FDModify answers `notSupport`; the person has no face, so the
    /// FaceDataRecord fallback adds it.
    OldFirmware,
    /// Offline: nothing listens on its port (connect refused at once).
    Refused,
    /// Offline the slow way: accepts the connection and never answers (the `hang` fault), so
    /// the service's per-call timeout (`DEVICE_TIMEOUT_MS`) ends it.
    Hang,
}

/// The photo server.
pub struct PhotoServer {
    /// `http://127.0.0.1:<port>/`, the `SUPABASE_URL` of the service under test.
    pub base: String,
    /// Pictures served so far.
    pub hits: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl PhotoServer {
    /// Starts it: every GET path answers a small JPEG-shaped picture unique to the path (the
    /// demo's), so different people never share picture bytes.
    ///
    /// Its listen backlog is 4,096, not tokio's default of 128: K terminals download their
    /// picture at the same moment, and with 128 the kernel drops the SYNs of the burst's tail
    /// (`TcpExtListenOverflows`), which then wait the 1 s SYN retransmission timeout. Supabase
    /// Storage does not have that limit, so the bench must not either.
    pub async fn start() -> Result<Self, BoxError> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .fallback(picture)
            .with_state(Arc::clone(&hits));
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base: format!("http://{addr}/"),
            hits,
            task,
        })
    }
}

impl Drop for PhotoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn picture(State(hits): State<Arc<AtomicU64>>, uri: Uri) -> impl IntoResponse {
    hits.fetch_add(1, Ordering::Relaxed);
    (
        [(header::CONTENT_TYPE, "image/jpeg")],
        demo_picture(uri.path()),
    )
}

/// `k` terminals: 20 % old firmware and 10 % offline (of kind `offline`), spread evenly (in
/// every block of ten: positions 3 and 7 old, 9 offline), the rest healthy.
pub fn mixed_kinds(k: usize, offline: Kind) -> Vec<Kind> {
    (0..k)
        .map(|i| match i % 10 {
            3 | 7 => Kind::OldFirmware,
            9 => offline,
            _ => Kind::Healthy,
        })
        .collect()
}

/// A running fleet.
pub struct Fleet {
    /// The simulators (offline terminals with a closed port have none).
    pub sims: Vec<SimulatedTerminal>,
    /// The device rows, in order.
    pub devices: Vec<DeviceSpec>,
    /// What each device is.
    pub kinds: Vec<Kind>,
}

impl Fleet {
    /// Starts one terminal per entry of `kinds`, each taking `latency_ms` for every answered
    /// call (the 401 challenge is answered at once), and enrols `persons` on all of them: with an old face on
    /// terminals with FDModify, without one on old firmware.
    pub async fn start(
        kinds: &[Kind],
        latency_ms: u64,
        persons: &[PersonSpec],
    ) -> Result<Self, BoxError> {
        let mut sims = Vec::new();
        let mut devices = Vec::with_capacity(kinds.len());
        let mut closed = Vec::new();
        for (i, &kind) in kinds.iter().enumerate() {
            let port = if kind == Kind::Refused {
                // Bind a port, keep it until every simulator is up, then free it: nothing
                // listens there during the measurement.
                let l = std::net::TcpListener::bind("127.0.0.1:0")?;
                let port = l.local_addr()?.port();
                closed.push(l);
                port
            } else {
                let config = TerminalConfig {
                    name: format!("Bench terminal {}", i + 1),
                    serial: format!("BENCH{:06}", i + 1),
                    faults: Faults {
                        latency_ms,
                        fdmodify_unsupported: kind == Kind::OldFirmware,
                        hang: kind == Kind::Hang,
                        ..Faults::default()
                    },
                    ..TerminalConfig::default()
                };
                let sim = simulator::spawn(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
                for p in persons {
                    sim.add_person(build_person(&p.employee_no.parse()?, &p.display_name()));
                    if kind != Kind::OldFirmware {
                        sim.set_face(
                            p.employee_no.clone(),
                            demo_picture(&format!("old/{}", p.employee_no)),
                        );
                    }
                }
                let port = sim.addr().port();
                sims.push(sim);
                port
            };
            devices.push(DeviceSpec {
                id: format!("bench-{}", i + 1),
                name: format!("Bench terminal {}", i + 1),
                ip: "127.0.0.1".into(),
                port,
                username: "admin".into(),
                password: TerminalConfig::DEMO_PASSWORD.into(),
            });
        }
        drop(closed);
        Ok(Self {
            sims,
            devices,
            kinds: kinds.to_vec(),
        })
    }

    /// How many terminals of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.kinds.iter().filter(|&&k| k == kind).count()
    }

    /// Stops every simulator and waits for them.
    pub async fn stop(self) {
        futures::future::join_all(self.sims.into_iter().map(SimulatedTerminal::shutdown)).await;
    }
}
