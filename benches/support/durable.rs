//! Section `durable` (issue 19): the fan-out with durable delivery on PostgreSQL, the real store
//! and the real job engine, at K terminals (default settings, read-back on): the request's wall
//! time and its ratio to K = 1, the service's database statements per request (counted with
//! `pg_stat_statements`), the time from the request to the first terminal call, and the service's
//! peak RSS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use hikvision_simulator::SimulatedTerminal;
use hikvision_testkit::{Database, execute, fresh_database};

use super::BoxError;
use super::cells::{API_KEY, Ctx};
use super::child::{PersonSpec, ServiceProcess};
use super::fleet::{Fleet, Kind};
use super::report::ratio;
use super::stats::{human, median, mib, ms};

/// The service's own statements: its schema and the job engine's additions (not the job
/// engine's polling, which runs whether or not a request comes).
const COUNTED: &str = "select coalesce(sum(s.calls), 0)::bigint from pg_stat_statements s
     join pg_database d on d.oid = s.dbid
     where d.datname = $1 and (s.query like '%hikvision_sync.%' or s.query ilike '%add_job%'
        or s.query in ('BEGIN', 'COMMIT'))";

struct Row {
    k: usize,
    walls: Vec<Duration>,
    firsts: Vec<Duration>,
    statements: Vec<i64>,
    hwm_kib: u64,
    problems: usize,
    /// CPU per measured request: the service's, and the bench process's (its K simulated
    /// terminals, the photo server and the client).
    service_cpu: Vec<Duration>,
    bench_cpu: Vec<Duration>,
    /// How long the service's first events round (the catch-up on start) took to read every
    /// terminal; `None` if it had not within [`STARTUP_ROUND_LIMIT`].
    startup_round: Option<Duration>,
}

/// How long the section waits for the service's catch-up on start before measuring anyway.
const STARTUP_ROUND_LIMIT: Duration = Duration::from_secs(180);

/// Runs the section.
pub async fn durable(ctx: &mut Ctx) -> Result<(), BoxError> {
    let admin = admin_url(ctx)?;
    let runs = ctx.args.runs.unwrap_or(3);
    let mut rows = Vec::new();
    for k in ctx.args.durable_k.clone() {
        ctx.progress(format_args!("durable: K = {k}, {runs} runs\n"));
        rows.push(measure(ctx, &admin, k, runs).await?);
    }
    report(ctx, &rows);
    Ok(())
}

/// `--database-url`: the superuser URL the durable sections create their databases with.
pub fn admin_url(ctx: &Ctx) -> Result<String, BoxError> {
    Ok(ctx
        .args
        .database_url
        .clone()
        .ok_or("the durable and webhook sections need --database-url (or HS_TEST_DATABASE_URL)")?)
}

async fn measure(ctx: &Ctx, admin: &str, k: usize, runs: usize) -> Result<Row, BoxError> {
    let persons = ctx.persons(runs + 1);
    let stage = Stage::start(ctx, admin, k, &persons, &[]).await?;
    let (fleet, database, service) = (&stage.fleet, &stage.database, &stage.service);
    execute(
        &database.url,
        "create extension if not exists pg_stat_statements",
    )
    .await?;
    // The catch-up on start reads every terminal once (64 at a time): a click is measured after
    // it, as in a service that has been running, not next to its start-up work.
    let startup_round = startup_round(ctx, service.addr, k, stage.started).await;
    let stats = connect(&database.url).await?;
    let mut row = Row {
        k,
        walls: Vec::new(),
        firsts: Vec::new(),
        statements: Vec::new(),
        hwm_kib: 0,
        problems: 0,
        service_cpu: Vec::new(),
        bench_cpu: Vec::new(),
        startup_round,
    };
    for (run, person) in persons.iter().enumerate() {
        // Let the previous request's background settle before the next one.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let watched = &fleet.sims;
        for sim in watched {
            sim.clear_request_log();
        }
        stats
            .execute("select pg_stat_statements_reset()", &[])
            .await?;
        let cpu_before = (service.cpu_time(ctx.ticks), own_cpu(ctx.ticks));
        let started = Instant::now();
        let (answer, first) = tokio::join!(
            ctx.update(service.addr, person.id),
            first_call(watched, started)
        );
        let (wall, body) = answer?;
        let cpu_after = (service.cpu_time(ctx.ticks), own_cpu(ctx.ticks));
        let count: i64 = stats.query_one(COUNTED, &[&database.name]).await?.get(0);
        let in_sync = body["per_device"]
            .as_array()
            .map_or(0, |d| d.iter().filter(|r| r["status"] == "success").count());
        if run == 0 {
            continue; // warm-up: connections, prepared statements, the photo
        }
        row.problems += k - in_sync.min(k);
        row.walls.push(wall);
        row.firsts.extend(first);
        row.statements.push(count);
        row.service_cpu
            .push(cpu_after.0.saturating_sub(cpu_before.0));
        row.bench_cpu.push(cpu_after.1.saturating_sub(cpu_before.1));
    }
    row.hwm_kib = service.memory().hwm_kib;
    drop(stats);
    stage.stop(admin).await;
    Ok(row)
}

/// K healthy terminals holding `persons` with an old face, a fresh database on the test stack's
/// PostgreSQL, and the service in a child process on it (durable delivery, the real job engine)
/// with its default settings, `--service-env` and `extra` on top.
pub struct Stage {
    /// The terminals.
    pub fleet: Fleet,
    /// The service's database.
    pub database: Database,
    /// The service.
    pub service: ServiceProcess,
    /// When the service was started.
    pub started: Instant,
}

impl Stage {
    /// Starts the three.
    pub async fn start(
        ctx: &Ctx,
        admin: &str,
        k: usize,
        persons: &[PersonSpec],
        extra: &[(&str, &str)],
    ) -> Result<Self, BoxError> {
        let fleet = Fleet::start(&vec![Kind::Healthy; k], ctx.args.latency_ms, persons).await?;
        let database = fresh_database(admin, "hs_fanout").await?;
        let started = Instant::now();
        let mut spec = ctx.spec(&fleet, persons, 1, 0, 0);
        // The service's defaults (DEVICE_CONCURRENCY 256, RATE_LIMIT_DELAY_MS 500, ...).
        for key in [
            "DEVICE_CONCURRENCY",
            "RATE_LIMIT_DELAY_MS",
            "DEVICE_TIMEOUT_MS",
        ] {
            spec.env.remove(key);
        }
        spec.env
            .extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // `--service-env` settings apply here too (e.g. DEVICE_CONCURRENCY=1000).
        spec.env.extend(ctx.args.launch().env);
        spec.env.insert("DATABASE_URL".into(), database.url.clone());
        let service = ctx.service(&spec).await?;
        Ok(Self {
            fleet,
            database,
            service,
            started,
        })
    }

    /// Stops the service and the terminals, and drops the database.
    pub async fn stop(self, admin: &str) {
        self.service.stop().await;
        self.fleet.stop().await;
        self.database.drop_on(admin).await;
    }
}

/// The time from `started` until the service has read every one of its `k` terminals' clocks
/// (the last step of an events round for a terminal), polled every 500 ms on
/// `GET /api/hikvision/devices/status`.
async fn startup_round(
    ctx: &Ctx,
    addr: SocketAddr,
    k: usize,
    started: Instant,
) -> Option<Duration> {
    let url = format!("http://{addr}/api/hikvision/devices/status");
    while started.elapsed() < STARTUP_ROUND_LIMIT {
        let answer = ctx.http.get(&url).header("x-api-key", API_KEY).send().await;
        if let Ok(response) = answer
            && let Ok(body) = response.json::<Value>().await
        {
            let read = body["devices"].as_array().map_or(0, |devices| {
                devices
                    .iter()
                    .filter(|d| !d["clock_offset_ms"].is_null())
                    .count()
            });
            if read >= k {
                return Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// The time from `started` until one of `sims` logs a call (the first, the Digest challenge, is
/// answered at once; the devices are called in the directory's order, not the fleet's, so all are
/// watched); polled every 2 ms, for at most 30 s.
async fn first_call(sims: &[SimulatedTerminal], started: Instant) -> Option<Duration> {
    while started.elapsed() < Duration::from_secs(30) {
        if sims.iter().any(|s| !s.request_log().is_empty()) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// This process's CPU time so far (the simulated terminals run here).
fn own_cpu(ticks: u64) -> Duration {
    super::stats::cpu_time(&std::process::id().to_string(), ticks)
}

/// The `--service-env` settings that differ from the service's defaults, as " but K = V" each.
pub fn overrides(ctx: &Ctx) -> String {
    ctx.args
        .launch()
        .env
        .iter()
        .map(|(k, v)| format!(" but {k} = {v}"))
        .collect()
}

fn report(ctx: &Ctx, rows: &[Row]) {
    println!(
        "#### Durable delivery on PostgreSQL: L = {} ms, the service's default settings{}, read-back \
         on (medians)\n",
        ctx.args.latency_ms,
        overrides(ctx)
    );
    println!(
        "| K | wall | K / 1 | first terminal call (ms) | service statements per request (min-max) | peak RSS | terminals not in sync | CPU per request: service / bench process (terminals) | catch-up on start, waited for |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let k1 = rows.iter().find(|r| r.k == 1).map(|r| median(&r.walls));
    for r in rows {
        let wall = median(&r.walls);
        let (lo, hi) = (
            r.statements.iter().min().copied().unwrap_or(0),
            r.statements.iter().max().copied().unwrap_or(0),
        );
        let mut sorted = r.statements.clone();
        sorted.sort_unstable();
        let mid = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
        println!(
            "| {} | {} | {} | {} | {mid} ({lo}-{hi}) | {} | {} | {} / {} | {} |",
            r.k,
            human(wall),
            k1.map_or("-".into(), |b| ratio(wall, b)),
            if r.firsts.is_empty() {
                "-".into()
            } else {
                ms(median(&r.firsts))
            },
            mib(r.hwm_kib),
            r.problems,
            ms(median(&r.service_cpu)),
            ms(median(&r.bench_cpu)),
            r.startup_round.map_or_else(|| "not finished".into(), human),
        );
    }
    println!();
}

pub async fn connect(url: &str) -> Result<tokio_postgres::Client, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}
