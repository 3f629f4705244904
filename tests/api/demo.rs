//! The embedded demo, started in-process exactly as `hikvision-sync demo` does, over real HTTP.

use std::path::Path;

use hikvision_sync::demo::{self, demo_picture};

use serde_json::{Value, json};

async fn post(addr: std::net::SocketAddr, id: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/hikvision/update-angajat-photo"))
        .json(&json!({"angajat_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn demo_updates_two_terminals_directly_and_the_old_one_by_fallback() {
    let demo = demo::start(Path::new(demo::DEMO_DATA), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("demo starts");
    let ion = "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01";
    assert!(demo.example_curl().contains(ion));

    let body = post(demo.addr, ion).await;

    assert_eq!(
        body["summary"],
        json!({"success": 3, "partial": 0, "skipped": 0, "fatal": 0})
    );
    let methods: Vec<(&str, bool)> = body["per_device"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["method"].as_str().unwrap(),
                d["fallback"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("FDModify", false),
            ("FDModify", false),
            ("FaceDataRecord", true)
        ]
    );
    let old = demo_picture("old/1001");
    for (name, terminal) in &demo.terminals {
        let face = terminal
            .face("1001")
            .unwrap_or_else(|| panic!("{name} holds no face"));
        assert_ne!(face.bytes, old, "{name} holds the new picture");
        // A Storage path: fetched by the service with the key and pushed, so even the terminal
        // on a closed LAN has it.
        assert_eq!(face.source, "multipart", "{name}");
        let mut decoder = jpeg_decoder::Decoder::new(&face.bytes[..]);
        decoder.decode().expect("a JPEG");
        let info = decoder.info().expect("info");
        assert_eq!((info.width, info.height), (240, 320), "{name}");
    }
}

#[tokio::test]
async fn demo_delivers_a_sideways_phone_photo_upright_even_to_the_closed_lan_terminal() {
    let demo = demo::start(Path::new(demo::DEMO_DATA), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("demo starts");
    let body = post(demo.addr, "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e02").await;
    assert_eq!(body["summary"]["success"], 3, "{body}");
    for (name, terminal) in &demo.terminals {
        let face = terminal
            .face("1002")
            .unwrap_or_else(|| panic!("{name} holds no face"));
        assert!(face.bytes.len() <= 200 * 1024, "{name}");
        let mut decoder = jpeg_decoder::Decoder::new(&face.bytes[..]);
        decoder.decode().expect("a JPEG");
        let info = decoder.info().expect("info");
        assert!(info.height > info.width, "{name}: upright portrait");
    }
}

#[tokio::test]
async fn demo_skips_employees_without_photo_or_employee_no() {
    let demo = demo::start(Path::new(demo::DEMO_DATA), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("demo starts");
    let no_photo = post(demo.addr, "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e03").await;
    assert_eq!(no_photo["summary"]["skipped"], 3);
    let no_number = post(demo.addr, "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e04").await;
    assert_eq!(no_number["summary"]["skipped"], 3);
    assert!(
        no_number["per_device"][0]["message"]
            .as_str()
            .unwrap()
            .contains("employee_no")
    );
}

#[tokio::test]
async fn demo_terminals_push_a_presented_face_to_the_demo() {
    let demo = demo::start(Path::new(demo::DEMO_DATA), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("demo starts");
    let (present, list) = demo.event_curls();
    assert!(present.contains("/_sim/events/face") && list.contains("/api/hikvision/events"));
    let (_, main) = &demo.terminals[0];
    let mut registered = false;
    for _ in 0..100 {
        if main.http_hosts().iter().any(|h| !h.is_free()) {
            registered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(registered, "the demo registers itself on its terminals");
    let (answer, serial) = main.present_face("1001", 1);
    assert!(answer.granted);
    for _ in 0..100 {
        let page: Value = reqwest::get(format!(
            "http://{}/api/hikvision/events?kind=face_granted",
            demo.addr
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if let Some(e) = page["events"].as_array().and_then(|a| a.first()) {
            assert_eq!(e["serial_no"], serial);
            assert_eq!(e["employee_no"], "1001");
            assert_eq!(e["live"], true);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the pushed event was not stored");
}
