//! What the durable-delivery benches (`drain`, `resync`) share: progress lines, people and their
//! photos, the photo server, a database of their own, request counting and PostgreSQL CPU.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hikvision_simulator::{Faults, SimulatedTerminal, TerminalConfig};
use hikvision_sync::photo::synth::seeded_jpeg;
use hikvision_testkit::spawn_terminal;
pub(crate) use hikvision_testkit::{Database, PhotoServer, block_on_bench, fresh_database};
use uuid::Uuid;

use crate::{BoxError, stats};

/// Photos: 96 x 128 baseline JPEGs (above the terminals' 80 px minimum; sent by URL as they are).
pub(crate) const PHOTO_SIZE: (u32, u32) = (96, 128);

/// One employee of a bench.
pub(crate) struct Person {
    pub(crate) id: Uuid,
    pub(crate) employee_no: String,
    pub(crate) new_face: Bytes,
    pub(crate) old_face: Bytes,
}

pub(crate) fn progress(started: Instant, what: std::fmt::Arguments<'_>) {
    eprint!(
        "[{:>4.0} s, load {}] {what}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// `n` employees, each with an old face (on the terminals) and a new one (on the photo server),
/// all different pictures (the terminals refuse the same picture under two persons).
pub(crate) fn make_persons(n: usize) -> Result<Vec<Person>, BoxError> {
    (0..n)
        .map(|i| {
            let no = 200_000 + i;
            // Distinct even seeds: the generator uses `seed | 1`.
            let seed = 0x1000_0000_u32 + 4 * i as u32;
            Ok(Person {
                id: Uuid::new_v4(),
                employee_no: no.to_string(),
                new_face: Bytes::from(seeded_jpeg(seed, PHOTO_SIZE.0, PHOTO_SIZE.1)?),
                old_face: Bytes::from(seeded_jpeg(seed + 2, PHOTO_SIZE.0, PHOTO_SIZE.1)?),
            })
        })
        .collect()
}

/// Requests the terminals received during the run.
pub(crate) struct Calls {
    /// Requests per pair, challenges included.
    pub(crate) per_pair: f64,
    /// Answered requests per pair: all but the Digest challenges (401), which a terminal answers
    /// at once; each of these costs the terminal's L.
    pub(crate) answered_per_pair: f64,
    /// `METHOD path status` x count per pair.
    pub(crate) summary: String,
}

/// The requests of every terminal (their uncapped counters), per pair: `pairs_per_terminal`
/// pairs on each.
pub(crate) fn count_requests(sims: &[SimulatedTerminal], pairs_per_terminal: usize) -> Calls {
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let (mut total, mut answered) = (0u64, 0u64);
    for sim in sims {
        for (entry, n) in sim.request_counts() {
            total += n;
            if entry.status != Some(401) {
                answered += n;
            }
            let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
            let status = entry.status.map_or("-".into(), |s| s.to_string());
            *by_kind
                .entry(format!("{} {name} {status}", entry.method))
                .or_default() += n;
        }
    }
    let pairs = (sims.len() * pairs_per_terminal).max(1) as f64;
    let summary = by_kind
        .iter()
        .map(|(k, n)| format!("{k} x {:.2}", *n as f64 / pairs))
        .collect::<Vec<_>>()
        .join(", ");
    Calls {
        per_pair: total as f64 / pairs,
        answered_per_pair: answered as f64 / pairs,
        summary,
    }
}

/// `count` empty simulated terminals on loopback ports, named "<label> terminal <i>" (`i` from
/// 1), each answered call taking `latency_ms`, with room for `face_capacity` faces (at least the
/// simulator's default).
pub(crate) async fn spawn_terminals(
    label: &str,
    count: usize,
    latency_ms: u64,
    face_capacity: usize,
) -> Result<Vec<SimulatedTerminal>, BoxError> {
    let mut sims = Vec::with_capacity(count);
    for i in 1..=count {
        let config = TerminalConfig {
            name: format!("{label} terminal {i}"),
            serial: format!("{}{i:06}", label.to_uppercase()),
            face_capacity: face_capacity.max(TerminalConfig::default().face_capacity),
            faults: Faults {
                latency_ms,
                ..Faults::default()
            },
            ..TerminalConfig::default()
        };
        sims.push(spawn_terminal(config).await?);
    }
    Ok(sims)
}

/// The photo server with each employee's new picture at `/drain/<no>.jpg` ([`photo_path`]). The
/// photo values are absolute URLs, so with `PHOTO_DELIVERY=auto` the service fetches each picture
/// once (its cache), finds it qualifies as it is, and sends `faceURL`: every terminal downloads
/// the picture itself and stores exactly these bytes. (A Storage path would be pushed as
/// multipart instead: a private bucket is not reachable by the terminals.)
pub(crate) async fn photo_server(persons: &[Person]) -> Result<PhotoServer, BoxError> {
    let photos = PhotoServer::start().await?;
    for p in persons {
        photos.put(&photo_path(p), p.new_face.clone());
    }
    Ok(photos)
}

/// Where [`photo_server`] publishes `p`'s new picture (`biometrie.foto_fata_url` is its URL).
pub(crate) fn photo_path(p: &Person) -> String {
    format!("drain/{}.jpg", p.employee_no)
}

/// The command-line options of a bench's own database.
#[derive(Debug, clap::Args)]
pub(crate) struct DatabaseArgs {
    /// Superuser URL of the PostgreSQL the fresh database is created on.
    #[arg(long, env = "HS_TEST_DATABASE_URL", hide_env_values = true)]
    pub(crate) admin_url: String,
    /// Keep the bench's database afterwards (it is dropped by default).
    #[arg(long)]
    pub(crate) keep_database: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub(crate) bench: bool,
}

/// Tears a bench's world down (the terminals, the photo server, its database unless `keep`),
/// then fails the bench when pairs `failed` or `wrong` names terminal contents that are not as
/// they should be.
pub(crate) async fn finish(
    sims: Vec<SimulatedTerminal>,
    photos: PhotoServer,
    admin_url: &str,
    database: &Database,
    keep: bool,
    failed: u64,
    wrong: &[String],
) -> Result<(), BoxError> {
    for sim in sims {
        sim.shutdown().await;
    }
    drop(photos);
    if keep {
        eprintln!("database kept: {}", database.name);
    } else {
        database.drop_on(admin_url).await;
    }
    if !wrong.is_empty() || failed > 0 {
        let shown: Vec<&str> = wrong.iter().take(10).map(String::as_str).collect();
        return Err(format!(
            "{failed} pairs failed; {} terminal contents not as they should be: {}",
            wrong.len(),
            shown.join("; ")
        )
        .into());
    }
    Ok(())
}

/// CPU time so far of every PostgreSQL backend connected to the database of `url` (other than
/// the asking one), by pid, read from `/proc` (the server runs on this machine). Empty when the
/// server cannot be asked.
pub(crate) async fn backend_cpu(url: &str, ticks: u64) -> HashMap<i32, Duration> {
    let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return HashMap::new();
    };
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap_or_default();
    drop(client);
    let _ = driver.await;
    rows.iter()
        .filter_map(|r| r.try_get::<_, i32>(0).ok())
        .map(|pid| (pid, stats::cpu_time(&pid.to_string(), ticks)))
        .collect()
}
