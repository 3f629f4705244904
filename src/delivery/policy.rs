//! The durable retry table: what one attempt's result means for the pair, and when to try again.
//! The in-request table (`orchestration::retry`) decides retries within a request; this one decides
//! across requests and restarts, over the same [`ErrorClass`]:
//!
//! | result | state | next |
//! |---|---|---|
//! | success | `in_sync` | - |
//! | skipped (no employee_no / photo) | `skipped` | when the row changes |
//! | `Busy`, `ServerError`, `Unreachable`, `ConnectionLost`, `Timeout`, `deadline_exceeded`, `not_confirmed` (acknowledged, then not found), an internal error | `pending` | backoff: `RETRY_INITIAL_MS` doubling to `RETRY_MAX_MS`, jittered, forever while the change is current |
//! | `Credentials`, `credentials_blocked` | `failed` | when the device row's credentials change |
//! | `PictureRejected` | `failed` | when the photo changes |
//! | invalid device row, `InvalidRequest`, `BadReply` | `failed` | when the device row changes |
//! | `Unsupported`, `Refused` (e.g. the person is not enrolled) | `failed` | when a person acts (enrol, fix) |

use std::time::Duration;

use chrono::{DateTime, Utc};
use hikvision_isapi::ErrorClass;
use rand::Rng;

use super::model::{Outcome, PairState};
use crate::models::{ErrorCode, ServiceCode, SyncResult, SyncStatus, SyncStep};

/// Backoff bounds (`RETRY_INITIAL_MS`, `RETRY_MAX_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryTiming {
    /// First delay; doubles each attempt.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for RetryTiming {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

impl RetryTiming {
    /// The delay before attempt `attempts + 1`: `initial * 2^(attempts - 1)` capped at `max`,
    /// jittered down by up to a half so retries of many pairs spread out.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max);
        let half = base / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

/// Whether a result is worth retrying by itself.
fn retried(result: &SyncResult) -> bool {
    if let Some(class) = result.class {
        return matches!(
            class,
            ErrorClass::Busy
                | ErrorClass::ServerError
                | ErrorClass::Unreachable
                | ErrorClass::ConnectionLost
                | ErrorClass::Timeout
        );
    }
    match (&result.status, &result.error_code) {
        (
            _,
            Some(ErrorCode::Service(ServiceCode::DeadlineExceeded | ServiceCode::NotConfirmed)),
        ) => true,
        // An internal error (not a bad device row) is ours to retry.
        (SyncStatus::Fatal, _) => result.step != SyncStep::Device,
        _ => false,
    }
}

/// The pair's state after `result`, the `attempts`-th attempt, made at `now`.
pub fn decide(
    result: &SyncResult,
    photo: Option<&str>,
    attempts: u32,
    timing: RetryTiming,
    now: DateTime<Utc>,
) -> Outcome {
    let error_code = result.error_code.clone();
    let (state, next) = match result.status {
        SyncStatus::Success => {
            return Outcome {
                state: PairState::InSync,
                next_attempt_at: None,
                error_code: None,
                message: result.message.clone(),
                confirmed_photo: photo.map(str::to_string),
            };
        }
        SyncStatus::Skipped => (PairState::Skipped, None),
        _ if retried(result) => {
            let delay = chrono::Duration::from_std(timing.delay(attempts))
                .unwrap_or_else(|_| chrono::Duration::hours(1));
            (PairState::Pending, Some(now + delay))
        }
        _ => (PairState::Failed, None),
    };
    Outcome {
        state,
        next_attempt_at: next,
        error_code,
        message: result.message.clone(),
        confirmed_photo: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(class: Option<ErrorClass>, code: ErrorCode) -> SyncResult {
        SyncResult {
            class,
            ..SyncResult::new(SyncStatus::Partial, SyncStep::Photo, "x").with_code(code)
        }
    }

    fn state_of(r: &SyncResult) -> PairState {
        decide(r, Some("p"), 1, RetryTiming::default(), Utc::now()).state
    }

    #[test]
    fn transient_failures_are_pending_and_the_rest_wait_for_a_person() {
        let offline = partial(
            Some(ErrorClass::Unreachable),
            ServiceCode::Unreachable.into(),
        );
        assert_eq!(state_of(&offline), PairState::Pending);
        let busy = partial(Some(ErrorClass::Busy), ServiceCode::Timeout.into());
        assert_eq!(state_of(&busy), PairState::Pending);
        let deadline = partial(None, ServiceCode::DeadlineExceeded.into());
        assert_eq!(state_of(&deadline), PairState::Pending);

        let password = partial(
            Some(ErrorClass::Credentials),
            ServiceCode::WrongCredentials.into(),
        );
        assert_eq!(state_of(&password), PairState::Failed);
        let blocked = partial(None, ServiceCode::CredentialsBlocked.into());
        assert_eq!(state_of(&blocked), PairState::Failed);
        let picture = partial(
            Some(ErrorClass::PictureRejected),
            ErrorCode::Terminal("faceDetectFailed".into()),
        );
        assert_eq!(state_of(&picture), PairState::Failed);
        let bad_row = SyncResult::new(SyncStatus::Fatal, SyncStep::Device, "no password");
        assert_eq!(state_of(&bad_row), PairState::Failed);
    }

    #[test]
    fn success_confirms_the_photo() {
        let ok = SyncResult::new(SyncStatus::Success, SyncStep::Photo, "done");
        let out = decide(&ok, Some("photo-1"), 3, RetryTiming::default(), Utc::now());
        assert_eq!(out.state, PairState::InSync);
        assert_eq!(out.confirmed_photo.as_deref(), Some("photo-1"));
        assert_eq!(out.next_attempt_at, None);
    }

    #[test]
    fn backoff_doubles_from_the_initial_delay_up_to_the_max_with_jitter() {
        let t = RetryTiming {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        };
        for (attempts, base) in [(1, 30), (2, 60), (3, 120), (8, 3600), (40, 3600)] {
            let d = t.delay(attempts).as_secs_f64();
            let base = base as f64;
            assert!(
                d >= base / 2.0 - 0.001 && d <= base + 0.001,
                "{attempts}: {d}"
            );
        }
    }
}
