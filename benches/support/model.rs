//! The model of the fan-out: what each terminal costs on its own (Digest legs, pacing, retries,
//! timeouts), and what a service adding no time of its own would take at a concurrency.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use hikvision_sync::orchestration::RetryPolicy;

use super::fleet::Kind;

/// Shortest, expected and longest time of one terminal on its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub min: Duration,
    pub mean: Duration,
    pub max: Duration,
}

/// Attempts of `durations` each, separated by `backoffs`, each attempt waiting for its pacing
/// slot (`delay` after the previous attempt on the same terminal began).
pub fn paced(durations: &[Duration], backoffs: &[Duration], delay: Duration) -> Duration {
    let (mut ready, mut slot, mut end) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for (i, &d) in durations.iter().enumerate() {
        let start = ready.max(slot);
        slot = start + delay;
        end = start + d;
        ready = end + backoffs.get(i).copied().unwrap_or_default();
    }
    end
}

/// The service's retry policy: backoff `i` is `base * 2^i` plus jitter in `[0, base * 2^i]`.
pub fn backoffs(n: u32, jitter: f64) -> Vec<Duration> {
    let base = RetryPolicy::default().base_backoff;
    (0..n)
        .map(|i| base * 2u32.pow(i))
        .map(|step| step + step.mul_f64(jitter))
        .collect()
}

/// Each ISAPI call is two Digest legs: the challenge, answered at once, then the answered call,
/// which the terminal works on for L. Old firmware: the PUT (notSupport),
/// then the POST in its pacing slot. Closed port: refused at once, retried `max_retries` times
/// after backoffs. Hanging: a timeout, retried `max_timeout_retries` times (FDModify is
/// idempotent).
pub fn terminal_time(kind: Kind, l: Duration, delay: Duration, timeout: Duration) -> Span {
    let policy = RetryPolicy::default();
    let with = |jitter: f64| match kind {
        Kind::Healthy => l,
        Kind::OldFirmware => paced(&[l, l], &[], delay),
        Kind::Refused => {
            let n = policy.max_retries;
            paced(
                &vec![Duration::ZERO; n as usize + 1],
                &backoffs(n, jitter),
                delay,
            )
        }
        // A reply timeout is never retried: one DEVICE_TIMEOUT_MS.
        Kind::Hang => timeout,
    };
    Span {
        min: with(0.0),
        mean: with(0.5),
        max: with(1.0),
    }
}

/// FIFO schedule with `c` slots (the orchestrator's semaphore is fair and tasks queue in the
/// devices' order).
pub fn schedule(times: &[Duration], c: usize) -> Duration {
    let mut slots: BinaryHeap<Reverse<Duration>> = (0..c.clamp(1, times.len().max(1)))
        .map(|_| Reverse(Duration::ZERO))
        .collect();
    let mut end = Duration::ZERO;
    for &t in times {
        let Reverse(free) = slots.pop().unwrap_or(Reverse(Duration::ZERO));
        let done = free + t;
        end = end.max(done);
        slots.push(Reverse(done));
    }
    end
}
