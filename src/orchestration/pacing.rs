//! Per-terminal pacing: at least `RATE_LIMIT_DELAY_MS` between the starts of two requests to the
//! same terminal, whichever API request they belong to. Terminals are small embedded devices; the
//! owner's service slept between calls for the same reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Hands out request slots per terminal address.
#[derive(Debug, Default, Clone)]
pub struct Pacer {
    delay: Duration,
    next_slot: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Pacer {
    /// A pacer spacing requests to one terminal by `delay`.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            next_slot: Arc::default(),
        }
    }

    /// Waits until this terminal may be called again, and books the following slot.
    pub async fn wait_turn(&self, terminal: &str) {
        if self.delay.is_zero() {
            return;
        }
        let now = Instant::now();
        let slot = {
            // A poisoned lock only means another task panicked mid-update; the map is still usable.
            let mut slots = self
                .next_slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let slot = slots.get(terminal).copied().unwrap_or(now).max(now);
            slots.insert(terminal.to_string(), slot + self.delay);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_to_one_terminal_but_not_across_terminals() {
        let pacer = Pacer::new(Duration::from_millis(500));
        let start = Instant::now();
        pacer.wait_turn("a").await;
        pacer.wait_turn("b").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.wait_turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        pacer.wait_turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_delay_never_waits() {
        let pacer = Pacer::new(Duration::ZERO);
        let start = Instant::now();
        for _ in 0..3 {
            pacer.wait_turn("a").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
