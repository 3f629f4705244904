//! Face writes on a troubled terminal (a closed LAN, a firmware that loses faces, a full
//! library) and the per-person count of calls in flight: the `hikvision-isapi` client against
//! the simulator over real HTTP with Digest auth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use bytes::Bytes;
use client_support::{PictureHost, Rig, picture};
use hikvision_isapi::wire::EmployeeNoList;
use hikvision_isapi::{ErrorClass, FacePicture, IsapiError, SubStatus, build_person};
use hikvision_simulator::{Faults, TerminalConfig};
use serde_json::json;

fn sub_status(result: Result<hikvision_isapi::wire::ResponseStatus, IsapiError>) -> SubStatus {
    match result {
        Err(IsapiError::Rejected(r)) => r.sub_status_code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn pushed(seed: usize) -> FacePicture {
    FacePicture::Jpeg(Bytes::from(picture(seed)).into())
}

/// Sets the fault knobs through the control endpoint, as a test in another process would.
async fn put_faults(rig: &Rig, faults: serde_json::Value) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .put(format!("{}/_sim/faults", rig.sim.base_url()))
        .json(&faults)
        .send()
        .await
        .expect("control request");
    assert!(response.status().is_success());
}

#[tokio::test]
async fn on_a_closed_lan_url_writes_fail_and_pushed_pictures_work() {
    let rig = Rig::with_faults(Faults {
        closed_lan: true,
        ..Faults::default()
    })
    .await;
    rig.seed(["1", "2"], false);
    let host = PictureHost::start(1).await;
    let by_url = rig
        .client
        .setup_face_image_on_device(
            &rig.terminal,
            &"1".parse().unwrap(),
            &FacePicture::Url(host.url(1)),
        )
        .await;
    let refusal = by_url.as_ref().err().map(IsapiError::class);
    assert_eq!(sub_status(by_url), SubStatus::UrlDownloadFail);
    assert_eq!(refusal, Some(ErrorClass::PictureRejected));
    assert!(rig.sim.face("1").is_none());

    rig.client
        .setup_face_image_on_device(&rig.terminal, &"1".parse().unwrap(), &pushed(1))
        .await
        .expect("multipart works on a closed LAN");
    assert!(
        rig.client
            .find_face(&rig.terminal, &"1".parse().unwrap())
            .await
            .expect("read")
    );

    put_faults(&rig, json!({"closed_lan": false})).await;
    rig.client
        .setup_face_image_on_device(
            &rig.terminal,
            &"2".parse().unwrap(),
            &FacePicture::Url(host.url(2)),
        )
        .await
        .expect("the URL works once the LAN is open");
    assert_eq!(
        rig.sim.face("2").map(|f| f.bytes.to_vec()),
        Some(picture(2))
    );
}

#[tokio::test]
async fn a_terminal_that_acks_without_storing_is_found_out_by_the_read_back() {
    let rig = Rig::default().await;
    rig.seed(["1"], false);
    put_faults(&rig, json!({"ack_without_storing": true})).await;
    let host = PictureHost::start(1).await;
    let status = rig
        .client
        .setup_face_image_on_device(
            &rig.terminal,
            &"1".parse().unwrap(),
            &FacePicture::Url(host.url(1)),
        )
        .await
        .expect("the terminal says OK");
    assert!(status.is_ok());
    rig.client
        .add_face_image_to_device(&rig.terminal, &"1".parse().unwrap(), &pushed(1))
        .await
        .expect("the terminal says OK again");
    assert!(
        !rig.client
            .find_face(&rig.terminal, &"1".parse().unwrap())
            .await
            .expect("read")
    );
    assert!(rig.sim.face("1").is_none());
}

#[tokio::test]
async fn a_full_face_library_refuses_a_new_face_but_replaces_one() {
    let rig = Rig::start(TerminalConfig {
        face_capacity: 2,
        ..TerminalConfig::default()
    })
    .await;
    rig.seed(["1", "2", "3"], false);
    let caps = rig
        .client
        .face_capabilities(&rig.terminal)
        .await
        .expect("capabilities");
    assert_eq!(caps.fd_record_data_max_num, Some(2));
    for (seed, no) in ["1", "2"].into_iter().enumerate() {
        rig.client
            .add_face_image_to_device(&rig.terminal, &no.parse().unwrap(), &pushed(seed))
            .await
            .expect("room left");
    }
    let full = rig
        .client
        .add_face_image_to_device(&rig.terminal, &"3".parse().unwrap(), &pushed(99))
        .await;
    assert_eq!(sub_status(full), SubStatus::ExceedMaxFaceNumber);
    rig.client
        .setup_face_image_on_device(&rig.terminal, &"1".parse().unwrap(), &pushed(100))
        .await
        .expect("a replacement needs no room");
    assert!(rig.sim.face("3").is_none());
}

#[tokio::test]
async fn sequential_calls_for_one_person_keep_one_in_flight() {
    let rig = Rig::default().await;
    assert_eq!(rig.sim.max_concurrent_calls_per_person(), 0);
    let host = PictureHost::start(1).await;
    let person = build_person(&"7".parse().unwrap(), "Seven");
    let seven = EmployeeNoList::new("7".parse().unwrap(), []);
    rig.client
        .setup_person(&rig.terminal, &person)
        .await
        .expect("person");
    rig.client
        .setup_face_image_on_device(
            &rig.terminal,
            &"7".parse().unwrap(),
            &FacePicture::Url(host.url(7)),
        )
        .await
        .expect("face");
    rig.client
        .delete_faces(&rig.terminal, &seven)
        .await
        .expect("face deleted");
    rig.client
        .delete_persons(&rig.terminal, &seven)
        .await
        .expect("person deleted");
    assert_eq!(rig.sim.max_concurrent_calls_per_person(), 1);
    assert_eq!(rig.sim.state().max_concurrent_calls_per_person, 1);
}

/// Sends the face writes `a` and `b` at once; both must succeed.
async fn write_together(rig: &Rig, a: (&str, FacePicture), b: (&str, FacePicture)) {
    let (a_no, b_no) = (a.0.parse().unwrap(), b.0.parse().unwrap());
    let (first, second) = tokio::join!(
        rig.client
            .setup_face_image_on_device(&rig.terminal, &a_no, &a.1),
        rig.client
            .setup_face_image_on_device(&rig.terminal, &b_no, &b.1),
    );
    first.expect("first write");
    second.expect("second write");
}

#[tokio::test]
async fn two_concurrent_writes_for_one_person_are_seen_together() {
    // Each download is held until both have started, so both writes are in flight at once.
    let host = PictureHost::start(2).await;
    let by_url = |seed| FacePicture::Url(host.url(seed));

    let rig = Rig::default().await;
    rig.seed(["7", "8"], false);
    write_together(&rig, ("7", by_url(1)), ("7", by_url(2))).await;
    assert_eq!(rig.sim.max_concurrent_calls_per_person(), 2);

    // Concurrent writes for different persons do not count together.
    let rig = Rig::default().await;
    rig.seed(["7", "8"], false);
    write_together(&rig, ("7", by_url(3)), ("8", by_url(4))).await;
    assert_eq!(rig.sim.max_concurrent_calls_per_person(), 1);
}
