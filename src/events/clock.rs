//! Terminal clocks: read when a terminal is first caught up and every hour after (the offset is
//! kept for `devices/status` and `/metrics`, a large one logged), and set on an admin's request
//! to the service's time in the terminal's own UTC offset (its time zone is left as it is).

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Offset, Utc};
use hikvision_isapi::IsapiError;
use hikvision_isapi::wire::DeviceTime;
use serde::Serialize;

use super::service::{Events, lock};
use crate::models::Device;

/// How often a terminal's clock is read.
const CLOCK_EVERY: Duration = Duration::from_secs(3600);

/// What setting a terminal's clock did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClockSet {
    /// The terminal.
    pub device_id: String,
    /// Its clock minus the service's before, in milliseconds.
    pub offset_before_ms: i64,
    /// The local time sent, with the terminal's UTC offset.
    pub set_to: String,
}

/// Why a clock could not be set.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// No active terminal with this id.
    #[error("no active terminal with id {0}")]
    UnknownDevice(String),
    /// The terminal could not be read or refused the time.
    #[error("the terminal's clock could not be set ({})", .0.class().name())]
    Terminal(#[from] IsapiError),
}

impl Events {
    /// Reads `device`'s clock when it was not read in the last hour; keeps the offset.
    pub(super) async fn read_clock(&self, device: &Device) {
        let slot = self.slot(&device.id);
        let due = lock(&slot.clock_read_at).is_none_or(|at| at.elapsed() >= CLOCK_EVERY);
        if !due {
            return;
        }
        if let Ok((_, offset)) = self.clock_of(device).await {
            *lock(&slot.clock_read_at) = Some(Instant::now());
            self.note_offset(device, offset);
        }
    }

    /// Sets `device_id`'s clock to the service's time, in the terminal's own UTC offset.
    pub async fn set_clock(&self, device_id: &str) -> Result<ClockSet, ClockError> {
        let device = self
            .devices()
            .await
            .into_iter()
            .find(|d| d.id == device_id)
            .ok_or_else(|| ClockError::UnknownDevice(device_id.to_owned()))?;
        let (time, offset_before_ms) = self.clock_of(&device).await?;
        let zone = DateTime::parse_from_rfc3339(time.local_time.trim())
            .map(|t| *t.offset())
            .unwrap_or_else(|_| FixedOffset::east_opt(0).unwrap_or(Utc.fix()));
        let set_to = Utc::now()
            .with_timezone(&zone)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let terminal = device.terminal()?;
        let new = DeviceTime {
            time_mode: "manual".into(),
            local_time: set_to.clone(),
            time_zone: time.time_zone,
        };
        self.on_terminal(&device, self.client.set_device_time(&terminal, &new))
            .await?;
        tracing::info!(device_id, offset_before_ms, "events: terminal clock set");
        if let Ok((_, offset)) = self.clock_of(&device).await {
            self.note_offset(&device, offset);
        }
        Ok(ClockSet {
            device_id: device_id.to_owned(),
            offset_before_ms,
            set_to,
        })
    }

    /// The terminal's time and its clock minus the service's, in milliseconds.
    async fn clock_of(&self, device: &Device) -> Result<(DeviceTime, i64), IsapiError> {
        let terminal = device.terminal()?;
        let time = self
            .on_terminal(device, self.client.device_time(&terminal))
            .await?;
        let theirs = DateTime::parse_from_rfc3339(time.local_time.trim()).map_err(|_| {
            IsapiError::UnexpectedReply {
                http_status: 200,
                detail: "System/time has no readable localTime".into(),
            }
        })?;
        let offset = (theirs.with_timezone(&Utc) - Utc::now()).num_milliseconds();
        Ok((time, offset))
    }

    fn note_offset(&self, device: &Device, offset: i64) {
        let warn_ms = i64::try_from(self.settings.clock_drift_warn.as_millis()).unwrap_or(i64::MAX);
        if offset.abs() > warn_ms {
            tracing::warn!(device_id = %device.id, clock_offset_ms = offset, "events: the terminal's clock is off");
        }
        if let Some(m) = &self.metrics {
            m.clock_offset(&device.id, offset);
        }
        self.update(&device.id, |s| s.clock_offset_ms = Some(offset));
    }
}
