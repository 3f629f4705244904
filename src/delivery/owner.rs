//! Claim owners that are still at work. The claims heartbeat renews only these: a request or a job
//! that ended without releasing its claim (its future dropped with a stopped job engine, a store
//! call that failed during an outage) lets the claim run out within `CLAIM_LEASE`, so the pair is
//! taken over instead of looking busy for as long as the process lives.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The owners of this process that hold (or may hold) claims.
#[derive(Debug, Default, Clone)]
pub(super) struct LiveOwners(Arc<Mutex<HashSet<String>>>);

impl LiveOwners {
    fn set(&self) -> MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `name` until the returned owner (and every clone of it) is dropped.
    pub(super) fn register(&self, name: String) -> Owner {
        self.set().insert(name.clone());
        Owner(Arc::new(Named {
            name,
            live: self.clone(),
        }))
    }

    /// Every live owner, for the heartbeat.
    pub(super) fn names(&self) -> Vec<String> {
        self.set().iter().cloned().collect()
    }
}

/// A claim owner; it reads as its name (`&owner` where a `&str` is taken). Clones share it: the
/// call gate of a flow holds one, so terminal calls that outlive their request (a client that
/// went away) keep the claim until they end.
#[derive(Debug, Clone)]
pub(super) struct Owner(Arc<Named>);

#[derive(Debug)]
struct Named {
    name: String,
    live: LiveOwners,
}

impl std::ops::Deref for Owner {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0.name
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        self.live.set().remove(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_live_until_dropped() {
        let live = LiveOwners::default();
        let a = live.register("r:req:1".into());
        let b = live.register("r:job:2".into());
        let gate = b.clone();
        assert_eq!(&*a, "r:req:1");
        drop(b);
        assert_eq!(live.names().len(), 2, "a clone keeps it live");
        drop(gate);
        assert_eq!(live.names(), vec!["r:req:1".to_string()]);
        drop(a);
        assert!(live.names().is_empty());
    }
}
