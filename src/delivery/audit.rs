//! Who asked for what on which terminal: every terminal write scheduled by an admin endpoint
//! (resync, remove-angajat, the reconcile fix) or by the service itself (a new terminal's
//! automatic resync) is recorded with its actor (the token's `sub`, "api-key", "webhook",
//! "sweep") in `hikvision_sync.audit` (migration 0003; append-only for the service role), or in
//! memory for the demo and the tests. The same place remembers which terminals the sweep has
//! already seen (`hikvision_sync.devices_seen`, migration 0002), so a new one is resynced once.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::FutureExt;
use hikvision_isapi::EmployeeNo;
use uuid::Uuid;

use super::store::StoreFuture;
use crate::models::Enrolled;

/// One audited terminal write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When it was asked for.
    pub at: DateTime<Utc>,
    /// Who asked: the token's `sub`, "api-key", "cli:<user>", "anonymous" (authentication off),
    /// or the service itself ("webhook", "sweep").
    pub actor: String,
    /// `resync`, `remove`, `enrol`, `restore`, `reconcile_schedule` or `reconcile_remove`.
    pub action: String,
    /// The terminal.
    pub device_id: String,
    /// The employee (`None` for a person the database does not know).
    pub angajat_id: Option<Uuid>,
    /// The employee number written or removed.
    #[schema(value_type = Option<String>)]
    pub employee_no: Option<EmployeeNo>,
    /// Anything else worth keeping (the reconcile id, the count).
    pub detail: Option<String>,
}

impl AuditEntry {
    /// An entry stamped now.
    pub fn new(actor: &str, action: &str, device_id: &str) -> Self {
        Self {
            at: Utc::now(),
            actor: actor.to_string(),
            action: action.to_string(),
            device_id: device_id.to_string(),
            angajat_id: None,
            employee_no: None,
            detail: None,
        }
    }
}

/// The audit table and the seen-terminals list.
pub trait AuditLog: Send + Sync {
    /// Appends `entries`.
    fn record<'a>(&'a self, entries: &'a [AuditEntry]) -> StoreFuture<'a, ()>;

    /// The newest `limit` entries of one terminal (or all), newest first.
    fn entries<'a>(
        &'a self,
        device_id: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<AuditEntry>>;

    /// Notes `device_id` as seen; true the first time.
    fn first_seen<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, bool>;
}

/// The in-memory twin (forgets on restart, like the in-memory store).
#[derive(Debug, Default)]
pub struct MemoryAudit {
    entries: Mutex<Vec<AuditEntry>>,
    seen: Mutex<HashSet<String>>,
}

impl AuditLog for MemoryAudit {
    fn record<'a>(&'a self, entries: &'a [AuditEntry]) -> StoreFuture<'a, ()> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(entries);
        async { Ok(()) }.boxed()
    }

    fn entries<'a>(
        &'a self,
        device_id: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<AuditEntry>> {
        let found: Vec<AuditEntry> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .rev()
            .filter(|e| device_id.is_none_or(|d| e.device_id == d))
            .take(limit)
            .cloned()
            .collect();
        async move { Ok(found) }.boxed()
    }

    fn first_seen<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, bool> {
        let new = self
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(device_id.to_string());
        async move { Ok(new) }.boxed()
    }
}

/// The audit table in Postgres.
#[derive(Clone)]
pub struct PgAudit {
    pool: Pool,
}

impl std::fmt::Debug for PgAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAudit").finish_non_exhaustive()
    }
}

impl PgAudit {
    /// The audit table on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

impl AuditLog for PgAudit {
    fn record<'a>(&'a self, entries: &'a [AuditEntry]) -> StoreFuture<'a, ()> {
        async move {
            if entries.is_empty() {
                return Ok(());
            }
            let client = self.pool.get().await?;
            let at: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
            let actor: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
            let action: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
            let device: Vec<&str> = entries.iter().map(|e| e.device_id.as_str()).collect();
            let angajat: Vec<Option<Uuid>> = entries.iter().map(|e| e.angajat_id).collect();
            let number: Vec<Option<&str>> = entries
                .iter()
                .map(|e| e.employee_no.as_ref().map(EmployeeNo::as_str))
                .collect();
            let detail: Vec<Option<&str>> = entries.iter().map(|e| e.detail.as_deref()).collect();
            client
                .execute(
                    "insert into hikvision_sync.audit
                         (at, actor, action, device_id, angajat_id, employee_no, detail)
                     select * from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                                          $5::uuid[], $6::text[], $7::text[])",
                    &[&at, &actor, &action, &device, &angajat, &number, &detail],
                )
                .await?;
            Ok(())
        }
        .boxed()
    }

    fn entries<'a>(
        &'a self,
        device_id: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<AuditEntry>> {
        async move {
            let client = self.pool.get().await?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = client
                .query(
                    "select at, actor, action, device_id, angajat_id, employee_no, detail
                     from hikvision_sync.audit where ($1::text is null or device_id = $1)
                     order by id desc limit $2",
                    &[&device_id, &limit],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(AuditEntry {
                        at: r.try_get("at")?,
                        actor: r.try_get("actor")?,
                        action: r.try_get("action")?,
                        device_id: r.try_get("device_id")?,
                        angajat_id: r.try_get("angajat_id")?,
                        employee_no: r
                            .try_get::<_, Option<String>>("employee_no")?
                            .map(EmployeeNo::try_from)
                            .transpose()
                            .map_err(|e| {
                                super::DeliveryError::Store(format!(
                                    "employee_no in hikvision_sync.audit: {e}"
                                ))
                            })?,
                        detail: r.try_get("detail")?,
                    })
                })
                .collect()
        }
        .boxed()
    }

    fn first_seen<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, bool> {
        async move {
            let client = self.pool.get().await?;
            let inserted = client
                .execute(
                    "insert into hikvision_sync.devices_seen (device_id, resync_requested_at)
                     values ($1, now()) on conflict (device_id) do nothing",
                    &[&device_id],
                )
                .await?;
            Ok(inserted == 1)
        }
        .boxed()
    }
}

impl super::Delivery {
    /// Records that `actor` asked for `subject`'s removal from every terminal of `devices`.
    pub async fn audit_removal(
        &self,
        actor: &str,
        subject: &crate::models::Employee,
        devices: &[crate::models::DeviceEntry],
    ) -> Result<(), super::DeliveryError> {
        self.audit_access(actor, "remove", subject, devices, None)
            .await
    }

    /// Records that `actor` asked for `action` (`remove`, `enrol`, `restore`) of `subject` on
    /// each of `devices`.
    pub async fn audit_access(
        &self,
        actor: &str,
        action: &str,
        subject: &crate::models::Employee,
        devices: &[crate::models::DeviceEntry],
        detail: Option<&str>,
    ) -> Result<(), super::DeliveryError> {
        let entries: Vec<AuditEntry> = devices
            .iter()
            .map(|d| AuditEntry {
                angajat_id: Some(subject.id),
                employee_no: subject.employee_no().cloned(),
                detail: detail.map(str::to_string),
                ..AuditEntry::new(actor, action, super::runner::entry_id(d))
            })
            .collect();
        self.audit.record(&entries).await
    }
}
