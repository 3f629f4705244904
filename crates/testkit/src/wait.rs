//! Waiting on a condition, bounded: instead of sleeping a fixed time and hoping it was enough.

use std::time::{Duration, Instant};

/// How often a condition is checked again.
const EVERY: Duration = Duration::from_millis(20);

/// Checks `check` until it holds or `within` passes; returns whether it held. `check` is an async
/// closure, so it may be a plain test (`async || log.len() == 2`) or async work (an HTTP call, a
/// query), awaited each time.
pub async fn wait_until(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(EVERY).await;
    }
}
