//! How many write calls for the same person a terminal is processing at once, and the most
//! ever seen: a client that serialises its calls per person keeps it at 1.
//!
//! A write counts from the moment its body names the person (parsed) until its reply is
//! built, a `faceURL` download included; a call the client abandons stops counting when its
//! handler is dropped.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use super::state::lock;

/// The per-person counters of one terminal.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    per_person: HashMap<String, u32>,
    max: u32,
}

impl InFlight {
    /// Counts one call for each of `employee_nos` (a person named twice counts once) until
    /// the returned guard is dropped.
    pub(crate) fn enter<'a>(
        &'a self,
        employee_nos: impl IntoIterator<Item = &'a str>,
    ) -> InFlightGuard<'a> {
        let employee_nos: BTreeSet<&str> = employee_nos.into_iter().collect();
        let mut counts = lock(&self.counts);
        for employee_no in &employee_nos {
            let now = counts
                .per_person
                .entry((*employee_no).to_owned())
                .or_default();
            *now += 1;
            let now = *now;
            counts.max = counts.max.max(now);
        }
        InFlightGuard {
            owner: self,
            employee_nos,
        }
    }

    /// The most calls for one person ever processed at once.
    pub(crate) fn max(&self) -> u32 {
        lock(&self.counts).max
    }
}

/// One call in flight; dropping it ends the call.
#[derive(Debug)]
pub(crate) struct InFlightGuard<'a> {
    owner: &'a InFlight,
    employee_nos: BTreeSet<&'a str>,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut counts = lock(&self.owner.counts);
        for employee_no in &self.employee_nos {
            if let Some(now) = counts.per_person.get_mut(*employee_no) {
                *now = now.saturating_sub(1);
                if *now == 0 {
                    counts.per_person.remove(*employee_no);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_for_one_person_raise_the_max_and_others_do_not() {
        let in_flight = InFlight::default();
        {
            let _a = in_flight.enter(["1"]);
            let _b = in_flight.enter(["2", "2"]);
            assert_eq!(in_flight.max(), 1);
        }
        {
            let _first = in_flight.enter(["1"]);
            let _second = in_flight.enter(["1", "3"]);
            assert_eq!(in_flight.max(), 2);
        }
        let _again = in_flight.enter(["1"]);
        assert_eq!(in_flight.max(), 2);
        assert_eq!(lock(&in_flight.counts).per_person.get("1"), Some(&1));
    }
}
