//! Reading what a terminal holds, for the bulk resync's capacity guard and for reconcile: paced
//! like every other call to the terminal, and never with credentials the terminal refused (one
//! failed login, then the guard stops us, as for the flows).

use std::sync::Arc;

use hikvision_isapi::IsapiError;
use hikvision_isapi::wire::{FaceMatch, UserInfo};
use secrecy::ExposeSecret;

use super::Orchestrator;
use crate::models::Device;

/// How many faces a terminal can hold and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceCapacity {
    /// `FDRecordDataMaxNum` of the FDLib capabilities (`None`: the firmware does not say).
    pub capacity: Option<u64>,
    /// Persons with a face (`UserInfo/Count` `bindFaceUserNumber`).
    pub on_terminal: u64,
}

/// Everything a terminal holds: its persons and the faces of its employee library.
#[derive(Debug, Clone, Default)]
pub struct TerminalContents {
    /// Every person (`UserInfo/Search`, paged with one searchID).
    pub persons: Vec<UserInfo>,
    /// Every face (`FDSearch`, paged).
    pub faces: Vec<FaceMatch>,
}

/// Reading progress: entries read so far and the total the terminal announced so far.
pub type ReadProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

impl Orchestrator {
    /// The terminal of `device` when its credentials are not known to be refused; else why not.
    fn readable(&self, device: &Device) -> Result<hikvision_isapi::Terminal, String> {
        let terminal = device
            .terminal()
            .map_err(|e| format!("Invalid device record: {e}"))?;
        if let Some(blocked) = self.credentials.check(
            &terminal.address(),
            &device.username,
            device.password.expose_secret(),
        ) {
            return Err(blocked.message(tokio::time::Instant::now()));
        }
        Ok(terminal)
    }

    fn note(&self, device: &Device, address: &str, outcome: Result<(), &IsapiError>) {
        self.credentials.record(
            address,
            &device.username,
            device.password.expose_secret(),
            outcome,
        );
    }

    /// The face capacity of `device` and how many faces it holds: two paced calls (FDLib
    /// capabilities, `UserInfo/Count`).
    pub async fn face_capacity(&self, device: &Device) -> Result<FaceCapacity, String> {
        let terminal = self.readable(device)?;
        let address = terminal.address();
        self.pacer.wait_turn(&address).await;
        let caps = self.client.face_capabilities(&terminal).await;
        self.note(device, &address, caps.as_ref().map(drop));
        let caps = caps.map_err(|e| format!("FDLib capabilities: {e}"))?;
        self.pacer.wait_turn(&address).await;
        let count = self.client.count_persons(&terminal).await;
        self.note(device, &address, count.as_ref().map(drop));
        let count = count.map_err(|e| format!("UserInfo/Count: {e}"))?;
        Ok(FaceCapacity {
            capacity: caps.fd_record_data_max_num,
            on_terminal: count.bind_face_user_number,
        })
    }

    /// Every person and face `device` holds, paged until the terminal's end markers. The pages
    /// of one listing follow each other without the pacing pause (reads; the terminal's own
    /// paging), and each listing waits its turn like any other call. `progress(read, total)`
    /// counts persons, then faces on top.
    pub async fn read_terminal(
        &self,
        device: &Device,
        progress: ReadProgress,
    ) -> Result<TerminalContents, String> {
        let terminal = self.readable(device)?;
        let address = terminal.address();
        self.pacer.wait_turn(&address).await;
        let report = Arc::clone(&progress);
        let mut persons_total = 0;
        let persons = self
            .client
            .list_persons(&terminal, |read, total| {
                persons_total = total;
                report(read, total);
            })
            .await;
        self.note(device, &address, persons.as_ref().map(drop));
        let persons = persons.map_err(|e| format!("UserInfo/Search: {e}"))?;
        let base = persons.len();
        persons_total = persons_total.max(base);
        self.pacer.wait_turn(&address).await;
        let faces = self
            .client
            .list_faces(&terminal, |read, total| {
                progress(base + read, persons_total + total);
            })
            .await;
        self.note(device, &address, faces.as_ref().map(drop));
        let faces = faces.map_err(|e| format!("FDSearch: {e}"))?;
        Ok(TerminalContents { persons, faces })
    }
}
