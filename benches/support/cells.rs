//! Cells: one fleet + one service process + R measured requests, and the context that runs them
//! (arguments, photo server, HTTP client, the cache of measured cells).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use super::BoxError;
use super::child::{PersonSpec, ServiceProcess, ServiceSpec};
use super::fleet::{Fleet, Kind, mixed_kinds};
use super::model::{Span, schedule, terminal_time};
use super::options::Args;
use super::stats::{Memory, human, median};
use hikvision_testkit::PhotoServer;

pub const API_KEY: &str = "bench-api-key";
pub const ENDPOINT: &str = "/api/hikvision/update-angajat-photo";
/// DEVICE_CONCURRENCY of the original design (the service's default is now 256, so for K <= 256 the
/// ">= K" column is the default).
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_DEVICE_TIMEOUT_MS: u64 = 10_000;
/// Raised from the default 30 s so that the slow configurations (DEVICE_CONCURRENCY=1) are
/// measured to the end instead of being cut off; every run is checked for `deadline_exceeded`.
pub const BENCH_DEADLINE_MS: u64 = 600_000;

/// Which terminals a cell has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mix {
    /// All healthy.
    Healthy,
    /// 20 % old firmware, 10 % offline with a closed port.
    OldAndRefused,
    /// 20 % old firmware, 10 % offline hanging.
    OldAndHang,
}

impl Mix {
    pub fn kinds(self, k: usize) -> Vec<Kind> {
        match self {
            Mix::Healthy => vec![Kind::Healthy; k],
            Mix::OldAndRefused => mixed_kinds(k, Kind::Refused),
            Mix::OldAndHang => mixed_kinds(k, Kind::Hang),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cell {
    pub mix: Mix,
    pub k: usize,
    /// DEVICE_CONCURRENCY.
    pub c: usize,
    /// RATE_LIMIT_DELAY_MS.
    pub delay_ms: u64,
    /// DEVICE_TIMEOUT_MS.
    pub timeout_ms: u64,
}

impl Cell {
    /// Cells that differ only in a concurrency at or above K are the same experiment.
    pub fn key(self) -> Self {
        Self {
            c: self.c.min(self.k.max(1)),
            ..self
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub walls: Vec<Duration>,
    /// What a service adding no time of its own would take at this concurrency (FIFO schedule
    /// of the expected per-terminal times).
    pub model: Duration,
    /// The slowest kind of terminal on its own: the floor at any concurrency.
    pub floor: Span,
    /// The slowest `per_device.elapsed_ms` of each run (the service's own clock, queueing
    /// excluded); median over the runs.
    pub slowest_reported: Duration,
    /// Slowest `elapsed_ms` per kind in the last run.
    pub by_kind: Vec<(Kind, u64)>,
    /// Service memory after the runs (`hwm_kib` is the peak).
    pub memory: Memory,
    pub fds: usize,
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn median(&self) -> Duration {
        median(&self.walls)
    }
}

pub struct Ctx {
    pub args: Args,
    pub photos: PhotoServer,
    pub http: reqwest::Client,
    pub ticks: u64,
    pub next_employee: AtomicU64,
    pub cache: HashMap<Cell, Outcome>,
    pub started: Instant,
}

impl Ctx {
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.args.latency_ms)
    }

    pub fn progress(&self, what: std::fmt::Arguments<'_>) {
        eprint!(
            "[{:>4.0} s, load {}] {what}",
            self.started.elapsed().as_secs_f64(),
            load_average()
        );
    }

    /// `n` employees nobody has used yet (each run gets its own, so old-firmware terminals
    /// always take the same FaceDataRecord path and no picture is a duplicate).
    pub fn persons(&self, n: usize) -> Vec<PersonSpec> {
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

    pub fn spec(
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
            photo_base: self.photos.base.to_string(),
            log_filter: self.args.service_log().map(String::from),
            angajati: persons.to_vec(),
            devices: fleet.devices.clone(),
        }
    }

    pub async fn service(&self, spec: &ServiceSpec) -> Result<ServiceProcess, BoxError> {
        ServiceProcess::start(spec, &self.args.launch()).await
    }

    pub fn runs_for(&self, model: Duration) -> usize {
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

    /// One update-angajat-photo request for `id` (see [`post_update`]).
    pub async fn update(
        &self,
        addr: std::net::SocketAddr,
        id: Uuid,
    ) -> Result<(Duration, Value), BoxError> {
        post_update(&self.http, addr, id).await
    }

    /// Measures `cell` (or returns the earlier measurement of the same experiment).
    pub async fn cell(&mut self, cell: Cell) -> Result<Outcome, BoxError> {
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

/// One `update-angajat-photo` request for `id` to the service at `addr`: the client-side wall
/// time and the JSON body; an error unless the service answers 2xx.
pub async fn post_update(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    id: Uuid,
) -> Result<(Duration, Value), BoxError> {
    let url = format!("http://{addr}{ENDPOINT}");
    let started = Instant::now();
    let response = http
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

/// The largest `elapsed_ms` the service reports for each kind of terminal.
pub fn slowest_by_kind(body: &Value, fleet: &Fleet) -> Vec<(Kind, u64)> {
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
pub fn check_response(body: &Value, fleet: &Fleet) -> Option<String> {
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

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}
