//! Changes that arrive without a request: Supabase webhooks, and the sweep that compares the
//! tables with the desired state every `SWEEP_INTERVAL_MS` (Supabase does not retry a webhook).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use hikvision_isapi::EmployeeNo;
use uuid::Uuid;

use super::model::{Change, PairKey, PairRecord, PairState, Want};
use super::request::change_for;
use super::runner::{entry_id, removal_subject};
use super::schedule::{Task, first_per_terminal};
use super::webhook::Action;
use super::{Delivery, DeliveryError};
use crate::models::{DeviceEntry, Employee, Enrolled, ErrorCode, ServiceCode};
use crate::orchestration::{Flow, FlowOptions};
use crate::supabase::DirectoryError;

impl Delivery {
    /// Makes `changes` the desired state, as asked `by`, and schedules them now; returns how
    /// many were recorded (a revocation refuses some: a revoked employee is left alone).
    pub(super) async fn schedule_changes(
        &self,
        changes: Vec<Change>,
        by: &str,
    ) -> Result<usize, DeliveryError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let wanted = self.want(&changes, None, now, by).await?;
        let tasks: Vec<_> = changes
            .iter()
            .zip(&wanted)
            .filter(|(_, w)| w.is_recorded())
            .map(|(c, _)| (Task::Pair(c.key.clone()), now))
            .collect();
        let recorded = tasks.len();
        self.scheduler.schedule_all(tasks).await?;
        Ok(recorded)
    }

    async fn current(&self, angajat_id: Uuid) -> Result<Option<Employee>, DeliveryError> {
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
    async fn known_numbers(&self, angajat_id: Uuid) -> Result<Vec<EmployeeNo>, DeliveryError> {
        let mut numbers: Vec<EmployeeNo> = self
            .store
            .pairs_of(angajat_id)
            .await?
            .into_iter()
            .flat_map(|p| p.change.employee_no.into_iter().chain(p.numbers))
            .collect();
        numbers.sort();
        numbers.dedup();
        Ok(numbers)
    }

    /// The employee as a removal needs them: the number from the rows when they still exist,
    /// else the one the terminals were given. `None` when no number is known.
    pub async fn removal_target(
        &self,
        angajat_id: Uuid,
    ) -> Result<Option<Employee>, DeliveryError> {
        if let Some(a) = self.current(angajat_id).await?
            && a.has_employee_no()
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
                self.sync_changes(angajat_id, &devices, Flow::Enrol, old)
                    .await?
            }
            Action::NewBiometrie { angajat_id } if self.options.enrol_new => {
                self.sync_changes(angajat_id, &devices, Flow::Enrol, None)
                    .await?
            }
            Action::NewBiometrie { .. } => Vec::new(),
            Action::ValidityChanged { angajat_id } => {
                self.validity_changes(angajat_id, &devices).await?
            }
            Action::Deleted {
                angajat_id,
                employee_no,
            } => {
                if self
                    .current(angajat_id)
                    .await?
                    .is_some_and(|a| a.has_employee_no())
                {
                    // The row exists again: nothing is removed.
                    Vec::new()
                } else {
                    let mut numbers = self.known_numbers(angajat_id).await?;
                    numbers.extend(employee_no);
                    numbers.sort();
                    numbers.dedup();
                    // Every terminal that was given something for them, active or not (an
                    // inactive one gets the removal when it returns).
                    let mut ids: Vec<String> =
                        devices.iter().map(|d| entry_id(d).to_string()).collect();
                    ids.extend(
                        self.store
                            .pairs_of(angajat_id)
                            .await?
                            .into_iter()
                            .map(|p| p.change.key.device_id),
                    );
                    ids.sort();
                    ids.dedup();
                    removals(angajat_id, &numbers, &ids)
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
        self.schedule_changes(changes, "webhook").await
    }

    /// The employee's current rows and their pairs by terminal; `None` when the employee is gone.
    async fn current_with_pairs(
        &self,
        angajat_id: Uuid,
    ) -> Result<Option<(Employee, HashMap<String, PairRecord>)>, DeliveryError> {
        let Some(angajat) = self.current(angajat_id).await? else {
            return Ok(None);
        };
        let previous = self
            .store
            .pairs_of(angajat_id)
            .await?
            .into_iter()
            .map(|p| (p.change.key.device_id.clone(), p))
            .collect();
        Ok(Some((angajat, previous)))
    }

    async fn sync_changes(
        &self,
        angajat_id: Uuid,
        devices: &[DeviceEntry],
        flow: Flow,
        old_number: Option<EmployeeNo>,
    ) -> Result<Vec<Change>, DeliveryError> {
        let Some((angajat, previous)) = self.current_with_pairs(angajat_id).await? else {
            return Ok(Vec::new());
        };
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

    /// The person edit a changed validity window needs, on each terminal that holds the
    /// employee (see [`validity_flow`]).
    async fn validity_changes(
        &self,
        angajat_id: Uuid,
        devices: &[DeviceEntry],
    ) -> Result<Vec<Change>, DeliveryError> {
        let Some((angajat, previous)) = self.current_with_pairs(angajat_id).await? else {
            return Ok(Vec::new());
        };
        Ok(devices
            .iter()
            .filter_map(|entry| {
                let pair = previous.get(entry_id(entry))?;
                let flow = validity_flow(pair)?;
                let change = change_for(&angajat, entry, flow, FlowOptions::default(), Some(pair));
                (change != pair.change).then_some(change)
            })
            .collect())
    }

    /// Compares the tables with the desired state and schedules what a lost webhook missed:
    /// a changed photo or number, a deleted employee, credentials fixed since a refusal.
    pub async fn sweep(self: &Arc<Self>) -> Result<usize, DeliveryError> {
        let directory = self.directory()?;
        let angajati: HashMap<Uuid, Employee> = directory
            .list_angajati()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let devices = directory.get_active_devices().await?;
        let by_id: HashMap<&str, &DeviceEntry> = devices.iter().map(|d| (entry_id(d), d)).collect();
        let pairs = self.store.all_pairs().await?;
        // A revoked employee whose pair still says "enrolled" (a terminal inactive at the
        // removal, or a crash between the revocation and the removal): remove there too, on
        // every terminal, active or not (an inactive one gets it when it returns).
        let mut enrolled: Vec<Uuid> = pairs
            .iter()
            .filter(|p| p.change.want != Want::Remove)
            .map(|p| p.change.key.angajat_id)
            .collect();
        enrolled.sort();
        enrolled.dedup();
        let mut revoked = self.store.revoked_among(&enrolled).await?;
        let mut changes: Vec<Change> = pairs
            .iter()
            .filter(|p| p.change.want != Want::Remove && revoked.contains(&p.change.key.angajat_id))
            .filter_map(removal_of)
            .collect();
        // An end date that passed revokes the employee like a removal (the terminals' own
        // `Valid.endTime` already refuses them; this takes the person off).
        let (now, tz) = (Utc::now(), self.orchestrator.options().terminal_timezone);
        let ended: Vec<Uuid> = enrolled
            .iter()
            .filter(|id| !revoked.contains(id))
            .filter(|id| angajati.get(id).is_some_and(|a| a.validity_ended(now, tz)))
            .copied()
            .collect();
        let expired: Vec<Change> = pairs
            .iter()
            .filter(|p| p.change.want != Want::Remove && ended.contains(&p.change.key.angajat_id))
            .filter_map(removal_of)
            .collect();
        let mut scheduled = self
            .schedule_changes(expired, "sweep (the end date passed)")
            .await?;
        if !ended.is_empty() {
            tracing::info!(
                employees = ended.len(),
                "end dates passed: door access revoked"
            );
        }
        revoked.extend(ended);
        for pair in &pairs {
            if revoked.contains(&pair.change.key.angajat_id) {
                continue;
            }
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
        scheduled += self.schedule_changes(changes, "sweep").await?
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
        let count = terminals.len();
        let tasks = terminals
            .into_iter()
            .map(|k| (Task::Pair(k), now))
            .collect();
        self.scheduler.schedule_all(tasks).await?;
        Ok(count)
    }

    /// What one pair needs now that it did not get, if anything.
    async fn drift(
        &self,
        pair: &PairRecord,
        angajat: Option<&Employee>,
        entry: &DeviceEntry,
    ) -> Result<Option<Change>, DeliveryError> {
        let c = &pair.change;
        let Want::Sync(flow) = c.want else {
            return Ok(None);
        };
        let Some(angajat) = angajat.filter(|a| a.has_employee_no()) else {
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
                    validity: None,
                }));
        };
        let number_changed = angajat.employee_no() != c.employee_no.as_ref();
        let photo_changed = angajat.photo() != c.photo.as_deref();
        let credentials_fixed = pair.state == PairState::Failed
            && is_credential_failure(pair.error_code.as_ref())
            && match entry {
                Ok(device) => self
                    .store
                    .credential_block(&device.id)
                    .await?
                    .is_none_or(|b| b.fingerprint != self.fingerprint(device)),
                Err(_) => false,
            };
        let validity_changed = angajat.validity.key() != c.validity;
        let flow = match validity_flow(pair) {
            _ if number_changed => Flow::Enrol,
            // A person edit carries no face: a new photo goes by the update flow.
            _ if photo_changed && flow == Flow::UpdatePerson => Flow::UpdatePhoto,
            _ if photo_changed || credentials_fixed => flow,
            Some(edit) if validity_changed => edit,
            _ => return Ok(None),
        };
        Ok(Some(change_for(
            angajat,
            entry,
            flow,
            FlowOptions::default(),
            Some(pair),
        )))
    }
}

fn is_credential_failure(code: Option<&ErrorCode>) -> bool {
    matches!(
        code,
        Some(ErrorCode::Service(
            ServiceCode::WrongCredentials | ServiceCode::Locked | ServiceCode::CredentialsBlocked
        ))
    )
}

/// The removal of what `pair` gave its terminal (every number it recorded goes with it).
fn removal_of(pair: &PairRecord) -> Option<Change> {
    let number = pair
        .change
        .employee_no
        .clone()
        .or_else(|| pair.numbers.last().cloned())?;
    Some(Change {
        key: pair.change.key.clone(),
        want: Want::Remove,
        employee_no: Some(number),
        remove_employee_no: None,
        photo: None,
        create_missing_person: false,
        validity: None,
    })
}

/// A removal of every number in `numbers` (one per pair) on every device.
fn removals(angajat_id: Uuid, numbers: &[EmployeeNo], device_ids: &[String]) -> Vec<Change> {
    let Some(number) = numbers.last() else {
        return Vec::new();
    };
    device_ids
        .iter()
        .map(|id| Change {
            key: PairKey::new(angajat_id, id.clone()),
            want: Want::Remove,
            employee_no: Some(number.clone()),
            // A second known number (changed before the deletion) goes too.
            remove_employee_no: numbers.iter().rev().nth(1).cloned(),
            photo: None,
            create_missing_person: false,
            validity: None,
        })
        .collect()
}

/// The flow that gives a pair a changed validity window, if one should run now: a person edit
/// where the terminal holds the person (its last change went through, or waits for a person),
/// the pair's own flow again where that flow writes the person record anyway. `None` for a
/// removal, a pair with nothing on the terminal (skipped), and a face delivery still under way
/// (superseding it would lose the face; the sweep sends the window once it is done).
fn validity_flow(pair: &PairRecord) -> Option<Flow> {
    let Want::Sync(flow) = pair.change.want else {
        return None;
    };
    match pair.state {
        PairState::Skipped => None,
        PairState::InSync | PairState::Failed => Some(Flow::UpdatePerson),
        PairState::Pending | PairState::Unknown => {
            matches!(flow, Flow::UpdatePerson | Flow::Enrol).then_some(flow)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::model::UNCONFIRMED_VALIDITY;
    use crate::models::{BiometricRecord, Bound, Validity};

    fn pair(want: Want, state: PairState, validity: Option<&str>) -> PairRecord {
        PairRecord {
            change: Change {
                key: PairKey::new(Uuid::nil(), "d1"),
                want,
                employee_no: "7".parse().ok(),
                remove_employee_no: None,
                photo: Some("a.jpg".into()),
                create_missing_person: false,
                validity: validity.map(str::to_string),
            },
            state,
            attempts: 0,
            last_attempt_at: None,
            next_attempt_at: None,
            error_code: None,
            message: None,
            confirmed_photo: None,
            numbers: "7".parse().into_iter().collect(),
        }
    }

    #[test]
    fn a_window_goes_where_the_person_is_and_never_over_a_face_under_way() {
        use Flow::*;
        use PairState::*;
        let flow = |want, state| validity_flow(&pair(want, state, None));
        assert_eq!(flow(Want::Sync(UpdatePhoto), InSync), Some(UpdatePerson));
        assert_eq!(flow(Want::Sync(FullSync), Failed), Some(UpdatePerson));
        assert_eq!(flow(Want::Sync(UpdatePhoto), Pending), None);
        assert_eq!(flow(Want::Sync(Enrol), Pending), Some(Enrol));
        assert_eq!(flow(Want::Sync(UpdatePerson), Unknown), Some(UpdatePerson));
        assert_eq!(flow(Want::Sync(UpdatePhoto), Skipped), None);
        assert_eq!(flow(Want::Remove, InSync), None);
    }

    #[test]
    fn a_pair_records_the_window_only_a_person_write_delivers() {
        let date = chrono::NaiveDate::from_ymd_opt(2031, 3, 31).unwrap_or_default();
        let angajat = Employee {
            id: Uuid::nil(),
            last_name: "P".into(),
            first_name: "I".into(),
            biometrics: Some(BiometricRecord {
                employee_no: Some("7".parse()),
                photo_url: Some("a.jpg".into()),
            }),
            validity: Validity {
                from: None,
                until: Some(Bound::Date(date)),
            },
        };
        let entry: DeviceEntry = Err(crate::models::InvalidDevice {
            id: "d1".into(),
            name: String::new(),
            ip: String::new(),
            reason: String::new(),
        });
        let change = |flow, previous: Option<&PairRecord>| {
            change_for(&angajat, &entry, flow, FlowOptions::default(), previous).validity
        };
        let key = angajat.validity.key();
        assert!(key.is_some());
        assert_eq!(change(Flow::UpdatePerson, None), key);
        assert_eq!(change(Flow::Enrol, None), key);
        // A face flow leaves the terminal's window as it was...
        let delivered = pair(
            Want::Sync(Flow::UpdatePhoto),
            PairState::InSync,
            Some("old"),
        );
        assert_eq!(
            change(Flow::UpdatePhoto, Some(&delivered)).as_deref(),
            Some("old")
        );
        assert_eq!(change(Flow::FullSync, None), None);
        // ...and a window still on its way when superseded is unknown, so the sweep sends it.
        let on_its_way = pair(
            Want::Sync(Flow::UpdatePerson),
            PairState::Pending,
            Some("new"),
        );
        assert_eq!(
            change(Flow::UpdatePhoto, Some(&on_its_way)).as_deref(),
            Some(UNCONFIRMED_VALIDITY)
        );
        assert_ne!(Some(UNCONFIRMED_VALIDITY.to_string()), key);
    }
}
