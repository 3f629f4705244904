//! The in-memory store: the embedded demo's and the tests' twin of the Postgres store. It forgets
//! everything on restart (the demo says so).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use hikvision_isapi::EmployeeNo;
use uuid::Uuid;

use super::model::{
    Backlog, Change, Claim, DeviceCounts, Outcome, PairKey, PairRecord, PairState, Revocation,
    Want, Wanted,
};
use super::store::{CredentialBlock, DeliveryStore, StoreFuture};

#[derive(Debug, Clone)]
struct Row {
    record: PairRecord,
    revision: u64,
    claimed_by: Option<String>,
    claimed_until: Option<DateTime<Utc>>,
    claim_revision: u64,
    changed_at: DateTime<Utc>,
    last_success_at: Option<DateTime<Utc>>,
}

impl Row {
    fn claimed_by_other(&self, owner: Option<&str>, now: DateTime<Utc>) -> bool {
        match (&self.claimed_by, self.claimed_until) {
            (Some(holder), Some(until)) => until > now && Some(holder.as_str()) != owner,
            _ => false,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    rows: HashMap<PairKey, Row>,
    blocks: HashMap<String, CredentialBlock>,
    revocations: HashMap<Uuid, Vec<Revocation>>,
}

impl Inner {
    /// The revocation that forbids `change`, if any.
    fn forbidding(&self, change: &Change) -> Option<Revocation> {
        if change.want == Want::Remove {
            return None;
        }
        self.revocations
            .get(&change.key.angajat_id)?
            .iter()
            .find(|r| r.covers(change.employee_no.as_ref()))
            .cloned()
    }

    /// Records `revocation` unless the same one is there already (the first one stays).
    fn revoke(&mut self, revocation: Revocation) {
        let list = self.revocations.entry(revocation.angajat_id).or_default();
        if !list.iter().any(|r| r.employee_no == revocation.employee_no) {
            list.push(revocation);
        }
    }
}

/// Desired state held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pairs whose key passes `keep`, in key order.
    fn pairs_where(&self, keep: impl Fn(&PairKey) -> bool) -> Vec<PairRecord> {
        let mut pairs: Vec<PairRecord> = self
            .lock()
            .rows
            .values()
            .filter(|r| keep(&r.record.change.key))
            .map(|r| r.record.clone())
            .collect();
        pairs.sort_by(|a, b| a.change.key.cmp(&b.change.key));
        pairs
    }
}

fn fresh(change: &Change) -> PairRecord {
    PairRecord {
        change: change.clone(),
        state: PairState::Pending,
        attempts: 0,
        last_attempt_at: None,
        next_attempt_at: Some(Utc::now()),
        error_code: None,
        message: None,
        confirmed_photo: None,
        numbers: change.numbers(),
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    async move { Ok(value) }.boxed()
}

impl DeliveryStore for MemoryStore {
    fn want<'a>(
        &'a self,
        changes: &'a [Change],
        owner: Option<&'a str>,
        lease_until: DateTime<Utc>,
        by: &'a str,
    ) -> StoreFuture<'a, Vec<Wanted>> {
        let now = Utc::now();
        let mut inner = self.lock();
        let wanted = changes
            .iter()
            .map(|change| {
                if let Some(revocation) = inner.forbidding(change) {
                    return Wanted::Revoked(Box::new(revocation));
                }
                if let Some(revocation) = change.revocation(by, now) {
                    inner.revoke(revocation);
                }
                let row = inner.rows.entry(change.key.clone()).or_insert_with(|| Row {
                    record: fresh(change),
                    revision: 1,
                    claimed_by: None,
                    claimed_until: None,
                    claim_revision: 0,
                    changed_at: now,
                    last_success_at: None,
                });
                let confirmed = row.record.confirmed_photo.take();
                let mut numbers = std::mem::take(&mut row.record.numbers);
                numbers.extend(change.numbers());
                numbers.sort();
                numbers.dedup();
                if row.record.change != *change {
                    row.revision += 1;
                }
                row.record = PairRecord {
                    confirmed_photo: confirmed,
                    numbers,
                    ..fresh(change)
                };
                row.changed_at = now;
                let Some(owner) = owner else {
                    return Wanted::Recorded;
                };
                if row.claimed_by_other(Some(owner), now) {
                    return Wanted::Recorded;
                }
                row.claimed_by = Some(owner.to_string());
                row.claimed_until = Some(lease_until);
                row.claim_revision = row.revision;
                // Due when the claim runs out: if this process dies mid-call, a worker retries.
                row.record.next_attempt_at = Some(lease_until);
                Wanted::Claimed
            })
            .collect();
        ready(wanted)
    }

    fn revocations_of(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<Revocation>> {
        let found = self
            .lock()
            .revocations
            .get(&angajat_id)
            .cloned()
            .unwrap_or_default();
        ready(found)
    }

    fn revoked_among<'a>(&'a self, ids: &'a [Uuid]) -> StoreFuture<'a, Vec<Uuid>> {
        let inner = self.lock();
        let found = ids
            .iter()
            .filter(|id| {
                inner
                    .revocations
                    .get(id)
                    .is_some_and(|list| list.iter().any(|r| r.employee_no.is_none()))
            })
            .copied()
            .collect();
        ready(found)
    }

    fn restore(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<Revocation>> {
        let lifted = self
            .lock()
            .revocations
            .remove(&angajat_id)
            .unwrap_or_default();
        ready(lifted)
    }

    fn numbers_held_by_others<'a>(
        &'a self,
        device_id: &'a str,
        angajat_id: Uuid,
        numbers: &'a [EmployeeNo],
    ) -> StoreFuture<'a, Vec<EmployeeNo>> {
        let inner = self.lock();
        let held = numbers
            .iter()
            .filter(|no| {
                inner.rows.values().any(|r| {
                    let c = &r.record.change;
                    c.key.device_id == device_id
                        && c.key.angajat_id != angajat_id
                        && c.want != Want::Remove
                        && c.employee_no.as_ref() == Some(*no)
                })
            })
            .cloned()
            .collect();
        ready(held)
    }

    fn claim<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        lease_until: DateTime<Utc>,
    ) -> StoreFuture<'a, Claim> {
        let now = Utc::now();
        let mut inner = self.lock();
        let claim = match inner.rows.get_mut(key) {
            Some(row) if row.record.state == PairState::Pending => {
                if row.claimed_by_other(Some(owner), now) {
                    Claim::Held {
                        until: row.claimed_until.unwrap_or(now),
                    }
                } else {
                    row.claimed_by = Some(owner.to_string());
                    row.claimed_until = Some(lease_until);
                    row.claim_revision = row.revision;
                    Claim::Claimed(Box::new(row.record.clone()))
                }
            }
            _ => Claim::Idle,
        };
        ready(claim)
    }

    fn lease<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
    ) -> StoreFuture<'a, Option<DateTime<Utc>>> {
        let now = Utc::now();
        let lease = self.lock().rows.get(key).and_then(|row| {
            let live =
                row.claimed_by.as_deref() == Some(owner) && row.claim_revision == row.revision;
            row.claimed_until.filter(|u| live && *u > now)
        });
        ready(lease)
    }

    fn held<'a>(
        &'a self,
        angajat_id: Uuid,
        owner: &'a str,
    ) -> StoreFuture<'a, HashMap<String, DateTime<Utc>>> {
        let now = Utc::now();
        let held = self
            .lock()
            .rows
            .iter()
            .filter(|(key, row)| {
                key.angajat_id == angajat_id
                    && row.claimed_by.as_deref() == Some(owner)
                    && row.claim_revision == row.revision
            })
            .filter_map(|(key, row)| {
                let until = row.claimed_until.filter(|u| *u > now)?;
                Some((key.device_id.clone(), until))
            })
            .collect();
        ready(held)
    }

    fn record<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        outcome: &'a Outcome,
    ) -> StoreFuture<'a, bool> {
        let now = Utc::now();
        let mut inner = self.lock();
        let mut applied = false;
        if let Some(row) = inner.rows.get_mut(key)
            && row.claimed_by.as_deref() == Some(owner)
        {
            row.claimed_by = None;
            row.claimed_until = None;
            applied = row.claim_revision == row.revision;
            if applied {
                let r = &mut row.record;
                r.attempts += 1;
                r.state = outcome.state;
                r.last_attempt_at = Some(now);
                r.next_attempt_at = outcome.next_attempt_at;
                r.error_code.clone_from(&outcome.error_code);
                r.message = Some(outcome.message.clone());
                if outcome.state == PairState::InSync {
                    r.confirmed_photo.clone_from(&outcome.confirmed_photo);
                    row.last_success_at = Some(now);
                }
            } else {
                // A newer change arrived during the call: it is due now.
                row.record.next_attempt_at = Some(now);
            }
        }
        ready(applied)
    }

    fn release<'a>(
        &'a self,
        key: &'a PairKey,
        owner: &'a str,
        due_at: DateTime<Utc>,
    ) -> StoreFuture<'a, ()> {
        if let Some(row) = self.lock().rows.get_mut(key)
            && row.claimed_by.as_deref() == Some(owner)
        {
            row.claimed_by = None;
            row.claimed_until = None;
            row.record.next_attempt_at = Some(due_at);
        }
        ready(())
    }

    fn renew<'a>(
        &'a self,
        replica: &'a str,
        owners: &'a [String],
        lease_until: DateTime<Utc>,
    ) -> StoreFuture<'a, u64> {
        let now = Utc::now();
        let mut renewed = 0;
        for row in self.lock().rows.values_mut() {
            let Some(owner) = row.claimed_by.as_ref().filter(|o| o.starts_with(replica)) else {
                continue;
            };
            if row.claimed_until.is_none_or(|u| u <= now) {
                continue;
            }
            if owners.contains(owner) {
                row.claimed_until = Some(lease_until);
                renewed += 1;
            } else if row.claimed_until.is_some_and(|u| u < lease_until) {
                row.claimed_by = None;
                row.claimed_until = None;
            }
        }
        ready(renewed)
    }

    fn pairs_of(&self, angajat_id: Uuid) -> StoreFuture<'_, Vec<PairRecord>> {
        ready(self.pairs_where(|key| key.angajat_id == angajat_id))
    }

    fn pairs_on<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, Vec<PairRecord>> {
        ready(self.pairs_where(|key| key.device_id == device_id))
    }

    fn all_pairs(&self) -> StoreFuture<'_, Vec<PairRecord>> {
        ready(
            self.lock()
                .rows
                .values()
                .map(|r| r.record.clone())
                .collect(),
        )
    }

    fn pending<'a>(
        &'a self,
        device_id: Option<&'a str>,
        due_by: Option<DateTime<Utc>>,
        limit: Option<usize>,
    ) -> StoreFuture<'a, Vec<PairKey>> {
        let mut keys: Vec<PairKey> = self
            .lock()
            .rows
            .values()
            .filter(|r| r.record.state == PairState::Pending)
            .filter(|r| device_id.is_none_or(|d| r.record.change.key.device_id == d))
            .filter(|r| match (due_by, r.record.next_attempt_at) {
                (Some(by), Some(next)) => next <= by,
                (Some(_), None) => true,
                (None, _) => true,
            })
            .map(|r| r.record.change.key.clone())
            .collect();
        keys.sort();
        keys.truncate(limit.unwrap_or(usize::MAX));
        ready(keys)
    }

    fn device_counts(&self) -> StoreFuture<'_, HashMap<String, DeviceCounts>> {
        let mut counts: HashMap<String, DeviceCounts> = HashMap::new();
        for row in self.lock().rows.values() {
            let c = counts
                .entry(row.record.change.key.device_id.clone())
                .or_default();
            match row.record.state {
                PairState::Pending => c.pending += 1,
                PairState::Failed => {
                    c.failed += 1;
                    c.last_error.clone_from(&row.record.message);
                }
                _ => {}
            }
            if row.last_success_at > c.last_success_at {
                c.last_success_at = row.last_success_at;
            }
        }
        ready(counts)
    }

    fn backlog(&self) -> StoreFuture<'_, Backlog> {
        let now = Utc::now();
        let mut b = Backlog::default();
        for row in self.lock().rows.values() {
            let age = (now - row.changed_at).as_seconds_f64();
            match row.record.state {
                PairState::Pending => {
                    b.pending += 1;
                    b.oldest_pending_secs = b.oldest_pending_secs.max(age);
                    if row.record.change.want == Want::Remove {
                        b.oldest_pending_removal_secs = b.oldest_pending_removal_secs.max(age);
                    }
                }
                PairState::Failed => b.failed += 1,
                _ => {}
            }
        }
        ready(b)
    }

    fn credential_block<'a>(
        &'a self,
        device_id: &'a str,
    ) -> StoreFuture<'a, Option<CredentialBlock>> {
        ready(self.lock().blocks.get(device_id).cloned())
    }

    fn set_credential_block<'a>(
        &'a self,
        device_id: &'a str,
        block: Option<CredentialBlock>,
    ) -> StoreFuture<'a, ()> {
        let mut inner = self.lock();
        match block {
            Some(b) => inner.blocks.insert(device_id.to_string(), b),
            None => inner.blocks.remove(device_id),
        };
        ready(())
    }

    fn is_durable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(photo: &str) -> Change {
        Change::photo_update("d1", Some(photo))
    }

    fn lease() -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(30)
    }

    fn done() -> Outcome {
        Outcome {
            state: PairState::InSync,
            next_attempt_at: None,
            error_code: None,
            message: "ok".into(),
            confirmed_photo: Some("a".into()),
        }
    }

    #[tokio::test]
    async fn one_owner_at_a_time_and_a_newer_change_takes_the_claim_away() {
        let store = MemoryStore::default();
        let key = change("a").key;
        assert_eq!(
            store
                .want(&[change("a")], Some("r1:req:0"), lease(), "test")
                .await
                .ok(),
            Some(vec![Wanted::Claimed])
        );
        assert_eq!(
            store
                .want(&[change("a")], Some("r2:req:0"), lease(), "test")
                .await
                .ok(),
            Some(vec![Wanted::Recorded])
        );
        assert!(matches!(
            store.claim(&key, "r2:job:1", lease()).await,
            Ok(Claim::Held { .. })
        ));
        assert!(
            store
                .lease(&key, "r1:req:0")
                .await
                .is_ok_and(|l| l.is_some())
        );

        // A newer photo arrives during r1's call: r1's next call must not go out, and its
        // result must not mark the newer photo as delivered.
        store.want(&[change("b")], None, lease(), "test").await.ok();
        assert!(
            store
                .lease(&key, "r1:req:0")
                .await
                .is_ok_and(|l| l.is_none())
        );
        assert_eq!(
            store.record(&key, "r1:req:0", &done()).await.ok(),
            Some(false)
        );
        let pairs = store.pairs_of(Uuid::nil()).await.unwrap_or_default();
        assert_eq!(pairs[0].state, PairState::Pending);
        assert_eq!(pairs[0].change.photo.as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn the_heartbeat_renews_only_its_live_owners() {
        let store = MemoryStore::default();
        let mut other = change("a");
        other.key.device_id = "d2".into();
        store
            .want(&[change("a")], Some("r1:req:0"), lease(), "test")
            .await
            .ok();
        let mut third = change("a");
        third.key.device_id = "d3".into();
        store
            .want(&[other], Some("r1:req:1"), lease(), "test")
            .await
            .ok();
        store
            .want(&[third], Some("r2:req:2"), lease(), "test")
            .await
            .ok();
        let live = ["r1:req:0".to_string(), "r2:req:2".to_string()];
        assert_eq!(store.renew("r1:", &live, lease()).await.ok(), Some(1));
        // r1:req:1 is gone: its pair is free at once; r2's claim is not r1's to touch.
        let d2 = PairKey::new(Uuid::nil(), "d2");
        assert!(matches!(
            store.claim(&d2, "r1:job:3", lease()).await,
            Ok(Claim::Claimed(_))
        ));
        let d3 = PairKey::new(Uuid::nil(), "d3");
        assert!(matches!(
            store.claim(&d3, "r1:job:4", lease()).await,
            Ok(Claim::Held { .. })
        ));
    }

    #[tokio::test]
    async fn done_pairs_are_idle() {
        let store = MemoryStore::default();
        let key = change("a").key;
        store
            .want(&[change("a")], Some("r1:req:0"), lease(), "test")
            .await
            .ok();
        store.record(&key, "r1:req:0", &done()).await.ok();
        assert!(matches!(
            store.claim(&key, "r1:job:1", lease()).await,
            Ok(Claim::Idle)
        ));
        let pairs = store.pairs_of(Uuid::nil()).await.unwrap_or_default();
        assert_eq!(pairs[0].confirmed_photo.as_deref(), Some("a"));
        assert_eq!(pairs[0].attempts, 1);
    }
}
