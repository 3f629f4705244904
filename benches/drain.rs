//! Draining a backlog through the job engine (issue 11): how long N pending changes take to reach
//! K terminals with `RATE_LIMIT_DELAY_MS=0`, against the bound the terminals themselves set.
//!
//! ```sh
//! bash scripts/test-stack.sh start; set -a; source /tmp/hikvision-sync-stack/stack.env; set +a
//! cargo bench --bench drain                 # 10,000 changes: 100 employees x 100 terminals, L = 200 ms
//! cargo bench --bench drain -- --quick      # 1,000 changes: 50 employees x 20 terminals
//! cargo bench --bench drain -- --help       # --employees, --terminals, --latency-ms, --pool-size, ...
//! ```
//!
//! Everything runs in this process, as one replica of the service does: K simulated terminals
//! (real HTTP, real Digest auth, `latency_ms` of work before every answered call, the 401
//! challenge answered at once) holding the N employees with an old face; a photo server with a new real JPEG per employee
//! (`picture::synth::seeded_jpeg`, by absolute URL, so `PHOTO_DELIVERY=auto` sends `faceURL` and
//! the terminals download it); a `MemoryDirectory` with the employees and the K
//! devices; and durable delivery as `startup::build_delivery` builds it (PgStore, PgAudit, the
//! graphile_worker job engine) on a fresh database of the test stack's PostgreSQL with
//! `supabase/migrations/*.sql` applied. The backlog is made with `Delivery::apply(PhotoChanged)`
//! per employee (one pending pair per terminal each) and timed until `backlog().pending == 0`;
//! then every terminal is checked to hold every employee's new picture, byte for byte.
//!
//! The bound: each terminal takes its pairs one at a time (one named job queue per terminal), so
//! one terminal needs pairs x answered requests per pair x L, and the terminals run in parallel.
//! The requests per pair are counted from the simulators' request logs, not assumed (the Digest
//! challenges, answered at once, are counted but cost no L).

#[allow(dead_code)]
#[path = "support/stats.rs"]
mod stats;

#[path = "support/backlog.rs"]
mod backlog;

#[path = "support/statements.rs"]
mod statements;

use backlog::*;
use statements::{Counts, StatementCounter};

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hikvision_simulator::TerminalConfig;
use hikvision_sync::config::{PhotoTransferMode, Settings};
use hikvision_sync::delivery::webhook::Action;
use hikvision_sync::models::{BiometricRecord, Device, Employee};
use hikvision_sync::photo::AllowList;
use hikvision_sync::photo::FaceUrlScheme;
use hikvision_sync::startup::{Services, build_delivery};
use hikvision_sync::supabase::MemoryDirectory;
use hikvision_testkit::enrol;
use secrecy::SecretString;

use hikvision_testkit::BoxError;

/// Draining a backlog of photo changes through the job engine (issue 11).
#[derive(Debug, Parser)]
#[command(name = "drain", bin_name = "cargo bench --bench drain --")]
struct Args {
    /// Smaller run: 50 employees x 20 terminals (1,000 changes) unless set below.
    #[arg(long)]
    quick: bool,
    /// Employees, each changing their photo once [default: 100, 50 with --quick].
    #[arg(long)]
    employees: Option<usize>,
    /// Simulated terminals, all active, all holding every employee [default: 100, 20 with --quick].
    #[arg(long)]
    terminals: Option<usize>,
    /// The terminals' time to work on every answered call (the 401 challenge is answered at once), in ms.
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
    /// DATABASE_POOL_SIZE of the service [default: the service's default].
    #[arg(long)]
    pool_size: Option<usize>,
    /// Give up when the backlog is not drained after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
    /// Seconds of no work before the backlog, over which the job engine's idle queries are
    /// counted (`pg_stat_statements`); 0 skips it.
    #[arg(long, default_value_t = 5)]
    idle_secs: u64,
    #[command(flatten)]
    db: DatabaseArgs,
}

impl Args {
    fn employees(&self) -> usize {
        self.employees.unwrap_or(if self.quick { 50 } else { 100 })
    }

    fn terminals(&self) -> usize {
        self.terminals.unwrap_or(if self.quick { 20 } else { 100 })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.employees() == 0 || args.terminals() == 0 {
        eprintln!("--employees and --terminals must be at least 1");
        return ExitCode::from(2);
    }
    block_on_bench(run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let started = Instant::now();
    let (employees, terminals, latency) = (
        args.employees(),
        args.terminals(),
        Duration::from_millis(args.latency_ms),
    );
    let changes = employees * terminals;
    let (cpu, cores) = stats::machine();
    let ticks = stats::clock_ticks();
    // Each terminal holds a listening socket and both ends of the service's connection to it.
    let fd_limit = stats::raise_open_file_limit(terminals * 4 + 256);
    println!("# hikvision-sync drain benchmark (issue 11)\n");
    println!(
        "Machine: {cores} cores ({cpu}), open-file limit {}, load average {} at the start. Mode: {}. {changes} changes = \
         {employees} employees x {terminals} terminals, L = {} ms of terminal work per answered call, \
         RATE_LIMIT_DELAY_MS = 0.\n",
        fd_limit.map_or("unknown".into(), |n| n.to_string()),
        load_average(),
        if args.quick { "--quick" } else { "full" },
        args.latency_ms,
    );

    // The world: photos, the photo server, the terminals.
    let persons = make_persons(employees)?;
    let photo_bytes: usize = persons.iter().map(|p| p.new_face.len()).sum();
    println!(
        "Photos: {} x {} baseline JPEGs, {:.1} KB on average; each terminal stores its own copy \
         of every new face it downloads (in this process's memory).\n",
        PHOTO_SIZE.0,
        PHOTO_SIZE.1,
        photo_bytes as f64 / persons.len() as f64 / 1000.0
    );
    let photos = photo_server(&persons).await?;
    progress(started, format_args!("starting {terminals} terminals\n"));
    let sims = spawn_terminals("Drain", terminals, args.latency_ms, 0).await?;
    let mut devices = Vec::with_capacity(terminals);
    for (i, sim) in sims.iter().enumerate() {
        for p in &persons {
            let name = format!("Drain {}", p.employee_no);
            enrol(sim, &p.employee_no, &name, Some(p.old_face.clone()))?;
        }
        devices.push(Device {
            id: format!("drain-{}", i + 1),
            name: sim.config().name.clone(),
            ip: "127.0.0.1".into(),
            port: sim.addr().port(),
            username: "admin".into(),
            password: SecretString::from(TerminalConfig::DEMO_PASSWORD),
        });
    }

    // The service's delivery on a fresh database.
    let database = fresh_database(&args.db.admin_url, "hs_drain").await?;
    progress(started, format_args!("database {} ready\n", database.name));
    let angajati = persons
        .iter()
        .map(|p| Employee {
            id: p.id,
            last_name: p.employee_no.clone(),
            first_name: "Drain".into(),
            biometrics: Some(BiometricRecord::from_row(
                Some(&p.employee_no),
                Some(photos.url(&photo_path(p))),
            )),
            validity: Default::default(),
        })
        .collect();
    let directory = Arc::new(MemoryDirectory::new(
        angajati,
        devices.into_iter().map(Ok).collect(),
    ));
    let mut settings = Settings::default();
    settings.sync.rate_limit_delay = Duration::ZERO;
    settings.sync.verify_after_write = true;
    settings.delivery.database_url = Some(SecretString::from(database.url.clone()));
    if let Some(n) = args.pool_size {
        settings.delivery.pool_size = Some(n);
    }
    // The photo URLs are plain http on loopback: sent as they are, and fetched by the service
    // because its origin and loopback are allowed, as an operator would list a photo server.
    settings.face_url.scheme = FaceUrlScheme::Keep;
    settings.photo.pipeline.allow = AllowList {
        origins: vec![photos.base.origin()],
        nets: vec!["127.0.0.1/32".parse()?],
        ..AllowList::default()
    };
    settings.photo.delivery = PhotoTransferMode::Auto;
    let slots = hikvision_sync::delivery::jobs::job_slots(settings.sync.device_concurrency);
    let pool_size = settings
        .delivery
        .pool_size
        .unwrap_or_else(|| hikvision_sync::config::pool_size_for(settings.sync.device_concurrency));
    let services = Services::build(&settings)?;
    let delivery = build_delivery(
        &settings,
        Arc::clone(&services.orchestrator),
        Some(directory),
        Arc::clone(&services.metrics),
    )
    .await?;

    // The job engine's cost with nothing to do: its queries per second, counted.
    let counter = StatementCounter::connect(&database.url).await;
    let idle_span = Duration::from_secs(args.idle_secs);
    let idle = match &counter {
        Some(c) if !idle_span.is_zero() => {
            progress(
                started,
                format_args!(
                    "counting the idle engine's statements for {} s\n",
                    args.idle_secs
                ),
            );
            c.reset().await;
            tokio::time::sleep(idle_span).await;
            c.read().await
        }
        _ => None,
    };

    for sim in &sims {
        sim.clear_request_log();
    }
    let setup_memory = stats::memory("self");
    let cpu_before = stats::cpu_time("self", ticks);
    let pg_before = backend_cpu(&database.url, ticks).await;
    let hits_before = photos.total_hits();
    progress(
        started,
        format_args!("setup done; making the backlog ({changes} changes)\n"),
    );

    // The backlog: one webhook's worth of work per employee, as `POST /api/webhooks/supabase` does.
    if let Some(c) = &counter {
        c.reset().await;
    }
    let t0 = Instant::now();
    let mut scheduled = 0;
    let mut last_report = Instant::now();
    for (i, p) in persons.iter().enumerate() {
        scheduled += delivery
            .apply(Action::PhotoChanged { angajat_id: p.id })
            .await?;
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            progress(
                started,
                format_args!("{} / {employees} employees applied\n", i + 1),
            );
        }
    }
    let enqueued = t0.elapsed();
    if scheduled != changes {
        return Err(format!("apply scheduled {scheduled} pairs, expected {changes}").into());
    }
    progress(
        started,
        format_args!(
            "{scheduled} changes scheduled in {:.1} s; draining\n",
            enqueued.as_secs_f64()
        ),
    );

    // The drain.
    let deadline = Duration::from_secs(args.timeout_secs);
    let (drained, failed) = loop {
        let backlog = delivery.store().backlog().await?;
        if backlog.pending == 0 {
            break (t0.elapsed(), backlog.failed);
        }
        if t0.elapsed() > deadline {
            return Err(format!(
                "not drained after {} s: {} pending, {} failed",
                args.timeout_secs, backlog.pending, backlog.failed
            )
            .into());
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            progress(
                started,
                format_args!(
                    "{:.0} s: {} pending, {} failed\n",
                    t0.elapsed().as_secs_f64(),
                    backlog.pending,
                    backlog.failed
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let during = match &counter {
        Some(c) => c.read().await,
        None => None,
    };
    let cpu_used = stats::cpu_time("self", ticks).saturating_sub(cpu_before);
    let pg_after = backend_cpu(&database.url, ticks).await;
    // Backends alive at the end, less what those already had before the backlog was made.
    let pg_used: Duration = pg_after
        .iter()
        .map(|(pid, t)| t.saturating_sub(pg_before.get(pid).copied().unwrap_or_default()))
        .sum();
    let end_memory = stats::memory("self");
    let photo_hits = photos.total_hits() - hits_before;
    progress(
        started,
        format_args!(
            "drained in {:.1} s ({failed} failed); checking the terminals\n",
            drained.as_secs_f64()
        ),
    );

    // Every terminal holds every new face, byte for byte.
    let mut faces_new = 0usize;
    let mut faces_wrong = Vec::new();
    for (i, sim) in sims.iter().enumerate() {
        for p in &persons {
            match sim.face(&p.employee_no) {
                Some(face) if face.bytes == p.new_face => faces_new += 1,
                Some(face) if face.bytes == p.old_face => {
                    faces_wrong.push(format!("terminal {} / {}: old face", i + 1, p.employee_no));
                }
                Some(face) => faces_wrong.push(format!(
                    "terminal {} / {}: other picture ({})",
                    i + 1,
                    p.employee_no,
                    face.source
                )),
                None => {
                    faces_wrong.push(format!("terminal {} / {}: no face", i + 1, p.employee_no));
                }
            }
        }
    }

    // What the terminals saw: requests per pair, from the request logs.
    let calls = count_requests(&sims, employees);

    // Figures.
    let per_terminal_requests = calls.answered_per_pair * employees as f64;
    let bound = latency.mul_f64(per_terminal_requests);
    let slot_bound = if terminals > slots {
        bound.mul_f64(terminals as f64 / slots as f64)
    } else {
        bound
    };
    let per_change = |d: Duration| {
        let s = drained.as_secs_f64() - d.as_secs_f64();
        format!("{:.2} ms", s * 1000.0 / changes as f64)
    };

    println!(
        "## Drain: {changes} changes, {employees} employees x {terminals} terminals, L = {} ms\n",
        args.latency_ms
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| requests per pair at the terminal (the simulators' request counters) | {:.2}: {} |",
        calls.per_pair, calls.summary
    );
    println!(
        "| terminal bound: {employees} pairs x {:.2} answered requests x {} ms, terminals in parallel | {:.1} s |",
        calls.answered_per_pair,
        args.latency_ms,
        bound.as_secs_f64()
    );
    println!(
        "| job slots: min(DEVICE_CONCURRENCY = {}, MAX_JOB_SLOTS = {}) | {slots} for {terminals} terminals |",
        settings.sync.device_concurrency,
        hikvision_sync::delivery::jobs::MAX_JOB_SLOTS
    );
    println!(
        "| slot bound: terminal bound x max(1, {terminals} / {slots}) | {:.1} s |",
        slot_bound.as_secs_f64()
    );
    println!(
        "| backlog made: {employees} x apply(PhotoChanged) | {:.1} s ({:.2} ms per change) |",
        enqueued.as_secs_f64(),
        enqueued.as_secs_f64() * 1000.0 / changes as f64
    );
    println!(
        "| **drain time**: first apply to pending = 0 | **{:.1} s** ({:.0} changes/s) |",
        drained.as_secs_f64(),
        changes as f64 / drained.as_secs_f64()
    );
    println!(
        "| drain left after the last apply returned | {:.1} s |",
        drained.saturating_sub(enqueued).as_secs_f64()
    );
    println!(
        "| drain / terminal bound | {:.2}x |",
        drained.as_secs_f64() / bound.as_secs_f64()
    );
    println!(
        "| **job-engine overhead per change**: (drain - terminal bound) / {changes} | **{}** |",
        per_change(bound)
    );
    println!(
        "| of which beyond the slot bound: (drain - slot bound) / {changes} | {} |",
        per_change(slot_bound)
    );
    println!(
        "| statements during the drain (pg_stat_statements): all / job fetches | {} |",
        statements_line(during, changes)
    );
    println!(
        "| the server's time executing them, against the pool's {pool_size} connections over the drain | {} |",
        during.map_or("not counted".into(), |c| format!(
            "{:.1} s = {:.1} % of {pool_size} x {:.1} s",
            c.exec.as_secs_f64(),
            c.exec.as_secs_f64() * 100.0 / (pool_size as f64 * drained.as_secs_f64()),
            drained.as_secs_f64()
        ))
    );
    println!(
        "| idle job engine ({slots} job slots, no work, over {} s): statements per second, all / job fetches | {} |",
        args.idle_secs,
        idle.map_or("not counted".into(), |c: Counts| {
            let (all, fetches) = c.per_second(idle_span);
            format!("{all:.1} / {fetches:.1}")
        })
    );
    println!("| failed pairs | {failed} |");
    println!("| terminals holding the new face, byte for byte | {faces_new} / {changes} |");
    println!(
        "| photo server GETs during the drain (service fetches + terminal faceURL downloads) | {photo_hits} |"
    );
    println!(
        "| CPU time of this process during the drain (service + {terminals} simulators + photo server) | {:.1} s ({:.2} ms per change) |",
        cpu_used.as_secs_f64(),
        cpu_used.as_secs_f64() * 1000.0 / changes as f64
    );
    println!(
        "| CPU time of PostgreSQL's backends for this database ({} alive at the end, from /proc) | {:.1} s ({:.2} ms per change) |",
        pg_after.len(),
        pg_used.as_secs_f64(),
        pg_used.as_secs_f64() * 1000.0 / changes as f64
    );
    println!(
        "| peak RSS (VmHWM, whole process): after setup / after the drain | {} / {} (VmRSS now {}, {} threads) |",
        stats::mib(setup_memory.hwm_kib),
        stats::mib(end_memory.hwm_kib),
        stats::mib(end_memory.rss_kib),
        end_memory.threads
    );
    println!(
        "\nDATABASE_POOL_SIZE = {pool_size}; PostgreSQL runs on the same machine (its memory is not \
         in the RSS figures). Load average {} at the end; finished in {:.0} s.\n",
        load_average(),
        started.elapsed().as_secs_f64()
    );

    finish(
        sims,
        photos,
        &args.db.admin_url,
        &database,
        args.db.keep_database,
        failed,
        &faces_wrong,
    )
    .await
}

/// "all / fetches (per change)" of the drain's statements.
fn statements_line(counts: Option<Counts>, changes: usize) -> String {
    counts.map_or("not counted".into(), |c| {
        let n = changes.max(1) as f64;
        format!(
            "{} / {} ({:.2} / {:.3} per change)",
            c.all,
            c.fetches,
            c.all as f64 / n,
            c.fetches as f64 / n
        )
    })
}
