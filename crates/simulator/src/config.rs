//! What a simulated terminal is: its identity, credentials, limits and fault knobs.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Fault knobs of one simulated terminal. All are off by default.
///
/// They are read on every request, so changing them at runtime (through
/// [`SimulatedTerminal::set_faults`](super::SimulatedTerminal::set_faults) or `PUT /_sim/faults`)
/// takes effect on the next request. They apply to `/ISAPI/*` only; the `/_sim/*` control
/// endpoints are never faulted. In JSON, omitted knobs are off and unknown ones are refused
/// (so a typo cannot silently leave a fault off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// The terminal's time to work on a call: added before every answered ISAPI reply (and the
    /// `http_500` page). The Digest challenge (401) is answered at once, as on a real terminal,
    /// whose web server does no work for it.
    pub latency_ms: u64,
    /// Accept the request and never answer it (the client has to time out). When the knob is
    /// turned off or the terminal stops, held requests get their connection cut.
    pub hang: bool,
    /// Close the TCP connection (RST) without any reply.
    pub reset: bool,
    /// Answer every ISAPI request with HTTP 500 and an HTML error page, before any auth.
    pub http_500: bool,
    /// Old firmware: every `ResponseStatus` reply is XML instead of JSON.
    pub xml_only: bool,
    /// Old firmware: `FDModify` answers `notSupport`, like an unknown URL.
    pub fdmodify_unsupported: bool,
    /// Firmware without the add-or-edit calls: `UserInfo/SetUp` and `FDSetUp` answer
    /// `notSupport` like an unknown URL (one firmware answers 404/405 for FDSetUp), and the face
    /// capabilities leave out `setUp`.
    pub setup_unsupported: bool,
    /// Firmware without `UserInfo/Modify`: it answers `notSupport` like an unknown URL (persons
    /// are edited with `UserInfo/SetUp` there).
    pub user_modify_unsupported: bool,
    /// Every write call answers `deviceBusy` (statusCode 2, HTTP 200).
    pub device_busy: bool,
    /// Every `faceURL` download fails with `urlDownloadFail` without being tried.
    pub face_download_fail: bool,
    /// A terminal on a closed LAN: it cannot reach the photos' host, so every `faceURL` write
    /// fails with `urlDownloadFail`, while pictures pushed in a multipart body still work.
    pub closed_lan: bool,
    /// Face writes answer OK but store nothing, like a firmware that acknowledges a face and
    /// loses it (only a read-back finds out).
    pub ack_without_storing: bool,
    /// A delete naming a person or face the terminal does not have is refused as a whole
    /// (`employeeNoNotExist` / `faceNotExist`) and deletes nothing, instead of answering OK.
    pub delete_unknown_refused: bool,
    /// `AcsEvent` and `AcsEventTotalNum` answer `notSupport` (some DS-K1T firmware).
    pub acs_event_unsupported: bool,
    /// Pushes to listeners are not sent (the terminal's side of a network cut); the events stay
    /// queued and go out, in order, when the knob is turned off.
    pub push_paused: bool,
}

/// Identity, credentials and limits of one simulated terminal.
#[derive(Clone)]
pub struct TerminalConfig {
    /// The one account the terminal accepts.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Device model; also the Digest realm, as on real HikVision firmware.
    pub model: String,
    /// User-given device name (`deviceName` in deviceInfo).
    pub name: String,
    /// Serial number (`serialNumber` in deviceInfo).
    pub serial: String,
    /// Firmware version (`firmwareVersion` in deviceInfo).
    pub firmware: String,
    /// Fault knobs at start-up.
    pub faults: Faults,
    /// Consecutive failed logins that lock the account; 0 disables the lockout.
    pub lockout_after: u32,
    /// How long a lockout lasts, in seconds.
    pub lockout_secs: u64,
    /// How long a Digest nonce stays valid; older ones get `stale="TRUE"`.
    pub nonce_ttl: Duration,
    /// Connect plus total timeout of one `faceURL` download.
    pub download_timeout: Duration,
    /// Faces the library holds (`FDRecordDataMaxNum`); a new face beyond it is refused with
    /// `exceedMaxFaceNumber`.
    pub face_capacity: usize,
    /// Shortest side, in pixels, a face picture may have; a smaller one is refused with
    /// `picturePixelsTooSmall`. Real units vary (`docs/isapi.md`, Pictures: 80 px on one, a
    /// 480 px short edge on another); the default, 80, is the most lenient.
    pub min_side: u32,
    /// Longest side, in pixels, a face picture may have; a larger one is refused with
    /// `picturePixelsTooLarge` before it is decoded, so this also bounds the memory a decode
    /// takes (about `max_side`² x 8 bytes). The default, 4096, is above every documented unit.
    pub max_side: u32,
    /// The terminal's clock: its local time is UTC plus this many seconds. Persons' `Valid`
    /// windows are local time (`timeType: "local"`), so this decides when they open and close.
    pub utc_offset_secs: i32,
    /// Events the log holds; when full the oldest is dropped (serial numbers go on).
    pub event_capacity: usize,
    /// HTTP listener slots (`httpHosts`); 2 on a DS-K1T342MWX.
    pub http_host_slots: usize,
    /// How long the terminal waits before pushing again to a listener that failed.
    pub push_retry: Duration,
}

impl TerminalConfig {
    /// The demo password of [`TerminalConfig::default`].
    pub const DEMO_PASSWORD: &'static str = "Sim-Pass-123";
}

impl Default for TerminalConfig {
    fn default() -> Self {
        Self {
            username: "admin".into(),
            password: Self::DEMO_PASSWORD.into(),
            model: "DS-K1T341AM".into(),
            name: "Simulated Terminal".into(),
            serial: "DS-K1T341AM20240101V032030ENSIM000001".into(),
            firmware: "V3.2.30".into(),
            faults: Faults::default(),
            lockout_after: 5,
            lockout_secs: 1800,
            nonce_ttl: Duration::from_secs(30),
            download_timeout: Duration::from_secs(5),
            face_capacity: 3000,
            min_side: 80,
            max_side: 4096,
            utc_offset_secs: 0,
            event_capacity: 100_000,
            http_host_slots: 2,
            push_retry: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for TerminalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TerminalConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("model", &self.model)
            .field("name", &self.name)
            .field("serial", &self.serial)
            .field("firmware", &self.firmware)
            .field("faults", &self.faults)
            .field("lockout_after", &self.lockout_after)
            .field("lockout_secs", &self.lockout_secs)
            .field("nonce_ttl", &self.nonce_ttl)
            .field("download_timeout", &self.download_timeout)
            .field("face_capacity", &self.face_capacity)
            .field("min_side", &self.min_side)
            .field("max_side", &self.max_side)
            .field("utc_offset_secs", &self.utc_offset_secs)
            .field("event_capacity", &self.event_capacity)
            .field("http_host_slots", &self.http_host_slots)
            .field("push_retry", &self.push_retry)
            .finish()
    }
}
