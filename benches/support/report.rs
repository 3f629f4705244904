//! Formatting of the Markdown tables, and the closing table of targets met or missed.

use std::time::Duration;

use super::cells::{Ctx, Mix, Outcome};
use super::model::Span;
use super::stats::{self, human, mib, ms3, percentile};

/// What the memory section found, for the targets.
pub struct RssResult {
    pub k: usize,
    pub peak_kib: u64,
}

pub fn cell_text(o: &Outcome) -> String {
    format!("{} ({})", human(o.median()), o.walls.len())
}

pub fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() || a.is_zero() {
        return "-".into();
    }
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}

pub fn span_text(s: Span) -> String {
    if s.max - s.min < Duration::from_millis(5) {
        human(s.mean)
    } else {
        format!("{}-{}", human(s.min), human(s.max))
    }
}

pub fn latency_row(name: &str, v: &[Duration]) -> String {
    format!(
        "| {name} | {} | {} | {} | {} |",
        v.len(),
        ms3(percentile(v, 50.0)),
        ms3(percentile(v, 99.0)),
        ms3(stats::mean(v)),
    )
}

// ---------------------------------------------------------------------------------------------

pub fn targets(ctx: &Ctx, overhead_p99: Option<Duration>, rss: Option<RssResult>) {
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
