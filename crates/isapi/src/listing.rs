//! Reading what a terminal holds: one person or face, one search page, or a whole listing paged
//! until the terminal's end marker (`docs/isapi.md`, "Paging").

use std::collections::HashSet;

use crate::call::TerminalCall;
use crate::client::{IsapiClient, json};
use crate::employee_no::EmployeeNo;
use crate::error::IsapiError;
use crate::reply::parse_json;
use crate::terminal::Terminal;
use crate::wire::{
    EmployeeNoEntry, FACE_LIB_TYPE, FDID, FaceMatch, FaceSearchCond, FaceSearchReply,
    MAX_SEARCH_RESULTS, UserInfo, UserInfoSearchCond, UserInfoSearchEnvelope, UserInfoSearchReply,
    UserInfoSearchReplyEnvelope,
};

/// Most pages one listing reads, whatever the terminal says: 300,000 entries at 30 a page, far
/// beyond any terminal's capacity, so only a terminal that never ends reaches it.
const MAX_PAGES: usize = 10_000;

/// The `responseStatusStrg` values that end a listing: `OK` (last page), `NO MATCH` (persons,
/// and faces on some firmware), `NO MATCHES` (faces in the 2020 guide).
const END_MARKERS: [&str; 3] = ["OK", "NO MATCH", "NO MATCHES"];

/// One search page as the pager sees it.
struct Page<T> {
    items: Vec<T>,
    status: String,
    total: u32,
}

impl IsapiClient {
    /// POST UserInfo/Search for one employeeNo.
    pub async fn find_person(
        &self,
        t: &Terminal,
        employee_no: &EmployeeNo,
    ) -> Result<Option<UserInfo>, IsapiError> {
        let search_id = uuid::Uuid::new_v4().simple().to_string();
        let named = vec![EmployeeNoEntry {
            employee_no: employee_no.to_string(),
        }];
        let found = self.user_search(t, &search_id, 0, 1, named).await?;
        Ok(found
            .user_info
            .into_iter()
            .find(|u| *employee_no == u.employee_no.as_str()))
    }

    /// POST UserInfo/Search: one page of all persons, from `position`. `max_results` is capped
    /// at [`MAX_SEARCH_RESULTS`] (and raised to 1 from 0). Keep `search_id` the same across the
    /// pages of one listing.
    pub async fn search_persons_page(
        &self,
        t: &Terminal,
        search_id: &str,
        position: u32,
        max_results: u32,
    ) -> Result<UserInfoSearchReply, IsapiError> {
        let max_results = max_results.clamp(1, MAX_SEARCH_RESULTS);
        self.user_search(t, search_id, position, max_results, Vec::new())
            .await
    }

    /// Every person on the terminal, paged with one `searchID` until the terminal's end
    /// marker. `on_page(read, total)` is called after each page.
    ///
    /// The listing also ends when a page brings no person not read before (a terminal that
    /// repeats itself or sends an empty page mid-listing), and when `totalMatches` persons are
    /// read; the list can then be shorter than the last `total` reported.
    pub async fn list_persons(
        &self,
        t: &Terminal,
        on_page: impl FnMut(usize, usize),
    ) -> Result<Vec<UserInfo>, IsapiError> {
        let search_id = uuid::Uuid::new_v4().simple().to_string();
        let search_id = search_id.as_str();
        let fetch = move |position| async move {
            let page = self
                .search_persons_page(t, search_id, position, MAX_SEARCH_RESULTS)
                .await?;
            Ok(Page {
                items: page.user_info,
                status: page.response_status_strg,
                total: page.total_matches,
            })
        };
        collect(fetch, |p: &UserInfo| p.employee_no.as_str(), on_page).await
    }

    /// POST FDSearch: the faces of one person (or of everyone, the first page).
    pub async fn search_faces(
        &self,
        t: &Terminal,
        employee_no: Option<&EmployeeNo>,
    ) -> Result<FaceSearchReply, IsapiError> {
        self.face_search(t, 0, employee_no.map(EmployeeNo::as_str))
            .await
    }

    /// POST FDSearch: one page of all faces of the employee library, from `position`.
    pub async fn search_faces_page(
        &self,
        t: &Terminal,
        position: u32,
    ) -> Result<FaceSearchReply, IsapiError> {
        self.face_search(t, position, None).await
    }

    /// Every face of the employee library, paged like [`IsapiClient::list_persons`] (FDSearch
    /// has no `searchID`).
    pub async fn list_faces(
        &self,
        t: &Terminal,
        on_page: impl FnMut(usize, usize),
    ) -> Result<Vec<FaceMatch>, IsapiError> {
        let fetch = move |position| async move {
            let page = self.search_faces_page(t, position).await?;
            Ok(Page {
                items: page.match_list,
                status: page.response_status_strg,
                total: page.total_matches,
            })
        };
        collect(fetch, |f: &FaceMatch| f.fpid.as_str(), on_page).await
    }

    /// Whether the terminal holds a face for `employee_no` (FDSearch for its FPID): the
    /// read-back check after a face write.
    pub async fn find_face(
        &self,
        t: &Terminal,
        employee_no: &EmployeeNo,
    ) -> Result<bool, IsapiError> {
        let found = self.face_search(t, 0, Some(employee_no.as_str())).await?;
        Ok(found
            .match_list
            .iter()
            .any(|f| *employee_no == f.fpid.as_str()))
    }

    async fn user_search(
        &self,
        t: &Terminal,
        search_id: &str,
        position: u32,
        max_results: u32,
        employee_no_list: Vec<EmployeeNoEntry>,
    ) -> Result<UserInfoSearchReply, IsapiError> {
        let body = json(&UserInfoSearchEnvelope {
            cond: UserInfoSearchCond {
                search_id: search_id.to_string(),
                search_result_position: position,
                max_results,
                employee_no_list,
            },
        })?;
        let reply = self.call(t, TerminalCall::UserSearch, body).await?;
        parse_json::<UserInfoSearchReplyEnvelope>(&reply).map(|found| found.search)
    }

    async fn face_search(
        &self,
        t: &Terminal,
        position: u32,
        fpid: Option<&str>,
    ) -> Result<FaceSearchReply, IsapiError> {
        let body = json(&FaceSearchCond {
            search_result_position: position,
            max_results: MAX_SEARCH_RESULTS,
            face_lib_type: FACE_LIB_TYPE.into(),
            fdid: FDID.into(),
            fpid: fpid.map(Into::into),
        })?;
        let reply = self.call(t, TerminalCall::FdSearch, body).await?;
        parse_json(&reply)
    }
}

/// Reads pages from position 0 until an end marker, a page with nothing new, `total` entries
/// read (when the terminal gives a total), or [`MAX_PAGES`]; entries are told apart by `key`.
///
/// `fetch` returns a future that borrows nothing from the closure itself (not an async
/// closure): the listing's future must stay `Send`, so a listing can run in a spawned task.
async fn collect<T, F>(
    mut fetch: impl FnMut(u32) -> F,
    key: fn(&T) -> &str,
    mut on_page: impl FnMut(usize, usize),
) -> Result<Vec<T>, IsapiError>
where
    F: std::future::Future<Output = Result<Page<T>, IsapiError>>,
{
    let mut seen = HashSet::new();
    let mut read = Vec::new();
    let mut position = 0u32;
    for _ in 0..MAX_PAGES {
        let page = fetch(position).await?;
        let returned = u32::try_from(page.items.len()).unwrap_or(u32::MAX);
        let before = read.len();
        for item in page.items {
            if seen.insert(key(&item).to_owned()) {
                read.push(item);
            }
        }
        // A terminal that leaves `totalMatches` out (0) says nothing about the total.
        let total = usize::try_from(page.total).unwrap_or(usize::MAX);
        on_page(read.len(), total.max(read.len()));
        let ended = END_MARKERS
            .iter()
            .any(|end| page.status.trim().eq_ignore_ascii_case(end));
        if ended || read.len() == before || (total > 0 && read.len() >= total) {
            break;
        }
        position = position.saturating_add(returned);
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str], status: &str, total: u32) -> Page<String> {
        Page {
            items: ids.iter().map(|s| (*s).to_string()).collect(),
            status: status.into(),
            total,
        }
    }

    /// Runs `collect` over canned pages (the last one repeats), returning the list, the
    /// positions asked for and the progress reported.
    async fn run(pages: Vec<Page<String>>) -> (Vec<String>, Vec<u32>, Vec<(usize, usize)>) {
        let mut asked = Vec::new();
        let mut progress = Vec::new();
        let fetch = |position| {
            let canned = &pages[asked.len().min(pages.len() - 1)];
            asked.push(position);
            let page = Page {
                items: canned.items.clone(),
                status: canned.status.clone(),
                total: canned.total,
            };
            async move { Ok(page) }
        };
        let list = collect(fetch, |s: &String| s.as_str(), |r, t| progress.push((r, t)))
            .await
            .unwrap_or_default();
        (list, asked, progress)
    }

    /// A listing's future is `Send`: it can run in a spawned task (reconcile does).
    #[allow(dead_code)]
    fn listings_can_be_spawned(client: IsapiClient, t: Terminal) {
        fn is_send<T: Send>(_: T) {}
        is_send(async move {
            let _ = client.list_persons(&t, |_, _| {}).await;
            let _ = client.list_faces(&t, |_, _| {}).await;
        });
    }

    #[tokio::test]
    async fn pages_until_ok_and_advances_by_what_was_returned() {
        let (list, asked, progress) =
            run(vec![page(&["a", "b"], "MORE", 3), page(&["c"], "OK", 3)]).await;
        assert_eq!(list, ["a", "b", "c"]);
        assert_eq!(asked, [0, 2]);
        assert_eq!(progress, [(2, 3), (3, 3)]);
    }

    #[tokio::test]
    async fn both_spellings_of_no_match_end_an_empty_listing() {
        for marker in ["NO MATCH", "NO MATCHES"] {
            let (list, asked, _) = run(vec![page(&[], marker, 0)]).await;
            assert!(list.is_empty());
            assert_eq!(asked, [0]);
        }
    }

    #[tokio::test]
    async fn a_terminal_repeating_its_first_page_forever_is_read_once() {
        let (list, asked, _) = run(vec![page(&["a", "b"], "MORE", 99)]).await;
        assert_eq!(list, ["a", "b"]);
        assert_eq!(asked, [0, 2]);
    }

    #[tokio::test]
    async fn stops_once_the_total_is_read_even_on_more() {
        let (list, asked, _) = run(vec![page(&["a", "b"], "MORE", 2)]).await;
        assert_eq!(list, ["a", "b"]);
        assert_eq!(asked, [0]);
    }

    #[tokio::test]
    async fn a_missing_total_does_not_end_the_listing() {
        let (list, _, progress) = run(vec![page(&["a"], "MORE", 0), page(&["b"], "OK", 0)]).await;
        assert_eq!(list, ["a", "b"]);
        assert_eq!(progress, [(1, 1), (2, 2)]);
    }
}
