//! Chaos: update-angajat-photo over real HTTP against many terminals at once, most of them broken in
//! a different way (hung, reset, 10 MB replies, dripping bytes, garbage, cut mid-body, never
//! reading, full listen queue) next to healthy simulated terminals. Every broken terminal must get
//! its own `partial` result with a precise `error_code` and a readable message, within the request
//! deadline; the healthy ones must be unaffected and really hold the new face; the service's memory
//! must not follow the size of what terminals send.
//!
//! The simulator provides the healthy terminals and the `hang` / `reset` faults; the byte-level
//! faults come from `support::chaos`, raw TCP listeners writing exact bytes.

use std::time::{Duration, Instant};

use crate::support::alone;
use crate::support::chaos::{Fault, FaultServer, peak_rss_kib, reset_peak_rss, rss_kib};
use crate::support::*;
use axum::http::StatusCode;
use hikvision_simulator::{Faults, SimulatedTerminal};
use serde_json::{Value, json};

const ENDPOINT: &str = "/api/hikvision/update-angajat-photo";
const DEVICE_TIMEOUT_MS: u64 = 800;
const REQUEST_DEADLINE_MS: u64 = 3_000;
/// Scheduling slack on top of the deadline (debug build, busy CI machine).
const MARGIN_MS: u64 = 700;
const TEN_MB: usize = 10 * 1024 * 1024;
/// The client's reply cap (`ClientOptions::max_reply_bytes`).
const REPLY_CAP: u64 = 64 * 1024;

struct Service {
    rest: Store,
    photos: PhotoServer,
    app: TestApp,
}

async fn service(device_timeout_ms: u64, request_deadline_ms: u64) -> Service {
    let rest = Store::memory();
    let photos = PhotoServer::start().await.unwrap();
    let mut s = settings(&rest, &photos);
    s.sync.device_timeout = Duration::from_millis(device_timeout_ms);
    s.sync.request_deadline = Duration::from_millis(request_deadline_ms);
    let app = TestApp::spawn(&rest, s).await;
    Service { rest, photos, app }
}

/// An employee with a fresh photo; returns (angajat_id, employee_no, the photo's bytes).
async fn employee(svc: &Service, seed: u8) -> (uuid::Uuid, String, Vec<u8>) {
    let no = unique_employee_no();
    let url = svc.photos.put(&format!("faces/{no}.jpg"), jpeg(seed));
    let id = svc.rest.insert_angajat(Some(&no), Some(&url)).await;
    (id, no, jpeg(seed))
}

/// POSTs the update and returns (body, wall time).
async fn update(app: &TestApp, angajat_id: uuid::Uuid) -> (Value, Duration) {
    let started = Instant::now();
    let (status, body) = app.post(ENDPOINT, json!({"angajat_id": angajat_id})).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    (body, took)
}

fn sim(f: impl FnOnce(&mut Faults)) -> Faults {
    let mut faults = Faults::default();
    f(&mut faults);
    faults
}

/// Asserts one broken terminal's entry: `partial`, the expected `error_code`, a message saying
/// what happened in words (and no Rust debug output).
fn assert_partial(d: &Value, name: &str, code: &str, words: &str) {
    assert_eq!(d["status"], "partial", "{name}: {d}");
    assert_eq!(d["error_code"], code, "{name}: {d}");
    assert_eq!(d["step"], "photo", "{name}: {d}");
    let message = d["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("FDModify failed") && message.contains(words),
        "{name}: message should say '{words}': {message}"
    );
    assert!(
        !message.contains("Error {") && !message.contains("kind:") && !message.contains("Some("),
        "{name}: debug output in the message: {message}"
    );
}

fn assert_healthy(d: &Value, name: &str, method: &str, terminal: &SimulatedTerminal, no: &str) {
    assert_eq!(d["status"], "success", "{name}: {d}");
    assert_eq!(d["method"], method, "{name}: {d}");
    // Unaffected: its own time is that of a normal exchange, not of its broken neighbours.
    let elapsed = d["elapsed_ms"].as_u64().unwrap();
    assert!(elapsed < DEVICE_TIMEOUT_MS, "{name} took {elapsed} ms");
    assert!(terminal.face(no).is_some(), "{name} holds no face");
}

#[tokio::test]
async fn every_broken_terminal_gets_its_own_result_within_the_deadline() {
    let svc = service(DEVICE_TIMEOUT_MS, REQUEST_DEADLINE_MS).await;
    let (id, no, photo) = employee(&svc, 21).await;

    let healthy = terminal(Faults::default()).await;
    let old_firmware = terminal(sim(|f| f.fdmodify_unsupported = true)).await;
    let hung = terminal(sim(|f| f.hang = true)).await;
    let reset = terminal(sim(|f| f.reset = true)).await;
    enrol(&healthy, &no, Some(jpeg(1)));
    enrol(&old_firmware, &no, None);
    for t in [&hung, &reset] {
        enrol(t, &no, Some(jpeg(1)));
    }
    let huge_declared = FaultServer::start(Fault::HugeDeclared { len: TEN_MB }).await;
    let huge_streamed = FaultServer::start(Fault::HugeUndeclared { len: TEN_MB }).await;
    let drip = FaultServer::start(Fault::Drip {
        every: Duration::from_millis(100),
    })
    .await;
    let garbage = FaultServer::start(Fault::Garbage).await;
    let garbage_body = FaultServer::start(Fault::GarbageBody).await;
    let cut_fin = FaultServer::start(Fault::CloseMidBody { rst: false }).await;
    let cut_rst = FaultServer::start(Fault::CloseMidBody { rst: true }).await;
    let silent = FaultServer::start(Fault::Silent).await;
    let backlog = FaultServer::start(Fault::BacklogFull).await;

    svc.rest
        .set_devices(vec![
            device_row("01 healthy", &healthy, PASSWORD),
            device_row("02 healthy, old firmware", &old_firmware, PASSWORD),
            device_row("03 hangs", &hung, PASSWORD),
            device_row("04 resets", &reset, PASSWORD),
            huge_declared.device_row("05 10 MB declared", PASSWORD),
            huge_streamed.device_row("06 10 MB streamed", PASSWORD),
            drip.device_row("07 drips", PASSWORD),
            garbage.device_row("08 garbage", PASSWORD),
            garbage_body.device_row("09 garbage body", PASSWORD),
            cut_fin.device_row("10 closes mid-body", PASSWORD),
            cut_rst.device_row("11 resets mid-body", PASSWORD),
            silent.device_row("12 never reads", PASSWORD),
            backlog.device_row("13 listen queue full", PASSWORD),
        ])
        .await;

    // The service keeps answering while the request is stuck on broken terminals.
    let health_url = svc.app.base.join("/health").unwrap();
    let http = svc.app.http.clone();
    let probe = tokio::spawn(async move {
        // A kept sleep: the probe asks a second into the request, while terminals are hanging.
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let started = Instant::now();
        let status = http.get(health_url).send().await.unwrap().status();
        (status, started.elapsed())
    });

    let (body, took) = update(&svc.app, id).await;

    assert!(
        took < Duration::from_millis(REQUEST_DEADLINE_MS + MARGIN_MS),
        "took {took:?}"
    );
    let (health, health_took) = probe.await.unwrap();
    assert_eq!(health.as_u16(), 200);
    assert!(health_took < Duration::from_millis(300), "{health_took:?}");

    let names = device_names(&body);
    assert_eq!(names.len(), 13, "one result per terminal: {names:?}");
    assert_eq!(
        body["summary"],
        json!({"success": 2, "partial": 11, "skipped": 0, "fatal": 0}),
        "{body}"
    );
    let d = by_name(&body);

    assert_healthy(&d["01 healthy"], "01", "FDModify", &healthy, &no);
    assert_healthy(
        &d["02 healthy, old firmware"],
        "02",
        "FaceDataRecord",
        &old_firmware,
        &no,
    );
    assert_eq!(healthy.face(&no).unwrap().bytes, photo);
    assert_eq!(old_firmware.face(&no).unwrap().bytes, photo);

    let timeout = format!("did not answer within {DEVICE_TIMEOUT_MS} ms");
    assert_partial(&d["03 hangs"], "03", "timeout", &timeout);
    assert_partial(
        &d["04 resets"],
        "04",
        "connection_lost",
        "connection reset by the terminal",
    );
    let too_large = format!("larger than {REPLY_CAP} bytes");
    assert_partial(&d["05 10 MB declared"], "05", "reply_too_large", &too_large);
    assert_partial(&d["06 10 MB streamed"], "06", "reply_too_large", &too_large);
    assert_partial(&d["07 drips"], "07", "timeout", &timeout);
    // Not HTTP at all (say the SDK port 8000): a reply problem, not a broken connection.
    assert_partial(
        &d["08 garbage"],
        "08",
        "unexpected_reply",
        "the reply is not HTTP",
    );
    assert_partial(
        &d["09 garbage body"],
        "09",
        "unexpected_reply",
        "unexpected reply (HTTP 200)",
    );
    assert_partial(
        &d["10 closes mid-body"],
        "10",
        "connection_lost",
        "broke during the request",
    );
    assert_partial(
        &d["11 resets mid-body"],
        "11",
        "connection_lost",
        "broke during the request",
    );
    assert_partial(&d["12 never reads"], "12", "timeout", &timeout);
    assert_partial(
        &d["13 listen queue full"],
        "13",
        "unreachable",
        "no answer to the connection attempt",
    );

    // Nothing was hammered: FDModify, at most one retry, at most one FaceDataRecord.
    for (name, server) in [
        ("05", &huge_declared),
        ("06", &huge_streamed),
        ("07", &drip),
        ("08", &garbage),
        ("09", &garbage_body),
        ("10", &cut_fin),
        ("11", &cut_rst),
    ] {
        let n = server.requests();
        assert!((1..=3).contains(&n), "{name}: {n} requests");
    }
    // Garbage is not retried (it will not change): FDModify once, FaceDataRecord once.
    assert_eq!(garbage.requests(), 2);
    assert!(hung.request_log().len() <= 2, "{:?}", hung.request_log());
    assert!(reset.request_log().len() <= 3, "{:?}", reset.request_log());
    // A timeout ends the flow: no FaceDataRecord after a hung FDModify.
    assert!(
        hung.request_log()
            .iter()
            .all(|r| r.path.ends_with("FDModify")),
        "{:?}",
        hung.request_log()
    );
    // The 10 MB replies were not read: the service stopped near the cap.
    for (name, server) in [("05", &huge_declared), ("06", &huge_streamed)] {
        let sent = server.body_bytes_sent();
        assert!(sent < TEN_MB as u64 / 4, "{name}: {sent} bytes went out");
    }
}

/// Many terminals sending 10 MB each, several requests in a row: the service reads at most the
/// 64 KiB cap of each reply, so its memory does not follow what terminals send. It measures this
/// process's memory, so it runs alone in a process of its own.
#[tokio::test]
async fn ten_megabyte_replies_are_cut_at_the_cap_and_memory_stays_flat() {
    if !alone::in_own_process(
        "chaos::ten_megabyte_replies_are_cut_at_the_cap_and_memory_stays_flat",
    ) {
        return;
    }
    let svc = service(DEVICE_TIMEOUT_MS, REQUEST_DEADLINE_MS).await;
    let (id, no, photo) = employee(&svc, 22).await;
    let healthy = terminal(Faults::default()).await;
    enrol(&healthy, &no, Some(jpeg(1)));
    let mut servers = Vec::new();
    let mut rows = vec![device_row("00 healthy", &healthy, PASSWORD)];
    for i in 0..8 {
        let fault = if i % 2 == 0 {
            Fault::HugeUndeclared { len: TEN_MB }
        } else {
            Fault::HugeDeclared { len: TEN_MB }
        };
        let server = FaultServer::start(fault).await;
        rows.push(server.device_row(&format!("{:02} 10 MB", i + 1), PASSWORD));
        servers.push(server);
    }
    svc.rest.set_devices(rows).await;

    // Warm-up: connection pools, allocator arenas, lazy statics.
    let (body, _) = update(&svc.app, id).await;
    assert_eq!(body["summary"]["partial"], 8, "{body}");
    let before = rss_kib();
    reset_peak_rss();
    let rounds = 4;
    for _ in 0..rounds {
        let (body, took) = update(&svc.app, id).await;
        assert!(
            took < Duration::from_millis(REQUEST_DEADLINE_MS),
            "took {took:?}"
        );
        assert_eq!(
            body["summary"],
            json!({"success": 1, "partial": 8, "skipped": 0, "fatal": 0}),
            "{body}"
        );
        for d in body["per_device"].as_array().unwrap().iter().skip(1) {
            assert_eq!(d["error_code"], "reply_too_large", "{d}");
        }
    }
    let (after, peak) = (rss_kib(), peak_rss_kib());
    let offered_mib = (rounds + 1) * servers.len() * 2 * 10; // FDModify + FaceDataRecord each
    let sent: u64 = servers.iter().map(FaultServer::body_bytes_sent).sum();
    eprintln!(
        "RSS {before} KiB -> {after} KiB (peak {peak} KiB); terminals offered {offered_mib} MiB, managed to push {} KiB",
        sent / 1024
    );
    // Eight 10 MB replies at once would be 80 MiB if any were buffered whole.
    assert!(
        peak.saturating_sub(before) < 16 * 1024,
        "RSS peaked at {peak} KiB from {before} KiB"
    );
    assert!(
        after.saturating_sub(before) < 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    for (i, s) in servers.iter().enumerate() {
        let per_request = s.body_bytes_sent() / s.requests().max(1);
        assert!(
            per_request < TEN_MB as u64 / 4,
            "server {i}: {per_request} bytes per request went out"
        );
    }
    assert_eq!(healthy.face(&no).unwrap().bytes, photo);
}

/// Terminals slower than the whole request: with a device timeout longer than the deadline, each
/// unfinished terminal is reported as `deadline_exceeded` when the deadline passes, and the healthy
/// one still succeeds.
#[tokio::test]
async fn terminals_slower_than_the_deadline_are_reported_when_it_passes() {
    let deadline_ms = 1_500;
    let svc = service(5_000, deadline_ms).await;
    let (id, no, photo) = employee(&svc, 23).await;
    let healthy = terminal(Faults::default()).await;
    let hung = terminal(sim(|f| f.hang = true)).await;
    enrol(&healthy, &no, Some(jpeg(1)));
    let drip = FaultServer::start(Fault::Drip {
        every: Duration::from_millis(100),
    })
    .await;
    let silent = FaultServer::start(Fault::Silent).await;
    let backlog = FaultServer::start(Fault::BacklogFull).await;
    svc.rest
        .set_devices(vec![
            device_row("1 healthy", &healthy, PASSWORD),
            device_row("2 hangs", &hung, PASSWORD),
            drip.device_row("3 drips", PASSWORD),
            silent.device_row("4 never reads", PASSWORD),
            backlog.device_row("5 listen queue full", PASSWORD),
        ])
        .await;

    let (body, took) = update(&svc.app, id).await;

    assert!(
        took >= Duration::from_millis(deadline_ms)
            && took < Duration::from_millis(deadline_ms + MARGIN_MS),
        "took {took:?}"
    );
    assert_eq!(
        body["summary"],
        json!({"success": 1, "partial": 4, "skipped": 0, "fatal": 0}),
        "{body}"
    );
    let d = by_name(&body);
    assert_eq!(d["1 healthy"]["status"], "success");
    assert_eq!(healthy.face(&no).unwrap().bytes, photo);
    for name in ["2 hangs", "3 drips", "4 never reads", "5 listen queue full"] {
        let e = &d[name];
        assert_eq!(e["status"], "partial", "{name}: {e}");
        assert_eq!(e["error_code"], "deadline_exceeded", "{name}: {e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains(&format!("request deadline of {deadline_ms} ms")),
            "{name}: {e}"
        );
    }
}
