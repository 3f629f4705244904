//! Simulated terminals on loopback (real HTTP, real Digest auth), and persons enrolled on them as
//! if done earlier.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use hikvision_simulator::{SimulatedTerminal, TerminalConfig};
use uuid::Uuid;

/// Loopback ports for simulators, below Linux's ephemeral range (32768-60999): no outgoing
/// connection can take one as its source port while a terminal is "away" (shut down, to come
/// back on the same address).
const PORTS: Range<u16> = 20_000..32_000;

/// A terminal with `config` on a random free port of a range no outgoing connection uses, so it
/// can be shut down and brought back on the same address with [`spawn_terminal_at`].
pub async fn spawn_terminal(config: TerminalConfig) -> io::Result<SimulatedTerminal> {
    let span = u128::from(PORTS.end - PORTS.start);
    let mut last = io::Error::other("no free simulator port");
    for _ in 0..50 {
        let offset = u16::try_from(Uuid::new_v4().as_u128() % span).unwrap_or(0);
        let addr = SocketAddr::from(([127, 0, 0, 1], PORTS.start + offset));
        match hikvision_simulator::spawn(config.clone(), addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A terminal with `config` at `addr` (one that was shut down, coming back). A connection that
/// was still closing may hold the port a moment: it is tried again for up to 5 s.
pub async fn spawn_terminal_at(
    config: TerminalConfig,
    addr: SocketAddr,
) -> io::Result<SimulatedTerminal> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match hikvision_simulator::spawn(config.clone(), addr).await {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Enrols person `employee_no` (named `name`) on `terminal` directly, as if done earlier, with
/// `face` when given.
pub fn enrol(
    terminal: &SimulatedTerminal,
    employee_no: &str,
    name: &str,
    face: Option<impl Into<bytes::Bytes>>,
) -> Result<(), hikvision_isapi::IsapiError> {
    let number: hikvision_isapi::EmployeeNo = employee_no
        .parse()
        .map_err(|e| hikvision_isapi::IsapiError::InvalidRequest(format!("{e}")))?;
    terminal.add_person(hikvision_isapi::build_person(&number, name));
    if let Some(face) = face {
        terminal.set_face(employee_no, face.into());
    }
    Ok(())
}
