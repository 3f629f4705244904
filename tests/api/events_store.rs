//! The event store's rules, on memory and on real PostgreSQL alike: every event stored once
//! whatever the order and the repeats, a reset terminal starts a new epoch and old rows stay,
//! a push and a catch-up racing leave no duplicate and no gap; the pushes' group commit on real
//! PostgreSQL (a batch is one transaction, each push answered as if alone; many terminals at
//! once; a database that goes away fails the waiting pushes and the next ones work).

use std::sync::Arc;
use std::time::Duration;

use crate::support::cluster::Cluster;
use crate::support::database::fresh_database;
use hikvision_sync::events::batch::PushBatcher;
use hikvision_sync::events::memory::MemoryEventStore;
use hikvision_sync::events::model::{EventQuery, IncomingEvent};
use hikvision_sync::events::postgres::PgEventStore;
use hikvision_sync::events::store::EventStore;

fn event(serial_no: i64, day: u32) -> IncomingEvent {
    IncomingEvent {
        serial_no,
        terminal_time: Some(format!(
            "2026-12-{day:02}T{:02}:{:02}:00+02:00",
            (serial_no / 60) % 24,
            serial_no % 60
        )),
        major: 5,
        minor: 75,
        employee_no: Some(format!("{}", serial_no % 7)),
        door_no: Some(1),
        verify_mode: Some("face".into()),
        attendance_status: None,
        live: false,
    }
}

async fn stores() -> Vec<(&'static str, Arc<dyn EventStore>)> {
    let mut stores: Vec<(&'static str, Arc<dyn EventStore>)> =
        vec![("memory", Arc::new(MemoryEventStore::default()))];
    if let Some(url) = fresh_database().await {
        let config: tokio_postgres::Config = url.parse().unwrap();
        let database =
            graphile_worker::tokio_postgres::TokioPostgresDatabase::from_config(config, 4).unwrap();
        stores.push((
            "postgres",
            Arc::new(PgEventStore::new(database.pool().clone())),
        ));
    }
    stores
}

async fn all(store: &dyn EventStore, device: &str) -> Vec<(i32, i64)> {
    let query = EventQuery {
        device_id: Some(device.into()),
        limit: 100_000,
        ..EventQuery::default()
    };
    let mut rows: Vec<(i32, i64)> = store
        .list(&query)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.epoch, e.serial_no))
        .collect();
    rows.sort_unstable();
    rows
}

#[tokio::test]
async fn repeats_and_reorders_store_each_event_once_and_the_watermark_follows_the_gaps() {
    for (name, store) in stores().await {
        let batch: Vec<_> = (1..=40).map(|s| event(s, 6)).collect();
        let pushed = store.record("t", &batch[10..12], None).await.unwrap();
        assert_eq!(pushed.cursor.watermark, 0, "{name}: a gap below the push");
        assert_eq!(pushed.cursor.last_serial, 12, "{name}");
        let caught = store.record("t", &batch[..30], Some(30)).await.unwrap();
        assert_eq!((caught.stored, caught.duplicates), (28, 2), "{name}");
        assert_eq!(caught.cursor.watermark, 30, "{name}");
        let again = store.record("t", &batch[27..], Some(40)).await.unwrap();
        assert_eq!((again.stored, again.duplicates), (10, 3), "{name}");
        let expected: Vec<_> = (1..=40).map(|s| (0, s)).collect();
        assert_eq!(all(store.as_ref(), "t").await, expected, "{name}");
    }
}

#[tokio::test]
async fn serials_that_go_backwards_start_a_new_epoch_and_keep_the_old_rows() {
    for (name, store) in stores().await {
        let before: Vec<_> = (1..=5).map(|s| event(s, 6)).collect();
        store.record("t", &before, Some(5)).await.unwrap();
        let after: Vec<_> = (1..=3).map(|s| event(s, 7)).collect();
        let reset = store.record("t", &after, Some(3)).await.unwrap();
        assert_eq!(reset.cursor.epoch, 1, "{name}");
        assert_eq!(reset.stored, 3, "{name}");
        // The catch-up re-reads the new epoch's events: duplicates, no third epoch.
        let reread = store.record("t", &after, Some(3)).await.unwrap();
        assert_eq!((reread.stored, reread.cursor.epoch), (0, 1), "{name}");
        let rows = all(store.as_ref(), "t").await;
        assert_eq!(rows.len(), 8, "{name}: {rows:?}");
        assert_eq!(rows.iter().filter(|(e, _)| *e == 1).count(), 3, "{name}");
    }
}

#[tokio::test]
async fn a_push_and_a_catch_up_racing_leave_no_duplicate_and_no_gap() {
    for (name, store) in stores().await {
        let events: Vec<_> = (1..=300).map(|s| event(s, 6)).collect();
        let pushes = {
            let store = Arc::clone(&store);
            let events = events.clone();
            tokio::spawn(async move {
                for e in events.iter().rev() {
                    store
                        .record("r", std::slice::from_ref(e), None)
                        .await
                        .unwrap();
                }
            })
        };
        for page in events.chunks(30) {
            let through = page.last().map(|e| e.serial_no);
            store.record("r", page, through).await.unwrap();
        }
        pushes.await.unwrap();
        let expected: Vec<_> = (1..=300).map(|s| (0, s)).collect();
        assert_eq!(all(store.as_ref(), "r").await, expected, "{name}");
        assert_eq!(store.cursor("r").await.unwrap().watermark, 300, "{name}");
    }
}

#[tokio::test]
async fn each_terminals_newest_event_is_found_in_one_call_and_a_silent_one_is_absent() {
    for (name, store) in stores().await {
        // "a" holds days 3 and 9 (stored in that order, so the newest is not the last written);
        // "b" one event; "c" none.
        store.record("a", &[event(1, 9)], Some(1)).await.unwrap();
        store.record("a", &[event(2, 3)], Some(2)).await.unwrap();
        store.record("b", &[event(1, 5)], Some(1)).await.unwrap();
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let newest = store.newest_events_at(&ids).await.unwrap();
        for id in ["a", "b"] {
            let query = EventQuery {
                device_id: Some(id.into()),
                limit: 1,
                ..EventQuery::default()
            };
            let first = store.list(&query).await.unwrap()[0].occurred_at;
            assert_eq!(newest.get(id), Some(&first), "{name}: {id}");
        }
        // Day 9 (a's first write), not day 3 (its last): later than b's day 5.
        assert!(newest["a"] > newest["b"], "{name}: {newest:?}");
        assert!(
            !newest.contains_key("c"),
            "{name}: a silent terminal is absent"
        );
        assert!(
            store.newest_events_at(&[]).await.unwrap().is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn pages_newest_first_by_keyset_without_overlap() {
    for (name, store) in stores().await {
        let events: Vec<_> = (1..=25).map(|s| event(s, 6)).collect();
        store.record("a", &events, Some(25)).await.unwrap();
        store.record("b", &events[..5], Some(5)).await.unwrap();
        let mut seen = Vec::new();
        let mut query = EventQuery {
            limit: 7,
            ..EventQuery::default()
        };
        loop {
            let page = store.list(&query).await.unwrap();
            let Some(last) = page.last() else { break };
            query.after = Some(last.position());
            seen.extend(
                page.iter()
                    .map(|e| (e.occurred_at, e.device_id.clone(), e.serial_no)),
            );
        }
        assert_eq!(seen.len(), 30, "{name}");
        assert!(
            seen.windows(2).all(|w| w[0].0 >= w[1].0),
            "{name}: newest first"
        );
    }
}

#[tokio::test]
async fn on_postgres_an_employee_number_maps_to_the_employee_holding_it_on_that_terminal() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let holder = uuid::Uuid::new_v4();
    let former = uuid::Uuid::new_v4();
    crate::support::database::execute(
        &url,
        &format!(
            "insert into hikvision_sync.delivery (angajat_id, device_id, want, employee_no) values
               ('{former}', 't', 'remove', '3'), ('{holder}', 't', 'update_photo', '3')"
        ),
    )
    .await;
    let config: tokio_postgres::Config = url.parse().unwrap();
    let database =
        graphile_worker::tokio_postgres::TokioPostgresDatabase::from_config(config, 2).unwrap();
    let store = PgEventStore::new(database.pool().clone());
    let events = [event(3, 6), event(4, 6)];
    store.record("t", &events, Some(4)).await.unwrap();
    store.record("elsewhere", &events, Some(4)).await.unwrap();
    let query = EventQuery {
        angajat_id: Some(holder),
        limit: 10,
        ..EventQuery::default()
    };
    let found = store.list(&query).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].device_id.as_str(), found[0].serial_no), ("t", 3));
    assert_eq!(found[0].kind, "face_granted");
}

/// A Postgres store on `url` (pool of 4, a connection attempt given up after 3 s).
fn pg_store(url: &str) -> Arc<PgEventStore> {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.connect_timeout(Duration::from_secs(3));
    let database =
        graphile_worker::tokio_postgres::TokioPostgresDatabase::from_config(config, 4).unwrap();
    Arc::new(PgEventStore::new(database.pool().clone()))
}

/// A pushed (live) event of a terminal; its content changes with `generation` (a reset).
fn live(serial_no: i64, generation: u32) -> IncomingEvent {
    IncomingEvent {
        live: true,
        ..event(serial_no, 6 + generation)
    }
}

/// Rows of `device` as (epoch, serial), from the table.
async fn rows_of(client: &tokio_postgres::Client, device: &str) -> Vec<(i32, i64)> {
    client
        .query(
            "select epoch, serial_no from hikvision_sync.access_event where device_id = $1
             order by epoch, serial_no",
            &[&device],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The group commit on PostgreSQL, with the batch made known: a first push is held at the lock
/// of its terminal's cursor row (another transaction holds it), the pushes queued behind it
/// form the next batch. In it: one terminal several times, a gap, a duplicate, a reset and
/// the new epoch's next event, and two other terminals; each push gets the answer it would get
/// alone (the memory store, one push after the other, says which), and the batch is one
/// transaction (its rows share their `xmin`).
#[tokio::test]
async fn on_postgres_pushes_queued_behind_a_write_are_one_transaction_each_answered_as_alone() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let store = pg_store(&url);
    let batcher = Arc::new(PushBatcher::new(store.clone()));
    let reference = MemoryEventStore::default();
    for serial in 1..=2 {
        let got = batcher.record("a", live(serial, 0)).await.unwrap();
        let want = reference
            .record("a", &[live(serial, 0)], None)
            .await
            .unwrap();
        assert_eq!(got, want);
    }
    store.record("gate", &[live(1, 0)], Some(1)).await.unwrap();
    let holder = connect(&url).await;
    holder
        .batch_execute(
            "begin; select * from hikvision_sync.event_cursor where device_id = 'gate' for update",
        )
        .await
        .unwrap();
    let held = {
        let batcher = Arc::clone(&batcher);
        tokio::spawn(async move { batcher.record("gate", live(2, 0)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pushes: Vec<(&str, IncomingEvent)> = vec![
        ("a", live(3, 0)),
        ("a", live(5, 0)),
        ("b", live(1, 0)),
        ("a", live(2, 0)),
        ("a", live(1, 1)),
        ("a", live(2, 1)),
        ("b", live(1, 0)),
        ("c", live(1, 0)),
    ];
    let queued = {
        let batcher = Arc::clone(&batcher);
        let pushes = pushes.clone();
        tokio::spawn(async move {
            let b = &batcher;
            // Polled in order, so queued in this order behind the held write.
            futures::future::join_all(
                pushes
                    .into_iter()
                    .map(|(d, e)| async move { b.record(d, e).await }),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !held.is_finished() && !queued.is_finished(),
        "the lock holds them"
    );
    holder.batch_execute("commit").await.unwrap();
    assert_eq!(held.await.unwrap().unwrap().stored, 1);
    let answers = queued.await.unwrap();
    for ((device, e), got) in pushes.iter().zip(answers) {
        let want = reference
            .record(device, std::slice::from_ref(e), None)
            .await
            .unwrap();
        assert_eq!(got.unwrap(), want, "{device} {}", e.serial_no);
    }
    let client = connect(&url).await;
    assert_eq!(
        rows_of(&client, "a").await,
        vec![(0, 1), (0, 2), (0, 3), (0, 5), (1, 1), (1, 2)]
    );
    assert_eq!(rows_of(&client, "b").await, vec![(0, 1)]);
    assert_eq!(rows_of(&client, "c").await, vec![(0, 1)]);
    for device in ["a", "b", "c"] {
        assert_eq!(
            store.cursor(device).await.unwrap(),
            reference.cursor(device).await.unwrap(),
            "{device}"
        );
    }
    let transactions: i64 = client
        .query_one(
            "select count(distinct xmin::text) from hikvision_sync.access_event
             where (device_id = 'a' and (epoch = 1 or serial_no in (3, 5))) or device_id in ('b', 'c')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        transactions, 1,
        "the queued pushes were written in one transaction"
    );
}

/// Many terminals pushing at once through the group commit: five push their events in order,
/// one at a time, as firmware does (each answer exactly what a push alone gets: the cursor one
/// further, the one before it the previous serial); five more push each event twice from two
/// senders while a catch-up reads the same events in pages. Every event is stored once,
/// serial numbers contiguous, every watermark at the end.
#[tokio::test]
async fn on_postgres_many_terminals_pushing_at_once_store_every_event_once() {
    let Some(url) = fresh_database().await else {
        return;
    };
    const N: i64 = 150;
    let store = pg_store(&url);
    let batcher = Arc::new(PushBatcher::new(store.clone()));
    let mut tasks = Vec::new();
    for t in 0..5 {
        let batcher = Arc::clone(&batcher);
        tasks.push(tokio::spawn(async move {
            let device = format!("in-order-{t}");
            for serial in 1..=N {
                let r = batcher.record(&device, live(serial, 0)).await.unwrap();
                assert_eq!((r.stored, r.duplicates), (1, 0), "{device} {serial}");
                assert_eq!(r.before.last_serial, serial - 1, "{device} {serial}");
                assert_eq!(r.before.watermark, serial - 1, "{device} {serial}");
                assert_eq!((r.cursor.watermark, r.cursor.last_serial), (serial, serial));
            }
            0usize
        }));
    }
    for t in 0..5 {
        let device = format!("racing-{t}");
        for sender in 0..2 {
            let (batcher, device) = (Arc::clone(&batcher), device.clone());
            tasks.push(tokio::spawn(async move {
                let mut stored = 0;
                for serial in 1..=N {
                    // The second sender goes backwards: a retry of an older event.
                    let serial = if sender == 0 { serial } else { N + 1 - serial };
                    let r = batcher.record(&device, live(serial, 0)).await.unwrap();
                    assert_eq!(r.stored + r.duplicates, 1);
                    assert_eq!(r.cursor.epoch, 0, "{device}: no new epoch");
                    if r.stored == 1 {
                        assert!(r.before.watermark < serial && r.cursor.last_serial >= serial);
                    }
                    stored += r.stored;
                }
                stored
            }));
        }
        let (store, device) = (store.clone(), device.clone());
        tasks.push(tokio::spawn(async move {
            let events: Vec<_> = (1..=N).map(|s| live(s, 0)).collect();
            let mut stored = 0;
            for page in events.chunks(30) {
                let through = page.last().map(|e| e.serial_no);
                stored += store.record(&device, page, through).await.unwrap().stored;
            }
            stored
        }));
    }
    let mut stored = 0;
    for task in tasks {
        stored += task.await.unwrap();
    }
    let client = connect(&url).await;
    for device in (0..5)
        .map(|t| format!("in-order-{t}"))
        .chain((0..5).map(|t| format!("racing-{t}")))
    {
        let expected: Vec<_> = (1..=N).map(|s| (0, s)).collect();
        assert_eq!(rows_of(&client, &device).await, expected, "{device}");
        let cursor = store.cursor(&device).await.unwrap();
        assert_eq!((cursor.watermark, cursor.last_serial), (N, N), "{device}");
    }
    assert_eq!(
        stored,
        usize::try_from(N * 5).unwrap(),
        "the racing terminals' events were answered stored once each"
    );
}

/// The database goes away under pushes: the pushes waiting then are answered with an error
/// (never a success, never a hang), the pushes after it is back are stored, and every push
/// answered with success is in the table once.
#[tokio::test]
async fn on_postgres_a_database_that_goes_away_fails_the_waiting_pushes_and_comes_back() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let store = pg_store(&cluster.url);
    let batcher = Arc::new(PushBatcher::new(store.clone()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pushers = Vec::new();
    for t in 0..20 {
        let (batcher, stop) = (Arc::clone(&batcher), Arc::clone(&stop));
        pushers.push(tokio::spawn(async move {
            let device = format!("t{t}");
            let (mut serial, mut failed) = (1i64, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = tokio::time::timeout(
                    Duration::from_secs(30),
                    batcher.record(&device, live(serial, 0)),
                )
                .await
                .expect("a push is answered, not left hanging");
                match answer {
                    Ok(_) => serial += 1,
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (device, serial - 1, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    cluster.stop_immediately().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // While it is away no push is answered with success.
    let during = store.record("probe", &[live(1, 0)], None).await;
    assert!(during.is_err());
    cluster.start_again().await;
    let back = tokio::time::Instant::now();
    // Every terminal stores again once it is back.
    loop {
        let rows = connect(&cluster.url)
            .await
            .query_one(
                "select count(distinct device_id) from hikvision_sync.access_event
                 where received_at > now() - interval '1 second'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        if rows == 20 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "{rows} of 20 store again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let client = connect(&cluster.url).await;
    let mut failures = 0;
    for pusher in pushers {
        let (device, answered, failed) = pusher.await.unwrap();
        failures += failed;
        // Each event answered with success is stored once; none beyond (a push answered with
        // an error may have been stored: its retry is then a duplicate).
        let rows = rows_of(&client, &device).await;
        let expected: Vec<_> = (1..=answered).map(|s| (0, s)).collect();
        assert_eq!(rows, expected, "{device}");
        assert!(answered > 0, "{device}");
    }
    assert!(failures > 0, "the pushes during the outage failed");
}
