//! How the client reports each call to whoever keeps metrics, without depending on them.

use std::time::Duration;

use crate::call::TerminalCall;
use crate::error::ErrorClass;

/// How one call ended, as a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// A 2xx reply (its body may still say the call failed).
    Ok,
    /// A non-2xx reply was read.
    Refused,
    /// No usable reply; the class says why.
    Failed(ErrorClass),
}

impl CallOutcome {
    /// `ok`, `refused`, or the error class's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed(class) => class.name(),
        }
    }
}

/// Receives every terminal call the client makes (metrics, tracing, test counters).
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// One call to `terminal` (`host:port`) ended with `outcome` after `elapsed`.
    fn observe(&self, terminal: &str, call: TerminalCall, outcome: CallOutcome, elapsed: Duration);
}
