//! Deleting persons and faces, and counting them: the `hikvision-isapi` client against the
//! simulator over real HTTP with Digest auth, plus raw requests for what the client cannot say.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use client_support::Rig;
use hikvision_isapi::wire::{EmployeeNoList, EmptyList, UserInfoCount, paths};
use hikvision_isapi::{EmployeeNo, ErrorClass};
use hikvision_simulator::Faults;
use serde_json::json;

fn list(first: &str, rest: &[&str]) -> EmployeeNoList {
    EmployeeNoList::new(
        first.parse().unwrap(),
        rest.iter().map(|s| s.parse().unwrap()),
    )
}

#[tokio::test]
async fn deleting_two_named_persons_removes_exactly_them_and_their_faces() {
    let rig = Rig::default().await;
    rig.seed(["1", "2", "3", "4"], true);
    rig.client
        .delete_persons(&rig.terminal, &list("2", &["3"]))
        .await
        .expect("deleted");
    assert_eq!(rig.persons(), ["1", "4"]);
    assert_eq!(rig.faces(), ["1", "4"]);
    assert_eq!(rig.sim.mass_deletions(), 0);
    // One request: the Digest challenge and the authenticated PUT.
    let deletes: Vec<_> = rig
        .sim
        .request_log()
        .into_iter()
        .filter(|e| e.path == paths::USER_DELETE && e.method == "PUT")
        .map(|e| e.status)
        .collect();
    assert_eq!(deletes, [Some(401), Some(200)]);
}

#[test]
fn the_client_cannot_build_a_delete_that_names_nobody() {
    // `EmployeeNoList::new` takes a first employeeNo; the other constructors refuse nobody
    // (the doc tests of `EmployeeNoList` show that an empty one does not compile).
    assert_eq!(EmployeeNoList::try_from(Vec::new()), Err(EmptyList));
    let read: Result<EmployeeNoList, _> = serde_json::from_str("[]");
    assert!(read.is_err());

    // A blank or padded name is not an employee number, so no list can carry one to a terminal.
    for bad in [" ", "", " 1", "1 "] {
        assert!(bad.parse::<EmployeeNo>().is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn a_raw_delete_without_names_deletes_everyone_and_is_counted() {
    let rig = Rig::default().await;
    rig.seed(["1", "2"], true);
    let url = format!("{}?format=json", paths::USER_DELETE);
    let (status, reply) = rig
        .raw_put(
            &url,
            Some(json!({"UserInfoDelCond": {"EmployeeNoList": []}})),
        )
        .await;
    assert_eq!((status, &reply["statusCode"]), (200, &json!(1)), "{reply}");
    assert!(rig.persons().is_empty());
    assert!(rig.faces().is_empty());
    assert_eq!(rig.sim.mass_deletions(), 1);

    rig.seed(["3"], false);
    let (status, _) = rig
        .raw_put(&url, Some(json!({"UserInfoDelCond": {}})))
        .await;
    assert_eq!(status, 200);
    assert!(rig.persons().is_empty());
    assert_eq!(rig.sim.mass_deletions(), 2);
    assert_eq!(rig.sim.state().mass_deletions, 2);
}

#[tokio::test]
async fn deleting_faces_keeps_the_persons_and_sends_the_face_library() {
    let rig = Rig::default().await;
    rig.seed(["1", "2", "3"], true);
    rig.client
        .delete_faces(&rig.terminal, &list("1", &["3"]))
        .await
        .expect("deleted");
    assert_eq!(rig.faces(), ["2"]);
    assert_eq!(rig.persons(), ["1", "2", "3"]);
    // The terminal refuses a face delete without `FDID` and `faceLibType` in the query.
    let (status, reply) = rig
        .raw_put(paths::FACE_DELETE, Some(json!({"FPID": [{"value": "2"}]})))
        .await;
    assert_eq!(
        (status, &reply["subStatusCode"]),
        (400, &json!("MessageParametersLack"))
    );
    assert_eq!(rig.faces(), ["2"]);
}

#[tokio::test]
async fn a_raw_face_delete_without_names_is_refused_and_counted() {
    let rig = Rig::default().await;
    rig.seed(["1"], true);
    let url = format!(
        "{}?format=json&FDID=1&faceLibType=blackFD",
        paths::FACE_DELETE
    );
    for body in [Some(json!({"FPID": []})), Some(json!({})), None] {
        let (status, reply) = rig.raw_put(&url, body).await;
        assert_eq!(
            (status, &reply["subStatusCode"]),
            (400, &json!("badParameters"))
        );
    }
    assert_eq!(rig.faces(), ["1"]);
    assert_eq!(rig.sim.mass_face_deletions(), 3);
}

#[tokio::test]
async fn deleting_what_is_not_there_counts_as_done() {
    let rig = Rig::default().await;
    rig.seed(["1"], false);
    rig.client
        .delete_persons(&rig.terminal, &list("404", &[]))
        .await
        .expect("an unknown person is already deleted");
    rig.client
        .delete_faces(&rig.terminal, &list("1", &[]))
        .await
        .expect("a missing face is already deleted");
    assert_eq!(rig.persons(), ["1"]);
}

#[tokio::test]
async fn a_batch_refused_over_one_unknown_name_is_deleted_one_by_one() {
    let rig = Rig::with_faults(Faults {
        delete_unknown_refused: true,
        ..Faults::default()
    })
    .await;
    rig.seed(["1", "2", "3"], true);
    rig.client
        .delete_persons(&rig.terminal, &list("1", &["404", "3"]))
        .await
        .expect("deleted");
    assert_eq!(rig.persons(), ["2"]);
    rig.client
        .delete_faces(&rig.terminal, &list("2", &["404"]))
        .await
        .expect("deleted");
    assert!(rig.faces().is_empty());
    let deletes = rig
        .sim
        .request_log()
        .iter()
        .filter(|e| e.status.is_some_and(|s| s != 401))
        .map(|e| (e.path.clone(), e.status))
        .collect::<Vec<_>>();
    let user = paths::USER_DELETE.to_string();
    let face = paths::FACE_DELETE.to_string();
    assert_eq!(
        deletes,
        [
            (user.clone(), Some(400)),
            (user.clone(), Some(200)),
            (user.clone(), Some(400)),
            (user, Some(200)),
            (face.clone(), Some(400)),
            (face.clone(), Some(200)),
            (face, Some(400)),
        ]
    );
}

#[tokio::test]
async fn a_busy_terminal_is_not_taken_for_a_done_delete() {
    let rig = Rig::default().await;
    rig.seed(["1"], true);
    rig.sim.set_faults(Faults {
        device_busy: true,
        ..Faults::default()
    });
    let busy = rig
        .client
        .delete_persons(&rig.terminal, &list("1", &[]))
        .await;
    assert_eq!(busy.map_err(|e| e.class()), Err(ErrorClass::Busy));
    assert_eq!(rig.persons(), ["1"]);
}

#[tokio::test]
async fn the_count_follows_the_terminal() {
    let rig = Rig::default().await;
    let count = rig
        .client
        .count_persons(&rig.terminal)
        .await
        .expect("count");
    assert_eq!(count, UserInfoCount::default());
    rig.seed(["1", "2", "3"], false);
    rig.sim.set_face("2", client_support::picture(9));
    let count = rig
        .client
        .count_persons(&rig.terminal)
        .await
        .expect("count");
    assert_eq!(
        (
            count.user_number,
            count.bind_face_user_number,
            count.bind_card_user_number
        ),
        (3, 1, 0)
    );
    rig.client
        .delete_persons(&rig.terminal, &list("2", &[]))
        .await
        .expect("deleted");
    let count = rig
        .client
        .count_persons(&rig.terminal)
        .await
        .expect("count");
    assert_eq!((count.user_number, count.bind_face_user_number), (2, 0));
}
