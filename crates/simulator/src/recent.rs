//! What a terminal computes from a picture (decoding it, its SHA-256), remembered for the few
//! pictures seen last and shared by every simulated terminal in the process.
//!
//! A real terminal decodes a face on its own processor; a thousand simulated terminals in one
//! process would decode the same picture a thousand times on the machine that also runs the
//! service under test, and a benchmark would measure that (JPEG decoding was the simulators'
//! largest cost at 1,000 terminals, more than the whole service's). The answers are the same:
//! an entry is found only for the same bytes (compared in full, not by a hash).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// The last [`Recent::CAPACITY`] answers of a pure function, by key.
pub(crate) struct Recent<K, V> {
    entries: Mutex<VecDeque<(K, V)>>,
}

impl<K: PartialEq, V: Clone> Recent<K, V> {
    /// Pictures remembered: a click sends one picture to every terminal, a drain or a bulk
    /// re-sync a few dozen at a time. A look-up compares lengths before bytes, so 32 cost little.
    pub(crate) const CAPACITY: usize = 32;

    /// An empty memory (a `static`'s initialiser).
    pub(crate) const fn new() -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// The answer remembered for `key`, if any.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Remembers `value` for `key`, forgetting the oldest answer beyond the capacity.
    pub(crate) fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.iter().any(|(k, _)| *k == key) {
            return;
        }
        if entries.len() >= Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back((key, value));
    }

    /// The answer for `key`: remembered, or made by `make` and remembered.
    pub(crate) fn get_or(&self, key: K, make: impl FnOnce(&K) -> V) -> V {
        if let Some(v) = self.get(&key) {
            return v;
        }
        let v = make(&key);
        self.put(key, v.clone());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn the_same_key_is_answered_once_and_a_different_one_is_computed() {
        let memo: Recent<Vec<u8>, usize> = Recent::new();
        let calls = Cell::new(0);
        let len = |k: &Vec<u8>| {
            calls.set(calls.get() + 1);
            k.len()
        };
        assert_eq!(memo.get_or(vec![1, 2, 3], len), 3);
        assert_eq!(memo.get_or(vec![1, 2, 3], len), 3);
        assert_eq!(calls.get(), 1);
        // Same length, other bytes: not the same picture.
        assert_eq!(memo.get_or(vec![1, 2, 4], len), 3);
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn the_oldest_answer_is_forgotten_beyond_the_capacity() {
        let memo: Recent<usize, usize> = Recent::new();
        for k in 0..=Recent::<usize, usize>::CAPACITY {
            memo.put(k, k * 10);
        }
        assert_eq!(memo.get(&0), None);
        assert_eq!(memo.get(&1), Some(10));
        let last = Recent::<usize, usize>::CAPACITY;
        assert_eq!(memo.get(&last), Some(last * 10));
    }
}
