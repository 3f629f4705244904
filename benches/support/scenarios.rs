//! The sections that measure cells: healthy fan-out, old firmware and offline terminals, and
//! the service's memory at 1,000 terminals.

use std::time::Duration;

use hikvision_sync::orchestration::RetryPolicy;

use super::BoxError;
use super::cells::{
    Cell, Ctx, DEFAULT_CONCURRENCY, DEFAULT_DEVICE_TIMEOUT_MS, Mix, Outcome, check_response,
};
use super::fleet::{Fleet, Kind};
use super::model::schedule;
use super::report::{RssResult, cell_text, ratio, span_text};
use super::stats::{self, human, median, mib};

// ---------------------------------------------------------------------------------------------
// Section: healthy fan-out.

pub async fn fanout(ctx: &mut Ctx) -> Result<(), BoxError> {
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
            let model16 = schedule(&vec![ctx.latency(); k], DEFAULT_CONCURRENCY);
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
             Floor: one terminal's FDModify = L on the answered leg (the 401 challenge is answered at once) = {}.\n",
            human(ctx.latency())
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

pub async fn faults(ctx: &mut Ctx) -> Result<(), BoxError> {
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

pub async fn rss(ctx: &mut Ctx) -> Result<RssResult, BoxError> {
    let k = ctx.args.rss_k;
    // Several requests: the peak ratchets up over the first few (allocator fragmentation and
    // pooled connections), and a service answers more than one request.
    let runs = ctx.args.runs.unwrap_or(if ctx.args.quick { 2 } else { 5 });
    let mut rows = Vec::new();
    let mut peak_at_k = 0;
    let mut bench_note = String::new();
    for c in ctx.args.rss_concurrency() {
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
