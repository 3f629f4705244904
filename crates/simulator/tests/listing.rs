//! Listing persons and faces page by page, and finding one face: the `hikvision-isapi` client
//! against the simulator over real HTTP with Digest auth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use client_support::Rig;
use hikvision_isapi::IsapiError;
use hikvision_isapi::wire::{FaceSearchReply, MAX_SEARCH_RESULTS, UserInfoSearchReply, paths};
use hikvision_simulator::SearchLogEntry;
use reqwest::Method;
use serde_json::json;

/// `count` employeeNos, `"001"`, `"002"`, ...
fn employee_nos(count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("{n:03}")).collect()
}

/// The positions asked for on `path`, and the distinct `searchID`s they carried.
fn pages_on(log: &[SearchLogEntry], path: &str) -> (Vec<u32>, Vec<Option<String>>) {
    let pages: Vec<_> = log.iter().filter(|e| e.path == path).collect();
    let mut ids: Vec<_> = pages.iter().map(|e| e.search_id.clone()).collect();
    ids.dedup();
    (
        pages.iter().map(|e| e.search_result_position).collect(),
        ids,
    )
}

/// `listed` is all of `all`, read in three pages of at most 30.
#[track_caller]
fn assert_three_pages<'a>(
    listed: impl Iterator<Item = &'a str>,
    all: &[String],
    progress: &[(usize, usize)],
) {
    assert_eq!(listed.collect::<Vec<_>>(), all);
    assert_eq!(progress, [(30, 75), (60, 75), (75, 75)]);
}

#[tokio::test]
async fn listing_75_persons_and_faces_reads_three_pages_each() {
    let rig = Rig::default().await;
    let all = employee_nos(75);
    rig.seed(all.iter().map(String::as_str), true);

    let mut progress = Vec::new();
    let persons = rig
        .client
        .list_persons(&rig.terminal, |read, total| progress.push((read, total)))
        .await
        .expect("persons listed");
    assert_three_pages(
        persons.iter().map(|p| p.employee_no.as_str()),
        &all,
        &progress,
    );
    assert!(persons.iter().all(|p| p.face_url.is_some()));

    progress.clear();
    let faces = rig
        .client
        .list_faces(&rig.terminal, |read, total| progress.push((read, total)))
        .await
        .expect("faces listed");
    assert_three_pages(faces.iter().map(|f| f.fpid.as_str()), &all, &progress);
    assert_eq!(faces[0].name.as_deref(), Some("Person 001"));
    assert!(faces.iter().all(|f| f.face_url.is_some()));

    let log = rig.sim.search_log();
    let (positions, ids) = pages_on(&log, paths::USER_SEARCH);
    assert_eq!(positions, [0, 30, 60]);
    assert_eq!(ids.len(), 1, "one searchID for the whole listing: {ids:?}");
    assert!(ids[0].as_deref().is_some_and(|id| !id.is_empty()));
    let (positions, _) = pages_on(&log, paths::FACE_SEARCH);
    assert_eq!(positions, [0, 30, 60]);
}

/// The end marker, `numOfMatches` and `totalMatches` of a search page.
type Summary = (String, u32, u32);

fn of_persons(page: UserInfoSearchReply) -> Summary {
    (
        page.response_status_strg,
        page.num_of_matches,
        page.total_matches,
    )
}

fn of_faces(page: FaceSearchReply) -> Summary {
    (
        page.response_status_strg,
        page.num_of_matches,
        page.total_matches,
    )
}

/// The page `read` brings, summed up by `of`.
async fn summary<R>(
    read: impl Future<Output = Result<R, IsapiError>>,
    of: fn(R) -> Summary,
) -> Summary {
    of(read.await.expect("a search page"))
}

/// A page of all persons, summed up.
async fn person_page(rig: &Rig, position: u32, max_results: u32) -> Summary {
    let read = rig
        .client
        .search_persons_page(&rig.terminal, "paging", position, max_results);
    summary(read, of_persons).await
}

/// A page of all faces, summed up.
async fn face_page(rig: &Rig, position: u32) -> Summary {
    summary(
        rig.client.search_faces_page(&rig.terminal, position),
        of_faces,
    )
    .await
}

#[tokio::test]
async fn listing_an_empty_terminal_stops_at_no_match() {
    let rig = Rig::default().await;
    assert_eq!(person_page(&rig, 0, 30).await, ("NO MATCH".into(), 0, 0));
    rig.sim.clear_request_log();
    let mut progress = Vec::new();
    let persons = rig
        .client
        .list_persons(&rig.terminal, |read, total| progress.push((read, total)))
        .await
        .expect("listed");
    assert!(persons.is_empty());
    assert_eq!(progress, [(0, 0)]);
    assert_eq!(rig.sim.search_log().len(), 1);
}

#[tokio::test]
async fn a_person_page_is_capped_at_thirty_and_says_more() {
    let rig = Rig::default().await;
    let all = employee_nos(31);
    rig.seed(all.iter().map(String::as_str), false);
    assert_eq!(person_page(&rig, 0, 100).await, ("MORE".into(), 30, 31));
    assert_eq!(rig.sim.search_log()[0].max_results, MAX_SEARCH_RESULTS);
    assert_eq!(person_page(&rig, 30, 30).await, ("OK".into(), 1, 31));
}

#[tokio::test]
async fn the_last_face_page_says_ok() {
    let rig = Rig::default().await;
    let all = employee_nos(75);
    rig.seed(all.iter().map(String::as_str), true);
    assert_eq!(face_page(&rig, 30).await, ("MORE".into(), 30, 75));
    assert_eq!(face_page(&rig, 60).await, ("OK".into(), 15, 75));
}

#[tokio::test]
async fn listing_faces_of_a_terminal_without_any_stops_at_no_matches() {
    let rig = Rig::default().await;
    rig.seed(["1"], false);
    assert_eq!(face_page(&rig, 0).await, ("NO MATCHES".into(), 0, 0));
    let faces = rig
        .client
        .list_faces(&rig.terminal, |_, _| {})
        .await
        .expect("listed");
    assert!(faces.is_empty());
    assert_eq!(rig.sim.search_log().len(), 2);
}

#[tokio::test]
async fn a_face_search_answers_flat_with_its_status_fields() {
    let rig = Rig::default().await;
    rig.seed(["1"], true);
    let url = format!("{}?format=json", paths::FACE_SEARCH);
    let cond =
        json!({"searchResultPosition": 0, "maxResults": 30, "faceLibType": "blackFD", "FDID": "1"});
    let (status, reply) = rig.raw(Method::POST, &url, Some(cond)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &reply["requestURL"],
            &reply["statusCode"],
            &reply["subStatusCode"]
        ),
        (&json!(url), &json!(1), &json!("ok"))
    );
    assert_eq!(
        (&reply["searchResultPosition"], &reply["responseStatusStrg"]),
        (&json!(0), &json!("OK"))
    );
    assert_eq!(reply["MatchList"][0]["FPID"], "1");
}

#[tokio::test]
async fn find_face_tells_a_stored_face_from_a_missing_one() {
    let rig = Rig::default().await;
    rig.seed(["1", "2"], false);
    rig.sim.set_face("1", client_support::picture(1));
    assert!(
        rig.client
            .find_face(&rig.terminal, &"1".parse().unwrap())
            .await
            .expect("read")
    );
    assert!(
        !rig.client
            .find_face(&rig.terminal, &"2".parse().unwrap())
            .await
            .expect("read")
    );
    assert!(
        !rig.client
            .find_face(&rig.terminal, &"404".parse().unwrap())
            .await
            .expect("read")
    );
}
