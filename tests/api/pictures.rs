//! Every photo arrives: the service fetches it once, turns it upright, flattens, shrinks and
//! re-encodes it, and pushes it where a terminal cannot (or should not) download it.

use std::time::{Duration, Instant};

use crate::support::*;
use hikvision_simulator::Faults;
use hikvision_sync::photo::synth;
use serde_json::Value;

/// Decodes a stored JPEG: (width, height, RGB pixels).
fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    let pixels = decoder.decode().expect("the terminal holds a JPEG");
    let info = decoder.info().expect("JPEG info");
    (usize::from(info.width), usize::from(info.height), pixels)
}

fn rgb_at(pixels: &[u8], width: usize, x: usize, y: usize) -> (u8, u8, u8) {
    let i = (y * width + x) * 3;
    (pixels[i], pixels[i + 1], pixels[i + 2])
}

/// An employee whose photo is `bytes` at `path` on one terminal; returns (fixture, terminal, no, body).
async fn one_terminal(
    bytes: Vec<u8>,
    path: &str,
    faults: Faults,
) -> (
    Fixture,
    hikvision_simulator::SimulatedTerminal,
    String,
    Value,
) {
    let f = Fixture::memory().await;
    let t = terminal(faults).await;
    let no = unique_employee_no();
    enrol(&t, &no, Some(jpeg(1)));
    let url = f.photos.put(path, bytes);
    let id = f.store.insert_angajat(Some(&no), Some(&url)).await;
    f.only_device("t", &t).await;
    let body = update(&f.app, id).await;
    (f, t, no, body)
}

#[tokio::test]
async fn a_rotated_12_mp_phone_photo_reaches_the_terminal_upright_small_and_without_exif() {
    let phone = synth::phone_jpeg(3000, 4000).unwrap();
    assert!(phone.len() > 1_000_000, "a real phone-sized source");
    let (_f, t, no, body) = one_terminal(phone, "faces/phone.jpg", Faults::default()).await;
    let d = &body["per_device"][0];
    assert_eq!(d["status"], "success", "{body}");
    assert_eq!(d["delivery"], "push", "a rotated photo is pushed, fixed");
    let face = t.face(&no).unwrap();
    assert!(face.bytes.len() <= 200 * 1024, "{} bytes", face.bytes.len());
    assert!(
        !face.bytes.windows(2).any(|w| w == [0xFF, 0xE1]),
        "no EXIF/XMP segment leaves the company"
    );
    let (w, h, pixels) = decode(&face.bytes);
    assert!(h > w, "upright: portrait {w}x{h}");
    assert!(w.max(h) <= 960, "{w}x{h}");
    let (r, g, b) = rgb_at(&pixels, w, w / 8, h / 8);
    assert!(
        r > 180 && g < 90 && b < 90,
        "the red marker is top-left as displayed: {r},{g},{b}"
    );
    let (r, g, b) = rgb_at(&pixels, w, w - w / 8, h - h / 8);
    assert!(
        !(r > 180 && g < 90 && b < 90),
        "and only there: {r},{g},{b}"
    );
}

#[tokio::test]
async fn png_with_transparency_and_webp_arrive_as_jpeg() {
    let (_f, t, no, body) = one_terminal(
        synth::png_rgba(640, 480).unwrap(),
        "faces/a.png",
        Faults::default(),
    )
    .await;
    assert_eq!(body["per_device"][0]["delivery"], "push", "{body}");
    let (w, h, pixels) = decode(&t.face(&no).unwrap().bytes);
    let (r, g, b) = rgb_at(&pixels, w, w / 8, h / 2);
    assert!(
        r > 235 && g > 235 && b > 235,
        "transparency flattened onto white: {r},{g},{b}"
    );

    let (_f, t, no, body) = one_terminal(
        synth::webp_lossless(640, 480).unwrap(),
        "faces/b.webp",
        Faults::default(),
    )
    .await;
    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    assert!(
        t.face(&no).unwrap().bytes.starts_with(&[0xFF, 0xD8]),
        "a JPEG"
    );
}

#[tokio::test]
async fn a_corrupt_file_is_invalid_photo_and_no_terminal_is_called() {
    let mut truncated = jpeg(3);
    truncated.truncate(truncated.len() / 3);
    for bytes in [b"<html>not found</html>".to_vec(), truncated] {
        let (_f, t, _no, body) = one_terminal(bytes, "faces/bad.jpg", Faults::default()).await;
        let d = &body["per_device"][0];
        assert_eq!(d["status"], "skipped", "{body}");
        assert_eq!(d["error_code"], "invalid_photo");
        assert!(d["message"].as_str().unwrap().len() > 30, "{body}");
        assert!(
            t.request_log().iter().all(|r| !r.path.contains("FDLib")),
            "no face call before the photo is known good"
        );
    }
}

#[tokio::test]
async fn a_closed_lan_terminal_gets_the_face_by_push_and_the_others_by_url() {
    let f = Fixture::memory().await;
    let open = terminal(Faults::default()).await;
    let closed = terminal(Faults {
        closed_lan: true,
        ..Faults::default()
    })
    .await;
    let (no, id) = f.employee(jpeg(2)).await;
    enrol(&open, &no, Some(jpeg(1)));
    enrol(&closed, &no, Some(jpeg(1)));
    f.store
        .set_devices(vec![
            device_row("a open", &open, PASSWORD),
            device_row("b closed", &closed, PASSWORD),
        ])
        .await;
    let body = update(&f.app, id).await;
    let d = by_name(&body);
    assert_eq!(d["a open"]["delivery"], "url", "{body}");
    assert_eq!(d["b closed"]["status"], "success", "{body}");
    assert_eq!(d["b closed"]["delivery"], "push", "{body}");
    assert_eq!(
        open.face(&no).unwrap().bytes,
        jpeg(2),
        "the original, downloaded"
    );
    assert!(closed.face(&no).unwrap().source.contains("multipart"));
}

#[tokio::test]
async fn a_private_bucket_photo_arrives_by_push() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let no = unique_employee_no();
    enrol(&t, &no, Some(jpeg(1)));
    // Only the authenticated path exists, as for a private bucket.
    f.photos.put(
        &format!("storage/v1/object/authenticated/photos/private/{no}.jpg"),
        jpeg(4),
    );
    let id = f
        .store
        .insert_angajat(Some(&no), Some(&format!("private/{no}.jpg")))
        .await;
    f.only_device("t", &t).await;
    let body = update(&f.app, id).await;
    assert_eq!(body["per_device"][0]["status"], "success", "{body}");
    assert_eq!(body["per_device"][0]["delivery"], "push");
    assert!(t.face(&no).unwrap().source.contains("multipart"));
}

#[tokio::test]
async fn a_twenty_terminal_fan_out_fetches_the_photo_once() {
    let f = Fixture::memory().await;
    let no = unique_employee_no();
    let mut terminals = Vec::new();
    let mut rows = Vec::new();
    for i in 0..20 {
        let t = terminal(Faults::default()).await;
        enrol(&t, &no, Some(jpeg(1)));
        rows.push(device_row(&format!("t{i:02}"), &t, PASSWORD));
        terminals.push(t);
    }
    let path = format!("faces/{no}.png");
    let url = f.photos.put(&path, synth::png_rgba(400, 500).unwrap());
    let id = f.store.insert_angajat(Some(&no), Some(&url)).await;
    f.store.set_devices(rows).await;
    let body = update(&f.app, id).await;
    assert_eq!(body["summary"]["success"], 20, "{body}");
    assert_eq!(f.photos.hits(&path), 1, "one download for twenty terminals");
    update(&f.app, id).await;
    assert_eq!(
        f.photos.hits(&path),
        1,
        "a retry within the cache's lifetime downloads nothing"
    );
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_while_health_keeps_answering() {
    let f = Fixture::memory().await;
    let t = terminal(Faults::default()).await;
    let no = unique_employee_no();
    let url = f
        .photos
        .put("faces/bomb.png", synth::png_bomb(100_000, 100_000));
    let id = f.store.insert_angajat(Some(&no), Some(&url)).await;
    f.only_device("t", &t).await;
    let app = &f.app;
    let health = async {
        let mut slowest = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            let (status, _) = app.get("/health").await;
            assert_eq!(status.as_u16(), 200);
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    };
    let (body, slowest) = tokio::join!(update(app, id), health);
    assert_eq!(
        body["per_device"][0]["error_code"], "invalid_photo",
        "{body}"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "/health took {slowest:?}"
    );
    assert!(t.face(&no).is_none());
}
