//! Changes that arrive without a request: Supabase webhooks, and the sweep that compares the
//! tables with the desired state every `SWEEP_INTERVAL_MS` (Supabase does not retry a webhook).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use super::model::{Change, PairKey, PairRecord, PairState, Want};
use super::request::change_for;
use super::runner::{entry_id, removal_subject};
use super::schedule::{Task, first_per_terminal};
use super::webhook::Action;
use super::{Delivery, DeliveryError};
use crate::models::{Angajat, DeviceEntry, ServiceCode};
use crate::orchestration::{Flow, FlowOptions};
use crate::supabase::DirectoryError;

impl Delivery {
    /// Makes `changes` the desired state and schedules them now; returns how many.
    async fn schedule_changes(&self, changes: Vec<Change>) -> Result<usize, DeliveryError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        self.store.want(&changes, None, now).await?;
        for c in &changes {
            self.scheduler
                .schedule(Task::Pair(c.key.clone()), now)
                .await?;
        }
        Ok(changes.len())
    }

    async fn current(&self, angajat_id: Uuid) -> Result<Option<Angajat>, DeliveryError> {
        match self
            .directory()?
            .get_angajat_with_biometrie(angajat_id)
            .await
        {
            Ok(a) => Ok(Some(a)),
            Err(DirectoryError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The numbers the terminals may hold for an employee, from the desired state.
    async fn known_numbers(&self, angajat_id: Uuid) -> Result<Vec<String>, DeliveryError> {
        let mut numbers: Vec<String> = self
            .store
            .pairs_of(angajat_id)
            .await?
            .into_iter()
            .filter_map(|p| p.change.employee_no)
            .collect();
        numbers.sort();
        numbers.dedup();
        Ok(numbers)
    }

    /// The employee as a removal needs them: the number from the rows when they still exist,
    /// else the one the terminals were given. `None` when no number is known.
    pub async fn removal_target(&self, angajat_id: Uuid) -> Result<Option<Angajat>, DeliveryError> {
        if let Some(a) = self.current(angajat_id).await?
            && a.employee_no().is_some()
        {
            return Ok(Some(a));
        }
        let numbers = self.known_numbers(angajat_id).await?;
        Ok(numbers
            .last()
            .map(|no| removal_subject(angajat_id, Some(no))))
    }

    /// Carries out what a webhook asks; returns how many pairs were scheduled.
    pub async fn apply(self: &Arc<Self>, action: Action) -> Result<usize, DeliveryError> {
        let devices = match &action {
            Action::Ignore(_) | Action::DeviceActivated { .. } => Vec::new(),
            _ => self.directory()?.get_active_devices().await?,
        };
        let changes = match action {
            Action::PhotoChanged { angajat_id } => {
                self.sync_changes(angajat_id, &devices, Flow::UpdatePhoto, None)
                    .await?
            }
            Action::NumberChanged { angajat_id, old } => {
                self.sync_changes(angajat_id, &devices, Flow::Enrol, Some(old))
                    .await?
            }
            Action::NewBiometrie { angajat_id } if self.options.enrol_new => {
                self.sync_changes(angajat_id, &devices, Flow::Enrol, None)
                    .await?
            }
            Action::NewBiometrie { .. } => Vec::new(),
            Action::Deleted {
                angajat_id,
                employee_no,
            } => {
                if self
                    .current(angajat_id)
                    .await?
                    .is_some_and(|a| a.employee_no().is_some())
                {
                    // The row exists again: nothing is removed.
                    Vec::new()
                } else {
                    let mut numbers = self.known_numbers(angajat_id).await?;
                    numbers.extend(employee_no);
                    numbers.sort();
                    numbers.dedup();
                    removals(angajat_id, &numbers, &devices)
                }
            }
            Action::DeviceActivated { device_id } => {
                tracing::info!(device_id = %device_id, "a terminal became active: bulk resync");
                return Ok(self.auto_resync(&device_id, "webhook").await);
            }
            Action::Ignore(why) => {
                tracing::debug!(why, "webhook ignored");
                Vec::new()
            }
        };
        self.schedule_changes(changes).await
    }

    async fn sync_changes(
        &self,
        angajat_id: Uuid,
        devices: &[DeviceEntry],
        flow: Flow,
        old_number: Option<String>,
    ) -> Result<Vec<Change>, DeliveryError> {
        let Some(angajat) = self.current(angajat_id).await? else {
            return Ok(Vec::new());
        };
        let previous: HashMap<String, PairRecord> = self
            .store
            .pairs_of(angajat_id)
            .await?
            .into_iter()
            .map(|p| (p.change.key.device_id.clone(), p))
            .collect();
        Ok(devices
            .iter()
            .map(|entry| {
                let mut change = change_for(
                    &angajat,
                    entry,
                    flow,
                    FlowOptions::default(),
                    previous.get(entry_id(entry)),
                );
                if old_number.is_some() && change.remove_employee_no.is_none() {
                    change.remove_employee_no.clone_from(&old_number);
                }
                change
            })
            .collect())
    }

    /// Compares the tables with the desired state and schedules what a lost webhook missed:
    /// a changed photo or number, a deleted employee, credentials fixed since a refusal.
    pub async fn sweep(self: &Arc<Self>) -> Result<usize, DeliveryError> {
        let directory = self.directory()?;
        let angajati: HashMap<Uuid, Angajat> = directory
            .list_angajati()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let devices = directory.get_active_devices().await?;
        let by_id: HashMap<&str, &DeviceEntry> = devices.iter().map(|d| (entry_id(d), d)).collect();
        let mut changes = Vec::new();
        let pairs = self.store.all_pairs().await?;
        for pair in &pairs {
            let Some(entry) = by_id.get(pair.change.key.device_id.as_str()) else {
                continue;
            };
            if let Some(change) = self
                .drift(pair, angajati.get(&pair.change.key.angajat_id), entry)
                .await?
            {
                changes.push(change);
            }
        }
        let scheduled = self.schedule_changes(changes).await?
            + self.resync_new_terminals(&devices, &pairs).await?;
        if scheduled > 0 {
            tracing::info!(scheduled, "sweep scheduled changes a webhook missed");
        }
        Ok(scheduled + self.schedule_overdue().await?)
    }

    /// Pending pairs long past due may have lost their job (a crash between recording a change
    /// and scheduling it, an outage): one task per such terminal works through all its due pairs
    /// (and replaces a waiting one with the same key, so this never doubles work). Returns how
    /// many tasks.
    pub(super) async fn schedule_overdue(&self) -> Result<usize, DeliveryError> {
        let overdue = Utc::now() - chrono::Duration::seconds(5);
        let stuck = self.store.pending(None, Some(overdue), None).await?;
        let terminals = first_per_terminal(stuck);
        let now = Utc::now();
        for key in &terminals {
            self.scheduler
                .schedule(Task::Pair(key.clone()), now)
                .await?;
        }
        Ok(terminals.len())
    }

    /// What one pair needs now that it did not get, if anything.
    async fn drift(
        &self,
        pair: &PairRecord,
        angajat: Option<&Angajat>,
        entry: &DeviceEntry,
    ) -> Result<Option<Change>, DeliveryError> {
        let c = &pair.change;
        let Want::Sync(flow) = c.want else {
            return Ok(None);
        };
        let Some(angajat) = angajat.filter(|a| a.employee_no().is_some()) else {
            // Deleted in Supabase: the number we gave this terminal must leave it.
            return Ok(c
                .employee_no
                .clone()
                .filter(|_| pair.state != PairState::Skipped)
                .map(|no| Change {
                    key: c.key.clone(),
                    want: Want::Remove,
                    employee_no: Some(no),
                    remove_employee_no: None,
                    photo: None,
                    create_missing_person: false,
                }));
        };
        let number_changed = angajat.employee_no() != c.employee_no.as_deref();
        let photo_changed = angajat.photo() != c.photo.as_deref();
        let credentials_fixed = pair.state == PairState::Failed
            && is_credential_failure(pair.error_code.as_deref())
            && match entry {
                Ok(device) => self
                    .store
                    .credential_block(&device.id)
                    .await?
                    .is_none_or(|b| b.fingerprint != self.fingerprint(device)),
                Err(_) => false,
            };
        if !(number_changed || photo_changed || credentials_fixed) {
            return Ok(None);
        }
        let flow = if number_changed { Flow::Enrol } else { flow };
        Ok(Some(change_for(
            angajat,
            entry,
            flow,
            FlowOptions::default(),
            Some(pair),
        )))
    }
}

fn is_credential_failure(code: Option<&str>) -> bool {
    [
        ServiceCode::WrongCredentials,
        ServiceCode::Locked,
        ServiceCode::CredentialsBlocked,
    ]
    .iter()
    .any(|c| Some(c.as_str()) == code)
}

/// A removal of every number in `numbers` (one per pair) on every device.
fn removals(angajat_id: Uuid, numbers: &[String], devices: &[DeviceEntry]) -> Vec<Change> {
    let Some(number) = numbers.last() else {
        return Vec::new();
    };
    devices
        .iter()
        .map(|entry| Change {
            key: PairKey::new(angajat_id, entry_id(entry)),
            want: Want::Remove,
            employee_no: Some(number.clone()),
            // A second known number (changed before the deletion) goes too.
            remove_employee_no: numbers.iter().rev().nth(1).cloned(),
            photo: None,
            create_missing_person: false,
        })
        .collect()
}
