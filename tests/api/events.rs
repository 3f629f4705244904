//! Access events end to end, on real PostgreSQL with simulated terminals over HTTP: a backlog
//! made while the service was down is stored once on start; with push on, events made while a
//! terminal was away are stored once when it returns, push and catch-up racing leave no gap and
//! no duplicate; a listener failing for a while loses nothing; a reset terminal starts a new
//! epoch; another system's listener slot is left alone; a forged push is refused and stores
//! nothing; `kill -9` mid catch-up loses and doubles nothing; a round reads at most 64 terminals at
//! once. Without the stack they skip.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::database::fresh_database;
use crate::support::*;
use axum::Router;
use hikvision_isapi::wire::HttpHostNotification;
use hikvision_simulator::{Faults, SimulatedTerminal};
use hikvision_sync::startup::{self, Application};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

struct Service {
    base: Url,
    http: reqwest::Client,
    _photos: PhotoServer,
}

impl Service {
    /// The service on `database` with `store`'s terminals; push on when `push`.
    async fn start(store: &Store, database: &str, push: bool) -> Self {
        Self::start_behind(store, database, push, None).await
    }

    /// As [`Self::start`]; with `public`, the terminals push there instead of to the service.
    async fn start_behind(store: &Store, database: &str, push: bool, public: Option<Url>) -> Self {
        Self::start_tuned(store, database, push, public, |_| {}).await
    }

    /// As [`Self::start_behind`], with `tune` applied to the settings last.
    async fn start_tuned(
        store: &Store,
        database: &str,
        push: bool,
        public: Option<Url>,
        tune: impl FnOnce(&mut hikvision_sync::config::Settings),
    ) -> Self {
        let photos = PhotoServer::start().await.unwrap();
        let mut s = settings(store, &photos);
        s.delivery.database_url = Some(SecretString::from(database.to_owned()));
        s.events.enabled = true;
        s.events.poll_interval = Duration::from_millis(300);
        s.events.registration_check = Duration::from_millis(300);
        let listener = startup::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = Url::parse(&format!("http://{addr}/")).unwrap();
        if push {
            s.events.public_url = Some(public.unwrap_or_else(|| base.clone()));
        }
        tune(&mut s);
        let Store::Memory(directory) = store else {
            panic!("a memory directory")
        };
        let directory: std::sync::Arc<dyn hikvision_sync::supabase::Directory> = directory.clone();
        let app = Application::assemble(listener, s, Some(directory), Router::new())
            .await
            .unwrap();
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            http: reqwest::Client::new(),
            _photos: photos,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(self.base.join(path).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Every stored event of `device_id` as (epoch, serial, live), paged through the API.
    async fn events(&self, device_id: &str) -> Vec<(i64, i64, bool)> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .get(&format!(
                    "api/hikvision/events?device_id={device_id}&limit=200{cursor}"
                ))
                .await;
            for e in page["events"].as_array().unwrap() {
                all.push((
                    e["epoch"].as_i64().unwrap(),
                    e["serial_no"].as_i64().unwrap(),
                    e["live"].as_bool().unwrap(),
                ));
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return all,
            }
        }
    }

    /// The devices/status line of the only terminal.
    async fn status(&self) -> Value {
        self.get("api/hikvision/devices/status").await["devices"][0].clone()
    }

    async fn device_id(&self) -> String {
        self.status().await["device_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until `device_id` has `count` events stored; returns them.
    async fn wait_for(&self, device_id: &str, count: usize) -> Vec<(i64, i64, bool)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let events = self.events(device_id).await;
            if events.len() >= count || std::time::Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A terminal holding person "7" with a face, the only active one.
async fn one_terminal(store: &Store) -> SimulatedTerminal {
    let t = terminal(Faults::default()).await;
    enrol(&t, "7", Some(jpeg(1)));
    store
        .set_devices(vec![device_row("Main", &t, PASSWORD)])
        .await;
    t
}

/// Serials 1..=n of `epoch`, each exactly once.
fn exactly_once(events: &[(i64, i64, bool)], epoch: i64, n: i64) {
    let serials: Vec<i64> = events
        .iter()
        .filter(|e| e.0 == epoch)
        .map(|e| e.1)
        .collect();
    let unique: BTreeSet<i64> = serials.iter().copied().collect();
    assert_eq!(serials.len(), unique.len(), "a duplicate in epoch {epoch}");
    assert_eq!(unique, (1..=n).collect(), "a gap in epoch {epoch}");
}

/// A catch-up round reads at most `ROUND_CONCURRENCY` (64) terminals at once whatever
/// `DEVICE_CONCURRENCY` (here the default, 1,024): of 70 terminals that take 3 s for every
/// answered call, 1.5 s after the first is asked only the first batch has been (the Digest
/// challenge is answered at once and logged, the work is not); in the end every one is read.
#[tokio::test]
async fn a_catch_up_round_reads_at_most_64_terminals_at_once_and_then_the_rest() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let slow = Faults {
        latency_ms: 3_000,
        ..Faults::default()
    };
    let mut sims = Vec::new();
    let mut rows = Vec::new();
    for i in 0..70 {
        let t = terminal(slow.clone()).await;
        rows.push(device_row(&format!("Door {i}"), &t, PASSWORD));
        sims.push(t);
    }
    store.set_devices(rows).await;
    let _service = Service::start_tuned(&store, &database, false, None, |s| {
        s.sync.device_concurrency = 1024;
        s.sync.device_timeout = Duration::from_secs(10);
        s.events.poll_interval = Duration::from_secs(600);
    })
    .await;
    let asked = || sims.iter().filter(|t| !t.request_log().is_empty()).count();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while asked() == 0 {
        assert!(std::time::Instant::now() < deadline, "the round starts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let first = asked();
    let width = hikvision_sync::events::service::ROUND_CONCURRENCY;
    assert!(
        (width / 2..=width).contains(&first),
        "{first} terminals asked at once, at most {width}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while asked() < sims.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "every terminal is read in the end ({} of {})",
            asked(),
            sims.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn five_hundred_events_made_while_the_service_was_down_are_stored_once_on_start() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let t = one_terminal(&store).await;
    for i in 0..500 {
        t.present_face(if i % 5 == 0 { "stranger" } else { "7" }, 1);
    }
    let service = Service::start(&store, &database, false).await;
    let device_id = service.device_id().await;
    let events = service.wait_for(&device_id, 500).await;
    exactly_once(&events, 0, 500);
    assert!(events.iter().all(|e| !e.2), "a backlog is never live");
    let status = service.status().await;
    assert_eq!(status["push"], "off", "{status}");
    assert_eq!(status["event_backlog"], 0, "{status}");
    assert!(status["last_event_at"].is_string(), "{status}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let offset = loop {
        if let Some(ms) = service.status().await["clock_offset_ms"].as_i64() {
            break ms;
        }
        assert!(std::time::Instant::now() < deadline, "the clock is read");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        offset.abs() < 5_000,
        "the simulator's clock is the host's: {offset}"
    );
    let strangers = service
        .get(&format!(
            "api/hikvision/events?device_id={device_id}&kind=unknown_face&limit=1000"
        ))
        .await;
    assert_eq!(strangers["events"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn with_push_on_events_made_while_a_terminal_was_away_are_stored_once_when_it_returns() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let t = one_terminal(&store).await;
    let service = Service::start(&store, &database, true).await;
    let device_id = service.device_id().await;
    assert!(
        wait_until(Duration::from_secs(10), async || t
            .http_hosts()
            .iter()
            .any(|h| !h.is_free()))
        .await,
        "the service registers itself"
    );
    for _ in 0..10 {
        t.present_face("7", 1);
    }
    let live = service.wait_for(&device_id, 10).await;
    exactly_once(&live, 0, 10);
    assert_eq!(service.status().await["push"], "registered");

    // Away: the terminal neither answers nor reaches the service.
    t.set_faults(Faults {
        reset: true,
        push_paused: true,
        ..Faults::default()
    });
    for _ in 0..500 {
        t.present_face("7", 1);
    }
    // A kept sleep: the terminal stays away a while, as a real one would.
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Back: its pushes and the catch-up race over the same 500 events.
    t.set_faults(Faults::default());
    let events = service.wait_for(&device_id, 510).await;
    exactly_once(&events, 0, 510);
    // A kept sleep: late pushes or polls get time to double something (none may).
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        service.events(&device_id).await.len(),
        510,
        "nothing doubled later"
    );
}

#[tokio::test]
async fn a_reset_terminal_starts_a_new_epoch_and_the_old_rows_stay() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let t = one_terminal(&store).await;
    for _ in 0..5 {
        t.present_face("7", 1);
    }
    let service = Service::start(&store, &database, false).await;
    let device_id = service.device_id().await;
    exactly_once(&service.wait_for(&device_id, 5).await, 0, 5);
    t.reset_event_log();
    // A kept sleep: the terminal's clock (whole seconds) moves on past the old epoch's events.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        t.door_event(1, 23);
    }
    let events = service.wait_for(&device_id, 8).await;
    exactly_once(&events, 0, 5);
    exactly_once(&events, 1, 3);
}

#[tokio::test]
async fn another_systems_listener_slot_is_left_alone() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let t = one_terminal(&store).await;
    let theirs = HttpHostNotification {
        id: "1".into(),
        url: "/vendor/events".into(),
        protocol_type: "HTTP".into(),
        parameter_format_type: "json".into(),
        addressing_format_type: "ipaddress".into(),
        ip_address: Some("10.9.9.9".into()),
        port_no: 7660,
        http_authentication_method: "none".into(),
        ..HttpHostNotification::default()
    };
    t.set_http_host(theirs.clone());
    let service = Service::start(&store, &database, true).await;
    assert!(
        wait_until(Duration::from_secs(10), async || !t.http_hosts()[1]
            .is_free())
        .await,
        "the free slot is taken"
    );
    assert_eq!(
        t.http_hosts()[0],
        theirs,
        "the other system's slot is untouched"
    );
    assert!(
        t.http_hosts()[1]
            .url
            .contains("/api/hikvision/events/push/")
    );

    // Both slots someone else's: refused, nothing overwritten.
    let mut second = theirs.clone();
    second.id = "2".into();
    t.set_http_host(second.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while service.status().await["push"] != "refused" {
        assert!(std::time::Instant::now() < deadline, "refused in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(t.http_hosts(), vec![theirs, second]);
}

#[tokio::test]
async fn a_forged_push_is_refused_and_stores_nothing() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let _t = one_terminal(&store).await;
    let service = Service::start(&store, &database, false).await;
    let device_id = service.device_id().await;
    let body = r#"{"ipAddress":"10.0.0.9","dateTime":"2026-12-06T10:00:00+02:00","eventType":"AccessControllerEvent","AccessControllerEvent":{"majorEventType":5,"subEventType":75,"serialNo":99,"currentEvent":true,"employeeNoString":"7"}}"#;
    for query in ["", "?token=", "?token=00ff"] {
        let r = service
            .http
            .post(
                service
                    .base
                    .join(&format!("api/hikvision/events/push/{device_id}{query}"))
                    .unwrap(),
            )
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{query}");
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["code"], "unauthorized");
    }
    assert!(service.events(&device_id).await.is_empty());
}

/// (rows, distinct (epoch, serial), lowest serial, highest serial, highest epoch) stored.
async fn stored_counts(database: &str) -> (i64, i64, i64, i64, i32) {
    let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "select count(*), count(distinct (epoch, serial_no)), coalesce(min(serial_no), 0),
                    coalesce(max(serial_no), 0), coalesce(max(epoch), 0)
             from hikvision_sync.access_event",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4))
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_catch_up_loses_and_doubles_nothing() {
    let Some((store, rest, database)) = crate::support::database::rest_and_database().await else {
        return;
    };
    let t = terminal(Faults::default()).await;
    enrol(&t, "7", Some(jpeg(1)));
    for _ in 0..3000 {
        t.present_face("7", 1);
    }
    store
        .set_devices(vec![device_row("Main", &t, PASSWORD)])
        .await;
    let photos = PhotoServer::start().await.unwrap();
    let mut env = crate::support::service::serve_env(&rest, &photos, &database);
    env.insert("EVENTS_ENABLED".into(), "true".into());
    // 100 pages, 40 ms apart: the first process is killed part-way through.
    env.insert("RATE_LIMIT_DELAY_MS".into(), "40".into());
    env.insert("EVENTS_POLL_INTERVAL_MS".into(), "500".into());
    let first = crate::support::service::ServiceProcess::start(&env).await;
    // Killed part-way: once some pages are stored.
    assert!(
        wait_until(Duration::from_secs(20), async || stored_counts(&database)
            .await
            .0
            >= 300)
        .await,
        "the catch-up started"
    );
    first.kill().await;
    let (mid, ..) = stored_counts(&database).await;
    assert!(mid < 3000, "killed mid-way ({mid} stored)");

    let _second = crate::support::service::ServiceProcess::start(&env).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counts = stored_counts(&database).await;
        if counts.0 >= 3000 || std::time::Instant::now() > deadline {
            assert_eq!(counts, (3000, 3000, 1, 3000, 0), "each event once, no gap");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A front for the service that answers 500 while `failing`, and forwards otherwise.
#[derive(Clone)]
struct FailingFront {
    target: std::sync::Arc<std::sync::Mutex<Option<Url>>>,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn front(
    axum::extract::State(f): axum::extract::State<FailingFront>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let target = f.target.lock().unwrap().clone();
    let Some(target) = target.filter(|_| !f.failing.load(Ordering::SeqCst)) else {
        f.refused.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let path = request.uri().path_and_query().unwrap().as_str().to_owned();
    let content_type = request.headers().get("content-type").cloned();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut forward = reqwest::Client::new().post(target.join(&path[1..]).unwrap());
    if let Some(ct) = content_type {
        forward = forward.header("content-type", ct.to_str().unwrap());
    }
    let answer = forward.body(body).send().await.unwrap();
    axum::http::StatusCode::from_u16(answer.status().as_u16())
        .unwrap()
        .into_response()
}

#[tokio::test]
async fn a_listener_failing_for_a_while_loses_nothing_between_retries_and_catch_up() {
    use std::sync::atomic::Ordering;
    let Some(database) = fresh_database().await else {
        return;
    };
    let failing = FailingFront {
        target: Default::default(),
        failing: std::sync::Arc::new(true.into()),
        refused: Default::default(),
    };
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = Url::parse(&format!("http://{}/", socket.local_addr().unwrap())).unwrap();
    let app = Router::new().fallback(front).with_state(failing.clone());
    tokio::spawn(async move { axum::serve(socket, app).await });

    let store = Store::memory();
    let t = one_terminal(&store).await;
    let service = Service::start_behind(&store, &database, true, Some(public)).await;
    *failing.target.lock().unwrap() = Some(service.base.clone());
    let device_id = service.device_id().await;
    assert!(
        wait_until(Duration::from_secs(10), async || t
            .http_hosts()
            .iter()
            .any(|h| !h.is_free()))
        .await
    );
    for _ in 0..50 {
        t.present_face("7", 1);
    }
    // The catch-up stores them while every push fails and the terminal keeps retrying.
    exactly_once(&service.wait_for(&device_id, 50).await, 0, 50);
    assert!(
        wait_until(Duration::from_secs(5), async || failing
            .refused
            .load(Ordering::SeqCst)
            >= 2)
        .await,
        "the terminal retried"
    );
    failing.failing.store(false, Ordering::SeqCst);
    for _ in 0..5 {
        t.present_face("7", 1);
    }
    let events = service.wait_for(&device_id, 55).await;
    // The terminal's retries now deliver the 50 again: duplicates, stored nowhere (a kept sleep:
    // a duplicate that is not stored shows no event).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    exactly_once(&service.events(&device_id).await, 0, 55);
    assert_eq!(events.len(), 55);
}

#[tokio::test]
async fn an_admin_sets_a_drifting_terminal_clock_and_it_is_audited() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let t = one_terminal(&store).await;
    t.set_clock_skew(chrono::Duration::minutes(61));
    let service = Service::start(&store, &database, false).await;
    let device_id = service.device_id().await;
    let post = |path: String| {
        let url = service.base.join(&path).unwrap();
        let http = service.http.clone();
        async move { http.post(url).send().await.unwrap() }
    };
    let answer = post(format!("api/hikvision/devices/{device_id}/time")).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let set: Value = answer.json().await.unwrap();
    let before = set["offset_before_ms"].as_i64().unwrap();
    assert!((before - 61 * 60_000).abs() < 5_000, "{set}");
    assert!(
        t.clock_skew().num_milliseconds().abs() < 5_000,
        "the clock is right now"
    );
    let after = service.status().await["clock_offset_ms"].as_i64().unwrap();
    assert!(after.abs() < 5_000, "{after}");
    let audit = service
        .get(&format!("api/hikvision/devices/{device_id}/audit"))
        .await;
    assert_eq!(audit["entries"][0]["action"], "set_time", "{audit}");

    let unknown = post("api/hikvision/devices/nope/time".into()).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_password_costs_one_failed_login_however_often_events_are_read() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let store = Store::memory();
    let t = terminal(Faults::default()).await;
    store
        .set_devices(vec![device_row("Main", &t, "typo")])
        .await;
    let _service = Service::start(&store, &database, true).await;
    // Five polls, a registration check each time, the clock: all held back after the first refusal
    // (a kept sleep: the polls that do not happen are what is tested).
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(t.failed_logins(), 1);
}
