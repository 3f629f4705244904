//! Access that only an admin gives back: restoring a removed employee, and the removal's reach to
//! terminals that are not active now (they must drop the person when they return).

use std::sync::Arc;

use chrono::Utc;

use super::model::{Change, PairKey, Want};
use super::runner::entry_id;
use super::{Delivery, DeliveryError};
use crate::models::{DeviceEntry, Employee, Enrolled};

impl Delivery {
    /// Lifts every revocation of `angajat` (an admin's restore, as asked by `actor`), audited on
    /// each of `devices`; the caller then enrols the employee.
    pub async fn restore(
        self: &Arc<Self>,
        actor: &str,
        angajat: &Employee,
        devices: &[DeviceEntry],
    ) -> Result<(), DeliveryError> {
        let lifted = self.store.restore(angajat.id).await?;
        let detail = if lifted.is_empty() {
            "nothing was revoked".to_string()
        } else {
            let first = lifted
                .iter()
                .map(|r| r.revoked_at)
                .min()
                .unwrap_or_else(Utc::now);
            format!(
                "lifted {} revocation(s), the first of {}",
                lifted.len(),
                first.format("%Y-%m-%d %H:%M:%S UTC")
            )
        };
        tracing::info!(angajat_id = %angajat.id, actor, lifted = lifted.len(), "door access restored");
        self.audit_access(actor, "restore", angajat, devices, Some(&detail))
            .await
    }

    /// Records and schedules the removal of `subject` on every terminal that holds a change for
    /// them but is not among the active `devices` (deactivated, or away from the devices table):
    /// each gets it when it returns. The active ones are handled by the request itself.
    pub async fn remove_where_inactive(
        &self,
        subject: &Employee,
        devices: &[DeviceEntry],
        actor: &str,
    ) -> Result<usize, DeliveryError> {
        let changes: Vec<Change> = self
            .store
            .pairs_of(subject.id)
            .await?
            .into_iter()
            .filter(|p| p.change.want != Want::Remove)
            .filter(|p| {
                !devices
                    .iter()
                    .any(|d| entry_id(d) == p.change.key.device_id)
            })
            .map(|p| Change {
                key: PairKey::new(subject.id, p.change.key.device_id),
                want: Want::Remove,
                employee_no: subject.employee_no().cloned(),
                remove_employee_no: None,
                photo: None,
                create_missing_person: false,
                validity: None,
            })
            .collect();
        self.schedule_changes(changes, actor).await
    }
}
