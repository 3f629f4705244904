//! The durable store's interface: Postgres in production ([`super::postgres::PgStore`]), memory in
//! the embedded demo and the tests ([`super::memory::MemoryStore`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use hikvision_isapi::EmployeeNo;
use uuid::Uuid;

use super::DeliveryError;
use super::model::{
    Backlog, Change, Claim, DeviceCounts, Outcome, PairKey, PairRecord, Revocation, Wanted,
};

/// A terminal that refused a set of credentials: not called with them again until they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialBlock {
    /// Fingerprint of the refused credentials (never the password).
    pub fingerprint: String,
    /// What the terminal said, for the message.
    pub message: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// Result of a store call.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, DeliveryError>>;

/// Desired state, claims and outcomes per (employee, terminal).
pub trait DeliveryStore: Send + Sync {
    /// Makes `changes` the pairs' desired state (pending, attempts reset, error cleared; a change
    /// that differs from the stored one makes any claim on the older one stale) and, with
    /// an `owner`, claims each pair until `lease_until` unless another owner holds a live claim.
    ///
    /// Door access rules, atomic with the write (one employee's calls are serialised): a change
    /// that gives a terminal an employee or a number that a [`Revocation`] covers is refused and
    /// stored nowhere; a removal revokes the employee and a number change the old number, both
    /// recorded as asked `by`. Every number a change names joins the pair's `numbers`.
    /// Returns what happened to each change, in order.
    fn want<'a>(
        &'a self,
        changes: &'a [Change],
        owner: Option<&'a str>,
        lease_until: DateTime<Utc>,
        by: &'a str,
    ) -> StoreFuture<'a, Vec<Wanted>>;

    /// The revocations of one employee, oldest first.
    fn revocations_of(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<Revocation>>;

    /// The employees with a whole-employee revocation among `ids`.
    fn revoked_among<'a>(&'a self, ids: &'a [Uuid]) -> StoreFuture<'a, Vec<Uuid>>;

    /// Lifts every revocation of one employee (an admin's restore); returns what was lifted.
    fn restore(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<Revocation>>;

    /// Of `numbers`, those that another employee than `angajat_id` should hold on `device_id`
    /// (a removal must not delete a number that was given to someone else since).
    fn numbers_held_by_others<'a>(
        &'a self,
        device_id: &'a str,
        angajat_id: Uuid,
        numbers: &'a [EmployeeNo],
    ) -> StoreFuture<'a, Vec<EmployeeNo>>;

    /// Claims `key` for `owner` until `lease_until` when it is pending and free (or its claim
    /// expired).
    fn claim<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        lease_until: DateTime<Utc>,
    ) -> StoreFuture<'a, Claim>;

    /// The end of `owner`'s live claim on the current change of `key`, if it holds one: the call
    /// gate of one pair (a background job) reads its claim by the pair's key.
    fn lease<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
    ) -> StoreFuture<'a, Option<DateTime<Utc>>>;

    /// The terminals on which `owner` holds a live claim on the current change of `angajat_id`'s
    /// pair, with each claim's end: one read for the call gate of a whole fan-out.
    fn held<'a>(
        &'a self,
        angajat_id: Uuid,
        owner: &'a str,
    ) -> StoreFuture<'a, HashMap<String, DateTime<Utc>>>;

    /// Records an attempt's outcome (attempts + 1) and releases `owner`'s claim. Returns false,
    /// recording nothing, when the pair's change was replaced since the claim (a newer photo
    /// wins: the newer change is then due).
    fn record<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        outcome: &'a Outcome,
    ) -> StoreFuture<'a, bool>;

    /// [`Self::record`] for many pairs of one `owner` at once (each key once); one flag per outcome,
    /// in order.
    fn record_all<'a>(
        &'a self,
        owner: &'a str,
        outcomes: &'a [(PairKey, Outcome)],
    ) -> StoreFuture<'a, Vec<bool>> {
        async move {
            let mut applied = Vec::with_capacity(outcomes.len());
            for (key, outcome) in outcomes {
                applied.push(self.record(key, owner, outcome).await?);
            }
            Ok(applied)
        }
        .boxed()
    }

    /// [`Self::release`] for many pairs of one `owner` at once.
    fn release_all<'a>(
        &'a self,
        keys: &'a [PairKey],
        owner: &'a str,
        due_at: DateTime<Utc>,
    ) -> StoreFuture<'a, ()> {
        async move {
            for key in keys {
                self.release(key, owner, due_at).await?;
            }
            Ok(())
        }
        .boxed()
    }

    /// Gives up `owner`'s claim on `key` without an attempt; the pair is due at `due_at`.
    fn release<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        due_at: DateTime<Utc>,
    ) -> StoreFuture<'a, ()>;

    /// The claims heartbeat of the replica whose owners start with `replica`: extends the live
    /// claims of `owners` (those still at work) to `lease_until`, and frees at once its other
    /// claims that run out before `lease_until` (their owner ended without releasing them: a job
    /// cut off with the job engine, a result that could not be recorded). `lease_until` is taken
    /// before `owners` is read, so a claim made since (by a newer owner) runs out later and is
    /// kept. Returns how many were extended.
    fn renew<'a>(
        &'a self,
        replica: &'a str,
        owners: &'a [String],
        lease_until: DateTime<Utc>,
    ) -> StoreFuture<'a, u64>;

    /// Every pair of one employee.
    fn pairs_of(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<PairRecord>>;

    /// Every pair of one terminal.
    fn pairs_on<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, Vec<PairRecord>>;

    /// Every pair (for the sweep).
    fn all_pairs(&self) -> StoreFuture<'_, Vec<PairRecord>>;

    /// Pending pairs, of one device or all, due by `due_by` when given, in key order; the first
    /// `limit` only, when given.
    fn pending<'a>(
        &'a self,
        device_id: Option<&'a str>,
        due_by: Option<DateTime<Utc>>,
        limit: Option<usize>,
    ) -> StoreFuture<'a, Vec<PairKey>>;

    /// Pending and failed counts, last success and last error, per device.
    fn device_counts(&self) -> StoreFuture<'_, HashMap<String, DeviceCounts>>;

    /// Backlog figures for the metrics.
    fn backlog(&self) -> StoreFuture<'_, Backlog>;

    /// The credentials block of a device, if any.
    fn credential_block<'a>(
        &'a self,
        device_id: &'a str,
    ) -> StoreFuture<'a, Option<CredentialBlock>>;

    /// The credentials blocks of `device_ids` (those that have one).
    fn credential_blocks<'a>(
        &'a self,
        device_ids: &'a [String],
    ) -> StoreFuture<'a, HashMap<String, CredentialBlock>> {
        async move {
            let mut blocks = HashMap::new();
            for id in device_ids {
                if let Some(block) = self.credential_block(id).await? {
                    blocks.insert(id.clone(), block);
                }
            }
            Ok(blocks)
        }
        .boxed()
    }

    /// Lifts the credentials blocks of `device_ids`.
    fn clear_credential_blocks<'a>(&'a self, device_ids: &'a [String]) -> StoreFuture<'a, ()> {
        async move {
            for id in device_ids {
                self.set_credential_block(id, None).await?;
            }
            Ok(())
        }
        .boxed()
    }

    /// Blocks (`Some`) or unblocks (`None`) a device's credentials.
    fn set_credential_block<'a>(
        &'a self,
        device_id: &'a str,
        block: Option<CredentialBlock>,
    ) -> StoreFuture<'a, ()>;

    /// Says whether the store forgets on restart (the demo's), for the start-up message.
    fn is_durable(&self) -> bool;
}
