//! Remembers terminals that refused a username/password, so this process does not call them again
//! with the same credentials until the credentials change or the cool-down passes. Terminals lock
//! the account after 5 failed logins; without this, five admin clicks on "update photo" would lock a
//! door terminal for half an hour.
//!
//! Passwords are never stored: only a salted SHA-256 fingerprint, to notice that they changed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use hikvision_isapi::IsapiError;

/// Why a terminal is not being called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// When the refusal happened.
    pub since: Instant,
    /// When calls resume.
    pub until: Instant,
    /// Failed logins left, as the terminal last said.
    pub attempts_left: Option<u32>,
    /// Whether the terminal said the account is locked.
    pub locked: bool,
}

impl Blocked {
    /// The message shown for a terminal that was not called.
    pub fn message(&self, now: Instant) -> String {
        let ago = now.saturating_duration_since(self.since).as_secs();
        let left = self
            .until
            .saturating_duration_since(now)
            .as_secs()
            .div_ceil(60);
        let state = match (self.locked, self.attempts_left) {
            (true, _) => "the account is locked".to_string(),
            (false, Some(n)) => format!("{n} attempt(s) left before it locks the account"),
            (false, None) => "it may lock the account after more failures".to_string(),
        };
        format!(
            "Not called: this terminal refused this username and password {ago} s ago ({state}). Fix the credentials in the devices table (or HIKVISION_PASSWORD); calls resume at once when they change, or in about {left} min"
        )
    }
}

struct Entry {
    fingerprint: [u8; 32],
    blocked: Blocked,
}

/// The per-process record of refused credentials.
pub struct CredentialGuard {
    cooldown: Duration,
    salt: [u8; 16],
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for CredentialGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialGuard")
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl CredentialGuard {
    /// A guard holding refusals for `cooldown` (zero turns it off).
    pub fn new(cooldown: Duration) -> Self {
        Self {
            cooldown,
            salt: rand::rng().random(),
            entries: Mutex::default(),
        }
    }

    fn key(address: &str, username: &str) -> String {
        format!("{username}@{address}")
    }

    fn fingerprint(&self, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some` when these exact credentials were refused by this terminal within the cool-down.
    pub fn check(&self, address: &str, username: &str, password: &str) -> Option<Blocked> {
        if self.cooldown.is_zero() {
            return None;
        }
        let key = Self::key(address, username);
        let mut entries = self.entries();
        let entry = entries.get(&key)?;
        if entry.fingerprint != self.fingerprint(password) || Instant::now() >= entry.blocked.until
        {
            entries.remove(&key);
            return None;
        }
        Some(entry.blocked.clone())
    }

    /// Records the outcome of a call: an authentication failure blocks, anything else clears.
    pub fn record(
        &self,
        address: &str,
        username: &str,
        password: &str,
        outcome: Result<(), &IsapiError>,
    ) {
        if self.cooldown.is_zero() {
            return;
        }
        let key = Self::key(address, username);
        let (attempts_left, locked) = match outcome {
            Err(IsapiError::WrongCredentials { attempts_left }) => (*attempts_left, false),
            Err(IsapiError::Locked { .. }) => (Some(0), true),
            Ok(()) => {
                self.entries().remove(&key);
                return;
            }
            Err(_) => return,
        };
        let now = Instant::now();
        self.entries().insert(
            key,
            Entry {
                fingerprint: self.fingerprint(password),
                blocked: Blocked {
                    since: now,
                    until: now + self.cooldown,
                    attempts_left,
                    locked,
                },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong() -> IsapiError {
        IsapiError::WrongCredentials {
            attempts_left: Some(3),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn blocks_the_same_password_until_the_cooldown_passes() {
        let g = CredentialGuard::new(Duration::from_secs(60));
        g.record("t:80", "admin", "typo", Err(&wrong()));
        let blocked = g.check("t:80", "admin", "typo").expect("blocked");
        assert_eq!(blocked.attempts_left, Some(3));
        assert!(
            blocked
                .message(Instant::now())
                .contains("3 attempt(s) left")
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(g.check("t:80", "admin", "typo"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_password_or_another_terminal_is_not_blocked() {
        let g = CredentialGuard::new(Duration::from_secs(60));
        g.record("t:80", "admin", "typo", Err(&wrong()));
        assert_eq!(g.check("t:80", "admin", "fixed"), None);
        assert_eq!(g.check("u:80", "admin", "typo"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn success_clears_and_other_errors_do_not_block() {
        let g = CredentialGuard::new(Duration::from_secs(60));
        g.record(
            "t:80",
            "admin",
            "pw",
            Err(&IsapiError::Timeout { timeout_ms: 1 }),
        );
        assert_eq!(g.check("t:80", "admin", "pw"), None);
        g.record("t:80", "admin", "pw", Err(&wrong()));
        g.record("t:80", "admin", "pw", Ok(()));
        assert_eq!(g.check("t:80", "admin", "pw"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_cooldown_turns_it_off() {
        let g = CredentialGuard::new(Duration::ZERO);
        g.record("t:80", "admin", "typo", Err(&wrong()));
        assert_eq!(g.check("t:80", "admin", "typo"), None);
    }
}
