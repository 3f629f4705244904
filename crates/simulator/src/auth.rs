//! Digest authentication (RFC 2617/7616) the way HikVision firmware does it, plus the
//! failed-login lockout.
//!
//! Nonces are stateless: 4 random bytes, the issue time (milliseconds since the terminal
//! started, wrapping `u32`) and an 8-byte keyed SHA-256 tag, 32 hex digits in all. A terminal
//! therefore keeps no per-nonce memory however many challenges it hands out.
//!
//! Decisions, in order:
//! 1. account locked -> `401` with `lockStatus` `locked` (even with the right password);
//! 2. no `Authorization: Digest ...` header (or one that does not parse) -> plain challenge,
//!    not a failed login;
//! 3. `uri` that is not this request's, or `qop=auth-int` -> `400 Bad Request`;
//! 4. wrong username, realm or response hash -> one failed login (whatever the nonce);
//! 5. right hash but a nonce that expired or was not issued here -> challenge with
//!    `stale="TRUE"`, not a failed login (RFC 2617 §3.2.1);
//! 6. otherwise the request is let through and the consecutive-failure count is reset.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, Uri, header::AUTHORIZATION};
use digest_auth::{AlgorithmType, AuthorizationHeader, Qop};
use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use super::config::TerminalConfig;

/// Why a request is not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// Plain challenge; `stale` is true when only the nonce was wrong.
    Challenge { stale: bool },
    /// A failed login; `retry_left` logins remain before the lock.
    Failed { retry_left: u32 },
    /// The account is locked for `unlock_in` more seconds.
    Locked { unlock_in: u64 },
    /// A Digest header that cannot be for this request.
    BadRequest,
}

/// Issues and checks stateless nonces.
#[derive(Debug)]
pub(crate) struct NonceIssuer {
    key: [u8; 16],
    epoch: Instant,
    ttl_ms: u32,
}

#[derive(Debug, PartialEq, Eq)]
enum NonceCheck {
    Fresh,
    /// Expired, or never issued by this terminal.
    Unusable,
}

impl NonceIssuer {
    pub(crate) fn new(ttl: Duration) -> Self {
        // A u32 of milliseconds wraps after ~49 days; longer TTLs make no sense for a nonce.
        let ttl_ms = u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX / 2);
        Self {
            key: rand::random(),
            epoch: Instant::now(),
            ttl_ms: ttl_ms.min(u32::MAX / 2),
        }
    }

    fn now_ms(&self) -> u32 {
        // Truncation is the point: issue times wrap and are compared with wrapping arithmetic.
        self.epoch.elapsed().as_millis() as u32
    }

    fn tag(&self, head: &[u8; 8]) -> [u8; 8] {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(head)
            .finalize();
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&digest[..8]);
        tag
    }

    /// A fresh nonce: 32 lower-case hex digits.
    pub(crate) fn issue(&self) -> String {
        let mut raw = [0u8; 16];
        let random: [u8; 4] = rand::random();
        raw[..4].copy_from_slice(&random);
        raw[4..8].copy_from_slice(&self.now_ms().to_be_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&raw[..8]);
        raw[8..].copy_from_slice(&self.tag(&head));
        hex::encode(raw)
    }

    fn check(&self, nonce: &str) -> NonceCheck {
        let mut raw = [0u8; 16];
        if nonce.len() != 32 || hex::decode_to_slice(nonce, &mut raw).is_err() {
            return NonceCheck::Unusable;
        }
        let mut head = [0u8; 8];
        head.copy_from_slice(&raw[..8]);
        if !constant_time_eq(&self.tag(&head), &raw[8..]) {
            return NonceCheck::Unusable;
        }
        let issued = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
        if self.now_ms().wrapping_sub(issued) <= self.ttl_ms {
            NonceCheck::Fresh
        } else {
            NonceCheck::Unusable
        }
    }
}

/// Failed-login bookkeeping of the terminal's account.
#[derive(Debug, Default)]
pub(crate) struct LoginState {
    consecutive_failures: u32,
    failed_logins: u32,
    locked_until: Option<Instant>,
}

impl LoginState {
    /// Seconds the lock still lasts (rounded up), lifting an expired lock.
    pub(crate) fn lock_remaining(&mut self, now: Instant) -> Option<u64> {
        let until = self.locked_until?;
        if now >= until {
            self.locked_until = None;
            self.consecutive_failures = 0;
            return None;
        }
        let left = until - now;
        Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Failed logins since start or the last [`LoginState::reset`].
    pub(crate) fn failed_logins(&self) -> u32 {
        self.failed_logins
    }

    /// Logins left before the lock (0 when lockout is disabled).
    pub(crate) fn retry_left(&self, lockout_after: u32) -> u32 {
        lockout_after.saturating_sub(self.consecutive_failures)
    }

    fn record_failure(&mut self, now: Instant, config: &TerminalConfig) -> Denial {
        self.failed_logins = self.failed_logins.saturating_add(1);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if config.lockout_after > 0 && self.consecutive_failures >= config.lockout_after {
            self.locked_until = now.checked_add(Duration::from_secs(config.lockout_secs));
            return Denial::Locked {
                unlock_in: config.lockout_secs,
            };
        }
        Denial::Failed {
            retry_left: self.retry_left(config.lockout_after),
        }
    }

    /// Lifts the lock and forgets all failed logins.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Decides whether a request may pass, counting failed logins in `login`. Never logs the header:
/// it carries a password hash.
pub(crate) fn authorize(
    config: &TerminalConfig,
    nonces: &NonceIssuer,
    login: &mut LoginState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), Denial> {
    let now = Instant::now();
    if let Some(unlock_in) = login.lock_remaining(now) {
        return Err(Denial::Locked { unlock_in });
    }
    let Some(value) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    else {
        return Err(Denial::Challenge { stale: false });
    };
    let is_digest = value
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("digest"));
    let Some(params) = value.get(6..).filter(|_| is_digest) else {
        return Err(Denial::Challenge { stale: false });
    };
    let Ok(auth) = AuthorizationHeader::parse(params) else {
        return Err(Denial::Challenge { stale: false });
    };
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    if auth.uri != path_and_query && auth.uri != uri.path() {
        return Err(Denial::BadRequest);
    }
    if auth.qop == Some(Qop::AUTH_INT) {
        return Err(Denial::BadRequest);
    }
    let credentials_ok = !auth.userhash
        && auth.username == config.username
        && auth.realm == config.model
        && constant_time_eq(
            expected_response(&auth, &config.password, method.as_str()).as_bytes(),
            auth.response.to_ascii_lowercase().as_bytes(),
        );
    if !credentials_ok {
        return Err(login.record_failure(now, config));
    }
    if nonces.check(&auth.nonce) != NonceCheck::Fresh {
        return Err(Denial::Challenge { stale: true });
    }
    login.consecutive_failures = 0;
    Ok(())
}

/// The `WWW-Authenticate` value, in exactly the shape HikVision firmware sends.
pub(crate) fn challenge(realm: &str, nonce: &str, stale: bool) -> String {
    let stale = if stale { "TRUE" } else { "FALSE" };
    format!(
        "Digest realm=\"{realm}\", domain=\"::\", qop=\"auth\", nonce=\"{nonce}\", opaque=\"\", algorithm=\"MD5\", stale=\"{stale}\""
    )
}

fn hash(algo: AlgorithmType, data: &str) -> String {
    match algo {
        AlgorithmType::MD5 => hex::encode(Md5::digest(data.as_bytes())),
        AlgorithmType::SHA2_256 => hex::encode(Sha256::digest(data.as_bytes())),
        AlgorithmType::SHA2_512_256 => hex::encode(Sha512_256::digest(data.as_bytes())),
    }
}

/// The response hash the client should have sent (lower-case hex).
fn expected_response(auth: &AuthorizationHeader, password: &str, method: &str) -> String {
    let algo = auth.algorithm.algo;
    let cnonce = auth.cnonce.as_deref().unwrap_or_default();
    let mut ha1 = hash(
        algo,
        &format!("{}:{}:{}", auth.username, auth.realm, password),
    );
    if auth.algorithm.sess {
        ha1 = hash(algo, &format!("{ha1}:{}:{cnonce}", auth.nonce));
    }
    let ha2 = hash(algo, &format!("{method}:{}", auth.uri));
    match auth.qop {
        Some(_) => hash(
            algo,
            &format!("{ha1}:{}:{:08x}:{cnonce}:auth:{ha2}", auth.nonce, auth.nc),
        ),
        None => hash(algo, &format!("{ha1}:{}:{ha2}", auth.nonce)),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_nonce_checks_and_forged_one_does_not() {
        let issuer = NonceIssuer::new(Duration::from_secs(30));
        let nonce = issuer.issue();
        assert_eq!(nonce.len(), 32);
        assert_eq!(issuer.check(&nonce), NonceCheck::Fresh);
        let mut forged = nonce.into_bytes();
        forged[31] = if forged[31] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap_or_default();
        assert_eq!(issuer.check(&forged), NonceCheck::Unusable);
        assert_eq!(issuer.check("not hex"), NonceCheck::Unusable);
    }

    #[test]
    fn nonce_from_another_terminal_is_unusable() {
        let a = NonceIssuer::new(Duration::from_secs(30));
        let b = NonceIssuer::new(Duration::from_secs(30));
        assert_eq!(b.check(&a.issue()), NonceCheck::Unusable);
    }
}
