//! The event store's rules, on memory and on real PostgreSQL alike: every event stored once
//! whatever the order and the repeats, a reset terminal starts a new epoch and old rows stay,
//! a push and a catch-up racing leave no duplicate and no gap.

use std::sync::Arc;

use crate::support::database::fresh_database;
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
