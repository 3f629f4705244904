//! Search paging as real firmware does it (`docs/isapi.md`, "Paging"): at most
//! [`MAX_SEARCH_RESULTS`] a page whatever `maxResults` asks, `MORE` while more remain, `OK` on
//! the last page, and a "nothing" marker (`NO MATCH` for persons, `NO MATCHES` for faces) on an
//! empty one. Every search is written to the search log.

use hikvision_isapi::wire::MAX_SEARCH_RESULTS;

use super::reply::Failure;
use super::state::{SearchLogEntry, Store};

/// One page of a search.
#[derive(Debug)]
pub(crate) struct Page<T> {
    /// The entries of this page.
    pub(crate) items: Vec<T>,
    /// `responseStatusStrg`.
    pub(crate) status: &'static str,
    /// `numOfMatches`.
    pub(crate) num_of_matches: u32,
    /// `totalMatches`.
    pub(crate) total_matches: u32,
}

/// What a search asked for.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// The search's path, for the log.
    pub(crate) path: &'a str,
    /// `searchID`, when sent.
    pub(crate) search_id: Option<&'a str>,
    /// `searchResultPosition`.
    pub(crate) position: u32,
    /// `maxResults`; 0 is refused with `badParameters`.
    pub(crate) max_results: u32,
    /// The marker of an empty page.
    pub(crate) no_match: &'static str,
}

impl Request<'_> {
    /// Writes the request to the search log of `store`.
    pub(crate) fn log(&self, store: &mut Store) {
        store.log_search(SearchLogEntry {
            path: self.path.to_owned(),
            search_id: self.search_id.map(str::to_owned),
            search_result_position: self.position,
            max_results: self.max_results,
        });
    }

    /// The page of `matching` this request asks for.
    pub(crate) fn page<T>(&self, matching: Vec<T>) -> Result<Page<T>, Failure> {
        if self.max_results == 0 {
            return Err(Failure::bad_parameters("maxResults"));
        }
        let page_size = self.max_results.min(MAX_SEARCH_RESULTS) as usize;
        let total = matching.len();
        let start = (self.position as usize).min(total);
        let items: Vec<T> = matching.into_iter().skip(start).take(page_size).collect();
        let status = if items.is_empty() {
            self.no_match
        } else if start + items.len() < total {
            "MORE"
        } else {
            "OK"
        };
        Ok(Page {
            status,
            num_of_matches: count(items.len()),
            total_matches: count(total),
            items,
        })
    }
}

/// Counts in replies are `u32` on the wire; a terminal never holds more.
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
