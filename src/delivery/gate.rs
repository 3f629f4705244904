//! The claim check before each terminal call, at the cost the claim needs: one read of all of an
//! owner's claims on one employee's pairs serves every terminal of a fan-out for up to [`FRESH`],
//! instead of a query per call. A change made in this process since the read (the store bumped
//! the pair's revision) is seen at once through [`Changes`]; one made by another replica within
//! [`FRESH`]; a lease is trusted only until its recorded end (the heartbeat renews it well before).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use uuid::Uuid;

use super::model::PairKey;
use super::owner::Owner;
use super::store::DeliveryStore;
use crate::orchestration::CallGate;

/// How long one read of the claims answers for: the longest another replica's newer change can
/// take to stop an older attempt's next call (whose result is not recorded as delivered anyway).
pub const FRESH: Duration = Duration::from_millis(250);

/// Counts the changes this process stored: a gate reads the claims again after any of them.
#[derive(Debug, Default)]
pub(super) struct Changes(AtomicU64);

impl Changes {
    /// Notes that changes were stored.
    pub(super) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// Notes that changes were stored and returns the count before: a caller that read `n`
    /// just before storing and gets `n` back knows nothing else was stored in between.
    pub(super) fn bump_from(&self) -> u64 {
        self.0.fetch_add(1, Ordering::AcqRel)
    }

    pub(super) fn now(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// What the claiming statement itself found: the pairs claimed and their lease, as of a moment
/// before the statement ran, and the change count after it. A gate seeded with it needs no read
/// before its first calls.
pub(super) struct Claimed {
    /// When the claiming statement was sent.
    pub(super) sent_at: Instant,
    /// The change count right after the claims were stored (this process stored nothing else
    /// in between).
    pub(super) changes: u64,
    /// Device id -> the end of its lease, for the pairs claimed.
    pub(super) held: HashMap<String, DateTime<Utc>>,
}

/// What one read found.
struct Seen {
    read_at: Instant,
    changes: u64,
    held: HashMap<String, DateTime<Utc>>,
}

/// The gate of `owner`'s calls for one employee.
pub(super) struct ClaimGate {
    store: Arc<dyn DeliveryStore>,
    angajat_id: Uuid,
    /// Only this terminal's pair (a background job's): read by the pair's key, not all of the
    /// employee's pairs (a thousand rows at a thousand terminals).
    device_id: Option<String>,
    owner: Owner,
    changes: Arc<Changes>,
    seen: tokio::sync::Mutex<Option<Seen>>,
}

impl ClaimGate {
    /// The gate of `owner`'s calls for `angajat_id`.
    pub(super) fn new(
        store: Arc<dyn DeliveryStore>,
        angajat_id: Uuid,
        owner: Owner,
        changes: Arc<Changes>,
    ) -> Self {
        Self {
            store,
            angajat_id,
            device_id: None,
            owner,
            changes,
            seen: tokio::sync::Mutex::new(None),
        }
    }

    /// The gate of `owner`'s calls on one pair, `key`.
    pub(super) fn for_pair(
        store: Arc<dyn DeliveryStore>,
        key: &PairKey,
        owner: Owner,
        changes: Arc<Changes>,
    ) -> Self {
        Self {
            device_id: Some(key.device_id.clone()),
            ..Self::new(store, key.angajat_id, owner, changes)
        }
    }

    /// The terminals on which the owner's claims are live now, with their ends.
    async fn read(&self) -> Result<HashMap<String, DateTime<Utc>>, super::DeliveryError> {
        let Some(device_id) = &self.device_id else {
            return self.store.held(self.angajat_id, &self.owner).await;
        };
        let key = PairKey::new(self.angajat_id, device_id.clone());
        let lease = self.store.lease(&key, &self.owner).await?;
        Ok(lease
            .map(|until| HashMap::from([(device_id.clone(), until)]))
            .unwrap_or_default())
    }

    /// The gate, seeded with what the claiming statement found when that is known (no read
    /// before the first calls; the next read comes after [`FRESH`] or after any change this
    /// process stores); unseeded, it reads before its first call.
    pub(super) fn seeded(self, claimed: Option<Claimed>) -> Self {
        let seen = claimed.map(|claimed| Seen {
            read_at: claimed.sent_at,
            changes: claimed.changes,
            held: claimed.held,
        });
        Self {
            seen: tokio::sync::Mutex::new(seen),
            ..self
        }
    }
}

impl CallGate for ClaimGate {
    fn allowed<'a>(&'a self, device_id: &'a str) -> futures::future::BoxFuture<'a, bool> {
        async move {
            // One read at a time: the terminals of a fan-out that ask together share it.
            let mut seen = self.seen.lock().await;
            let changes = self.changes.now();
            let fresh = seen
                .as_ref()
                .is_some_and(|s| s.changes == changes && s.read_at.elapsed() < FRESH);
            if !fresh {
                // Unverifiable (the database is down) counts as lost: the pair is retried later.
                let Ok(held) = self.read().await else {
                    *seen = None;
                    return false;
                };
                *seen = Some(Seen {
                    read_at: Instant::now(),
                    changes,
                    held,
                });
            }
            seen.as_ref()
                .and_then(|s| s.held.get(device_id))
                .is_some_and(|until| *until > Utc::now())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::memory::MemoryStore;
    use crate::delivery::model::Change;
    use crate::delivery::owner::LiveOwners;

    fn change(device: &str, photo: &str) -> Change {
        Change::photo_update(device, Some(photo))
    }

    fn lease() -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(30)
    }

    #[tokio::test]
    async fn a_newer_change_stops_the_next_call_and_one_read_serves_the_fan_out() {
        let store = Arc::new(MemoryStore::default());
        let live = LiveOwners::default();
        let owner = live.register("r1:req:0".into());
        let changes = Arc::new(Changes::default());
        let wanted = [change("a", "p1"), change("b", "p1")];
        store.want(&wanted, Some(&owner), lease(), "t").await.ok();
        let gate = ClaimGate::new(store.clone(), Uuid::nil(), owner.clone(), changes.clone());
        assert!(gate.allowed("a").await);
        assert!(gate.allowed("b").await);
        assert!(!gate.allowed("c").await, "no claim, no call");

        // A newer photo for "a", stored in this process: the very next call is stopped.
        store
            .want(&[change("a", "p2")], None, lease(), "t")
            .await
            .ok();
        changes.bump();
        assert!(!gate.allowed("a").await);
        assert!(gate.allowed("b").await);

        // Stored by another replica (no signal here): stopped once the read is older than FRESH.
        store
            .want(&[change("b", "p2")], None, lease(), "t")
            .await
            .ok();
        tokio::time::sleep(FRESH + Duration::from_millis(20)).await;
        assert!(!gate.allowed("b").await);
    }

    #[tokio::test]
    async fn a_pair_gate_reads_its_own_pair_and_a_newer_change_stops_its_next_call() {
        let store = Arc::new(MemoryStore::default());
        let live = LiveOwners::default();
        let owner = live.register("r1:job:0".into());
        let changes = Arc::new(Changes::default());
        let wanted = [change("a", "p1"), change("b", "p1")];
        store.want(&wanted, Some(&owner), lease(), "t").await.ok();
        let key = PairKey::new(Uuid::nil(), "a".to_string());
        let gate = ClaimGate::for_pair(store.clone(), &key, owner.clone(), changes.clone());
        assert!(gate.allowed("a").await);
        assert!(!gate.allowed("b").await, "only its own pair is let out");
        store
            .want(&[change("a", "p2")], None, lease(), "t")
            .await
            .ok();
        changes.bump();
        assert!(
            !gate.allowed("a").await,
            "the newer change stops the next call"
        );
    }

    #[tokio::test]
    async fn a_seeded_gate_needs_no_read_until_a_change_or_fresh_runs_out() {
        // The store holds no claim at all: only the seed lets "a" out, so an allowed call
        // proves no read was made; a change stored here, or FRESH running out, makes it read.
        let store = Arc::new(MemoryStore::default());
        let live = LiveOwners::default();
        let owner = live.register("r1:req:0".into());
        let changes = Arc::new(Changes::default());
        let seed = || Claimed {
            sent_at: Instant::now(),
            changes: changes.now(),
            held: HashMap::from([("a".to_string(), lease())]),
        };
        let gate = ClaimGate::new(store.clone(), Uuid::nil(), owner.clone(), changes.clone())
            .seeded(Some(seed()));
        assert!(gate.allowed("a").await, "served from the seed");
        assert!(!gate.allowed("b").await, "not claimed, not let out");
        changes.bump();
        assert!(!gate.allowed("a").await, "a stored change makes it read");

        let gate = ClaimGate::new(store, Uuid::nil(), owner, changes.clone()).seeded(Some(seed()));
        assert!(gate.allowed("a").await);
        tokio::time::sleep(FRESH + Duration::from_millis(20)).await;
        assert!(!gate.allowed("a").await, "an old seed is read again");
    }

    #[tokio::test]
    async fn a_lease_that_ran_out_lets_no_call_out() {
        let store = Arc::new(MemoryStore::default());
        let live = LiveOwners::default();
        let owner = live.register("r1:req:0".into());
        let soon = Utc::now() + chrono::Duration::milliseconds(50);
        store
            .want(&[change("a", "p1")], Some(&owner), soon, "t")
            .await
            .ok();
        let gate = ClaimGate::new(store, Uuid::nil(), owner, Arc::default());
        assert!(gate.allowed("a").await);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(
            !gate.allowed("a").await,
            "the cached read does not outlive the lease"
        );
    }
}
