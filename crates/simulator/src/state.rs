//! The terminal's memory: persons, faces, login counters and a short request log.
//!
//! Everything sits behind one `std::sync::Mutex` per terminal. Critical sections are short and
//! never span an `.await`, so a blocking mutex is cheaper than an async one here.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use hikvision_isapi::wire::UserInfo;

use super::auth::LoginState;
use super::decode::Size;
use super::recent::Recent;

/// How many request-log entries a terminal keeps (the oldest are dropped first), so a long
/// benchmark cannot grow a terminal's memory without bound.
pub const REQUEST_LOG_CAPACITY: usize = 512;

/// A face picture stored on the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFace {
    /// The picture exactly as received.
    pub bytes: Bytes,
    /// Where it came from: `url:<faceURL>`, `multipart`, or `seeded`.
    pub source: String,
    /// SHA-256 of `bytes`, lower-case hex (the terminal de-duplicates faces by content).
    pub sha256: String,
    /// How many times this person's face was written (1 after the first enrolment).
    pub updates: u32,
    /// Picture width in pixels (0 for seeded bytes that are not a JPEG or PNG).
    pub width: u32,
    /// Picture height in pixels (0 for seeded bytes that are not a JPEG or PNG).
    pub height: u32,
}

impl StoredFace {
    pub(crate) fn new(bytes: Bytes, source: String, size: Size, updates: u32) -> Self {
        let sha256 = sha256_hex(&bytes);
        Self {
            bytes,
            source,
            sha256,
            updates,
            width: size.width,
            height: size.height,
        }
    }
}

/// One face in a [`StateSnapshot`] (the bytes are served by `GET /_sim/faces/{fpid}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceSummary {
    /// The person's employeeNo.
    #[serde(rename = "FPID")]
    pub fpid: String,
    /// `url:<faceURL>`, `multipart` or `seeded`.
    pub source: String,
    /// SHA-256 of the picture, lower-case hex.
    pub sha256: String,
    /// Picture size in bytes.
    pub size: usize,
    /// How many times the face was written.
    pub updates: u32,
    /// Picture width in pixels (0 when unknown).
    #[serde(default)]
    pub width: u32,
    /// Picture height in pixels (0 when unknown).
    #[serde(default)]
    pub height: u32,
}

/// One request the terminal received on `/ISAPI/*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestLogEntry {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// HTTP status sent back; `None` when the request got no reply (`hang`, `reset`).
    pub status: Option<u16>,
}

/// One search page the terminal answered (`UserInfo/Search` or `FDSearch`), kept so tests can
/// see how a client pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchLogEntry {
    /// Path without the query.
    pub path: String,
    /// The request's `searchID` (FDSearch requests may have none).
    #[serde(rename = "searchID")]
    pub search_id: Option<String>,
    /// The request's `searchResultPosition`.
    pub search_result_position: u32,
    /// The request's `maxResults`, as asked.
    pub max_results: u32,
}

/// A copy of a terminal's state, as served by `GET /_sim/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Persons, ordered by employeeNo.
    pub persons: Vec<UserInfo>,
    /// Faces, ordered by FPID.
    pub faces: Vec<FaceSummary>,
    /// Failed logins since start (or since the last `reset-lock`).
    pub failed_logins: u32,
    /// Whether the account is locked right now.
    pub locked: bool,
    /// Seconds until the lock lifts (0 when not locked).
    pub unlock_in_secs: u64,
    /// TCP connections accepted since start (all paths).
    pub connections: u64,
    /// `UserInfo/Delete` calls that named nobody and so deleted every person.
    pub mass_deletions: u64,
    /// `FDSearch/Delete` calls that named no face (refused, but a danger on hardware).
    pub mass_face_deletions: u64,
    /// The most write calls for one person the terminal processed at once.
    pub max_concurrent_calls_per_person: u32,
}

/// The mutable part of a terminal.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) persons: BTreeMap<String, UserInfo>,
    pub(crate) faces: BTreeMap<String, StoredFace>,
    pub(crate) login: LoginState,
    /// `UserInfo/Delete` calls that deleted every person.
    pub(crate) mass_deletions: u64,
    /// `FDSearch/Delete` calls that named no face.
    pub(crate) mass_face_deletions: u64,
    log: VecDeque<RequestLogEntry>,
    /// Every request since the start or the last clear, counted by method, path and status.
    counts: BTreeMap<RequestLogEntry, u64>,
    searches: VecDeque<SearchLogEntry>,
}

impl Store {
    pub(crate) fn log(&mut self, entry: RequestLogEntry) {
        *self.counts.entry(entry.clone()).or_default() += 1;
        push_capped(&mut self.log, entry);
    }

    pub(crate) fn log_search(&mut self, entry: SearchLogEntry) {
        push_capped(&mut self.searches, entry);
    }

    pub(crate) fn search_log(&self) -> Vec<SearchLogEntry> {
        self.searches.iter().cloned().collect()
    }

    pub(crate) fn request_log(&self) -> Vec<RequestLogEntry> {
        self.log.iter().cloned().collect()
    }

    pub(crate) fn request_counts(&self) -> Vec<(RequestLogEntry, u64)> {
        self.counts.iter().map(|(k, n)| (k.clone(), *n)).collect()
    }

    pub(crate) fn clear_request_log(&mut self) {
        self.log.clear();
        self.counts.clear();
        self.searches.clear();
    }

    /// The person other than `fpid` whose face has exactly this content, if any.
    pub(crate) fn face_owner_of(&self, sha256: &str, except_fpid: &str) -> Option<&str> {
        self.faces
            .iter()
            .find(|(fpid, face)| fpid.as_str() != except_fpid && face.sha256 == sha256)
            .map(|(fpid, _)| fpid.as_str())
    }

    /// Stores a face of `size` pixels, counting the write.
    pub(crate) fn put_face(&mut self, fpid: &str, bytes: Bytes, source: String, size: Size) {
        let updates = self.faces.get(fpid).map_or(0, |f| f.updates) + 1;
        self.faces.insert(
            fpid.to_owned(),
            StoredFace::new(bytes, source, size, updates),
        );
    }

    pub(crate) fn face_summaries(&self) -> Vec<FaceSummary> {
        self.faces
            .iter()
            .map(|(fpid, face)| FaceSummary {
                fpid: fpid.clone(),
                source: face.source.clone(),
                sha256: face.sha256.clone(),
                size: face.bytes.len(),
                updates: face.updates,
                width: face.width,
                height: face.height,
            })
            .collect()
    }
}

/// Appends to a log of at most [`REQUEST_LOG_CAPACITY`] entries, dropping the oldest.
fn push_capped<T>(log: &mut VecDeque<T>, entry: T) {
    if log.len() >= REQUEST_LOG_CAPACITY {
        log.pop_front();
    }
    log.push_back(entry);
}

/// Locks a mutex, recovering the data if another thread panicked while holding it: the store
/// holds no invariants a half-done update could break badly enough to justify taking the
/// whole simulator down.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SHA-256 of `bytes` as lower-case hex.
/// SHA-256 of `bytes`, lower-case hex (remembered for the last few pictures: see `recent`).
pub(crate) fn sha256_hex(bytes: &Bytes) -> String {
    static SEEN: Recent<Bytes, String> = Recent::new();
    SEEN.get_or(bytes.clone(), |b| hex::encode(Sha256::digest(b)))
}
