//! The sections that talk to the simulators straight from the bench process: the service's
//! overhead over an instant terminal (sequential and under load), and the check that the
//! simulators alone keep up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use hikvision_isapi::{ClientOptions, EmployeeNo, FaceCall, FacePicture, IsapiClient, Terminal};
use hikvision_simulator::TerminalConfig;
use hikvision_sync::photo::{FaceUrlPolicy, FaceUrlScheme};
use secrecy::SecretString;
use url::Url;

use super::BoxError;
use super::cells::{Ctx, DEFAULT_CONCURRENCY, DEFAULT_DEVICE_TIMEOUT_MS, Mix, post_update};
use super::fleet::{Fleet, Kind};
use super::report::{cell_text, latency_row};
use super::stats::{self, human, median, mib, ms, ms3, percentile};

pub type Call = Arc<dyn Fn() -> BoxFuture<'static, Result<Duration, BoxError>> + Send + Sync>;

pub struct LoadResult {
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub elapsed: Duration,
}

pub async fn load(call: &Call, clients: usize, secs: u64) -> LoadResult {
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

/// A row of the throughput table: `service_cpu` is the service's CPU time during the load, when
/// the load went through it; `bench_cpu` the bench process's.
fn throughput_row(
    name: &str,
    r: &LoadResult,
    service_cpu: Option<Duration>,
    bench_cpu: Duration,
) -> String {
    let share = |cpu: Duration| {
        format!(
            "{:.0} % of a core",
            100.0 * cpu.as_secs_f64() / r.elapsed.as_secs_f64()
        )
    };
    let requests = r.latencies.len().max(1) as u32;
    let (per_request, service_share) = service_cpu.map_or(("-".into(), "-".into()), |cpu| {
        (ms3(cpu / requests), share(cpu))
    });
    format!(
        "| {name} | {} | {} | {:.0} | {} | {} | {per_request} | {service_share} | {} |",
        r.latencies.len(),
        r.errors,
        r.latencies.len() as f64 / r.elapsed.as_secs_f64(),
        ms(percentile(&r.latencies, 50.0)),
        ms(percentile(&r.latencies, 99.0)),
        share(bench_cpu),
    )
}

pub fn face_url(ctx: &Ctx, photo: &str) -> Result<Url, BoxError> {
    let policy = FaceUrlPolicy {
        supabase_url: Some(ctx.photos.base.clone()),
        bucket: "photos".into(),
        scheme: FaceUrlScheme::Keep,
    };
    Ok(policy.resolve(photo)?)
}

pub fn direct_call(
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
            let employee_no: EmployeeNo = employee_no.parse().map_err(|e| format!("{e}"))?;
            let started = Instant::now();
            client
                .face(FaceCall::Modify, &terminal, &employee_no, &picture)
                .await
                .map_err(|e| format!("direct FDModify: {e}"))?;
            Ok(started.elapsed())
        })
    })
}

pub fn bench_terminal(port: u16) -> Result<Terminal, BoxError> {
    Ok(Terminal::new(
        "127.0.0.1",
        port,
        "admin",
        SecretString::from(TerminalConfig::DEMO_PASSWORD),
    )?)
}

/// Returns the p99 overhead (end to end minus the simulator alone).
pub async fn overhead(ctx: &Ctx) -> Result<Duration, BoxError> {
    let n = ctx.args.requests();
    let warm = (n / 20).max(20);
    ctx.progress(format_args!(
        "overhead: {n} x 3 interleaved requests, then {} clients for 2 x {} s\n",
        ctx.args.clients,
        ctx.args.load_secs()
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
    let (addr, id) = (service.addr, person.id);
    let update: Call = Arc::new(move || {
        let http = http.clone();
        Box::pin(async move {
            let (elapsed, v) = post_update(&http, addr, id)
                .await
                .map_err(|e| format!("update: {e}"))?;
            if v["summary"]["success"] != 1 {
                return Err(format!("update: {v}").into());
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
    let e2e = load(&update, ctx.args.clients, ctx.args.load_secs()).await;
    let (svc1, me1) = (
        service.cpu_time(ctx.ticks),
        stats::cpu_time("self", ctx.ticks),
    );
    let raw = load(&direct, ctx.args.clients, ctx.args.load_secs()).await;
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
            "FDModify straight to the simulator (bench process: 2 Digest legs, L on the answered one, + picture download)",
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
    let (_, cores) = stats::machine();
    let e2e_count = e2e.latencies.len().max(1) as u32;
    let svc_cpu = svc1.saturating_sub(svc0);
    println!(
        "Throughput: {} concurrent clients for {} s each, on {cores} cores shared by the service, the simulator, the clients (and any neighbour).\n",
        ctx.args.clients,
        ctx.args.load_secs()
    );
    println!(
        "| what | requests | errors | req/s | p50 ms | p99 ms | service CPU ms/req | service CPU | bench process CPU |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "{}",
        throughput_row(
            "update-angajat-photo end to end",
            &e2e,
            Some(svc_cpu),
            me1.saturating_sub(me0)
        )
    );
    println!(
        "{}",
        throughput_row(
            "FDModify straight to the simulator",
            &raw,
            None,
            me2.saturating_sub(me1)
        )
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
// Section: is the simulator what we measure?

pub async fn check(ctx: &Ctx) -> Result<(), BoxError> {
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
        let hits_before = ctx.photos.total_hits();
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
        let downloads = ctx.photos.total_hits() - hits_before;
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
            human(l),
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
