//! Recording attempts: the policy's outcome, the credentials block, the next attempt. Many at once
//! cost the same few round trips as one (one `record_all`, one batch of jobs).

use chrono::Utc;
use hikvision_isapi::ErrorClass;

use super::model::{Outcome, PairKey};
use super::policy::decide;
use super::schedule::Task;
use super::{Delivery, DeliveryError};
use crate::models::{Device, SyncResult};

/// One finished attempt on one pair.
pub(super) struct Attempt<'a> {
    /// The pair.
    pub key: &'a PairKey,
    /// The terminal called, if it was (its credentials are noted).
    pub device: Option<&'a Device>,
    /// What happened.
    pub result: &'a SyncResult,
    /// The photo the attempt sent.
    pub photo: Option<&'a str>,
    /// The attempts so far, this one included.
    pub attempts: u32,
}

impl Delivery {
    /// Records `result` as the outcome of an attempt on `key` by `owner`, notes refused
    /// credentials, and schedules what comes next (a retry, a probe of a terminal that is down).
    pub(super) async fn settle(
        &self,
        key: &PairKey,
        owner: &str,
        device: Option<&Device>,
        result: &SyncResult,
        photo: Option<&str>,
        attempts: u32,
    ) -> Result<Outcome, DeliveryError> {
        let attempt = Attempt {
            key,
            device,
            result,
            photo,
            attempts,
        };
        let outcome = self.settle_all(owner, &[attempt]).await?.into_iter().next();
        outcome.ok_or_else(|| DeliveryError::Store("an attempt was not recorded".into()))
    }

    /// [`Self::settle`] for many attempts of one `owner` (each pair once), in a fixed number of
    /// round trips; the outcomes come back in order.
    pub(super) async fn settle_all(
        &self,
        owner: &str,
        attempts: &[Attempt<'_>],
    ) -> Result<Vec<Outcome>, DeliveryError> {
        if attempts.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        let timing = self.options.timing;
        let decided: Vec<(PairKey, Outcome)> = attempts
            .iter()
            .map(|a| {
                let outcome = decide(a.result, a.photo, a.attempts, timing, now);
                (a.key.clone(), outcome)
            })
            .collect();
        let called: Vec<(&Device, &SyncResult)> = attempts
            .iter()
            .filter_map(|a| a.device.map(|d| (d, a.result)))
            .collect();
        self.note_credentials(&called).await?;
        self.store.record_all(owner, &decided).await?;
        let probe_at = Utc::now()
            + chrono::Duration::from_std(timing.initial)
                .unwrap_or_else(|_| chrono::Duration::seconds(30));
        let mut tasks = Vec::new();
        for (a, (key, outcome)) in attempts.iter().zip(&decided) {
            self.metrics.observe_delivery_attempt(outcome.state.name());
            let Some(next) = outcome.next_attempt_at else {
                continue;
            };
            tasks.push((Task::Pair(key.clone()), next));
            if a.result.class.is_some_and(ErrorClass::terminal_is_down) && probe_at < next {
                tasks.push((Task::Probe(key.device_id.clone()), probe_at));
            }
        }
        self.scheduler.schedule_all(tasks).await?;
        Ok(decided.into_iter().map(|(_, o)| o).collect())
    }
}
