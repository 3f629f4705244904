//! A push from a terminal: the device token checked in constant time, the body read, the event
//! stored durably before the answer (with the pushes that arrive meanwhile:
//! [`super::batch::PushBatcher`]); a `frontSerialNo` beyond the last stored event means pushes
//! were lost, so the terminal's catch-up runs in the background.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::EventError;
use super::service::Events;
use super::wire::{PushBodyError, Pushed, read_push};

/// Largest push body read (an event JSON with a ~30 KB picture fits many times over).
pub const MAX_PUSH_BYTES: usize = 512 * 1024;

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// A heartbeat.
    Heartbeat,
    /// A new event, stored.
    Stored,
    /// An event stored before.
    Duplicate,
}

/// Why a push was refused.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Missing or wrong device token.
    #[error("missing or wrong device token")]
    Unauthorized,
    /// Not a body the terminals send.
    #[error(transparent)]
    Body(#[from] PushBodyError),
    /// The store failed: the terminal will retry.
    #[error(transparent)]
    Store(#[from] EventError),
}

impl Events {
    /// Handles one push to `device_id` with `token`.
    pub async fn ingest_push(
        self: &Arc<Self>,
        device_id: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<PushOutcome, PushError> {
        if !token.is_some_and(|t| self.key.verify(device_id, t)) {
            return Err(PushError::Unauthorized);
        }
        let (event, front) = match read_push(content_type, body)? {
            Pushed::Heartbeat => return Ok(PushOutcome::Heartbeat),
            Pushed::Event(event, front) => (event, front),
        };
        let serial_no = event.serial_no;
        // Written with the pushes around it (group commit), answered once durable.
        let recorded = self.pushes.record(device_id, event).await?;
        self.count_stored("push", recorded.stored);
        let before = recorded.before;
        let gap = front.is_some_and(|f| f > before.watermark && f != before.last_serial)
            || (front.is_none() && serial_no > before.watermark + 1)
            || recorded.cursor.watermark < recorded.cursor.last_serial;
        if gap && recorded.stored > 0 {
            self.catch_up_later(device_id);
        }
        Ok(if recorded.stored > 0 {
            PushOutcome::Stored
        } else {
            PushOutcome::Duplicate
        })
    }

    /// Runs the catch-up of `device_id` in the background (it waits for a running one).
    fn catch_up_later(self: &Arc<Self>, device_id: &str) {
        let Some(device) = self.known_device(device_id) else {
            return;
        };
        let slot = self.slot(device_id);
        if slot.catch_up_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _ = this.catch_up(&device).await;
        });
    }
}
