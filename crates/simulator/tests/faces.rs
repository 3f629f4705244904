//! Faces on the simulated terminal, over real HTTP with Digest auth: by URL and by multipart,
//! FaceDataRecord, FDModify and FDSetUp, the picture checks, and FDSearch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hikvision_isapi::wire::{FaceSearchReply, paths};
use hikvision_simulator::TerminalConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{
    PictureServer, assert_failure, assert_ok, client, face_body, jpeg_of_len, json_of, multipart,
    person, post, put, real_jpeg, send_face, send_multipart, start, start_default,
};

#[tokio::test]
async fn face_for_an_unknown_person_is_employee_no_not_exist() {
    let t = start_default().await;
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), real_jpeg(1))])).await;
    let (status, body) = send_face(&t, paths::FACE_RECORD, "ghost", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoNotExist");
    assert!(t.face("ghost").is_none());
}

#[tokio::test]
async fn face_by_url_stores_exactly_the_downloaded_bytes() {
    let t = start_default().await;
    t.add_person(person("5"));
    let picture = jpeg_of_len(3, 20_000);
    let pictures = PictureServer::start(HashMap::from([("5.jpg".into(), picture.clone())])).await;
    let url = pictures.url("5.jpg");
    let (status, body) = send_face(&t, paths::FACE_RECORD, "5", &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ok(&body);
    assert_eq!(body["FPID"], "5");
    let face = t.face("5").expect("face stored");
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    assert_eq!(face.source, format!("url:{url}"));
    assert_eq!(face.updates, 1);
}

#[tokio::test]
async fn second_face_data_record_is_device_user_already_exist_face() {
    let t = start_default().await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([
        ("a.jpg".into(), real_jpeg(1)),
        ("b.jpg".into(), real_jpeg(2)),
    ]))
    .await;
    let (status, _) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("b.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "deviceUserAlreadyExistFace");
    assert_eq!(
        t.face("5").expect("face").bytes.as_ref(),
        real_jpeg(1).as_slice()
    );
}

#[tokio::test]
async fn fdmodify_replaces_an_existing_face() {
    let t = start_default().await;
    t.add_person(person("5"));
    t.set_face("5", real_jpeg(1));
    let new_picture = real_jpeg(2);
    let pictures =
        PictureServer::start(HashMap::from([("new.jpg".into(), new_picture.clone())])).await;
    let mut body = face_body("5", &pictures.url("new.jpg"));
    body["faceID"] = json!("1");
    let (status, reply) = json_of(put(&t, paths::FACE_MODIFY, body).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let face = t.face("5").expect("face");
    assert_eq!(face.bytes.as_ref(), new_picture.as_slice());
    assert_eq!(face.updates, 2);

    // Multipart works for FDModify too.
    let newer = real_jpeg(3);
    let body = multipart(
        &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "5", "faceID": "1"}),
        "img",
        &newer,
    );
    let (status, _) =
        json_of(send_multipart(&client(), &t, Method::PUT, paths::FACE_MODIFY, body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.face("5").expect("face").bytes.as_ref(), newer.as_slice());
}

#[tokio::test]
async fn fdmodify_without_a_face_is_face_not_exist() {
    let t = start_default().await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), real_jpeg(1))])).await;
    let (status, body) = send_face(&t, paths::FACE_MODIFY, "5", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "faceNotExist");
    assert_eq!(body["errorMsg"], "FPID");

    let (status, body) = send_face(&t, paths::FACE_MODIFY, "nobody", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoNotExist");
}

#[tokio::test]
async fn fdsetup_adds_then_replaces() {
    let t = start_default().await;
    t.add_person(person("8"));
    let pictures = PictureServer::start(HashMap::from([
        ("a.jpg".into(), real_jpeg(1)),
        ("b.jpg".into(), real_jpeg(2)),
    ]))
    .await;
    for name in ["a.jpg", "b.jpg"] {
        let (status, body) = send_face(&t, paths::FACE_SETUP, "8", &pictures.url(name)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let face = t.face("8").expect("face");
    assert_eq!(face.bytes.as_ref(), real_jpeg(2).as_slice());
    assert_eq!(face.updates, 2);
}

#[tokio::test]
async fn multipart_face_data_record_stores_the_bytes() {
    let t = start_default().await;
    t.add_person(person("9"));
    t.add_person(person("10"));
    let picture = jpeg_of_len(4, 60_000);
    let body = multipart(
        &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "9"}),
        "img",
        &picture,
    );
    let (status, reply) =
        json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["FPID"], "9");
    let face = t.face("9").expect("face");
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    assert_eq!(face.source, "multipart");

    // The other accepted part name.
    let other = real_jpeg(5);
    let body = multipart(
        &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "10"}),
        "FaceImage",
        &other,
    );
    let (status, _) =
        json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.face("10").expect("face").bytes.as_ref(), other.as_slice());
}

#[tokio::test]
async fn multipart_pictures_get_the_same_checks() {
    let t = start_default().await;
    t.add_person(person("9"));
    let record = json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "9"});
    for (image, status_code, sub) in [
        (b"GIF89a not a face".to_vec(), 4, "faceDetectFailed"),
        (jpeg_of_len(1, 200 * 1024 + 1), 3, "pictureSizeExceedLimit"),
        (Vec::new(), 6, "badParameters"),
    ] {
        let body = multipart(&record, "img", &image);
        let (status, reply) =
            json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await)
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_failure(&reply, status_code, sub);
    }
    assert!(t.face("9").is_none());
}

#[tokio::test]
async fn bad_face_urls_are_rejected_like_a_terminal() {
    let t = start(TerminalConfig {
        download_timeout: Duration::from_millis(300),
        ..TerminalConfig::default()
    })
    .await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([
        ("text.txt".into(), b"hello, not a picture".to_vec()),
        ("big.jpg".into(), jpeg_of_len(1, 200 * 1024 + 10)),
        ("exact.jpg".into(), jpeg_of_len(2, 200 * 1024)),
        ("empty.jpg".into(), Vec::new()),
    ]))
    .await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let long_url = format!("{}?pad={}", pictures.url("exact.jpg"), "p".repeat(256));
    let cases = [
        (pictures.url("missing.jpg"), 6, "urlDownloadFail"),
        (pictures.url("text.txt"), 4, "faceDetectFailed"),
        (pictures.url("big.jpg"), 3, "pictureSizeExceedLimit"),
        (pictures.url("empty.jpg"), 6, "badParameters"),
        (format!("{}/slow", pictures.base), 6, "urlDownloadFail"),
        (
            format!("http://127.0.0.1:{closed_port}/a.jpg"),
            6,
            "urlDownloadFail",
        ),
        (long_url, 6, "badParameters"),
    ];
    for (url, status_code, sub) in cases {
        let started = Instant::now();
        let (status, body) = send_face(&t, paths::FACE_RECORD, "5", &url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_failure(&body, status_code, sub);
        if sub == "pictureSizeExceedLimit" {
            assert_eq!(body["errorCode"], 0x3000_000Cu64);
        }
        if sub == "badParameters" || sub == "urlDownloadFail" {
            assert_eq!(body["errorMsg"], "faceURL", "{url}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{url} took too long"
        );
    }
    assert!(t.face("5").is_none());

    let (status, _) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("exact.jpg")).await;
    assert_eq!(status, StatusCode::OK, "exactly 200 KB is accepted");
}

#[tokio::test]
async fn same_picture_under_another_person_is_already_exist_this_face() {
    let t = start_default().await;
    t.add_person(person("1"));
    t.add_person(person("2"));
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), real_jpeg(1))])).await;
    let (status, _) = send_face(&t, paths::FACE_RECORD, "1", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_face(&t, paths::FACE_RECORD, "2", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 4, "alreadyExistThisFace");
    // Re-sending one's own picture is fine.
    let (status, _) = send_face(&t, paths::FACE_SETUP, "1", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_face_library_is_library_not_exist() {
    let t = start_default().await;
    t.add_person(person("1"));
    let mut body = face_body("1", "http://127.0.0.1:1/a.jpg");
    body["FDID"] = json!("2");
    let (status, reply) = json_of(post(&t, paths::FACE_RECORD, body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 4, "libraryNotExist");
    assert_eq!(reply["errorCode"], 0x4000_10C6u64);

    let mut body = face_body("1", "http://127.0.0.1:1/a.jpg");
    body["faceLibType"] = json!("staticFD");
    let (_, reply) = json_of(post(&t, paths::FACE_RECORD, body).await).await;
    assert_failure(&reply, 4, "libraryNotExist");

    let (_, reply) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "1"}),
        )
        .await,
    )
    .await;
    assert_failure(&reply, 6, "MessageParametersLack");
    assert_eq!(reply["errorMsg"], "faceURL");
}

#[tokio::test]
async fn fdsearch_returns_the_face_and_its_url_serves_the_bytes() {
    let t = start_default().await;
    t.add_person(person("5"));
    let picture = real_jpeg(6);
    t.set_face("5", picture.clone());
    let cond = json!({"searchResultPosition": 0, "maxResults": 30, "faceLibType": "blackFD", "FDID": "1", "FPID": "5"});
    let (status, body) = json_of(post(&t, paths::FACE_SEARCH, cond).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: FaceSearchReply = serde_json::from_value(body).expect("FDSearch reply");
    assert_eq!(reply.response_status_strg, "OK");
    assert_eq!((reply.num_of_matches, reply.total_matches), (1, 1));
    assert_eq!(reply.match_list[0].fpid, "5");
    let face_url = reply.match_list[0].face_url.clone().expect("faceURL");
    assert_eq!(face_url, format!("{}/_sim/faces/5", t.base_url()));
    let served = client().get(&face_url).send().await.expect("face download");
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(
        served.bytes().await.expect("bytes").as_ref(),
        picture.as_slice()
    );

    let cond = json!({"searchResultPosition": 0, "maxResults": 30, "faceLibType": "blackFD", "FDID": "1", "FPID": "6"});
    let (_, body) = json_of(post(&t, paths::FACE_SEARCH, cond).await).await;
    assert_eq!(body["responseStatusStrg"], "NO MATCHES");
    assert_eq!(body["totalMatches"], 0);
}
