//! Bulk resync of one terminal: every employee with an `employee_no` is made a durable change on
//! that terminal (the full sync: the person, "already exists" counting as done, then the face by
//! the update flow) and scheduled on the terminal's queue, which paces it (one call at a time per
//! terminal across replicas, `RATE_LIMIT_DELAY_MS` apart) and resumes it after a restart.
//!
//! Rules:
//! - **Nothing twice while it runs.** A pair whose stored change is identical and still pending
//!   is left alone (its job is queued; `job_key` dedupes anyway). While the resync runs (some
//!   identical change is still pending on this terminal), a pair already `in_sync` with the
//!   identical change is left alone too. A resync asked for when none runs re-sends everything,
//!   as HikCentral's "Apply (Initial)" does: the terminal may have been replaced or reset.
//! - **A removal stands.** A pair whose desired state is a removal (remove-angajat, a deleted
//!   employee) is not re-enrolled by a resync: enrolling grants door access.
//! - **Capacity guard.** Before anything is scheduled the terminal's face capacity (FDLib
//!   capabilities `FDRecordDataMaxNum`) and the faces it holds (`UserInfo/Count`
//!   `bindFaceUserNumber`) are read; when the faces it holds plus the employees with a photo not
//!   yet in sync there exceed the capacity, nothing is scheduled. A terminal that cannot be read
//!   now (offline, refused credentials) is scheduled anyway (durable: it catches up when back),
//!   and the answer says the capacity was not checked.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use super::audit::AuditEntry;
use super::model::{Change, PairKey, PairRecord, PairState, Want};
use super::request::change_for;
use super::runner::entry_id;
use super::{Delivery, DeliveryError};
use crate::models::{DeviceEntry, Enrolled};
use crate::orchestration::{FaceCapacity, Flow, FlowOptions};

/// Why a resync was not scheduled.
#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    /// No active terminal has this id (or name).
    #[error(
        "No active terminal has the id or name '{0}' (see GET /api/hikvision/devices/status; an inactive row must be activated first)"
    )]
    UnknownDevice(String),
    /// The terminal cannot hold that many faces.
    #[error(
        "The terminal holds {on_terminal} faces and can hold {capacity}: {to_add} more would exceed its capacity. Nothing was scheduled: remove people who no longer need access (reconcile finds them) or use a terminal with a larger face library"
    )]
    CapacityExceeded {
        /// `FDRecordDataMaxNum`.
        capacity: u64,
        /// Faces it holds now.
        on_terminal: u64,
        /// Employees with a photo not yet in sync there.
        to_add: u64,
    },
    /// The store or Supabase failed.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

/// A scheduled resync.
#[derive(Debug, Clone)]
pub struct Resync {
    /// The terminal.
    pub device_id: String,
    /// Its name.
    pub device_name: String,
    /// Employees the resync covers (every employee with an `employee_no`, less standing
    /// removals).
    pub scheduled: usize,
    /// Changes made now (the others were already queued or, while it runs, delivered).
    pub added: usize,
    /// The pairs it covers (to follow progress).
    pub keys: Vec<PairKey>,
    /// The capacity read before scheduling, when the terminal answered.
    pub capacity: Option<FaceCapacity>,
    /// Why the capacity was not checked, when it was not.
    pub capacity_note: Option<String>,
}

/// Where a resync stands.
#[derive(Debug, Clone, Default)]
pub struct ResyncProgress {
    /// Pairs covered.
    pub total: usize,
    /// Pairs no longer pending (delivered, failed or skipped).
    pub done: usize,
    /// Delivered.
    pub in_sync: usize,
    /// Pairs waiting for a person or with nothing to send, with why.
    pub problems: Vec<PairRecord>,
}

impl ResyncProgress {
    /// True when nothing is pending any more.
    pub fn finished(&self) -> bool {
        self.done >= self.total
    }
}

impl Delivery {
    /// The active terminal with id `id_or_name`, else the one named so.
    pub async fn find_device(&self, id_or_name: &str) -> Result<DeviceEntry, ResyncError> {
        let devices = self
            .directory()?
            .get_active_devices()
            .await
            .map_err(DeliveryError::from)?;
        let wanted = id_or_name.trim();
        let by_id = devices.iter().position(|d| entry_id(d) == wanted);
        let index = by_id.or_else(|| {
            devices.iter().position(|d| match d {
                Ok(d) => d.name == wanted,
                Err(i) => i.name == wanted,
            })
        });
        index
            .and_then(|i| devices.into_iter().nth(i))
            .ok_or_else(|| ResyncError::UnknownDevice(wanted.chars().take(100).collect()))
    }

    /// Schedules every employee with an `employee_no` onto the terminal `device_id`, durably,
    /// after the capacity guard; `actor` is recorded in the audit with each write.
    pub async fn resync(
        self: &Arc<Self>,
        device_id: &str,
        actor: &str,
    ) -> Result<Resync, ResyncError> {
        let entry = self.find_device(device_id).await?;
        let id = entry_id(&entry).to_string();
        let angajati = self
            .directory()?
            .list_angajati()
            .await
            .map_err(DeliveryError::from)?;
        let previous: HashMap<uuid::Uuid, PairRecord> = self
            .store
            .pairs_on(&id)
            .await?
            .into_iter()
            .map(|p| (p.change.key.angajat_id, p))
            .collect();
        let candidates: Vec<(Change, Option<&PairRecord>, bool)> = angajati
            .iter()
            .filter(|a| a.has_employee_no())
            .filter_map(|a| {
                let prev = previous.get(&a.id);
                if prev.is_some_and(|p| p.change.want == Want::Remove) {
                    return None;
                }
                let change = change_for(a, &entry, Flow::Enrol, FlowOptions::default(), prev);
                Some((change, prev, a.photo().is_some()))
            })
            .collect();
        let identical = |c: &Change, p: Option<&PairRecord>, state: PairState| {
            p.is_some_and(|p| p.state == state && p.change == *c)
        };
        let running = candidates
            .iter()
            .any(|(c, p, _)| identical(c, *p, PairState::Pending));
        let to_add = candidates
            .iter()
            .filter(|(_, p, photo)| *photo && p.is_none_or(|p| p.state != PairState::InSync))
            .count() as u64;

        let (capacity, capacity_note) = self.check_capacity(&entry, to_add).await?;

        let wished: Vec<Change> = candidates
            .iter()
            .filter(|(c, p, _)| {
                !(identical(c, *p, PairState::Pending)
                    || (running && identical(c, *p, PairState::InSync)))
            })
            .map(|(c, _, _)| c.clone())
            .collect();
        let keys: Vec<PairKey> = candidates.iter().map(|(c, _, _)| c.key.clone()).collect();
        let now = Utc::now();
        let wanted = self.want(&wished, None, now, actor).await?;
        // A revoked employee is not enrolled (only restore-angajat gives access back).
        let make: Vec<Change> = wished
            .into_iter()
            .zip(&wanted)
            .filter(|(_, w)| w.is_recorded())
            .map(|(c, _)| c)
            .collect();
        let added = make.len();
        if !make.is_empty() {
            self.scheduler
                .schedule_pairs(make.iter().map(|c| c.key.clone()).collect(), now)
                .await?;
            let audit: Vec<AuditEntry> = make
                .iter()
                .map(|c| AuditEntry {
                    angajat_id: Some(c.key.angajat_id),
                    employee_no: c.employee_no.clone(),
                    ..AuditEntry::new(actor, "resync", &id)
                })
                .collect();
            self.audit.record(&audit).await?;
        }
        let device_name = match &entry {
            Ok(d) => d.name.clone(),
            Err(i) => i.name.clone(),
        };
        tracing::info!(device_id = %id, scheduled = keys.len(), added, running, actor, "bulk resync scheduled");
        Ok(Resync {
            device_id: id,
            device_name,
            scheduled: keys.len(),
            added,
            keys,
            capacity,
            capacity_note,
        })
    }

    /// The capacity guard: `Err` when `to_add` more faces would not fit.
    async fn check_capacity(
        &self,
        entry: &DeviceEntry,
        to_add: u64,
    ) -> Result<(Option<FaceCapacity>, Option<String>), ResyncError> {
        let device = match entry {
            Ok(device) => device,
            Err(invalid) => {
                return Ok((
                    None,
                    Some(format!("Invalid device record: {}", invalid.reason)),
                ));
            }
        };
        if let Some(blocked) = self.blocked(device).await? {
            return Ok((None, Some(blocked.message)));
        }
        match self.orchestrator.face_capacity(device).await {
            Ok(found) => match found.capacity {
                Some(capacity) if found.on_terminal + to_add > capacity => {
                    Err(ResyncError::CapacityExceeded {
                        capacity,
                        on_terminal: found.on_terminal,
                        to_add,
                    })
                }
                Some(_) => Ok((Some(found), None)),
                None => Ok((
                    Some(found),
                    Some(
                        "The terminal does not state its face capacity (FDRecordDataMaxNum)".into(),
                    ),
                )),
            },
            Err(why) => Ok((
                None,
                Some(format!(
                    "The capacity could not be read now ({why}); the resync is scheduled and runs when the terminal answers"
                )),
            )),
        }
    }

    /// Where the pairs of a resync stand.
    pub async fn resync_progress(&self, keys: &[PairKey]) -> Result<ResyncProgress, DeliveryError> {
        let wanted: std::collections::HashSet<&PairKey> = keys.iter().collect();
        let mut progress = ResyncProgress {
            total: keys.len(),
            ..ResyncProgress::default()
        };
        let devices: std::collections::BTreeSet<&str> =
            keys.iter().map(|k| k.device_id.as_str()).collect();
        let mut pairs = Vec::new();
        for device_id in devices {
            pairs.extend(self.store.pairs_on(device_id).await?);
        }
        for pair in pairs {
            if !wanted.contains(&pair.change.key) {
                continue;
            }
            match pair.state {
                PairState::Pending | PairState::Unknown => {}
                PairState::InSync => {
                    progress.done += 1;
                    progress.in_sync += 1;
                }
                PairState::Failed | PairState::Skipped => {
                    progress.done += 1;
                    progress.problems.push(pair);
                }
            }
        }
        Ok(progress)
    }

    /// The automatic resync of a new or reactivated terminal (the webhook, the sweep). A
    /// terminal that would overflow is left alone, with a warning in the log.
    pub(super) async fn auto_resync(self: &Arc<Self>, device_id: &str, actor: &str) -> usize {
        match self.resync(device_id, actor).await {
            Ok(r) => {
                if let Some(note) = &r.capacity_note {
                    tracing::info!(device_id, note = %note, "automatic resync: capacity not checked");
                }
                r.added
            }
            Err(e) => {
                tracing::warn!(device_id, error = %e, "automatic resync of a new terminal not scheduled");
                0
            }
        }
    }
}

impl Delivery {
    /// The sweep's part: an active terminal with no pairs at all, while other terminals have
    /// some (the service is in use and this terminal was added since), is resynced once (the
    /// seen-terminals list remembers it). A fresh installation with no delivery yet enrols
    /// nobody by itself: the first resync is asked for.
    pub(super) async fn resync_new_terminals(
        self: &Arc<Self>,
        devices: &[DeviceEntry],
        pairs: &[PairRecord],
    ) -> Result<usize, DeliveryError> {
        if pairs.is_empty() {
            return Ok(0);
        }
        let mut scheduled = 0;
        for entry in devices {
            let id = entry_id(entry);
            if entry.is_err() || pairs.iter().any(|p| p.change.key.device_id == id) {
                continue;
            }
            if self.audit.first_seen(id).await? {
                tracing::info!(device_id = %id, "the sweep found a new terminal: bulk resync");
                scheduled += self.auto_resync(id, "sweep").await;
            }
        }
        Ok(scheduled)
    }
}
