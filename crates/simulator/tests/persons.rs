//! Persons on the simulated terminal, over real HTTP with Digest auth: adding, refusing bad
//! bodies, modifying, and searching page by page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use diqwest::WithDigestAuth;
use hikvision_isapi::wire::{ResponseStatus, UserInfoSearchReplyEnvelope, paths};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    PASS, USER, assert_failure, client, isapi_url, json_of, person, post, put, real_jpeg,
    start_default, user_body,
};

#[tokio::test]
async fn adding_a_person_twice_answers_employee_no_already_exist() {
    let t = start_default().await;
    let (status, body) = json_of(post(&t, paths::USER_RECORD, user_body("42")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"})
    );
    assert_eq!(t.person("42").expect("stored").name, "Person 42");

    let (status, body) = json_of(post(&t, paths::USER_RECORD, user_body("42")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoAlreadyExist");
    assert_eq!(body["errorCode"], 1_610_637_344u64);
    assert_eq!(body["errorMsg"], "checkUser");
    assert_eq!(body["statusString"], "Invalid Content");
    assert_eq!(
        body["requestURL"],
        "/ISAPI/AccessControl/UserInfo/Record?format=json"
    );
    let status: ResponseStatus = serde_json::from_value(body).expect("wire ResponseStatus");
    assert!(!status.is_ok());
}

#[tokio::test]
async fn bad_person_bodies_are_refused_like_a_terminal() {
    let t = start_default().await;
    let long = "x".repeat(33);
    for (body, status_code, sub, msg) in [
        (user_body(&long), 6, "badParameters", "employeeNo"),
        (user_body(""), 6, "badParameters", "employeeNo"),
        (
            json!({"UserInfo": {"name": "x"}}),
            6,
            "MessageParametersLack",
            "employeeNo",
        ),
        (json!({}), 6, "MessageParametersLack", "UserInfo"),
    ] {
        let (status, reply) = json_of(post(&t, paths::USER_RECORD, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_failure(&reply, status_code, sub);
        assert_eq!(reply["errorMsg"], msg);
    }
    let response = client()
        .post(isapi_url(&t, paths::USER_RECORD))
        .header("Content-Type", "application/json")
        .body("{\"UserInfo\": {")
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    let (status, reply) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 5, "badJsonFormat");
    assert_eq!(reply["errorCode"], 0x5000_0002u64);
    assert!(t.persons().is_empty());
}

#[tokio::test]
async fn modify_needs_the_person_and_setup_adds_or_edits() {
    let t = start_default().await;
    let (status, body) = json_of(put(&t, paths::USER_MODIFY, user_body("7")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoNotExist");

    let (status, _) = json_of(put(&t, paths::USER_SETUP, user_body("7")).await).await;
    assert_eq!(status, StatusCode::OK);
    let mut edited = user_body("7");
    edited["UserInfo"]["name"] = json!("Renamed");
    let (status, _) = json_of(put(&t, paths::USER_MODIFY, edited.clone()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.person("7").expect("person").name, "Renamed");
    edited["UserInfo"]["name"] = json!("Again");
    let (status, _) = json_of(put(&t, paths::USER_SETUP, edited).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.person("7").expect("person").name, "Again");
    assert_eq!(t.persons().len(), 1);
}

#[tokio::test]
async fn user_search_pages_filters_and_counts_faces() {
    let t = start_default().await;
    for no in ["1", "2", "3"] {
        t.add_person(person(no));
    }
    t.set_face("2", real_jpeg(9));
    let search = |cond: Value| {
        let t = &t;
        async move {
            let (status, body) =
                json_of(post(t, paths::USER_SEARCH, json!({"UserInfoSearchCond": cond})).await)
                    .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_value::<UserInfoSearchReplyEnvelope>(body)
                .expect("UserInfoSearch")
                .search
        }
    };
    let page = search(json!({"searchID": "s1", "searchResultPosition": 0, "maxResults": 2})).await;
    assert_eq!(page.search_id, "s1");
    assert_eq!(page.response_status_strg, "MORE");
    assert_eq!((page.num_of_matches, page.total_matches), (2, 3));
    let page = search(json!({"searchID": "s1", "searchResultPosition": 2, "maxResults": 2})).await;
    assert_eq!(page.response_status_strg, "OK");
    assert_eq!(page.user_info[0].employee_no, "3");

    let page = search(
        json!({"searchID": "s2", "searchResultPosition": 0, "maxResults": 30,
        "EmployeeNoList": [{"employeeNo": "2"}]}),
    )
    .await;
    assert_eq!(page.response_status_strg, "OK");
    assert_eq!(page.user_info.len(), 1);
    assert_eq!(page.user_info[0].num_of_face, Some(1));

    let page = search(
        json!({"searchID": "s3", "searchResultPosition": 0, "maxResults": 30,
        "EmployeeNoList": [{"employeeNo": "nobody"}]}),
    )
    .await;
    assert_eq!(page.response_status_strg, "NO MATCH");
    assert_eq!(page.total_matches, 0);
}

#[tokio::test]
async fn user_search_returns_at_most_thirty() {
    let t = start_default().await;
    for no in 0..40 {
        t.add_person(person(&format!("{no:03}")));
    }
    let (_, body) = json_of(
        post(
            &t,
            paths::USER_SEARCH,
            json!({"UserInfoSearchCond": {"searchID": "a", "searchResultPosition": 0, "maxResults": 100}}),
        )
        .await,
    )
    .await;
    assert_eq!(body["UserInfoSearch"]["numOfMatches"], 30);
    assert_eq!(body["UserInfoSearch"]["totalMatches"], 40);
    assert_eq!(body["UserInfoSearch"]["responseStatusStrg"], "MORE");
}
