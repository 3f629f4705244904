//! Fan-out at the speed of the slowest terminal, measured end to end.
//!
//! `cargo bench --bench fanout` (about 5 minutes) or `cargo bench --bench fanout -- --quick`
//! (under a minute). `-- --help` lists the knobs (`support/options.rs`).
//!
//! The bench process starts K simulated terminals (real HTTP, real Digest auth, a latency of L
//! before every reply) and a small photo server; the service runs in a child process (this
//! binary re-executed with `--serve-child`: `Settings::from_lookup`, `Application::build_with`,
//! `run_until_stopped` on `api::router`, a `MemoryDirectory` with the K devices), and every figure
//! comes from real `POST /api/hikvision/update-angajat-photo` requests made with reqwest.
//! It prints Markdown tables (the ones quoted in BENCHMARKS.md).

mod support;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use support::BoxError;
use support::cells::{Ctx, load_average};
use support::child::{CHILD_FLAG, child_main};
use support::durable::durable;
use support::fleet::photo_server;
use support::options::{Args, Section};
use support::overhead::{check, overhead};
use support::report::targets;
use support::scenarios::{fanout, faults, rss};
use support::stats;
use support::webhook::webhook;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(CHILD_FLAG) {
        return match child_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench service: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Inconsistent numbers are reported like any other command-line error (exit status 2).
    let args = Args::parse();
    if let Err(e) = args.check() {
        Args::command().error(ErrorKind::ValueValidation, e).exit();
    }
    hikvision_testkit::block_on_bench(run(args))
}

// ---------------------------------------------------------------------------------------------

async fn run(args: Args) -> Result<(), BoxError> {
    let (cpu, cores) = stats::machine();
    let fd_limit = stats::raise_open_file_limit(args.rss_k.max(500) * 4 + 256);
    println!("# hikvision-sync fan-out benchmark\n");
    println!(
        "Machine: {cores} cores ({cpu}), open-file limit {}, load average {} at the start. Mode: {}. \
         L = {} ms before every terminal reply. Service log: {}.\n",
        fd_limit.map_or("unknown".into(), |n| n.to_string()),
        load_average(),
        if args.quick { "--quick" } else { "full" },
        args.latency_ms,
        args.service_log().unwrap_or("off"),
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(700))
        .build()?;
    let mut ctx = Ctx {
        photos: photo_server().await?,
        http,
        ticks: stats::clock_ticks(),
        next_employee: AtomicU64::new(0),
        cache: HashMap::new(),
        started: Instant::now(),
        args,
    };
    let sections = ctx.args.sections();
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
    if sections.contains(&Section::Durable) {
        durable(&mut ctx).await?;
    }
    if sections.contains(&Section::Webhook) {
        webhook(&mut ctx).await?;
    }
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
