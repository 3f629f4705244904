//! The catch-up by serial number: a terminal's log read forward from the watermark (re-reading
//! [`REREAD`] before it), 30 a page, `MORE` until done, one search at a time per terminal and
//! paced like other calls (the orchestrator's pacer); each page is stored while the terminal
//! works on the next. Every event it reads is stored with `live = false`. A terminal that
//! no longer holds the watermark's event (reset, replaced) is read from serial number 1, and the
//! store starts a new epoch. A terminal that refuses the search is reported, not asked again.

use std::sync::Arc;

use chrono::Utc;
use hikvision_isapi::{ErrorClass, IsapiError};

use super::EventError;
use super::model::{IncomingEvent, REREAD};
use super::service::{Events, lock};
use super::wire::from_search;
use crate::models::Device;

/// Most pages one catch-up reads (300,000 events, the search's own position limit).
const MAX_PAGES: usize = 10_000;

/// What one catch-up did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CatchUp {
    /// Events stored now.
    pub stored: usize,
    /// Search pages read.
    pub pages: usize,
}

/// Why a catch-up stopped.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    /// The terminal refused the event search (its firmware lacks it): not asked again.
    #[error("the terminal does not offer the event search")]
    Refused,
    /// The terminal could not be read.
    #[error("the event search failed: {0}")]
    Terminal(#[from] IsapiError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] EventError),
}

impl Events {
    /// Reads `device`'s log forward from the last stored event and stores what is new.
    pub async fn catch_up(self: &Arc<Self>, device: &Device) -> Result<CatchUp, CatchUpError> {
        let slot = self.slot(&device.id);
        if lock(&slot.status).search_refused {
            return Err(CatchUpError::Refused);
        }
        let _one_search = slot.search.lock().await;
        // Cleared once this search holds the terminal, so a gap pushed while it reads asks for
        // the next one, and gaps pushed while it waited need none.
        slot.catch_up_pending
            .store(false, std::sync::atomic::Ordering::Release);
        let result = self.read_forward(device).await;
        self.update(&device.id, |s| match &result {
            Ok(_) => {
                s.last_error = None;
                s.event_backlog = Some(0);
                s.last_catch_up_at = Some(Utc::now());
            }
            Err(CatchUpError::Refused) => {
                s.search_refused = true;
                s.last_error = Some("the terminal does not offer the event search (AcsEvent); only pushed events arrive".into());
            }
            Err(CatchUpError::Terminal(e)) => {
                s.last_error = Some(format!("the event search failed ({})", e.class().name()));
            }
            Err(CatchUpError::Store(e)) => s.last_error = Some(e.to_string()),
        });
        match &result {
            Ok(c) if c.stored > 0 => {
                tracing::info!(device_id = %device.id, stored = c.stored, pages = c.pages, "events: caught up");
            }
            Err(CatchUpError::Refused) => {
                tracing::warn!(device_id = %device.id, "events: the terminal refuses the event search (AcsEvent); it is not asked again");
            }
            Err(e) => {
                tracing::debug!(device_id = %device.id, error = %e, "events: catch-up failed")
            }
            Ok(_) => {}
        }
        result
    }

    async fn read_forward(&self, device: &Device) -> Result<CatchUp, CatchUpError> {
        let terminal = device.terminal()?;
        let cursor = self.store.cursor(&device.id).await?;
        let mut begin = (cursor.watermark - REREAD + 1).max(1);
        let mut search_id = new_search_id();
        let mut position = 0u32;
        let mut done = CatchUp::default();
        // The page read last, stored while the terminal works on the next one: the terminal's
        // time per page bounds a catch-up, not the terminal's time plus the database's.
        let mut unstored: Option<Page> = None;
        while done.pages < MAX_PAGES {
            let search = self.on_terminal(
                device,
                self.client
                    .search_events_page(&terminal, &search_id, position, begin),
            );
            let (page, stored) = tokio::join!(search, self.store_page(&device.id, unstored.take()));
            done.stored += stored?;
            let page = page.map_err(|e| match e.class() {
                ErrorClass::Unsupported => CatchUpError::Refused,
                _ => CatchUpError::Terminal(e),
            })?;
            done.pages += 1;
            if page.info_list.is_empty() {
                if position == 0 && begin > 1 {
                    // The terminal no longer holds the last stored event: its numbering went
                    // back (reset, replaced). Read it all; the store starts a new epoch.
                    begin = 1;
                    search_id = new_search_id();
                    continue;
                }
                break;
            }
            let count = u32::try_from(page.info_list.len()).unwrap_or(u32::MAX);
            let through = page.info_list.iter().map(|e| e.serial_no).max();
            let events = page.info_list.into_iter().map(from_search).collect();
            unstored = Some(Page { events, through });
            position = position.saturating_add(count);
            if page.response_status_strg != "MORE" {
                break;
            }
        }
        done.stored += self.store_page(&device.id, unstored).await?;
        Ok(done)
    }

    /// Stores one page read by the catch-up (nothing for `None`); returns how many were new.
    async fn store_page(&self, device_id: &str, page: Option<Page>) -> Result<usize, EventError> {
        let Some(page) = page else { return Ok(0) };
        let recorded = self
            .store
            .record(device_id, &page.events, page.through)
            .await?;
        self.count_stored("catch_up", recorded.stored);
        Ok(recorded.stored)
    }
}

/// One search page's events, and the highest serial number it held.
struct Page {
    events: Vec<IncomingEvent>,
    through: Option<i64>,
}

fn new_search_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
