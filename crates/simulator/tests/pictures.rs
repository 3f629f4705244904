//! The terminal judges pictures like a real one: it decodes every picture (JPEG, baseline or
//! progressive, and PNG; nothing else), checks its resolution, records its dimensions, and
//! reads a multipart body's parts in the order real terminals need.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;

use hikvision_isapi::wire::paths;
use hikvision_simulator::{SimulatedTerminal, StateSnapshot, TerminalConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{
    Part, PictureServer, assert_failure, assert_ok, client, jpeg_of, json_of, multipart,
    multipart_parts, noisy_jpeg, person, png, progressive_jpeg, real_jpeg, send_face,
    send_multipart, sim_get, start, start_default, start_with_faults, webp,
};

/// The JSON part of a multipart upload for `fpid`.
fn record(fpid: &str) -> Value {
    json!({"faceLibType": "blackFD", "FDID": "1", "FPID": fpid})
}

/// Pushes `image` for `fpid` with FaceDataRecord (part `img`): the status and reply.
async fn push(t: &SimulatedTerminal, fpid: &str, image: &[u8]) -> (StatusCode, Value) {
    let body = multipart(&record(fpid), "img", image);
    json_of(send_multipart(&client(), t, Method::POST, paths::FACE_RECORD, body).await).await
}

/// A terminal with person "5".
async fn terminal_with_person(config: TerminalConfig) -> SimulatedTerminal {
    let t = start(config).await;
    t.add_person(person("5"));
    t
}

/// `picture` is refused with `status_code` / `sub` / `error_code`, errorMsg `img`, and nothing
/// is stored.
async fn assert_refused(t: &SimulatedTerminal, picture: &[u8], status_code: i64, sub: &str) {
    let (status, reply) = push(t, "5", picture).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{sub}: {reply}");
    assert_failure(&reply, status_code, sub);
    assert_eq!(reply["errorMsg"], "img", "{reply}");
    assert!(t.face("5").is_none(), "{sub}: nothing stored");
}

#[tokio::test]
async fn a_pushed_jpeg_is_stored_with_its_dimensions() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    let picture = jpeg_of(1, 320, 240);
    let (status, reply) = push(&t, "5", &picture).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_ok(&reply);
    let face = t.face("5").expect("face stored");
    assert_eq!((face.width, face.height), (320, 240));
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    assert_eq!(face.source, "multipart");

    let state: StateSnapshot = sim_get(&t, "/_sim/state").await;
    assert_eq!((state.faces[0].width, state.faces[0].height), (320, 240));
}

#[tokio::test]
async fn progressive_jpegs_and_pngs_are_accepted() {
    let t = start_default().await;
    t.add_person(person("1"));
    t.add_person(person("2"));
    let progressive = progressive_jpeg(2, 200, 300);
    let (status, reply) = push(&t, "1", &progressive).await;
    assert_eq!(status, StatusCode::OK, "progressive JPEG: {reply}");
    let face = t.face("1").expect("face");
    assert_eq!((face.width, face.height), (200, 300));

    // A PNG, downloaded this time; served back as a PNG.
    let picture = png(3, 128, 160);
    let pictures = PictureServer::start(HashMap::from([("a.png".into(), picture.clone())])).await;
    let (status, reply) = send_face(&t, paths::FACE_RECORD, "2", &pictures.url("a.png")).await;
    assert_eq!(status, StatusCode::OK, "PNG: {reply}");
    let face = t.face("2").expect("face");
    assert_eq!((face.width, face.height), (128, 160));
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    let served = client()
        .get(format!("{}/_sim/faces/2", t.base_url()))
        .send()
        .await
        .expect("face download");
    assert_eq!(served.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn pictures_that_do_not_decode_are_face_detect_failed() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    let whole = jpeg_of(4, 320, 240);
    let mut no_end = whole.clone();
    no_end.truncate(whole.len() - 2);
    let progressive = progressive_jpeg(4, 320, 240);
    for (what, picture) in [
        ("WebP", webp(4, 320, 240)),
        ("truncated JPEG", whole[..whole.len() / 2].to_vec()),
        ("JPEG without its end marker", no_end),
        (
            "truncated progressive JPEG",
            progressive[..progressive.len() * 2 / 3].to_vec(),
        ),
        ("JPEG header only", whole[..200].to_vec()),
        ("GIF", b"GIF89a\x01\x00\x01\x00".to_vec()),
    ] {
        let (status, reply) = push(&t, "5", &picture).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {reply}");
        assert_failure(&reply, 4, "faceDetectFailed");
        assert_eq!(reply["errorCode"], 0x4000_10C5u64, "{what}");
    }
    assert!(t.face("5").is_none());

    // The same check on a downloaded picture names faceURL.
    let pictures =
        PictureServer::start(HashMap::from([("a.webp".into(), webp(5, 320, 240))])).await;
    let (status, reply) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("a.webp")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 4, "faceDetectFailed");
    assert_eq!(reply["errorMsg"], "faceURL");
}

#[tokio::test]
async fn pictures_outside_the_resolution_envelope_are_refused() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    assert_refused(&t, &jpeg_of(6, 40, 40), 4, "picturePixelsTooSmall").await;
    let (_, reply) = push(&t, "5", &jpeg_of(6, 40, 40)).await;
    assert_eq!(reply["errorCode"], 0x4000_1106u64);
    // One short side is enough.
    assert_refused(&t, &png(6, 400, 60), 4, "picturePixelsTooSmall").await;
    assert_refused(&t, &png(6, 4100, 100), 4, "picturePixelsTooLarge").await;
    let (_, reply) = push(&t, "5", &png(6, 4100, 100)).await;
    assert_eq!(reply["errorCode"], 0x4000_1105u64);

    // The edges of the default envelope are inside it.
    let (status, reply) = push(&t, "5", &jpeg_of(7, 80, 80)).await;
    assert_eq!(status, StatusCode::OK, "80 x 80: {reply}");
}

#[tokio::test]
async fn the_envelope_is_configurable() {
    let t = terminal_with_person(TerminalConfig {
        min_side: 480,
        max_side: 960,
        ..TerminalConfig::default()
    })
    .await;
    assert_refused(&t, &jpeg_of(8, 320, 240), 4, "picturePixelsTooSmall").await;
    assert_refused(&t, &jpeg_of(8, 1000, 600), 4, "picturePixelsTooLarge").await;
    let (status, reply) = push(&t, "5", &jpeg_of(8, 640, 480)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[tokio::test]
async fn a_picture_claiming_a_huge_resolution_is_refused_before_decoding() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    // A small JPEG whose frame header claims 60000 x 60000 pixels (10.8 GB decoded).
    let mut bomb = real_jpeg(9);
    let sof = bomb
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline frame header");
    bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    assert_refused(&t, &bomb, 4, "picturePixelsTooLarge").await;
}

#[tokio::test]
async fn a_real_picture_over_200_kb_is_picture_size_exceed_limit() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    // Noise compresses badly; still under the 1 MiB body limit.
    let noisy = noisy_jpeg(10, 400, 95);
    assert!(
        (200 * 1024..1024 * 1024).contains(&noisy.len()),
        "{} bytes",
        noisy.len()
    );
    assert_refused(&t, &noisy, 3, "pictureSizeExceedLimit").await;

    let pictures = PictureServer::start(HashMap::from([("big.jpg".into(), noisy)])).await;
    let (status, reply) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("big.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 3, "pictureSizeExceedLimit");
}

#[tokio::test]
async fn the_picture_part_must_come_after_the_json_part() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    let picture = real_jpeg(11);
    let five = record("5");
    for image_part in ["img", "FaceImage"] {
        let body = multipart_parts(&[
            Part::Picture(image_part, &picture),
            Part::Json("FaceDataRecord", &five),
        ]);
        let (status, reply) =
            json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await)
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_failure(&reply, 6, "badParameters");
        assert_eq!(reply["errorMsg"], image_part);
    }
    assert!(t.face("5").is_none());

    // Without the JSON part at all, it is the JSON part that is missing.
    let body = multipart_parts(&[Part::Picture("img", &picture)]);
    let (_, reply) =
        json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await).await;
    assert_failure(&reply, 6, "MessageParametersLack");
    assert_eq!(reply["errorMsg"], "FaceDataRecord");
}

#[tokio::test]
async fn fdmodify_also_takes_a_face_data_modify_part() {
    let t = terminal_with_person(TerminalConfig::default()).await;
    t.set_face("5", real_jpeg(12));
    let picture = jpeg_of(13, 320, 240);
    let five = record("5");
    let modify = multipart_parts(&[
        Part::Json("FaceDataModify", &five),
        Part::Picture("img", &picture),
    ]);
    let (status, reply) =
        json_of(send_multipart(&client(), &t, Method::PUT, paths::FACE_MODIFY, modify).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let face = t.face("5").expect("face");
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    assert_eq!((face.width, face.height), (320, 240));

    // FaceDataRecord has no such alias.
    t.add_person(person("6"));
    let six = record("6");
    let body = multipart_parts(&[
        Part::Json("FaceDataModify", &six),
        Part::Picture("img", &real_jpeg(14)),
    ]);
    let (_, reply) =
        json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await).await;
    assert_failure(&reply, 6, "MessageParametersLack");
}

#[tokio::test]
async fn on_a_closed_lan_urls_fail_and_pushed_pictures_are_judged() {
    let t = start_with_faults(|f| f.closed_lan = true).await;
    t.add_person(person("5"));
    let picture = jpeg_of(15, 320, 240);
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), picture.clone())])).await;
    let (status, reply) = send_face(&t, paths::FACE_RECORD, "5", &pictures.url("a.jpg")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 6, "urlDownloadFail");
    assert_eq!(reply["errorMsg"], "faceURL");
    assert!(t.face("5").is_none());

    assert_refused(&t, &webp(15, 320, 240), 4, "faceDetectFailed").await;
    let (status, reply) = push(&t, "5", &picture).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let face = t.face("5").expect("face");
    assert_eq!((face.width, face.height), (320, 240));
}

#[tokio::test]
async fn seeded_faces_record_dimensions_when_they_can() {
    let t = start_default().await;
    t.set_face("1", jpeg_of(16, 120, 90));
    t.set_face("2", png(16, 50, 20));
    t.set_face("3", b"not a picture at all".to_vec());
    let dims = |fpid: &str| {
        let face = t.face(fpid).expect("seeded");
        (face.width, face.height)
    };
    assert_eq!(dims("1"), (120, 90));
    // Seeding checks nothing: outside the envelope, or not a picture, it is stored.
    assert_eq!(dims("2"), (50, 20));
    assert_eq!(dims("3"), (0, 0));
}
