//! Retries within one request, where they are safe, with jittered exponential backoff, never past
//! the request deadline. The decision is one table over [`ErrorClass`]:
//!
//! | class | retried in the request |
//! |---|---|
//! | `Busy`, `Unreachable` (the terminal did nothing) | up to `max_retries` |
//! | `ConnectionLost` | idempotent calls only (PUTs), up to `max_broken_retries` |
//! | `Timeout` | never: a terminal that accepted the connection and said nothing for `DEVICE_TIMEOUT_MS` is hung, and a second wait would double the request (2 x 10 s by default, BENCHMARKS.md) |
//! | `Credentials` | never: terminals lock the account after 5 failed logins |
//! | `ServerError`, `PictureRejected`, `Unsupported`, `Refused`, `BadReply`, `InvalidRequest` | never: the same request gets the same answer now |
//!
//! Durable background retries (across requests) map the same classes in a table of their own.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use hikvision_isapi::{ErrorClass, IsapiError};

/// How many times a call may be retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after busy replies and refused connections.
    pub max_retries: u32,
    /// Retries after a connection broken mid-exchange (idempotent calls only).
    pub max_broken_retries: u32,
    /// First backoff; doubles each retry, with full jitter on top.
    pub base_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_broken_retries: 1,
            base_backoff: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// Runs `op` until it succeeds, fails in a way that must not be retried, runs out of retries,
    /// or the next attempt could not finish (`attempt_budget`) before `deadline`.
    pub async fn run<T, F, Fut>(
        &self,
        idempotent: bool,
        deadline: Instant,
        attempt_budget: Duration,
        mut op: F,
    ) -> Result<T, IsapiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, IsapiError>>,
    {
        let (mut retries, mut broken_retries) = (0u32, 0u32);
        loop {
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let class = error.class();
            let allowed = match in_request_retry(class, idempotent) {
                Some(Budget::Retries) => retries < self.max_retries,
                Some(Budget::BrokenRetries) => broken_retries < self.max_broken_retries,
                None => false,
            };
            if !allowed {
                return Err(error);
            }
            let step = self.base_backoff * 2u32.saturating_pow(retries + broken_retries);
            let jitter = rand::rng().random_range(0..=step.as_millis() as u64);
            let backoff = step + Duration::from_millis(jitter);
            if Instant::now() + backoff + attempt_budget > deadline {
                return Err(error);
            }
            tracing::debug!(
                error = class.name(),
                backoff_ms = backoff.as_millis() as u64,
                "retrying terminal call"
            );
            tokio::time::sleep(backoff).await;
            if class == ErrorClass::ConnectionLost {
                broken_retries += 1;
            } else {
                retries += 1;
            }
        }
    }
}

/// Which retry budget a failure draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// `max_retries`: the terminal did nothing.
    Retries,
    /// `max_broken_retries`: the terminal may have acted, and acting twice changes nothing.
    BrokenRetries,
}

/// The in-request retry table (see the module docs).
fn in_request_retry(class: ErrorClass, idempotent: bool) -> Option<Budget> {
    match class {
        ErrorClass::Busy | ErrorClass::Unreachable => Some(Budget::Retries),
        ErrorClass::ConnectionLost if idempotent => Some(Budget::BrokenRetries),
        ErrorClass::ConnectionLost
        | ErrorClass::Timeout
        | ErrorClass::Credentials
        | ErrorClass::ServerError
        | ErrorClass::PictureRejected
        | ErrorClass::Unsupported
        | ErrorClass::Refused
        | ErrorClass::BadReply
        | ErrorClass::InvalidRequest => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use hikvision_isapi::Rejection;

    fn busy() -> IsapiError {
        IsapiError::Rejected(Rejection {
            http_status: 200,
            status_code: 2,
            status_string: "Device Busy".into(),
            sub_status_code: "deviceBusy".into(),
            error_code: None,
            error_msg: None,
        })
    }

    async fn attempts(idempotent: bool, errors: Vec<IsapiError>) -> (u32, bool) {
        let calls = AtomicU32::new(0);
        let errors = std::sync::Mutex::new(errors.into_iter());
        let far = Instant::now() + Duration::from_secs(3600);
        let result = RetryPolicy::default()
            .run(idempotent, far, Duration::from_secs(1), || {
                calls.fetch_add(1, Ordering::SeqCst);
                let next = errors.lock().ok().and_then(|mut e| e.next());
                async move { next.map_or(Ok(()), Err) }
            })
            .await;
        (calls.load(Ordering::SeqCst), result.is_ok())
    }

    #[tokio::test(start_paused = true)]
    async fn busy_is_retried_until_it_clears() {
        assert_eq!(attempts(false, vec![busy(), busy()]).await, (3, true));
        assert_eq!(
            attempts(false, vec![busy(), busy(), busy()]).await,
            (3, false)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn broken_connections_are_retried_once_and_only_for_idempotent_calls() {
        let broken = || IsapiError::ConnectionLost {
            reason: "reset".into(),
        };
        assert_eq!(attempts(true, vec![broken()]).await, (2, true));
        assert_eq!(attempts(true, vec![broken(), broken()]).await, (2, false));
        assert_eq!(attempts(false, vec![broken()]).await, (1, false));
    }

    #[tokio::test(start_paused = true)]
    async fn reply_timeouts_are_not_retried_but_connect_failures_are() {
        let hung = IsapiError::Timeout { timeout_ms: 10 };
        assert_eq!(attempts(true, vec![hung]).await, (1, false));
        let refused = || IsapiError::Unreachable {
            address: "t:80".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(attempts(false, vec![refused(), refused()]).await, (3, true));
    }

    #[tokio::test(start_paused = true)]
    async fn auth_failures_and_rejections_are_never_retried() {
        let wrong = IsapiError::WrongCredentials {
            attempts_left: Some(4),
        };
        assert_eq!(attempts(true, vec![wrong]).await, (1, false));
        let mut picture = busy();
        if let IsapiError::Rejected(r) = &mut picture {
            r.status_code = 4;
            r.sub_status_code = "faceDetectFailed".into();
        }
        assert_eq!(attempts(true, vec![picture]).await, (1, false));
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_that_could_not_finish_before_the_deadline() {
        let near = Instant::now() + Duration::from_millis(500);
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = RetryPolicy::default()
            .run(true, near, Duration::from_millis(400), || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(busy()) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
