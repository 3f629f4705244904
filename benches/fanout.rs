//! Fan-out at the speed of the slowest terminal, measured end to end.
//!
//! `cargo bench --bench fanout` (about 5 minutes) or `cargo bench --bench fanout -- --quick`
//! (under a minute). `-- --help` lists the knobs.
//!
//! The bench process starts K simulated terminals (real HTTP, real Digest auth, a latency of L
//! before every reply) and a small photo server; the service runs in a child process (this
//! binary re-executed with `--serve-child`: `Settings::from_lookup`, `Application::build_with`,
//! `run_until_stopped` on `api::router`, a `MemoryDirectory` with the K devices), and every figure
//! comes from real `POST /api/hikvision/update-angajat-photo` requests made with reqwest.
//! It prints Markdown tables (the ones quoted in BENCHMARKS.md).

mod support;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use hikvision_isapi::{ClientOptions, FaceCall, FacePicture, IsapiClient, Terminal};
use hikvision_simulator::TerminalConfig;
use hikvision_sync::orchestration::RetryPolicy;
use hikvision_sync::supabase::{FaceUrlPolicy, FaceUrlScheme};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use support::BoxError;
use support::child::{CHILD_FLAG, Launch, PersonSpec, ServiceProcess, ServiceSpec, child_main};
use support::fleet::{Fleet, Kind, PhotoServer, mixed_kinds};
use support::stats::{self, Memory, human, median, mib, ms, ms3, percentile};

const API_KEY: &str = "bench-api-key";
const ENDPOINT: &str = "/api/hikvision/update-angajat-photo";
/// DEVICE_CONCURRENCY of the original design (the service's default is now 256, so for K <= 256 the
/// ">= K" column is the default).
const DEFAULT_CONCURRENCY: usize = 16;
const DEFAULT_DEVICE_TIMEOUT_MS: u64 = 10_000;
/// Raised from the default 30 s so that the slow configurations (DEVICE_CONCURRENCY=1) are
/// measured to the end instead of being cut off; every run is checked for `deadline_exceeded`.
const BENCH_DEADLINE_MS: u64 = 600_000;

const HELP: &str = "\
cargo bench --bench fanout [-- OPTIONS]

  --quick                fewer cells and runs (under a minute)
  --only LIST            sections, comma-separated: fanout,faults,overhead,rss,check
  --runs N               runs per cell (default: 5 for cells under 1.5 s, 3 under 5 s, else 1;
                         with --quick: 3 under 1.5 s, else 1)
  --latency-ms L         simulated delay before every terminal reply (default 200)
  --serial-max K         largest K measured with DEVICE_CONCURRENCY=1; larger K are
                         extrapolated from it (default 10)
  --hang-timeout-ms T    DEVICE_TIMEOUT_MS of the fault cells (default 2000; the service's
                         default is 10000)
  --requests N           requests of each kind in the overhead test (default 2000; --quick 500)
  --load-secs S          duration of each load test (default 5; --quick 2)
  --clients N            concurrent clients of the load test (default 64)
  --rss-k K              terminals of the memory test (default 1000)
  --rss-concurrency LIST DEVICE_CONCURRENCY values of the memory test (default: K)
  --service-log F        RUST_LOG of the service (default info, as in production); off = none
  --service-env K=V      extra environment of the service process (repeatable), e.g.
                         MALLOC_ARENA_MAX=2
  --service-wrap CMD     run the service under CMD (split on spaces), e.g.
                         'perf stat -e task-clock' or 'valgrind --tool=massif'
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Fanout,
    Faults,
    Overhead,
    Rss,
    Check,
}

#[derive(Debug, Clone)]
struct Args {
    quick: bool,
    runs: Option<usize>,
    sections: Vec<Section>,
    latency_ms: u64,
    serial_max: usize,
    hang_timeout_ms: u64,
    requests: usize,
    load_secs: u64,
    clients: usize,
    rss_k: usize,
    rss_concurrency: Vec<usize>,
    service_log: Option<String>,
    launch: Launch,
}

fn parse_args(argv: &[String]) -> Result<Args, BoxError> {
    let quick = argv.iter().any(|a| a == "--quick");
    let mut args = Args {
        quick,
        runs: None,
        sections: vec![
            Section::Fanout,
            Section::Faults,
            Section::Overhead,
            Section::Rss,
            Section::Check,
        ],
        latency_ms: 200,
        serial_max: 10,
        hang_timeout_ms: 2_000,
        requests: if quick { 500 } else { 2_000 },
        load_secs: if quick { 2 } else { 5 },
        clients: 64,
        rss_k: 1_000,
        rss_concurrency: Vec::new(),
        service_log: Some("info".into()),
        launch: Launch::default(),
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            // cargo passes --bench to harness = false targets.
            "--bench" | "--quick" => {}
            "--runs" => args.runs = Some(value()?.parse()?),
            "--latency-ms" => args.latency_ms = value()?.parse()?,
            "--serial-max" => args.serial_max = value()?.parse()?,
            "--hang-timeout-ms" => args.hang_timeout_ms = value()?.parse()?,
            "--requests" => args.requests = value()?.parse()?,
            "--load-secs" => args.load_secs = value()?.parse()?,
            "--clients" => args.clients = value()?.parse()?,
            "--rss-k" => args.rss_k = value()?.parse()?,
            "--rss-concurrency" => {
                args.rss_concurrency = value()?
                    .split(',')
                    .map(|c| c.trim().parse())
                    .collect::<Result<_, _>>()?;
            }
            "--service-log" => {
                let v = value()?;
                args.service_log = (v != "off").then_some(v);
            }
            "--service-env" => {
                let v = value()?;
                let (k, val) = v.split_once('=').ok_or("--service-env takes KEY=VALUE")?;
                args.launch.env.push((k.to_string(), val.to_string()));
            }
            "--service-wrap" => {
                args.launch.wrapper = value()?.split_whitespace().map(String::from).collect();
            }
            "--only" => {
                args.sections = value()?
                    .split(',')
                    .map(|s| match s.trim() {
                        "fanout" => Ok(Section::Fanout),
                        "faults" => Ok(Section::Faults),
                        "overhead" => Ok(Section::Overhead),
                        "rss" => Ok(Section::Rss),
                        "check" => Ok(Section::Check),
                        other => Err(format!("unknown section '{other}'")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "-h" | "--help" => return Err(HELP.into()),
            other => return Err(format!("unknown argument '{other}'\n\n{HELP}").into()),
        }
    }
    if args.runs == Some(0) || args.serial_max == 0 || args.clients == 0 || args.rss_k == 0 {
        return Err("--runs, --serial-max, --clients and --rss-k must be at least 1".into());
    }
    if args.rss_concurrency.is_empty() {
        args.rss_concurrency = vec![args.rss_k];
    }
    Ok(args)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(CHILD_FLAG) {
        return match child_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench service: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The model: what each terminal costs on its own, and what a service adding nothing would take.

/// Shortest, expected and longest time of one terminal on its own.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    min: Duration,
    mean: Duration,
    max: Duration,
}

/// Attempts of `durations` each, separated by `backoffs`, each attempt waiting for its pacing
/// slot (`delay` after the previous attempt on the same terminal began).
fn paced(durations: &[Duration], backoffs: &[Duration], delay: Duration) -> Duration {
    let (mut ready, mut slot, mut end) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for (i, &d) in durations.iter().enumerate() {
        let start = ready.max(slot);
        slot = start + delay;
        end = start + d;
        ready = end + backoffs.get(i).copied().unwrap_or_default();
    }
    end
}

/// The service's retry policy: backoff `i` is `base * 2^i` plus jitter in `[0, base * 2^i]`.
fn backoffs(n: u32, jitter: f64) -> Vec<Duration> {
    let base = RetryPolicy::default().base_backoff;
    (0..n)
        .map(|i| base * 2u32.pow(i))
        .map(|step| step + step.mul_f64(jitter))
        .collect()
}

/// Each ISAPI call is two Digest legs, each delayed by L. Old firmware: the PUT (notSupport),
/// then the POST in its pacing slot. Closed port: refused at once, retried `max_retries` times
/// after backoffs. Hanging: a timeout, retried `max_timeout_retries` times (FDModify is
/// idempotent).
fn terminal_time(kind: Kind, l: Duration, delay: Duration, timeout: Duration) -> Span {
    let policy = RetryPolicy::default();
    let with = |jitter: f64| match kind {
        Kind::Healthy => 2 * l,
        Kind::OldFirmware => paced(&[2 * l, 2 * l], &[], delay),
        Kind::Refused => {
            let n = policy.max_retries;
            paced(
                &vec![Duration::ZERO; n as usize + 1],
                &backoffs(n, jitter),
                delay,
            )
        }
        // A reply timeout is never retried: one DEVICE_TIMEOUT_MS.
        Kind::Hang => timeout,
    };
    Span {
        min: with(0.0),
        mean: with(0.5),
        max: with(1.0),
    }
}

/// FIFO schedule with `c` slots (the orchestrator's semaphore is fair and tasks queue in the
/// devices' order).
fn schedule(times: &[Duration], c: usize) -> Duration {
    let mut slots: BinaryHeap<Reverse<Duration>> = (0..c.clamp(1, times.len().max(1)))
        .map(|_| Reverse(Duration::ZERO))
        .collect();
    let mut end = Duration::ZERO;
    for &t in times {
        let Reverse(free) = slots.pop().unwrap_or(Reverse(Duration::ZERO));
        let done = free + t;
        end = end.max(done);
        slots.push(Reverse(done));
    }
    end
}

// ---------------------------------------------------------------------------------------------
// Cells: one fleet + one service process + R measured requests.

/// Which terminals a cell has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Mix {
    /// All healthy.
    Healthy,
    /// 20 % old firmware, 10 % offline with a closed port.
    OldAndRefused,
    /// 20 % old firmware, 10 % offline hanging.
    OldAndHang,
}

impl Mix {
    fn kinds(self, k: usize) -> Vec<Kind> {
        match self {
            Mix::Healthy => vec![Kind::Healthy; k],
            Mix::OldAndRefused => mixed_kinds(k, Kind::Refused),
            Mix::OldAndHang => mixed_kinds(k, Kind::Hang),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Cell {
    mix: Mix,
    k: usize,
    /// DEVICE_CONCURRENCY.
    c: usize,
    /// RATE_LIMIT_DELAY_MS.
    delay_ms: u64,
    /// DEVICE_TIMEOUT_MS.
    timeout_ms: u64,
}

impl Cell {
    /// Cells that differ only in a concurrency at or above K are the same experiment.
    fn key(self) -> Self {
        Self {
            c: self.c.min(self.k.max(1)),
            ..self
        }
    }
}

#[derive(Debug, Clone)]
struct Outcome {
    walls: Vec<Duration>,
    /// What a service adding no time of its own would take at this concurrency (FIFO schedule
    /// of the expected per-terminal times).
    model: Duration,
    /// The slowest kind of terminal on its own: the floor at any concurrency.
    floor: Span,
    /// The slowest `per_device.elapsed_ms` of each run (the service's own clock, queueing
    /// excluded); median over the runs.
    slowest_reported: Duration,
    /// Slowest `elapsed_ms` per kind in the last run.
    by_kind: Vec<(Kind, u64)>,
    /// Service memory after the runs (`hwm_kib` is the peak).
    memory: Memory,
    fds: usize,
    problems: Vec<String>,
}

impl Outcome {
    fn median(&self) -> Duration {
        median(&self.walls)
    }
}

struct Ctx {
    args: Args,
    photos: PhotoServer,
    http: reqwest::Client,
    ticks: u64,
    next_employee: AtomicU64,
    cache: HashMap<Cell, Outcome>,
    started: Instant,
}

impl Ctx {
    fn latency(&self) -> Duration {
        Duration::from_millis(self.args.latency_ms)
    }

    fn progress(&self, what: std::fmt::Arguments<'_>) {
        eprint!(
            "[{:>4.0} s, load {}] {what}",
            self.started.elapsed().as_secs_f64(),
            load_average()
        );
    }

    /// `n` employees nobody has used yet (each run gets its own, so old-firmware terminals
    /// always take the same FaceDataRecord path and no picture is a duplicate).
    fn persons(&self, n: usize) -> Vec<PersonSpec> {
        (0..n)
            .map(|_| {
                let no = 100_000 + self.next_employee.fetch_add(1, Ordering::Relaxed);
                PersonSpec {
                    id: Uuid::new_v4(),
                    employee_no: no.to_string(),
                    photo: format!("bench/{no}.jpg"),
                }
            })
            .collect()
    }

    fn spec(
        &self,
        fleet: &Fleet,
        persons: &[PersonSpec],
        c: usize,
        delay_ms: u64,
        timeout_ms: u64,
    ) -> ServiceSpec {
        let env: BTreeMap<String, String> = [
            ("RATE_LIMIT_DELAY_MS", delay_ms.to_string()),
            ("DEVICE_CONCURRENCY", c.to_string()),
            ("DEVICE_TIMEOUT_MS", timeout_ms.to_string()),
            ("REQUEST_DEADLINE_MS", BENCH_DEADLINE_MS.to_string()),
            ("API_KEY", API_KEY.to_string()),
            ("FACE_URL_SCHEME", "keep".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        ServiceSpec {
            env,
            photo_base: self.photos.base.clone(),
            log_filter: self.args.service_log.clone(),
            angajati: persons.to_vec(),
            devices: fleet.devices.clone(),
        }
    }

    async fn service(&self, spec: &ServiceSpec) -> Result<ServiceProcess, BoxError> {
        ServiceProcess::start(spec, &self.args.launch).await
    }

    fn runs_for(&self, model: Duration) -> usize {
        if let Some(r) = self.args.runs {
            return r;
        }
        match (self.args.quick, model.as_secs_f64()) {
            (true, s) if s <= 1.5 => 3,
            (true, _) => 1,
            (false, s) if s <= 1.5 => 5,
            (false, s) if s <= 5.0 => 3,
            _ => 1,
        }
    }

    async fn update(
        &self,
        addr: std::net::SocketAddr,
        id: Uuid,
    ) -> Result<(Duration, Value), BoxError> {
        let url = format!("http://{addr}{ENDPOINT}");
        let started = Instant::now();
        let response = self
            .http
            .post(&url)
            .header("x-api-key", API_KEY)
            .json(&json!({ "angajat_id": id }))
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        let wall = started.elapsed();
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)).into());
        }
        Ok((wall, serde_json::from_slice(&body)?))
    }

    /// Measures `cell` (or returns the earlier measurement of the same experiment).
    async fn cell(&mut self, cell: Cell) -> Result<Outcome, BoxError> {
        let key = cell.key();
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let l = self.latency();
        let delay = Duration::from_millis(cell.delay_ms);
        let timeout = Duration::from_millis(cell.timeout_ms);
        let kinds = cell.mix.kinds(cell.k);
        let spans: Vec<Span> = kinds
            .iter()
            .map(|&k| terminal_time(k, l, delay, timeout))
            .collect();
        let means: Vec<Duration> = spans.iter().map(|s| s.mean).collect();
        let model = schedule(&means, key.c);
        let floor = spans
            .iter()
            .copied()
            .max_by_key(|s| s.mean)
            .unwrap_or_default();
        let runs = self.runs_for(model);
        self.progress(format_args!(
            "{:?} K={} c={} delay={} ms: {runs} run(s) of ~{} ...",
            cell.mix,
            cell.k,
            key.c,
            cell.delay_ms,
            human(model)
        ));

        let persons = self.persons(runs);
        let fleet = Fleet::start(&kinds, self.args.latency_ms, &persons).await?;
        let spec = self.spec(&fleet, &persons, key.c, cell.delay_ms, cell.timeout_ms);
        let service = self.service(&spec).await?;
        let mut walls = Vec::with_capacity(runs);
        let mut reported = Vec::with_capacity(runs);
        let mut problems = Vec::new();
        let mut by_kind = Vec::new();
        for (run, person) in persons.iter().enumerate() {
            if run > 0 {
                // Let every terminal's pacing slot from the previous run pass.
                tokio::time::sleep(delay + Duration::from_millis(100)).await;
            }
            let (wall, body) = self.update(service.addr, person.id).await?;
            walls.push(wall);
            problems.extend(check_response(&body, &fleet));
            by_kind = slowest_by_kind(&body, &fleet);
            let slowest = by_kind.iter().map(|(_, ms)| *ms).max().unwrap_or(0);
            reported.push(Duration::from_millis(slowest));
        }
        let memory = service.memory();
        let fds = service.open_fds();
        service.stop().await;
        fleet.stop().await;
        let outcome = Outcome {
            walls,
            model,
            floor,
            slowest_reported: median(&reported),
            by_kind,
            memory,
            fds,
            problems,
        };
        eprintln!(
            " median {} (slowest terminal per kind, service clock: {}){}",
            human(outcome.median()),
            outcome
                .by_kind
                .iter()
                .map(|(k, ms)| format!("{k:?} {ms} ms"))
                .collect::<Vec<_>>()
                .join(", "),
            if outcome.problems.is_empty() {
                String::new()
            } else {
                format!("  UNEXPECTED: {}", outcome.problems.join("; "))
            }
        );
        self.cache.insert(key, outcome.clone());
        Ok(outcome)
    }
}

/// The largest `elapsed_ms` the service reports for each kind of terminal.
fn slowest_by_kind(body: &Value, fleet: &Fleet) -> Vec<(Kind, u64)> {
    let mut out: Vec<(Kind, u64)> = Vec::new();
    let list = body["per_device"].as_array().cloned().unwrap_or_default();
    for (d, &kind) in list.iter().zip(&fleet.kinds) {
        let ms = d["elapsed_ms"].as_u64().unwrap_or(0);
        match out.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, max)) => *max = (*max).max(ms),
            None => out.push((kind, ms)),
        }
    }
    out
}

/// The summary every run must show: healthy and old-firmware terminals succeed, offline ones
/// are partial, nothing hits the deadline. `None` when it does.
fn check_response(body: &Value, fleet: &Fleet) -> Option<String> {
    let ok = fleet.count(Kind::Healthy) + fleet.count(Kind::OldFirmware);
    let offline = fleet.count(Kind::Refused) + fleet.count(Kind::Hang);
    let expected = json!({"success": ok, "partial": offline, "skipped": 0, "fatal": 0});
    if body["summary"] == expected && body["status"] == "ok" {
        return None;
    }
    let first_odd = body["per_device"]
        .as_array()
        .and_then(|list| {
            list.iter().zip(&fleet.kinds).find(|(d, kind)| {
                let healthy = matches!(kind, Kind::Healthy | Kind::OldFirmware);
                (d["status"] == "success") != healthy
            })
        })
        .map(|(d, _)| d["message"].to_string())
        .unwrap_or_default();
    Some(format!(
        "summary {} (expected {expected}); first: {first_odd}",
        body["summary"]
    ))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------------

async fn run(args: Args) -> Result<(), BoxError> {
    let (cpu, cores) = stats::machine();
    let fd_limit = raise_open_file_limit(args.rss_k.max(500) * 4 + 256);
    println!("# hikvision-sync fan-out benchmark\n");
    println!(
        "Machine: {cores} cores ({cpu}), open-file limit {}, load average {} at the start. Mode: {}. \
         L = {} ms before every terminal reply. Service log: {}.\n",
        fd_limit.map_or("unknown".into(), |n| n.to_string()),
        load_average(),
        if args.quick { "--quick" } else { "full" },
        args.latency_ms,
        args.service_log.as_deref().unwrap_or("off"),
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(700))
        .build()?;
    let mut ctx = Ctx {
        photos: PhotoServer::start().await?,
        http,
        ticks: stats::clock_ticks(),
        next_employee: AtomicU64::new(0),
        cache: HashMap::new(),
        started: Instant::now(),
        args,
    };
    let sections = ctx.args.sections.clone();
    if sections.contains(&Section::Fanout) {
        fanout(&mut ctx).await?;
    }
    if sections.contains(&Section::Faults) {
        faults(&mut ctx).await?;
    }
    let overhead_p99 = if sections.contains(&Section::Overhead) {
        Some(overhead(&ctx).await?)
    } else {
        None
    };
    let rss = if sections.contains(&Section::Rss) {
        Some(rss(&mut ctx).await?)
    } else {
        None
    };
    if sections.contains(&Section::Check) {
        check(&ctx).await?;
    }
    targets(&ctx, overhead_p99, rss);
    println!(
        "Finished in {:.0} s; load average {} at the end.",
        ctx.started.elapsed().as_secs_f64(),
        load_average()
    );
    Ok(())
}

/// Raises this process's soft open-file limit to `want` (at most the hard limit) with
/// util-linux `prlimit`, since the crate has no libc binding; children inherit it. Returns the
/// limit in force.
fn raise_open_file_limit(want: usize) -> Option<u64> {
    let current = stats::open_file_limit()?;
    if current >= want as u64 {
        return Some(current);
    }
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:")])
        .status();
    let now = stats::open_file_limit();
    if now.is_none_or(|n| n < want as u64) {
        eprintln!(
            "warning: the open-file limit is {current} and could not be raised to {want} ({status:?}); \
             run `ulimit -n {want}` first, or the 1,000-terminal test may fail"
        );
    }
    now
}

// ---------------------------------------------------------------------------------------------
// Section: healthy fan-out.

fn cell_text(o: &Outcome) -> String {
    format!("{} ({})", human(o.median()), o.walls.len())
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() || a.is_zero() {
        return "-".into();
    }
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}

async fn fanout(ctx: &mut Ctx) -> Result<(), BoxError> {
    let delays: &[u64] = if ctx.args.quick { &[500] } else { &[500, 0] };
    let l = ctx.args.latency_ms;
    for &delay_ms in delays {
        let base = Cell {
            mix: Mix::Healthy,
            k: 1,
            c: 1,
            delay_ms,
            timeout_ms: DEFAULT_DEVICE_TIMEOUT_MS,
        };
        let mut rows = Vec::new();
        let mut serial_per_terminal = None;
        let k1 = ctx.cell(base).await?.median();
        for k in [1usize, 10, 100, 500] {
            let serial = if k <= ctx.args.serial_max {
                let o = ctx.cell(Cell { k, c: 1, ..base }).await?;
                serial_per_terminal = Some(o.median() / k as u32);
                (cell_text(&o), o.median())
            } else if let Some(per) = serial_per_terminal {
                let est = per * k as u32;
                (format!("≈ {} (extrapolated)", human(est)), est)
            } else {
                ("-".into(), Duration::ZERO)
            };
            let default = if ctx.args.quick && k > 100 {
                None
            } else {
                Some(
                    ctx.cell(Cell {
                        k,
                        c: DEFAULT_CONCURRENCY,
                        ..base
                    })
                    .await?,
                )
            };
            let all = ctx.cell(Cell { k, c: k, ..base }).await?;
            let model16 = schedule(&vec![2 * ctx.latency(); k], DEFAULT_CONCURRENCY);
            rows.push(format!(
                "| {k} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                serial.0,
                ratio(serial.1, k1),
                default
                    .as_ref()
                    .map_or("- (full run only)".into(), cell_text),
                default
                    .as_ref()
                    .map_or("-".into(), |o| ratio(o.median(), k1)),
                human(model16),
                cell_text(&all),
                ratio(all.median(), k1),
                human(all.slowest_reported),
                if all.problems.is_empty() && default.as_ref().is_none_or(|o| o.problems.is_empty())
                {
                    "ok"
                } else {
                    "UNEXPECTED"
                },
            ));
        }
        println!(
            "## Fan-out, all terminals healthy: L = {l} ms, RATE_LIMIT_DELAY_MS = {delay_ms}\n"
        );
        println!(
            "Wall time of one update-angajat-photo, client side (median of (n) runs), and its ratio to K = 1. \
             Floor: one terminal's FDModify = 2 Digest legs x L = {}.\n",
            human(2 * ctx.latency())
        );
        println!(
            "| K | DEVICE_CONCURRENCY=1 | ratio | =16 (original default) | ratio | model at 16 | >= K | ratio | slowest terminal, service clock (>= K) | statuses |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for r in rows {
            println!("{r}");
        }
        println!();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Section: old firmware and offline terminals.

fn span_text(s: Span) -> String {
    if s.max - s.min < Duration::from_millis(5) {
        human(s.mean)
    } else {
        format!("{}-{}", human(s.min), human(s.max))
    }
}

async fn faults(ctx: &mut Ctx) -> Result<(), BoxError> {
    let timeout_ms = ctx.args.hang_timeout_ms;
    let ks: &[usize] = if ctx.args.quick {
        &[100]
    } else {
        &[10, 100, 500]
    };
    // (mix, delay, also at the default concurrency)
    let variants: &[(Mix, u64, bool)] = if ctx.args.quick {
        &[
            (Mix::OldAndRefused, 500, true),
            (Mix::OldAndHang, 500, false),
        ]
    } else {
        &[
            (Mix::OldAndRefused, 500, true),
            (Mix::OldAndRefused, 0, false),
            (Mix::OldAndHang, 500, true),
        ]
    };
    let mut rows = Vec::new();
    for &(mix, delay_ms, with_default) in variants {
        let healthy_one = ctx
            .cell(Cell {
                mix: Mix::Healthy,
                k: 1,
                c: 1,
                delay_ms,
                timeout_ms: DEFAULT_DEVICE_TIMEOUT_MS,
            })
            .await?
            .median();
        for &k in ks {
            let base = Cell {
                mix,
                k,
                c: k,
                delay_ms,
                timeout_ms,
            };
            let default = if with_default && k > DEFAULT_CONCURRENCY {
                Some(
                    ctx.cell(Cell {
                        c: DEFAULT_CONCURRENCY,
                        ..base
                    })
                    .await?,
                )
            } else {
                None
            };
            let all = ctx.cell(base).await?;
            let offline = match mix {
                Mix::OldAndHang => "hanging",
                _ => "closed port",
            };
            rows.push(format!(
                "| {offline} | {delay_ms} | {k} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                default.as_ref().map_or_else(
                    || if k <= DEFAULT_CONCURRENCY {
                        "= >= K".into()
                    } else {
                        "-".into()
                    },
                    cell_text
                ),
                default.as_ref().map_or("-".into(), |o| human(o.model)),
                cell_text(&all),
                span_text(all.floor),
                human(all.slowest_reported),
                ratio(all.median(), all.slowest_reported),
                ratio(all.median(), healthy_one),
                all.by_kind
                    .iter()
                    .map(|(k, ms)| format!("{k:?} {ms}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if all.problems.is_empty() && default.as_ref().is_none_or(|o| o.problems.is_empty())
                {
                    "ok"
                } else {
                    "UNEXPECTED"
                },
            ));
        }
    }
    let l = ctx.args.latency_ms;
    let policy = RetryPolicy::default();
    println!(
        "## Fan-out with 20 % old firmware (FDModify -> FaceDataRecord) and 10 % offline: L = {l} ms, DEVICE_TIMEOUT_MS = {timeout_ms}\n"
    );
    println!(
        "Floor = the slowest kind of terminal on its own. Healthy 2L; old firmware max(2L, delay) + 2L; \
         closed port: refused at once but retried {} times after {} ms x 2^i backoffs with full jitter; \
         hanging: one DEVICE_TIMEOUT_MS (a reply timeout is not retried). \
         'Slowest terminal' is the largest per_device.elapsed_ms of the run (the service's clock, queueing excluded).\n",
        policy.max_retries,
        policy.base_backoff.as_millis(),
    );
    println!(
        "| offline | delay ms | K | DEVICE_CONCURRENCY=16 | model at 16 | >= K | floor | slowest terminal | >= K / slowest | >= K / healthy K=1 | slowest ms per kind | statuses |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Section: service overhead with an instant terminal.

type Call = Arc<dyn Fn() -> BoxFuture<'static, Result<Duration, BoxError>> + Send + Sync>;

struct LoadResult {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

async fn load(call: &Call, clients: usize, secs: u64) -> LoadResult {
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let call = Arc::clone(call);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < end {
                    match call().await {
                        Ok(d) => latencies.push(d),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut result = LoadResult {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for task in futures::future::join_all(tasks).await {
        match task {
            Ok((l, e)) => {
                result.latencies.extend(l);
                result.errors += e;
            }
            Err(_) => result.errors += 1,
        }
    }
    result.elapsed = started.elapsed();
    result
}

fn face_url(ctx: &Ctx, photo: &str) -> Result<Url, BoxError> {
    let policy = FaceUrlPolicy {
        supabase_url: Some(Url::parse(&ctx.photos.base)?),
        bucket: "photos".into(),
        scheme: FaceUrlScheme::Keep,
    };
    Ok(policy.resolve(photo)?)
}

fn direct_call(
    client: &IsapiClient,
    terminal: &Terminal,
    employee_no: &str,
    picture: &FacePicture,
) -> Call {
    let (client, terminal, employee_no, picture) = (
        client.clone(),
        terminal.clone(),
        employee_no.to_string(),
        picture.clone(),
    );
    Arc::new(move || {
        let (client, terminal, employee_no, picture) = (
            client.clone(),
            terminal.clone(),
            employee_no.clone(),
            picture.clone(),
        );
        Box::pin(async move {
            let started = Instant::now();
            client
                .face(FaceCall::Modify, &terminal, &employee_no, &picture)
                .await
                .map_err(|e| format!("direct FDModify: {e}"))?;
            Ok(started.elapsed())
        })
    })
}

fn bench_terminal(port: u16) -> Result<Terminal, BoxError> {
    Ok(Terminal::new(
        "127.0.0.1",
        port,
        "admin",
        SecretString::from(TerminalConfig::DEMO_PASSWORD),
    )?)
}

fn latency_row(name: &str, v: &[Duration]) -> String {
    format!(
        "| {name} | {} | {} | {} | {} |",
        v.len(),
        ms3(percentile(v, 50.0)),
        ms3(percentile(v, 99.0)),
        ms3(stats::mean(v)),
    )
}

/// Returns the p99 overhead (end to end minus the simulator alone).
async fn overhead(ctx: &Ctx) -> Result<Duration, BoxError> {
    let n = ctx.args.requests;
    let warm = (n / 20).max(20);
    ctx.progress(format_args!(
        "overhead: {n} x 3 interleaved requests, then {} clients for 2 x {} s\n",
        ctx.args.clients, ctx.args.load_secs
    ));
    let persons = ctx.persons(1);
    let person = persons.first().ok_or("no person")?;
    let fleet = Fleet::start(&[Kind::Healthy], 0, &persons).await?;
    let device = fleet.devices.first().ok_or("no device")?;
    let terminal = bench_terminal(device.port)?;
    let picture = FacePicture::Url(face_url(ctx, &person.photo)?);
    let client = IsapiClient::new(ClientOptions::default())?;

    // The simulator alone: the same FDModify the service makes, from this process.
    let direct = direct_call(&client, &terminal, &person.employee_no, &picture);
    // The service, without pacing (back-to-back requests to one terminal would be spaced by it).
    let spec = ctx.spec(
        &fleet,
        &persons,
        DEFAULT_CONCURRENCY,
        0,
        DEFAULT_DEVICE_TIMEOUT_MS,
    );
    let service = ctx.service(&spec).await?;
    let http = ctx.http.clone();
    let health_url = format!("http://{}/health", service.addr);
    let health: Call = {
        let http = http.clone();
        Arc::new(move || {
            let (http, url) = (http.clone(), health_url.clone());
            Box::pin(async move {
                let started = Instant::now();
                let r = http.get(&url).send().await?;
                let status = r.status();
                r.bytes().await?;
                if !status.is_success() {
                    return Err(format!("/health: HTTP {status}").into());
                }
                Ok(started.elapsed())
            })
        })
    };
    let update_url = format!("http://{}{ENDPOINT}", service.addr);
    let id = person.id;
    let update: Call = Arc::new(move || {
        let (http, url) = (http.clone(), update_url.clone());
        Box::pin(async move {
            let started = Instant::now();
            let r = http
                .post(&url)
                .header("x-api-key", API_KEY)
                .json(&json!({ "angajat_id": id }))
                .send()
                .await?;
            let status = r.status();
            let body = r.bytes().await?;
            let elapsed = started.elapsed();
            let v: Value = serde_json::from_slice(&body)?;
            if !status.is_success() || v["summary"]["success"] != 1 {
                return Err(format!("update: HTTP {status}: {v}").into());
            }
            Ok(elapsed)
        })
    });

    // Sequential, interleaved request by request, so that a noisy neighbour on this shared
    // machine slows all three series alike.
    for _ in 0..warm {
        direct().await?;
        health().await?;
        update().await?;
    }
    let (mut direct_seq, mut health_seq, mut update_seq) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        direct_seq.push(direct().await?);
        health_seq.push(health().await?);
        update_seq.push(update().await?);
    }

    // Throughput: C clients, end to end and against the simulator alone.
    let (svc0, me0) = (
        service.cpu_time(ctx.ticks),
        stats::cpu_time("self", ctx.ticks),
    );
    let e2e = load(&update, ctx.args.clients, ctx.args.load_secs).await;
    let (svc1, me1) = (
        service.cpu_time(ctx.ticks),
        stats::cpu_time("self", ctx.ticks),
    );
    let raw = load(&direct, ctx.args.clients, ctx.args.load_secs).await;
    let me2 = stats::cpu_time("self", ctx.ticks);
    let memory = service.memory();
    service.stop().await;
    fleet.stop().await;

    let p = |v: &[Duration], q| percentile(v, q);
    let over50 = p(&update_seq, 50.0).saturating_sub(p(&direct_seq, 50.0));
    let over99 = p(&update_seq, 99.0).saturating_sub(p(&direct_seq, 99.0));
    println!("## Service overhead: 1 terminal, L = 0, RATE_LIMIT_DELAY_MS = 0\n");
    println!("Sequential requests, one at a time, the three kinds interleaved (milliseconds).\n");
    println!("| what | n | p50 | p99 | mean |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "{}",
        latency_row(
            "GET /health through the service (HTTP hop only)",
            &health_seq
        )
    );
    println!(
        "{}",
        latency_row(
            "FDModify straight to the simulator (bench process: 2 Digest legs + picture download)",
            &direct_seq
        )
    );
    println!(
        "{}",
        latency_row(
            "update-angajat-photo end to end (the same FDModify through the service)",
            &update_seq
        )
    );
    println!(
        "| **service overhead** = end to end - simulator alone | | **{}** | **{}** | {} |",
        ms3(over50),
        ms3(over99),
        ms3(stats::mean(&update_seq).saturating_sub(stats::mean(&direct_seq)))
    );
    println!();
    let rps = |r: &LoadResult| r.latencies.len() as f64 / r.elapsed.as_secs_f64();
    let (_, cores) = stats::machine();
    let e2e_count = e2e.latencies.len().max(1) as u32;
    let svc_cpu = svc1.saturating_sub(svc0);
    println!(
        "Throughput: {} concurrent clients for {} s each, on {cores} cores shared by the service, the simulator, the clients (and any neighbour).\n",
        ctx.args.clients, ctx.args.load_secs
    );
    println!(
        "| what | requests | errors | req/s | p50 ms | p99 ms | service CPU ms/req | service CPU | bench process CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| update-angajat-photo end to end | {} | {} | {:.0} | {} | {} | {} | {:.0} % of a core | {:.0} % of a core |",
        e2e.latencies.len(),
        e2e.errors,
        rps(&e2e),
        ms(p(&e2e.latencies, 50.0)),
        ms(p(&e2e.latencies, 99.0)),
        ms3(svc_cpu / e2e_count),
        100.0 * svc_cpu.as_secs_f64() / e2e.elapsed.as_secs_f64(),
        100.0 * me1.saturating_sub(me0).as_secs_f64() / e2e.elapsed.as_secs_f64(),
    );
    println!(
        "| FDModify straight to the simulator | {} | {} | {:.0} | {} | {} | - | - | {:.0} % of a core |",
        raw.latencies.len(),
        raw.errors,
        rps(&raw),
        ms(p(&raw.latencies, 50.0)),
        ms(p(&raw.latencies, 99.0)),
        100.0 * me2.saturating_sub(me1).as_secs_f64() / raw.elapsed.as_secs_f64(),
    );
    println!(
        "\nService capacity on {cores} cores of its own, from its CPU per request under load: {:.0} req/s. \
         Service peak RSS in this test: {}.\n",
        cores as f64 / (svc_cpu.as_secs_f64() / f64::from(e2e_count)).max(1e-9),
        mib(memory.hwm_kib)
    );
    Ok(over99)
}

// ---------------------------------------------------------------------------------------------
// Section: memory at 1,000 terminals.

struct RssResult {
    k: usize,
    peak_kib: u64,
}

async fn rss(ctx: &mut Ctx) -> Result<RssResult, BoxError> {
    let k = ctx.args.rss_k;
    // Several requests: the peak ratchets up over the first few (allocator fragmentation and
    // pooled connections), and a service answers more than one request.
    let runs = ctx.args.runs.unwrap_or(if ctx.args.quick { 2 } else { 5 });
    let mut rows = Vec::new();
    let mut peak_at_k = 0;
    let mut bench_note = String::new();
    for c in ctx.args.rss_concurrency.clone() {
        ctx.progress(format_args!(
            "memory: K={k} DEVICE_CONCURRENCY={c}, {runs} run(s)\n"
        ));
        let persons = ctx.persons(runs);
        let before_fleet = stats::memory("self");
        let fleet = Fleet::start(&vec![Kind::Healthy; k], ctx.args.latency_ms, &persons).await?;
        let with_fleet = stats::memory("self");
        let spec = ctx.spec(&fleet, &persons, c, 500, DEFAULT_DEVICE_TIMEOUT_MS);
        let service = ctx.service(&spec).await?;
        let idle = service.memory();
        let mut walls = Vec::new();
        let mut problems = Vec::new();
        let mut first_peak = 0;
        for (run, person) in persons.iter().enumerate() {
            if run > 0 {
                tokio::time::sleep(Duration::from_millis(600)).await;
            }
            let (wall, body) = ctx.update(service.addr, person.id).await?;
            walls.push(wall);
            problems.extend(check_response(&body, &fleet));
            if run == 0 {
                first_peak = service.memory().hwm_kib;
            }
        }
        let after = service.memory();
        let fds = service.open_fds();
        let bench_end = stats::memory("self");
        service.stop().await;
        fleet.stop().await;
        peak_at_k = peak_at_k.max(after.hwm_kib);
        rows.push(format!(
            "| **{k}** | {c} | {} ({}) | {} | {} | **{}** | {} | {fds} | {} | {} |",
            human(median(&walls)),
            walls.len(),
            mib(idle.rss_kib),
            mib(first_peak),
            mib(after.hwm_kib),
            mib(after.rss_kib),
            after.threads,
            if problems.is_empty() {
                "ok".to_string()
            } else {
                format!("UNEXPECTED: {}", problems.join("; "))
            }
        ));
        bench_note = format!(
            "Per terminal: {:.1} KiB of service memory at the peak ((peak - idle) / K). \
             The bench process (the {k} simulators, the photo server and the client; not the service) \
             went from {} to {} RSS when the simulators started, and was at {} after the runs.",
            after.hwm_kib.saturating_sub(idle.rss_kib) as f64 / k as f64,
            mib(before_fleet.rss_kib),
            mib(with_fleet.rss_kib),
            mib(bench_end.rss_kib),
        );
    }

    println!(
        "## Memory: service RSS (its own process; VmHWM = peak), all terminals healthy, L = {} ms, RATE_LIMIT_DELAY_MS = 500\n",
        ctx.args.latency_ms
    );
    println!(
        "| K | DEVICE_CONCURRENCY | wall (median, n) | RSS idle | peak after 1st request | peak after n requests | RSS after | open fds after | threads | statuses |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut earlier: Vec<(&Cell, &Outcome)> = ctx
        .cache
        .iter()
        .filter(|(c, _)| c.mix == Mix::Healthy && c.c >= c.k && c.delay_ms == 500)
        .collect();
    earlier.sort_by_key(|(c, _)| c.k);
    for (cell, o) in earlier {
        println!(
            "| {} | {} | {} | - | - | {} | {} | {} | {} | {} |",
            cell.k,
            cell.c,
            cell_text(o),
            mib(o.memory.hwm_kib),
            mib(o.memory.rss_kib),
            o.fds,
            o.memory.threads,
            if o.problems.is_empty() {
                "ok"
            } else {
                "UNEXPECTED"
            }
        );
    }
    for r in rows {
        println!("{r}");
    }
    println!("\n{bench_note}\n");
    Ok(RssResult {
        k,
        peak_kib: peak_at_k,
    })
}

// ---------------------------------------------------------------------------------------------
// Section: is the simulator what we measure?

async fn check(ctx: &Ctx) -> Result<(), BoxError> {
    let l = ctx.latency();
    let runs = ctx.args.runs.unwrap_or(if ctx.args.quick { 1 } else { 3 });
    let mut rows = Vec::new();
    for k in [1usize, 500] {
        ctx.progress(format_args!("check: direct fan-out K={k}\n"));
        let persons = ctx.persons(1);
        let person = persons.first().ok_or("no person")?;
        let started = Instant::now();
        let fleet = Fleet::start(&vec![Kind::Healthy; k], ctx.args.latency_ms, &persons).await?;
        let start_time = started.elapsed();
        let client = IsapiClient::new(ClientOptions::default())?;
        let picture = FacePicture::Url(face_url(ctx, &person.photo)?);
        let calls: Vec<Call> = fleet
            .devices
            .iter()
            .map(|d| {
                bench_terminal(d.port)
                    .map(|t| direct_call(&client, &t, &person.employee_no, &picture))
            })
            .collect::<Result<_, _>>()?;
        let mut walls = Vec::new();
        let hits_before = ctx.photos.hits.load(Ordering::Relaxed);
        let cpu0 = stats::cpu_time("self", ctx.ticks);
        for _ in 0..runs {
            let started = Instant::now();
            let results = futures::future::join_all(calls.iter().map(|c| c())).await;
            walls.push(started.elapsed());
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                return Err(e);
            }
        }
        let cpu = stats::cpu_time("self", ctx.ticks).saturating_sub(cpu0) / runs as u32;
        let downloads = ctx.photos.hits.load(Ordering::Relaxed) - hits_before;
        fleet.stop().await;
        let service = ctx
            .cache
            .iter()
            .find(|(c, _)| c.mix == Mix::Healthy && c.k == k && c.c >= k && c.delay_ms == 500)
            .map_or("-".into(), |(_, o)| cell_text(o));
        rows.push(format!(
            "| {k} | {} | {} ({runs}) | {} | {} | {} | {service} |",
            human(start_time),
            human(median(&walls)),
            human(cpu),
            downloads / runs as u64,
            human(2 * l),
        ));
    }
    println!(
        "## Check: the simulators alone, without the service (L = {} ms)\n",
        ctx.args.latency_ms
    );
    println!(
        "The same FDModify on all K terminals at once, straight from the bench process (IsapiClient, no pacing, \
         cold connections like the service's first request). If this is at 2L, the simulators and the photo server \
         keep up, and time above it in the tables is the service's.\n"
    );
    println!(
        "| K | start K simulators | direct fan-out (median, n) | bench CPU per fan-out | pictures downloaded per fan-out | 2L | service, DEVICE_CONCURRENCY >= K (from above) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!("{r}");
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn targets(ctx: &Ctx, overhead_p99: Option<Duration>, rss: Option<RssResult>) {
    println!("## Targets\n");
    println!("| target | measured | verdict |");
    println!("|---|---|---|");
    let find = |k: usize, c: usize| {
        ctx.cache
            .iter()
            .find(|(cell, _)| {
                cell.mix == Mix::Healthy
                    && cell.k == k
                    && cell.c == c.min(k)
                    && cell.delay_ms == 500
            })
            .map(|(_, o)| o.median())
    };
    if let Some(one) = find(1, 1) {
        for (label, c) in [
            ("DEVICE_CONCURRENCY >= K", 100),
            ("original default DEVICE_CONCURRENCY=16", 16),
        ] {
            if let Some(hundred) = find(100, c) {
                let r = hundred.as_secs_f64() / one.as_secs_f64();
                println!(
                    "| K=100 within 1.5x of K=1 ({label}) | {} vs {} = {r:.2}x | {} |",
                    human(hundred),
                    human(one),
                    if r <= 1.5 { "met" } else { "MISSED" }
                );
            }
        }
    }
    if let Some(p99) = overhead_p99 {
        println!(
            "| service overhead p99 < 2 ms | {} ms | {} |",
            ms3(p99),
            if p99 < Duration::from_millis(2) {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    if let Some(r) = rss {
        let mb = r.peak_kib as f64 * 1024.0 / 1e6;
        println!(
            "| RSS < 50 MB at K=1,000 | {mb:.1} MB ({}) at K={} | {} |",
            mib(r.peak_kib),
            r.k,
            if mb < 50.0 { "met" } else { "MISSED" }
        );
    }
    println!(
        "| bulk re-sync within 1.1x of the pacing bound | no bulk flow exists in the service | not applicable |"
    );
    println!();
}
