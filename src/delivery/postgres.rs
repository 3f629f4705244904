//! The durable store in the project's own Supabase Postgres (`supabase/migrations/0002_*.sql`),
//! over a direct connection (the pool the job engine uses too).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::FutureExt;
use hikvision_isapi::EmployeeNo;
use tokio_postgres::Row;
use uuid::Uuid;

use super::DeliveryError;
use super::model::{
    Backlog, Change, Claim, DeviceCounts, Outcome, PairKey, PairRecord, PairState, Revocation,
    RevocationReason, Want, Wanted,
};
use super::store::{CredentialBlock, DeliveryStore, StoreFuture};

mod batch;
use crate::models::ErrorCode;

/// The migration this code needs (`hikvision_sync.schema_version`).
pub const SCHEMA_VERSION: i32 = 7;

/// The store on a Postgres pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

const PAIR_COLUMNS: &str = "angajat_id, device_id, want, employee_no, remove_employee_no, photo, \
     create_missing_person, state, attempts, last_attempt_at, next_attempt_at, error_code, message, \
     confirmed_photo, numbers, validity";

fn pair_of(row: &Row) -> Result<PairRecord, DeliveryError> {
    let want: String = row.try_get("want")?;
    let state: String = row.try_get("state")?;
    let attempts: i32 = row.try_get("attempts")?;
    Ok(PairRecord {
        change: Change {
            key: PairKey::new(
                row.try_get("angajat_id")?,
                row.try_get::<_, String>("device_id")?,
            ),
            want: Want::parse(&want).ok_or_else(|| {
                DeliveryError::Store(format!("unknown want '{want}' in hikvision_sync.delivery"))
            })?,
            employee_no: number_of(row, "employee_no")?,
            remove_employee_no: number_of(row, "remove_employee_no")?,
            photo: row.try_get("photo")?,
            create_missing_person: row.try_get("create_missing_person")?,
            validity: row.try_get("validity")?,
        },
        state: PairState::parse(&state),
        attempts: attempts.max(0) as u32,
        last_attempt_at: row.try_get("last_attempt_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        error_code: row
            .try_get::<_, Option<String>>("error_code")?
            .map(|c| ErrorCode::parse(&c)),
        message: row.try_get("message")?,
        confirmed_photo: row.try_get("confirmed_photo")?,
        numbers: row
            .try_get::<_, Vec<String>>("numbers")?
            .into_iter()
            .map(|n| stored_number("numbers", n))
            .collect::<Result<_, _>>()?,
    })
}

/// A number read back from the job store, checked here: a stored value no terminal takes is a
/// store error (it names the column), never a panic.
fn stored_number(column: &str, value: String) -> Result<EmployeeNo, DeliveryError> {
    EmployeeNo::try_from(value)
        .map_err(|e| DeliveryError::Store(format!("{column} in hikvision_sync.delivery: {e}")))
}

fn number_of(row: &Row, column: &str) -> Result<Option<EmployeeNo>, DeliveryError> {
    row.try_get::<_, Option<String>>(column)?
        .map(|n| stored_number(column, n))
        .transpose()
}

/// The stored form of "the whole employee" in `hikvision_sync.revocation.employee_no`.
const EVERY_NUMBER: &str = "*";

fn revocation_of(row: &Row) -> Result<Revocation, DeliveryError> {
    let employee_no: String = row.try_get("employee_no")?;
    let reason: String = row.try_get("reason")?;
    Ok(Revocation {
        angajat_id: row.try_get("angajat_id")?,
        employee_no: (employee_no != EVERY_NUMBER)
            .then(|| stored_number("revocation.employee_no", employee_no))
            .transpose()?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get("revoked_by")?,
        reason: RevocationReason::parse(&reason),
    })
}

const REVOCATION_COLUMNS: &str = "angajat_id, employee_no, revoked_at, revoked_by, reason";

/// Serialises, until the transaction ends, every write of door access for `ids` (a removal and
/// an update of the same employee never interleave), always in the same order (no deadlock).
async fn lock_employees(
    tx: &tokio_postgres::Transaction<'_>,
    ids: &[Uuid],
) -> Result<(), DeliveryError> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    tx.execute(
        "select pg_advisory_xact_lock(hashtextextended('hikvision_sync.access:' || id::text, 0))
         from (select id from unnest($1::uuid[]) id order by id) ordered",
        &[&ids],
    )
    .await?;
    Ok(())
}

impl PgStore {
    /// The store on `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Fails with a message naming the migration to apply when the database is older than the code.
    pub async fn check_schema(&self) -> Result<(), DeliveryError> {
        let client = self.pool.get().await?;
        let version: Option<i32> = client
            .query_opt(
                "select max(version) from hikvision_sync.schema_version",
                &[],
            )
            .await
            .map_err(|_| DeliveryError::SchemaMissing)?
            .and_then(|row| row.get(0));
        match version {
            Some(v) if v >= SCHEMA_VERSION => Ok(()),
            found => Err(DeliveryError::SchemaOutdated {
                found: found.unwrap_or(0),
                needed: SCHEMA_VERSION,
            }),
        }
    }

    async fn query_pairs(
        &self,
        filter: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<PairRecord>, DeliveryError> {
        let client = self.pool.get().await?;
        let sql = format!(
            "select {PAIR_COLUMNS} from hikvision_sync.delivery {filter} order by angajat_id, device_id"
        );
        let rows = client.query(&sql, params).await?;
        rows.iter().map(pair_of).collect()
    }
}

impl DeliveryStore for PgStore {
    fn want<'a>(
        &'a self,
        changes: &'a [Change],
        owner: Option<&'a str>,
        lease_until: DateTime<Utc>,
        by: &'a str,
    ) -> StoreFuture<'a, Vec<Wanted>> {
        async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let wanted = batch::want(&tx, changes, owner, lease_until, by).await?;
            tx.commit().await?;
            Ok(wanted)
        }
        .boxed()
    }

    fn revocations_of(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<Revocation>> {
        async move {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "select {REVOCATION_COLUMNS} from hikvision_sync.revocation
                         where angajat_id = $1 order by revoked_at, employee_no"
                    ),
                    &[&angajat_id],
                )
                .await?;
            rows.iter().map(revocation_of).collect()
        }
        .boxed()
    }

    fn revoked_among<'a>(&'a self, ids: &'a [Uuid]) -> StoreFuture<'a, Vec<Uuid>> {
        async move {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "select angajat_id from hikvision_sync.revocation
                     where angajat_id = any($1) and employee_no = $2",
                    &[&ids, &EVERY_NUMBER],
                )
                .await?;
            rows.iter().map(|r| Ok(r.try_get("angajat_id")?)).collect()
        }
        .boxed()
    }

    fn restore(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<Revocation>> {
        async move {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            lock_employees(&tx, &[angajat_id]).await?;
            let rows = tx
                .query(
                    &format!(
                        "delete from hikvision_sync.revocation where angajat_id = $1
                         returning {REVOCATION_COLUMNS}"
                    ),
                    &[&angajat_id],
                )
                .await?;
            tx.commit().await?;
            rows.iter().map(revocation_of).collect()
        }
        .boxed()
    }

    fn numbers_held_by_others<'a>(
        &'a self,
        device_id: &'a str,
        angajat_id: Uuid,
        numbers: &'a [EmployeeNo],
    ) -> StoreFuture<'a, Vec<EmployeeNo>> {
        async move {
            let numbers: Vec<&str> = numbers.iter().map(EmployeeNo::as_str).collect();
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "select distinct employee_no from hikvision_sync.delivery
                     where device_id = $1 and angajat_id <> $2 and want <> 'remove'
                       and employee_no = any($3)",
                    &[&device_id, &angajat_id, &numbers],
                )
                .await?;
            rows.iter()
                .map(|r| stored_number("employee_no", r.try_get("employee_no")?))
                .collect()
        }
        .boxed()
    }

    fn claim<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        lease_until: DateTime<Utc>,
    ) -> StoreFuture<'a, Claim> {
        async move {
            let client = self.pool.get().await?;
            // Prepared once per connection: a background job claims every pair it works on.
            let claim = client
                .prepare_cached(&format!(
                    "update hikvision_sync.delivery set claimed_by = $3, claimed_until = $4,
                         claim_revision = revision
                     where angajat_id = $1 and device_id = $2 and state = 'pending'
                       and (claimed_until is null or claimed_until <= now() or claimed_by = $3)
                     returning {PAIR_COLUMNS}"
                ))
                .await?;
            let row = client
                .query_opt(
                    &claim,
                    &[&key.angajat_id, &key.device_id, &owner, &lease_until],
                )
                .await?;
            if let Some(row) = row {
                return Ok(Claim::Claimed(Box::new(pair_of(&row)?)));
            }
            let holder = client
                .prepare_cached(
                    "select claimed_until from hikvision_sync.delivery
                     where angajat_id = $1 and device_id = $2 and state = 'pending'
                       and claimed_until > now()",
                )
                .await?;
            let held = client
                .query_opt(&holder, &[&key.angajat_id, &key.device_id])
                .await?;
            Ok(match held {
                Some(r) => Claim::Held {
                    until: r.try_get("claimed_until")?,
                },
                None => Claim::Idle,
            })
        }
        .boxed()
    }

    fn lease<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
    ) -> StoreFuture<'a, Option<DateTime<Utc>>> {
        async move {
            let client = self.pool.get().await?;
            let statement = client
                .prepare_cached(
                    "select claimed_until from hikvision_sync.delivery
                     where angajat_id = $1 and device_id = $2 and claimed_by = $3
                       and claimed_until > now() and claim_revision = revision",
                )
                .await?;
            let row = client
                .query_opt(&statement, &[&key.angajat_id, &key.device_id, &owner])
                .await?;
            Ok(row.map(|r| r.try_get("claimed_until")).transpose()?)
        }
        .boxed()
    }

    fn held<'a>(
        &'a self,
        angajat_id: Uuid,
        owner: &'a str,
    ) -> StoreFuture<'a, HashMap<String, DateTime<Utc>>> {
        async move { batch::held(&self.pool.get().await?, angajat_id, owner).await }.boxed()
    }

    fn record_all<'a>(
        &'a self,
        owner: &'a str,
        outcomes: &'a [(PairKey, Outcome)],
    ) -> StoreFuture<'a, Vec<bool>> {
        async move { batch::record_all(&self.pool.get().await?, owner, outcomes).await }.boxed()
    }

    fn release_all<'a>(
        &'a self,
        keys: &'a [PairKey],
        owner: &'a str,
        due_at: DateTime<Utc>,
    ) -> StoreFuture<'a, ()> {
        async move { batch::release_all(&self.pool.get().await?, keys, owner, due_at).await }
            .boxed()
    }

    fn record<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        outcome: &'a Outcome,
    ) -> StoreFuture<'a, bool> {
        async move {
            let client = self.pool.get().await?;
            let in_sync = outcome.state == PairState::InSync;
            let row = client
                .query_opt(
                    "update hikvision_sync.delivery set
                         claimed_by = null, claimed_until = null,
                         attempts = case when claim_revision = revision then attempts + 1 else attempts end,
                         state = case when claim_revision = revision then $4 else state end,
                         last_attempt_at = case when claim_revision = revision then now() else last_attempt_at end,
                         next_attempt_at = case when claim_revision = revision then $5 else now() end,
                         error_code = case when claim_revision = revision then $6 else error_code end,
                         message = case when claim_revision = revision then $7 else message end,
                         confirmed_photo = case when claim_revision = revision and $8 then $9
                                                else confirmed_photo end,
                         last_success_at = case when claim_revision = revision and $8 then now()
                                                else last_success_at end
                     where angajat_id = $1 and device_id = $2 and claimed_by = $3
                     returning claim_revision = revision as applied",
                    &[
                        &key.angajat_id,
                        &key.device_id,
                        &owner,
                        &outcome.state.name(),
                        &outcome.next_attempt_at,
                        &outcome.error_code.as_ref().map(ErrorCode::as_str),
                        &outcome.message,
                        &in_sync,
                        &outcome.confirmed_photo,
                    ],
                )
                .await?;
            Ok(match row {
                Some(r) => r.try_get::<_, Option<bool>>("applied")?.unwrap_or(false),
                None => false,
            })
        }
        .boxed()
    }

    fn release<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        due_at: DateTime<Utc>,
    ) -> StoreFuture<'a, ()> {
        async move {
            let client = self.pool.get().await?;
            client
                .execute(
                    "update hikvision_sync.delivery
                     set claimed_by = null, claimed_until = null, next_attempt_at = $4
                     where angajat_id = $1 and device_id = $2 and claimed_by = $3",
                    &[&key.angajat_id, &key.device_id, &owner, &due_at],
                )
                .await?;
            Ok(())
        }
        .boxed()
    }

    fn renew<'a>(
        &'a self,
        replica: &'a str,
        owners: &'a [String],
        lease_until: DateTime<Utc>,
    ) -> StoreFuture<'a, u64> {
        async move {
            let client = self.pool.get().await?;
            client
                .execute(
                    "update hikvision_sync.delivery set claimed_by = null, claimed_until = null
                     where starts_with(claimed_by, $1) and claimed_by <> all($2)
                       and claimed_until > now() and claimed_until < $3",
                    &[&replica, &owners, &lease_until],
                )
                .await?;
            Ok(client
                .execute(
                    "update hikvision_sync.delivery set claimed_until = $2
                     where claimed_by = any($1) and claimed_until > now()",
                    &[&owners, &lease_until],
                )
                .await?)
        }
        .boxed()
    }

    fn pairs_of(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<PairRecord>> {
        async move {
            self.query_pairs("where angajat_id = $1", &[&angajat_id])
                .await
        }
        .boxed()
    }

    fn pairs_on<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, Vec<PairRecord>> {
        async move {
            self.query_pairs("where device_id = $1", &[&device_id])
                .await
        }
        .boxed()
    }

    fn all_pairs(&self) -> StoreFuture<'_, Vec<PairRecord>> {
        async move { self.query_pairs("", &[]).await }.boxed()
    }

    fn pending<'a>(
        &'a self,
        device_id: Option<&'a str>,
        due_by: Option<DateTime<Utc>>,
        limit: Option<usize>,
    ) -> StoreFuture<'a, Vec<PairKey>> {
        async move {
            let client = self.pool.get().await?;
            let limit = limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            let statement = client
                .prepare_cached(
                    "select angajat_id, device_id from hikvision_sync.delivery
                     where state = 'pending' and ($1::text is null or device_id = $1)
                       and ($2::timestamptz is null or next_attempt_at is null or next_attempt_at <= $2)
                     order by angajat_id, device_id
                     limit $3",
                )
                .await?;
            let rows = client
                .query(&statement, &[&device_id, &due_by, &limit])
                .await?;
            rows.iter()
                .map(|r| Ok(PairKey::new(r.try_get("angajat_id")?, r.try_get::<_, String>("device_id")?)))
                .collect()
        }
        .boxed()
    }

    fn device_counts(&self) -> StoreFuture<'_, HashMap<String, DeviceCounts>> {
        async move {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "select device_id,
                            count(*) filter (where state = 'pending') as pending,
                            count(*) filter (where state = 'failed') as failed,
                            max(last_success_at) as last_success_at,
                            (array_agg(message order by last_attempt_at desc nulls last)
                                filter (where state = 'failed'))[1] as last_error
                     from hikvision_sync.delivery group by device_id",
                    &[],
                )
                .await?;
            let mut counts = HashMap::new();
            for r in rows {
                let pending: i64 = r.try_get("pending")?;
                let failed: i64 = r.try_get("failed")?;
                counts.insert(
                    r.try_get::<_, String>("device_id")?,
                    DeviceCounts {
                        pending: pending.max(0) as u64,
                        failed: failed.max(0) as u64,
                        last_success_at: r.try_get("last_success_at")?,
                        last_error: r.try_get("last_error")?,
                    },
                );
            }
            Ok(counts)
        }
        .boxed()
    }

    fn backlog(&self) -> StoreFuture<'_, Backlog> {
        async move {
            let client = self.pool.get().await?;
            let r = client
                .query_one(
                    "select count(*) filter (where state = 'pending') as pending,
                            count(*) filter (where state = 'failed') as failed,
                            coalesce(extract(epoch from now() - min(changed_at)
                                filter (where state = 'pending')), 0)::float8 as oldest,
                            coalesce(extract(epoch from now() - min(changed_at)
                                filter (where state = 'pending' and want = 'remove')), 0)::float8 as oldest_removal
                     from hikvision_sync.delivery",
                    &[],
                )
                .await?;
            let pending: i64 = r.try_get("pending")?;
            let failed: i64 = r.try_get("failed")?;
            Ok(Backlog {
                pending: pending.max(0) as u64,
                failed: failed.max(0) as u64,
                oldest_pending_secs: r.try_get("oldest")?,
                oldest_pending_removal_secs: r.try_get("oldest_removal")?,
            })
        }
        .boxed()
    }

    fn credential_block<'a>(
        &'a self,
        device_id: &'a str,
    ) -> StoreFuture<'a, Option<CredentialBlock>> {
        async move {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    "select fingerprint, message, blocked_at from hikvision_sync.credential_blocks
                     where device_id = $1",
                    &[&device_id],
                )
                .await?;
            row.map(|r| {
                Ok(CredentialBlock {
                    fingerprint: r.try_get("fingerprint")?,
                    message: r.try_get("message")?,
                    at: r.try_get("blocked_at")?,
                })
            })
            .transpose()
        }
        .boxed()
    }

    fn credential_blocks<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> StoreFuture<'a, HashMap<String, CredentialBlock>> {
        async move {
            if device_ids.is_empty() {
                return Ok(HashMap::new());
            }
            let client = self.pool.get().await?;
            let statement = client
                .prepare_cached(
                    "select device_id, fingerprint, message, blocked_at
                     from hikvision_sync.credential_blocks where device_id = any($1)",
                )
                .await?;
            let rows = client.query(&statement, &[&device_ids]).await?;
            rows.iter()
                .map(|r| {
                    let block = CredentialBlock {
                        fingerprint: r.try_get("fingerprint")?,
                        message: r.try_get("message")?,
                        at: r.try_get("blocked_at")?,
                    };
                    Ok((r.try_get("device_id")?, block))
                })
                .collect()
        }
        .boxed()
    }

    fn clear_credential_blocks<'a>(&'a self, device_ids: &'a [String]) -> StoreFuture<'a, ()> {
        async move {
            if device_ids.is_empty() {
                return Ok(());
            }
            let client = self.pool.get().await?;
            let statement = client
                .prepare_cached(
                    "delete from hikvision_sync.credential_blocks where device_id = any($1)",
                )
                .await?;
            client.execute(&statement, &[&device_ids]).await?;
            Ok(())
        }
        .boxed()
    }

    fn set_credential_block<'a>(
        &'a self,
        device_id: &'a str,
        block: Option<CredentialBlock>,
    ) -> StoreFuture<'a, ()> {
        async move {
            let client = self.pool.get().await?;
            match block {
                Some(b) => {
                    client
                        .execute(
                            "insert into hikvision_sync.credential_blocks
                                 (device_id, fingerprint, message, blocked_at) values ($1, $2, $3, $4)
                             on conflict (device_id) do update set fingerprint = excluded.fingerprint,
                                 message = excluded.message, blocked_at = excluded.blocked_at",
                            &[&device_id, &b.fingerprint, &b.message, &b.at],
                        )
                        .await?;
                }
                None => {
                    client
                        .execute(
                            "delete from hikvision_sync.credential_blocks where device_id = $1",
                            &[&device_id],
                        )
                        .await?;
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn is_durable(&self) -> bool {
        true
    }
}
