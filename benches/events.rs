//! Access events (issue 21): push ingestion (events stored per second, the answer time the
//! pushing terminals see, the service's peak RSS) and the catch-up of a long log against the
//! bound the terminal sets.
//!
//! ```sh
//! bash scripts/test-stack.sh start; set -a; source /tmp/hikvision-sync-stack/stack.env; set +a
//! cargo bench --bench events                 # push from 10 and 100 terminals for 20 s (back to back), 100 terminals
//!                                            # offering 2,000 and 3,000 events/s (open loop); catch-up of 10,000 at L = 200 ms
//! cargo bench --bench events -- --quick      # 4 s of pushes per cell, catch-up of 600 events (under a minute)
//! cargo bench --bench events -- --help       # --only, --push-terminals, --push-secs, --catchup-events, ...
//! ```
//!
//! The service runs in a child process (the bench binary re-executed with `--serve-child`, as
//! the fan-out and resync benches do: `Settings::from_lookup` -> `Application::build_with`), with
//! its event store and the job engine on a fresh database of the test stack's PostgreSQL
//! (`supabase/migrations/*.sql` applied), one database per cell, `RUST_LOG=info`.
//!
//! Push: K terminals (tasks of this process) each push their own serial numbers 1, 2, ... to
//! `POST /api/hikvision/events/push/{device_id}?token=...` over real HTTP (one keep-alive
//! connection each), one at a time, each after the previous answer, as a terminal does; the
//! body is the firmware's (multipart, the JSON envelope in the part `event_log`, the event's
//! JPEG picture in a second part, since the service registers with `pictureURLType` binary).
//! Closed loop: each terminal pushes back to back (the most the service can take). Open loop:
//! each of 100 terminals has an event every 100 / rate seconds (phases staggered), pushed when
//! due or at once when the previous answer came late; the answer time is also taken from the
//! moment the event was due (coordinated omission). Afterwards the table must hold every
//! terminal's events 1..=n exactly once.
//!
//! Catch-up: one simulated terminal (real HTTP, real Digest auth, `--latency-ms` of work before
//! every answered call) whose log holds N events; the service starts with it in its devices
//! table and reads the log on start (`POST /ISAPI/AccessControl/AcsEvent`, 30 a page). The
//! bound is pages x L; the table must then hold 1..=N exactly once, none live.

#[allow(dead_code)]
#[path = "support/stats.rs"]
mod stats;

#[allow(dead_code)]
#[path = "support/backlog.rs"]
mod backlog;

#[allow(dead_code)]
#[path = "support/child.rs"]
mod child;

#[path = "support/events.rs"]
mod events;

use backlog::{
    DatabaseArgs, block_on_bench, count_requests, fresh_database, load_average, progress,
};
use child::{DeviceSpec, Launch, ServiceProcess, ServiceSpec};
use events::{
    Pace, Pusher, count_rows, exactly_once, held, terminal_with_log, writing_transactions,
};

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use hikvision_simulator::TerminalConfig;
use hikvision_sync::events::token::PushKey;
use hikvision_sync::photo::synth::seeded_jpeg;
use stats::{mib, ms, percentile};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The API key the bench gives the service (the push tokens' key derives from it).
const API_KEY: &str = "events-bench-key";
/// Events one search page holds.
const PAGE: usize = 30;

/// A part of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    /// Push ingestion, closed loop (each terminal back to back).
    Push,
    /// Push ingestion, open loop (terminals at a set rate).
    Open,
    /// Catch-up of a long log.
    Catchup,
}

/// Access events (issue 21): push ingestion and catch-up.
#[derive(Debug, Parser)]
#[command(name = "events", bin_name = "cargo bench --bench events --")]
struct Args {
    /// Shorter run (under a minute): 4 s of pushes per cell, a catch-up of 600 events.
    #[arg(long)]
    quick: bool,
    /// Sections, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Section>,
    /// Pushing terminals of each push cell, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    push_terminals: Vec<usize>,
    /// How long each push cell pushes [default: 20, 4 with --quick].
    #[arg(long)]
    push_secs: Option<u64>,
    /// Open-loop cells: events per second offered in total, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2000,3000")]
    open_rates: Vec<u64>,
    /// Terminals of each open-loop cell (each pushes rate / terminals a second).
    #[arg(long, default_value_t = 100)]
    open_terminals: usize,
    /// Push without the JPEG part (plain event, as from a terminal asked for no pictures).
    #[arg(long)]
    no_picture: bool,
    /// Events in the catch-up terminal's log [default: 10,000, 600 with --quick].
    #[arg(long)]
    catchup_events: Option<usize>,
    /// The catch-up terminal's time to work on every answered call, in ms.
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
    /// RATE_LIMIT_DELAY_MS of the catch-up (start-to-start spacing of calls to one terminal;
    /// the service's default is 500).
    #[arg(long, default_value_t = 0)]
    rate_limit_ms: u64,
    /// Append the service's log (its stdout, `RUST_LOG=info`) to this file.
    #[arg(long)]
    service_log_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    db: DatabaseArgs,
}

impl Args {
    fn launch(&self) -> Launch {
        Launch {
            log_file: self.service_log_file.clone(),
            ..Launch::default()
        }
    }

    fn push_secs(&self) -> u64 {
        self.push_secs.unwrap_or(if self.quick { 4 } else { 20 })
    }

    fn catchup_events(&self) -> usize {
        self.catchup_events
            .unwrap_or(if self.quick { 600 } else { 10_000 })
    }

    fn runs(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

/// The service's settings for a cell on the database of `url`, with `extra`.
fn service_env(url: &str, extra: &[(&str, String)]) -> BTreeMap<String, String> {
    [
        ("DATABASE_URL", url.to_string()),
        ("API_KEY", API_KEY.into()),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(child::CHILD_FLAG) {
        // This process is the service of a cell.
        return child::child_main().map_or_else(
            |e| {
                eprintln!("service child failed: {e}");
                ExitCode::FAILURE
            },
            |()| ExitCode::SUCCESS,
        );
    }
    let args = Args::parse();
    if args.push_terminals.contains(&0)
        || args.open_rates.contains(&0)
        || args.open_terminals == 0
        || args.catchup_events() == 0
        || args.push_secs() == 0
    {
        eprintln!(
            "--push-terminals, --open-rates, --open-terminals, --push-secs and --catchup-events must be at least 1"
        );
        return ExitCode::from(2);
    }
    block_on_bench(run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let started = Instant::now();
    let (cpu, cores) = stats::machine();
    println!("# hikvision-sync access events benchmark (issue 21)\n");
    println!(
        "Machine: {cores} cores ({cpu}), load average {} at the start. Mode: {}. PostgreSQL of \
         the test stack on the same machine; the service in its own process, RUST_LOG=info.\n",
        load_average(),
        if args.quick { "--quick" } else { "full" },
    );
    let mut problems = Vec::new();
    let picture = if args.no_picture {
        None
    } else {
        // An event picture of the size the terminals send (~30 KB for their 768 x 432; the
        // synthetic picture is noisier, so fewer pixels make the same bytes).
        Some(Bytes::from(seeded_jpeg(0x2100_0000, 384, 216)?))
    };
    let picture_bytes = picture.as_ref().map_or(0, Bytes::len);
    if args.runs(Section::Push) {
        let mut cells = Vec::new();
        for &k in &args.push_terminals {
            progress(started, format_args!("push: {k} terminals\n"));
            let cell = push_cell(&args, k, picture.clone(), None).await?;
            problems.extend(cell.problems.iter().cloned());
            cells.push(cell);
        }
        report_push(&args, picture_bytes, &cells);
    }
    if args.runs(Section::Open) {
        let mut cells = Vec::new();
        for &rate in &args.open_rates {
            let k = args.open_terminals;
            progress(
                started,
                format_args!("push, open loop: {k} terminals, {rate} events/s\n"),
            );
            let cell = push_cell(&args, k, picture.clone(), Some(rate)).await?;
            problems.extend(cell.problems.iter().cloned());
            cells.push(cell);
        }
        report_open(&args, picture_bytes, &cells);
    }
    if args.runs(Section::Catchup) {
        progress(
            started,
            format_args!("catch-up: {} events\n", args.catchup_events()),
        );
        problems.extend(catch_up_cell(&args, started).await?);
    }
    println!(
        "Load average {} at the end; finished in {:.0} s.\n",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("events not stored exactly once: {}", problems.join("; ")).into())
    }
}

/// One push cell's figures.
struct PushCell {
    terminals: usize,
    /// Open loop: the events per second offered in total.
    offered: Option<u64>,
    stored: u64,
    rows: i64,
    refused: u64,
    first_refusal: Option<String>,
    /// First push sent to last answer.
    wall: Duration,
    answers: Vec<Duration>,
    /// Open loop: from each stored event's scheduled moment to its answer.
    from_schedule: Vec<Duration>,
    /// Events answered in each whole second of the run, but the first and the last.
    per_second: Vec<u64>,
    service_cpu: Duration,
    pg_cpu: Duration,
    /// Transactions that wrote the cell's rows.
    transactions: i64,
    /// The terminals' side (this process: building and sending the pushes).
    bench_cpu: Duration,
    hwm_kib: u64,
    rss_max_kib: u64,
    problems: Vec<String>,
}

impl PushCell {
    /// Events stored per second of the run.
    fn rate(&self) -> f64 {
        self.stored as f64 / self.wall.as_secs_f64()
    }

    /// The fewest and the most events answered in a whole second.
    fn per_second_range(&self) -> (u64, u64) {
        (
            self.per_second.iter().min().copied().unwrap_or(0),
            self.per_second.iter().max().copied().unwrap_or(0),
        )
    }

    /// `cpu` per stored event, in ms.
    fn per_event(&self, cpu: Duration) -> String {
        format!(
            "{:.3} ms",
            cpu.as_secs_f64() * 1e3 / self.stored.max(1) as f64
        )
    }
}

/// A push cell of `k` terminals, back to back, or offering `rate` events a second in total
/// (each terminal evenly spaced, their phases staggered so they do not fire together).
async fn push_cell(
    args: &Args,
    k: usize,
    picture: Option<Bytes>,
    rate: Option<u64>,
) -> Result<PushCell, BoxError> {
    let ticks = stats::clock_ticks();
    let database = fresh_database(&args.db.admin_url, "hs_events").await?;
    let spec = ServiceSpec {
        env: service_env(&database.url, &[]),
        photo_base: "http://127.0.0.1:9/".into(),
        log_filter: Some("info".into()),
        angajati: Vec::new(),
        devices: Vec::new(),
    };
    let service = ServiceProcess::start(&spec, &args.launch()).await?;
    let key = PushKey::new(API_KEY.as_bytes());
    let device_ids: Vec<String> = (1..=k).map(|i| format!("push-{k}-{i}")).collect();
    let every = rate.map(|r| Duration::from_secs_f64(k as f64 / r as f64));
    let pushers = device_ids
        .iter()
        .map(|id| {
            let url = format!(
                "http://{}/api/hikvision/events/push/{id}?token={}",
                service.addr,
                key.token(id)
            );
            Pusher::new(id.clone(), url, picture.clone())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let health = format!("http://{}/health", service.addr);
    for connected in futures::future::join_all(pushers.iter().map(|p| p.connect(&health))).await {
        connected?;
    }
    let cpu_before = service.cpu_time(ticks);
    let bench_before = stats::cpu_time("self", ticks);
    let pg_before = backlog::backend_cpu(&database.url, ticks).await;

    let secs = args.push_secs();
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(secs);
    let tasks: Vec<_> = pushers
        .into_iter()
        .enumerate()
        .map(|(i, pusher)| {
            let pace = every.map_or(Pace::BackToBack, |every| Pace::Every {
                every,
                phase: every.mul_f64(i as f64 / k as f64),
            });
            tokio::spawn(pusher.run(t0, until, pace))
        })
        .collect();
    // The service's memory while it ingests.
    let rss_max = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (rss_max, pid) = (Arc::clone(&rss_max), service.pid.clone());
        tokio::spawn(async move {
            loop {
                rss_max.fetch_max(stats::memory(&pid).rss_kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut results = Vec::with_capacity(k);
    for task in tasks {
        results.push(task.await??);
    }
    let wall = t0.elapsed();
    sampler.abort();
    let service_cpu = service.cpu_time(ticks).saturating_sub(cpu_before);
    let bench_cpu = stats::cpu_time("self", ticks).saturating_sub(bench_before);
    let pg_after = backlog::backend_cpu(&database.url, ticks).await;
    let pg_cpu = pg_after
        .iter()
        .map(|(pid, t)| t.saturating_sub(pg_before.get(pid).copied().unwrap_or_default()))
        .sum();
    let hwm_kib = service.memory().hwm_kib;
    service.stop().await;
    let transactions = writing_transactions(&database.url).await?;

    // Every terminal's events 1..=n, each exactly once, all live.
    let table = held(&database.url).await?;
    let rows = table.values().map(|h| h.rows).sum();
    let mut problems: Vec<String> = device_ids
        .iter()
        .zip(&results)
        .filter_map(|(id, r)| {
            let n = i64::try_from(r.stored).unwrap_or(i64::MAX);
            exactly_once(id, table.get(id), n, n)
        })
        .collect();
    let stray = table.keys().filter(|id| !device_ids.contains(id)).count();
    if stray > 0 {
        problems.push(format!("{stray} device ids in the table that never pushed"));
    }
    if !args.db.keep_database {
        database.drop_on(&args.db.admin_url).await;
    }

    let mut buckets = vec![0u64; usize::try_from(wall.as_secs()).unwrap_or(0) + 1];
    for at in results.iter().flat_map(|r| &r.done_at) {
        if let Some(b) = buckets.get_mut(usize::try_from(at.as_secs()).unwrap_or(usize::MAX)) {
            *b += 1;
        }
    }
    let per_second = if buckets.len() > 3 {
        buckets[1..buckets.len() - 2].to_vec()
    } else {
        buckets.clone()
    };
    Ok(PushCell {
        terminals: k,
        offered: rate,
        stored: results.iter().map(|r| r.stored).sum(),
        rows,
        refused: results.iter().map(|r| r.refused).sum(),
        first_refusal: results.iter().find_map(|r| r.first_refusal.clone()),
        wall,
        answers: results.iter().flat_map(|r| r.answers.clone()).collect(),
        from_schedule: results
            .iter()
            .flat_map(|r| r.from_schedule.clone())
            .collect(),
        per_second,
        service_cpu,
        pg_cpu,
        transactions,
        bench_cpu,
        hwm_kib,
        rss_max_kib: rss_max.load(Ordering::Relaxed),
        problems,
    })
}

/// The transactions that wrote the cell's rows, and the events each wrote.
fn per_commit(c: &PushCell) -> String {
    format!(
        "{} ({:.1})",
        c.transactions,
        c.stored as f64 / c.transactions.max(1) as f64
    )
}

fn report_push(args: &Args, picture_bytes: usize, cells: &[PushCell]) {
    println!(
        "## Push ingestion: {} s per cell, each terminal one push at a time\n",
        args.push_secs()
    );
    println!(
        "Body: multipart/form-data, JSON part `event_log`{}. Targets: >= 2,000 events/s stored, \
         p99 answer < 50 ms.\n",
        if picture_bytes > 0 {
            format!(" + a {:.1} KB JPEG part", picture_bytes as f64 / 1000.0)
        } else {
            String::new()
        }
    );
    println!(
        "| terminals | events stored (answered `stored`) | rows in the table | **events/s** (min-max of whole seconds) | answer p50 / **p99** / max (ms) | retried pushes | CPU per event: service / PostgreSQL / pushing terminals | transactions writing them (events per transaction) | **service peak RSS** (VmHWM; VmRSS max sampled) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for c in cells {
        let rate = c.rate();
        let (lo, hi) = c.per_second_range();
        let per_event = |d: Duration| c.per_event(d);
        println!(
            "| {} | {} | {} | **{rate:.0}** ({lo}-{hi}) | {} / **{}** / {} | {}{} | {} / {} / {} | {} | **{}** ({}) |",
            c.terminals,
            c.stored,
            c.rows,
            ms(percentile(&c.answers, 50.0)),
            ms(percentile(&c.answers, 99.0)),
            ms(percentile(&c.answers, 100.0)),
            c.refused,
            c.first_refusal
                .as_deref()
                .map_or(String::new(), |r| format!(" (first: {r})")),
            per_event(c.service_cpu),
            per_event(c.pg_cpu),
            per_event(c.bench_cpu),
            per_commit(c),
            mib(c.hwm_kib),
            mib(c.rss_max_kib),
        );
    }
    println!();
    for c in cells {
        let rate = c.rate();
        let p99 = percentile(&c.answers, 99.0);
        println!(
            "- {} terminals: {rate:.0} events/s ({}), p99 {} ms ({}); rows {} events answered `stored`{}.",
            c.terminals,
            if rate >= 2000.0 { "met" } else { "MISSED" },
            ms(p99),
            if p99 < Duration::from_millis(50) {
                "met"
            } else {
                "MISSED"
            },
            if c.rows == i64::try_from(c.stored).unwrap_or(-1) {
                "="
            } else {
                "!="
            },
            if c.problems.is_empty() {
                ", each exactly once".to_string()
            } else {
                format!(": **{}**", c.problems.join("; "))
            }
        );
    }
    println!();
}

fn report_open(args: &Args, picture_bytes: usize, cells: &[PushCell]) {
    println!(
        "## Push ingestion, open loop: {} s per cell, terminals at a set rate\n",
        args.push_secs()
    );
    println!(
        "Each of {} terminals has an event every terminals / rate seconds, the terminals' phases \
         spread evenly over that interval; a terminal still sends a push only after the previous \
         answer (at once when it is late). Body as above ({:.1} KB picture). The answer time from \
         the scheduled moment adds any wait behind a slow answer (no coordinated omission).\n",
        args.open_terminals,
        picture_bytes as f64 / 1000.0
    );
    println!(
        "| terminals | offered events/s | events stored | rows in the table | **stored events/s** (min-max of whole seconds) | answer from sending: p50 / p99 / max (ms) | **from the scheduled moment**: p50 / **p99** / max (ms) | retried pushes | CPU per event: service / PostgreSQL / pushing terminals | transactions writing them (events per transaction) | service peak RSS (VmHWM) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for c in cells {
        let rate = c.rate();
        let (lo, hi) = c.per_second_range();
        let per_event = |d: Duration| c.per_event(d);
        println!(
            "| {} | {} | {} | {} | **{rate:.0}** ({lo}-{hi}) | {} / {} / {} | {} / **{}** / {} | {}{} | {} / {} / {} | {} | {} |",
            c.terminals,
            c.offered.unwrap_or(0),
            c.stored,
            c.rows,
            ms(percentile(&c.answers, 50.0)),
            ms(percentile(&c.answers, 99.0)),
            ms(percentile(&c.answers, 100.0)),
            ms(percentile(&c.from_schedule, 50.0)),
            ms(percentile(&c.from_schedule, 99.0)),
            ms(percentile(&c.from_schedule, 100.0)),
            c.refused,
            c.first_refusal
                .as_deref()
                .map_or(String::new(), |r| format!(" (first: {r})")),
            per_event(c.service_cpu),
            per_event(c.pg_cpu),
            per_event(c.bench_cpu),
            per_commit(c),
            mib(c.hwm_kib),
        );
    }
    println!();
    for c in cells {
        let offered = c.offered.unwrap_or(0);
        let rate = c.rate();
        let p99 = percentile(&c.from_schedule, 99.0);
        println!(
            "- {offered}/s offered by {} terminals: {rate:.0} events/s stored ({}), p99 from the scheduled moment {} ms ({}){}; answered per second: {}.",
            c.terminals,
            if rate >= 0.98 * offered as f64 {
                "kept up"
            } else {
                "FELL BEHIND"
            },
            ms(p99),
            if p99 < Duration::from_millis(50) {
                "< 50 ms"
            } else {
                ">= 50 ms"
            },
            if c.problems.is_empty() {
                ", each event exactly once".to_string()
            } else {
                format!(": **{}**", c.problems.join("; "))
            },
            c.per_second
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!();
}

/// Runs the catch-up cell and prints it; returns what was not stored exactly once.
async fn catch_up_cell(args: &Args, started: Instant) -> Result<Vec<String>, BoxError> {
    let n = args.catchup_events();
    let latency = Duration::from_millis(args.latency_ms);
    let sim = terminal_with_log(n, args.latency_ms).await?;
    let database = fresh_database(&args.db.admin_url, "hs_events").await?;
    let device = DeviceSpec {
        id: "catchup-1".into(),
        name: sim.config().name.clone(),
        ip: "127.0.0.1".into(),
        port: sim.addr().port(),
        username: "admin".into(),
        password: TerminalConfig::DEMO_PASSWORD.into(),
    };
    let spec = ServiceSpec {
        env: service_env(
            &database.url,
            &[
                ("RATE_LIMIT_DELAY_MS", args.rate_limit_ms.to_string()),
                // Only the catch-up on start: no second round during the run.
                ("EVENTS_POLL_INTERVAL_MS", "86400000".into()),
            ],
        ),
        photo_base: "http://127.0.0.1:9/".into(),
        log_filter: Some("info".into()),
        angajati: Vec::new(),
        devices: vec![device.clone()],
    };
    sim.clear_request_log();
    progress(
        started,
        format_args!("terminal holds {n} events; starting the service\n"),
    );
    let t0 = Instant::now();
    let service = ServiceProcess::start(&spec, &args.launch()).await?;
    let up = t0.elapsed();
    // The first search the terminal sees, and every row stored.
    let bound = latency * u32::try_from(n.div_ceil(PAGE)).unwrap_or(u32::MAX);
    let deadline = bound * 3 + Duration::from_secs(60);
    let mut first_search = None;
    let mut rss_max = 0;
    let mut last_report = Instant::now();
    let all_stored = loop {
        if first_search.is_none()
            && sim
                .request_log()
                .iter()
                .any(|e| e.path.ends_with("/AcsEvent"))
        {
            first_search = Some(t0.elapsed());
        }
        rss_max = rss_max.max(service.memory().rss_kib);
        let rows = count_rows(&database.url).await?;
        if rows >= i64::try_from(n).unwrap_or(i64::MAX) {
            break t0.elapsed();
        }
        if t0.elapsed() > deadline {
            return Err(format!("catch-up: {rows} of {n} stored after {deadline:?}").into());
        }
        if last_report.elapsed() >= Duration::from_secs(15) {
            last_report = Instant::now();
            progress(started, format_args!("catch-up: {rows} of {n} stored\n"));
        }
        tokio::time::sleep(Duration::from_millis(if first_search.is_some() {
            50
        } else {
            5
        }))
        .await;
    };
    // Nothing more may come (a second read of the end, a duplicate).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let hwm_kib = service.memory().hwm_kib;
    service.stop().await;
    let table = held(&database.url).await?;
    let wrong = exactly_once(
        &device.id,
        table.get(&device.id),
        i64::try_from(n).unwrap_or(i64::MAX),
        0,
    );
    let calls = count_requests(std::slice::from_ref(&sim), 1);
    let pages = sim
        .request_counts()
        .iter()
        .filter(|(e, _)| e.path.ends_with("/AcsEvent") && e.status == Some(200))
        .map(|(_, c)| *c)
        .sum::<u64>();
    sim.shutdown().await;
    if !args.db.keep_database {
        database.drop_on(&args.db.admin_url).await;
    }

    let first = first_search.unwrap_or(up);
    let reading = all_stored.saturating_sub(first);
    let ratio = reading.as_secs_f64() / bound.as_secs_f64();
    println!(
        "## Catch-up: {n} events on one terminal, L = {} ms per answered call, RATE_LIMIT_DELAY_MS = {}\n",
        args.latency_ms, args.rate_limit_ms
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| **bound**: ceil({n} / {PAGE}) = {} pages x {} ms | **{:.1} s** |",
        n.div_ceil(PAGE),
        args.latency_ms,
        bound.as_secs_f64()
    );
    println!(
        "| **catch-up time**: the first AcsEvent call reaching the terminal to all {n} rows stored | **{:.1} s** |",
        reading.as_secs_f64()
    );
    println!(
        "| **catch-up / bound** (target <= 1.1x) | **{ratio:.3}x** ({}) |",
        if ratio <= 1.1 { "met" } else { "MISSED" }
    );
    println!(
        "| service start to all stored (process start, migrations check, job engine, first search) | {:.1} s (listening after {:.2} s, first search after {:.2} s) |",
        all_stored.as_secs_f64(),
        up.as_secs_f64(),
        first.as_secs_f64()
    );
    println!(
        "| search pages answered (request counters) / overhead per page beyond L | {pages} / {:.1} ms |",
        (reading.as_secs_f64() - bound.as_secs_f64()) * 1e3 / pages.max(1) as f64
    );
    println!(
        "| requests at the terminal, Digest challenges included | {:.0}: {} |",
        calls.per_pair, calls.summary
    );
    println!(
        "| rows stored | {} ({}) |",
        table.get(&device.id).map_or(0, |h| h.rows),
        wrong
            .as_deref()
            .unwrap_or("each of 1..=N exactly once, none live")
    );
    println!(
        "| service peak RSS (VmHWM; VmRSS max sampled) | {} ({}) |",
        mib(hwm_kib),
        mib(rss_max)
    );
    println!();
    Ok(wrong.into_iter().collect())
}
