//! Bulk resync (issue 13): N employees onto K fresh terminals at once, against the bound the
//! terminals set, with the service's peak memory.
//!
//! ```sh
//! bash scripts/test-stack.sh start; set -a; source /tmp/hikvision-sync-stack/stack.env; set +a
//! cargo bench --bench resync                                     # 10,000 employees, 1 terminal, L = 200 ms
//! cargo bench --bench resync -- --employees 2000 --terminals 20  # 2,000 onto each of 20 terminals
//! cargo bench --bench resync -- --quick                          # 300 employees, 1 terminal
//! cargo bench --bench resync -- --help                           # --latency-ms, --no-verify, ...
//! ```
//!
//! The service runs in a child process (the bench binary re-executed with `--serve-child`, as
//! the fan-out bench does: `Settings::from_lookup` -> `Application::build_with`), with durable
//! delivery on a fresh database of the test stack's PostgreSQL (`supabase/migrations/*.sql`
//! applied), `RATE_LIMIT_DELAY_MS=0`, a `MemoryDirectory` of N employees and the K terminals. This
//! process holds the K simulated terminals (real HTTP, real Digest auth, every answered call
//! taking `--latency-ms` of terminal work, the 401 challenge answered at once; empty, as a new
//! terminal is) and a photo server with a distinct real JPEG per employee (absolute URLs, so
//! `PHOTO_DELIVERY=auto` sends `faceURL` and the terminals download the pictures). So the
//! service's memory and CPU figures are its own.
//!
//! The run: `POST /api/hikvision/devices/{id}/resync` for every terminal (API key), then
//! `GET /api/hikvision/devices/status` every second until every terminal's `pending` is 0; then
//! every terminal must hold every person, with that employee's picture byte for byte.
//!
//! The bound: a terminal takes its persons one at a time (one job queue per terminal), and each
//! person costs the terminal `UserInfo/SetUp + FDSetUp [+ FDSearch when verifying]` answered
//! calls of L each; terminals run in parallel. So bound = N x calls x L. The calls the service
//! really made are counted by the simulators (uncapped request counters) and shown beside it.

#[allow(dead_code)]
#[path = "support/stats.rs"]
mod stats;

#[allow(dead_code)]
#[path = "support/backlog.rs"]
mod backlog;

#[allow(dead_code)]
#[path = "support/child.rs"]
mod child;

use backlog::*;
use child::{DeviceSpec, Launch, PersonSpec, ServiceProcess, ServiceSpec};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use hikvision_simulator::{SimulatedTerminal, TerminalConfig};
use serde_json::Value;

use hikvision_testkit::BoxError;

/// The API key the bench gives the service and uses.
const API_KEY: &str = "resync-bench-key";

/// Bulk resync of N employees onto K fresh terminals (issue 13).
#[derive(Debug, Parser)]
#[command(name = "resync", bin_name = "cargo bench --bench resync --")]
struct Args {
    /// Smaller run: 300 employees unless set below.
    #[arg(long)]
    quick: bool,
    /// Employees, each with an employee_no and a photo [default: 10,000, 300 with --quick].
    #[arg(long)]
    employees: Option<usize>,
    /// Fresh terminals, all resynced at once.
    #[arg(long, default_value_t = 1)]
    terminals: usize,
    /// The terminals' time to work on every answered call, in ms (the challenge is answered
    /// at once).
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
    /// VERIFY_AFTER_WRITE=false: no read-back FDSearch after each face.
    #[arg(long)]
    no_verify: bool,
    /// More settings of the service, as KEY=VALUE (e.g. DATABASE_POOL_SIZE=8); repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
    service_env: Vec<(String, String)>,
    /// Give up when the terminals are not in sync after this many seconds.
    #[arg(long, default_value_t = 10_800)]
    timeout_secs: u64,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// `KEY=VALUE`.
fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

impl Args {
    fn employees(&self) -> usize {
        self.employees
            .unwrap_or(if self.quick { 300 } else { 10_000 })
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(child::CHILD_FLAG) {
        return match child::child_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("service child failed: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let args = Args::parse();
    if args.employees() == 0 || args.terminals == 0 {
        eprintln!("--employees and --terminals must be at least 1");
        return ExitCode::from(2);
    }
    block_on_bench(run(args))
}

/// The service seen over HTTP, with the API key.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(addr: SocketAddr) -> Result<Self, BoxError> {
        Ok(Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()?,
            base: format!("http://{addr}"),
        })
    }

    /// `POST .../resync`: the number of employees scheduled.
    async fn resync(&self, device_id: &str) -> Result<u64, BoxError> {
        let response = self
            .http
            .post(format!(
                "{}/api/hikvision/devices/{device_id}/resync",
                self.base
            ))
            .header("x-api-key", API_KEY)
            .json(&serde_json::json!({}))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status.as_u16() != 202 {
            return Err(format!("resync of {device_id} answered {status}: {body}").into());
        }
        body["scheduled"]
            .as_u64()
            .ok_or_else(|| format!("no `scheduled` in {body}").into())
    }

    /// `GET /api/hikvision/devices/status`: (device id, pending, failed) per terminal.
    async fn backlog(&self) -> Result<Vec<(String, u64, u64)>, BoxError> {
        let body: Value = self
            .http
            .get(format!("{}/api/hikvision/devices/status", self.base))
            .header("x-api-key", API_KEY)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let devices = body["devices"]
            .as_array()
            .ok_or_else(|| format!("no `devices` in {body}"))?;
        devices
            .iter()
            .map(|d| {
                match (
                    d["device_id"].as_str(),
                    d["pending"].as_u64(),
                    d["failed"].as_u64(),
                ) {
                    (Some(id), Some(pending), Some(failed)) => {
                        Ok((id.to_string(), pending, failed))
                    }
                    _ => Err(format!("a device line without device_id/pending/failed: {d}").into()),
                }
            })
            .collect()
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let started = Instant::now();
    let (employees, terminals) = (args.employees(), args.terminals);
    let verify = !args.no_verify;
    let latency = Duration::from_millis(args.latency_ms);
    let (cpu, cores) = stats::machine();
    let ticks = stats::clock_ticks();
    println!("# hikvision-sync resync benchmark (issue 13)\n");
    println!(
        "Machine: {cores} cores ({cpu}), load average {} at the start. {employees} employees onto \
         each of {terminals} fresh terminal(s) at once, L = {} ms of terminal work per answered \
         call, RATE_LIMIT_DELAY_MS = 0, VERIFY_AFTER_WRITE = {verify}{}.\n",
        load_average(),
        args.latency_ms,
        args.service_env
            .iter()
            .map(|(k, v)| format!(", {k} = {v}"))
            .collect::<String>(),
    );

    let persons = make_persons(employees)?;
    let photos = photo_server(&persons).await?;
    progress(started, format_args!("starting {terminals} terminal(s)\n"));
    let sims = spawn_terminals("Resync", terminals, args.latency_ms, employees).await?;
    let devices: Vec<DeviceSpec> = sims
        .iter()
        .enumerate()
        .map(|(i, sim)| DeviceSpec {
            id: format!("resync-{}", i + 1),
            name: sim.config().name.clone(),
            ip: "127.0.0.1".into(),
            port: sim.addr().port(),
            username: "admin".into(),
            password: TerminalConfig::DEMO_PASSWORD.into(),
        })
        .collect();

    let database = fresh_database(&args.db.admin_url, "hs_resync").await?;
    progress(started, format_args!("database {} ready\n", database.name));
    let env: BTreeMap<String, String> = [
        ("DATABASE_URL", database.url.as_str()),
        ("API_KEY", API_KEY),
        ("RATE_LIMIT_DELAY_MS", "0"),
        ("PHOTO_DELIVERY", "auto"),
        ("VERIFY_AFTER_WRITE", if verify { "true" } else { "false" }),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain(args.service_env.iter().cloned())
    .collect();
    let spec = ServiceSpec {
        env,
        photo_base: photos.base.to_string(),
        log_filter: None,
        angajati: persons
            .iter()
            .map(|p| PersonSpec {
                id: p.id,
                employee_no: p.employee_no.clone(),
                photo: photos.url(&photo_path(p)),
            })
            .collect(),
        devices: devices.clone(),
    };
    let service = ServiceProcess::start(&spec, &Launch::default()).await?;
    let api = Api::new(service.addr)?;
    let setup_memory = service.memory();
    let cpu_before = service.cpu_time(ticks);
    let pg_before = backend_cpu(&database.url, ticks).await;
    let hits_before = photos.total_hits();
    for sim in &sims {
        sim.clear_request_log();
    }
    progress(started, format_args!("service up; resync\n"));

    // All terminals at once: one POST each, concurrently (each reads its terminal's capacity
    // first, two calls of L).
    let t0 = Instant::now();
    let answers = futures::future::try_join_all(devices.iter().map(|d| api.resync(&d.id))).await?;
    for (d, scheduled) in devices.iter().zip(answers) {
        if scheduled != employees as u64 {
            return Err(format!("{} scheduled {scheduled}, expected {employees}", d.id).into());
        }
    }
    let scheduling = t0.elapsed();
    progress(
        started,
        format_args!(
            "{terminals} resync(s) scheduled in {:.1} s\n",
            scheduling.as_secs_f64()
        ),
    );
    let deadline = Duration::from_secs(args.timeout_secs);
    let mut last_report = Instant::now();
    let mut peak_rss_kib = 0;
    // When each terminal's pending first fell to 0 (polled every second).
    let mut finished: BTreeMap<String, Duration> = BTreeMap::new();
    let (took, failed) = loop {
        let lines = api.backlog().await?;
        peak_rss_kib = peak_rss_kib.max(service.memory().rss_kib);
        for (id, pending, _) in &lines {
            if *pending == 0 {
                finished.entry(id.clone()).or_insert_with(|| t0.elapsed());
            }
        }
        let pending: u64 = lines.iter().map(|l| l.1).sum();
        let failed: u64 = lines.iter().map(|l| l.2).sum();
        if pending == 0 {
            break (t0.elapsed(), failed);
        }
        if t0.elapsed() > deadline {
            return Err(format!(
                "not in sync after {} s: {pending} pending, {failed} failed",
                args.timeout_secs
            )
            .into());
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let done = sims.iter().map(|s| s.state().faces.len()).sum::<usize>();
            progress(
                started,
                format_args!(
                    "{:.0} s: {pending} pending, {failed} failed, {done} faces on the terminals\n",
                    t0.elapsed().as_secs_f64()
                ),
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let end_memory = service.memory();
    let cpu_used = service.cpu_time(ticks).saturating_sub(cpu_before);
    let pg_after = backend_cpu(&database.url, ticks).await;
    let pg_used: Duration = pg_after
        .iter()
        .map(|(pid, t)| t.saturating_sub(pg_before.get(pid).copied().unwrap_or_default()))
        .sum();
    let photo_hits = photos.total_hits() - hits_before;
    progress(
        started,
        format_args!(
            "in sync after {:.1} s ({failed} failed); checking the terminals\n",
            took.as_secs_f64()
        ),
    );

    let wrong = check_terminals(&sims, &persons);
    let held = terminals * employees - wrong.len();
    let calls = count_requests(&sims, employees);
    let calls_per_person = if verify { 3.0 } else { 2.0 };
    let bound = latency.mul_f64(employees as f64 * calls_per_person);
    // The capacity guard reads FDLib/capabilities and UserInfo/Count before scheduling.
    let guarded_bound = bound + 2 * latency;
    let mut per_terminal: Vec<Duration> = finished.values().copied().collect();
    per_terminal.sort();
    let fastest = per_terminal.first().copied().unwrap_or(took);
    let median = per_terminal
        .get(per_terminal.len() / 2)
        .copied()
        .unwrap_or(took);
    let counted_bound = latency.mul_f64(employees as f64 * calls.answered_per_pair);
    let pairs = (terminals * employees) as f64;

    println!(
        "## Resync: {employees} employees onto {terminals} terminal(s), L = {} ms, verify {verify}\n",
        args.latency_ms
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| **bound**: {employees} persons x {calls_per_person} calls (UserInfo/SetUp + FDSetUp{}) x {} ms, terminals in parallel | **{:.1} s** |",
        if verify { " + FDSearch" } else { "" },
        args.latency_ms,
        bound.as_secs_f64()
    );
    println!(
        "| **resync time**: first POST .../resync to pending = 0 on every terminal | **{:.1} s** ({:.1} persons/s per terminal) |",
        took.as_secs_f64(),
        employees as f64 / took.as_secs_f64()
    );
    println!(
        "| **resync / bound** | **{:.3}x** |",
        took.as_secs_f64() / bound.as_secs_f64()
    );
    println!(
        "| bound with the capacity guard's two reads (+ 2 x {} ms) | {:.1} s: resync / it = {:.3}x |",
        args.latency_ms,
        guarded_bound.as_secs_f64(),
        took.as_secs_f64() / guarded_bound.as_secs_f64()
    );
    println!(
        "| each terminal's own time (POSTs sent to its pending = 0; 1 s polls): fastest / median / slowest | {:.1} / {:.1} / {:.1} s |",
        fastest.as_secs_f64(),
        median.as_secs_f64(),
        took.as_secs_f64()
    );
    println!(
        "| service time per person beyond the bound: (resync - bound) / {employees} | {:.1} ms |",
        (took.as_secs_f64() - bound.as_secs_f64()) * 1000.0 / employees as f64
    );
    println!(
        "| answered calls per person at the terminal (request counters) | {:.3} (bound from them: {:.1} s) |",
        calls.answered_per_pair,
        counted_bound.as_secs_f64()
    );
    println!(
        "| requests per person, Digest challenges included | {:.3}: {} |",
        calls.per_pair, calls.summary
    );
    println!(
        "| scheduling: {terminals} x POST .../resync at once (each reads the capacity, writes {employees} changes) | {:.2} s |",
        scheduling.as_secs_f64()
    );
    println!("| failed | {failed} |");
    println!(
        "| terminals holding the person and its picture, byte for byte | {held} / {} |",
        terminals * employees
    );
    println!("| photo server GETs (service fetches + terminal downloads) | {photo_hits} |");
    println!(
        "| service CPU time during the resync | {:.1} s ({:.2} ms per person and terminal) |",
        cpu_used.as_secs_f64(),
        cpu_used.as_secs_f64() * 1000.0 / pairs
    );
    println!(
        "| PostgreSQL backends' CPU for this database ({} alive at the end) | {:.1} s ({:.2} ms per person and terminal) |",
        pg_after.len(),
        pg_used.as_secs_f64(),
        pg_used.as_secs_f64() * 1000.0 / pairs
    );
    println!(
        "| **service peak RSS** (VmHWM of the service process): after start / at the end | {} / **{}** (VmRSS at most {} while sampled, {} at the end; {} threads) |",
        stats::mib(setup_memory.hwm_kib),
        stats::mib(end_memory.hwm_kib),
        stats::mib(peak_rss_kib),
        stats::mib(end_memory.rss_kib),
        end_memory.threads
    );
    println!(
        "\nThe service process only: the simulators and the photo server run in the bench process. \
         PostgreSQL runs on the same machine. Load average {} at the end; finished in {:.0} s.\n",
        load_average(),
        started.elapsed().as_secs_f64()
    );

    service.stop().await;
    finish(
        sims,
        photos,
        &args.db.admin_url,
        &database,
        args.db.keep_database,
        failed,
        &wrong,
    )
    .await
}

/// What is not as it should be: every terminal holds every person, with their picture.
fn check_terminals(sims: &[SimulatedTerminal], persons: &[Person]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (i, sim) in sims.iter().enumerate() {
        for p in persons {
            let no = &p.employee_no;
            if sim.person(no).is_none() {
                wrong.push(format!("terminal {} / {no}: no person", i + 1));
            }
            match sim.face(no) {
                Some(face) if face.bytes == p.new_face => {}
                Some(face) => wrong.push(format!(
                    "terminal {} / {no}: another picture ({})",
                    i + 1,
                    face.source
                )),
                None => wrong.push(format!("terminal {} / {no}: no face", i + 1)),
            }
        }
    }
    wrong
}
