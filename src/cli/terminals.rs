//! `hikvision-sync devices resync <device>` and `devices reconcile <device> [--fix] [--remove
//! N,...]`: the same durable delivery the API uses (Postgres with `DATABASE_URL`, else memory in
//! this process), built without the HTTP layer, followed with a progress bar (plain lines when
//! stdout is not a terminal).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::table;
use crate::config::Settings;
use crate::delivery::reconcile::{ReconcileReport, ReconcileState};
use crate::delivery::{Delivery, PairState};
use crate::startup::{self, Services};

const POLL: Duration = Duration::from_millis(500);
/// Plain progress lines at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Who the audit names for a command-line run.
fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

async fn delivery(settings: &Settings) -> Result<Arc<Delivery>, String> {
    let directory = super::directory(settings)?;
    let services = Services::build(settings).map_err(|e| e.to_string())?;
    let delivery = startup::build_delivery(
        settings,
        services.orchestrator,
        Some(directory),
        services.metrics,
    )
    .await
    .map_err(|e| e.to_string())?;
    if !delivery.store().is_durable() {
        println!(
            "note: DATABASE_URL is not set: this run keeps its state in memory and works only while it runs"
        );
    }
    Ok(delivery)
}

/// A bar with done / total, rate and ETA; hidden when stdout is not a terminal (then
/// [`Follow::tick`] prints plain lines).
struct Follow {
    bar: ProgressBar,
    plain: bool,
    what: &'static str,
    started: Instant,
    last_line: Option<Instant>,
}

impl Follow {
    fn new(what: &'static str, total: u64) -> Self {
        let plain = !std::io::stdout().is_terminal();
        let bar = if plain {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        let style = ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len}  {per_sec}  ETA {eta}  ({elapsed})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(what);
        Self {
            bar,
            plain,
            what,
            started: Instant::now(),
            last_line: None,
        }
    }

    fn tick(&mut self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        if !self.plain {
            return;
        }
        let due = self.last_line.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) || done >= total;
        if !due {
            return;
        }
        self.last_line = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 && total > done {
            format!("{:.0} s", (total - done) as f64 / rate)
        } else {
            "-".into()
        };
        println!(
            "{}: {done}/{total}  {rate:.1}/s  ETA {eta}  ({secs:.0} s)",
            self.what
        );
    }

    fn finish(&self) {
        self.bar.finish();
    }
}

/// Schedules the bulk resync of one terminal and follows it to the end; `Ok(true)` when every
/// employee is in sync.
pub async fn devices_resync(settings: Settings, device: &str) -> Result<bool, String> {
    let delivery = delivery(&settings).await?;
    let resync = delivery
        .resync(device, &actor())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Resync of {} ({}): {} employee(s), {} new change(s) scheduled",
        resync.device_name, resync.device_id, resync.scheduled, resync.added
    );
    match (&resync.capacity, &resync.capacity_note) {
        (Some(c), _) => println!(
            "Face capacity {}, faces on the terminal before: {}",
            c.capacity
                .map_or_else(|| "not stated".into(), |n| n.to_string()),
            c.on_terminal
        ),
        (None, Some(note)) => println!("Capacity not checked: {note}"),
        (None, None) => {}
    }
    let mut follow = Follow::new("resync", resync.scheduled as u64);
    let progress = loop {
        let progress = delivery
            .resync_progress(&resync.keys)
            .await
            .map_err(|e| e.to_string())?;
        follow.tick(progress.done as u64, progress.total as u64);
        if progress.finished() {
            break progress;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c() => {
                follow.finish();
                println!(
                    "\nStopped following at {}/{}. {}",
                    progress.done,
                    progress.total,
                    if delivery.store().is_durable() {
                        "The resync goes on in the service (durable); follow it with GET /api/hikvision/devices/status"
                    } else {
                        "Without DATABASE_URL the rest is not delivered: run the command again"
                    }
                );
                return Ok(false);
            }
        }
    };
    follow.finish();
    println!(
        "\n{} of {} in sync, {} waiting for a person or with nothing to send",
        progress.in_sync,
        progress.total,
        progress.problems.len()
    );
    if !progress.problems.is_empty() {
        let rows: Vec<Vec<String>> = progress
            .problems
            .iter()
            .map(|p| {
                vec![
                    p.change
                        .employee_no
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                    p.change.key.angajat_id.to_string(),
                    p.state.name().to_string(),
                    p.error_code
                        .as_ref()
                        .map_or_else(|| "-".to_string(), ToString::to_string),
                    p.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        println!(
            "{}",
            table::render(
                &["employee_no", "angajat_id", "state", "error_code", "why"],
                &rows
            )
        );
    }
    Ok(progress
        .problems
        .iter()
        .all(|p| p.state == PairState::InSync))
}

fn print_report(report: &ReconcileReport) {
    println!("in sync (person and face): {}", report.in_sync);
    println!(
        "missing on the terminal:   {} {}",
        report.missing_on_terminal.len(),
        report.missing_on_terminal.join(", ")
    );
    println!(
        "face missing:              {} {}",
        report.face_missing.len(),
        report.face_missing.join(", ")
    );
    println!(
        "UNKNOWN on the terminal:   {}",
        report.unknown_on_terminal.len()
    );
    if !report.unknown_on_terminal.is_empty() {
        let rows: Vec<Vec<String>> = report
            .unknown_on_terminal
            .iter()
            .map(|p| vec![p.employee_no.clone(), p.name.clone()])
            .collect();
        println!("{}", table::render(&["employee_no", "name"], &rows));
        println!(
            "Unknown persons can open the door. Remove them by name: --remove {}",
            report
                .unknown_on_terminal
                .iter()
                .map(|p| p.employee_no.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
}

/// Reads one terminal, prints what differs from Supabase, and with `fix` / `remove` schedules
/// the missing employees and removes exactly the named unknown persons, then follows the
/// terminal's queue until it is empty. `Ok(true)` when the terminal matches (or was fixed).
pub async fn devices_reconcile(
    settings: Settings,
    device: &str,
    fix: bool,
    remove: Vec<String>,
) -> Result<bool, String> {
    let delivery = delivery(&settings).await?;
    let entry = delivery
        .find_device(device)
        .await
        .map_err(|e| e.to_string())?;
    let device_id = match &entry {
        Ok(d) => d.id.clone(),
        Err(i) => i.id.clone(),
    };
    let id = delivery
        .start_reconcile(&device_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut follow = Follow::new("reading", 0);
    let view = loop {
        let view = delivery
            .reconcile_view(&device_id, id)
            .ok_or("the reconcile run vanished")?;
        follow.tick(view.progress.read as u64, view.progress.total as u64);
        if view.state != ReconcileState::Running {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    follow.finish();
    let Some(report) = view.report.filter(|_| view.state == ReconcileState::Done) else {
        return Err(format!(
            "the terminal could not be read: {}",
            view.error.unwrap_or_default()
        ));
    };
    println!();
    print_report(&report);
    let clean = report.missing_on_terminal.is_empty()
        && report.face_missing.is_empty()
        && report.unknown_on_terminal.is_empty();
    if !fix && remove.is_empty() {
        return Ok(clean);
    }
    let outcome = delivery
        .reconcile_fix(&device_id, id, fix, &remove, &actor())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "\nScheduled {} employee(s); removing {} person(s): {}",
        outcome.scheduled.len(),
        outcome.removing.len(),
        outcome.removing.join(", ")
    );
    let total = (outcome.scheduled.len() + outcome.removing.len()) as u64;
    let mut follow = Follow::new("fix", total);
    loop {
        let counts = delivery
            .store()
            .device_counts()
            .await
            .map_err(|e| e.to_string())?;
        let c = counts.get(&device_id).cloned().unwrap_or_default();
        follow.tick(total.saturating_sub(c.pending), total);
        if c.pending == 0 {
            follow.finish();
            println!("done; failed on this terminal: {}", c.failed);
            if let Some(e) = c.last_error {
                println!("last error: {e}");
            }
            return Ok(c.failed == 0);
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c() => {
                follow.finish();
                println!("\nStopped following; {} change(s) still pending", c.pending);
                return Ok(false);
            }
        }
    }
}
