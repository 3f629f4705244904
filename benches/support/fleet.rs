//! The world around the service, in the bench process: simulated terminals (healthy, old
//! firmware, offline with a closed port, or hanging) and a tiny photo server playing Supabase
//! Storage, from which the terminals download `faceURL`.

use hikvision_simulator::{Faults, SimulatedTerminal, TerminalConfig};
use hikvision_sync::demo::demo_picture;
use hikvision_testkit::{PhotoServer, enrol, spawn_terminal};

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

/// The photo server: every GET path answers a small JPEG-shaped picture unique to the path (the
/// demo's), so different people never share picture bytes.
pub async fn photo_server() -> Result<PhotoServer, BoxError> {
    Ok(PhotoServer::start_with(|path| Some(demo_picture(path).into())).await?)
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
                let sim = spawn_terminal(config).await?;
                for p in persons {
                    let old_face = (kind != Kind::OldFirmware)
                        .then(|| demo_picture(&format!("old/{}", p.employee_no)));
                    enrol(&sim, &p.employee_no, &p.display_name(), old_face)?;
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
