//! `hikvision-sync update-photo <angajat_id>`: the update flow once, from the terminal, with a line
//! per terminal as results arrive and a table at the end.

use tokio::sync::mpsc;
use uuid::Uuid;

use super::table;
use crate::config::Settings;
use crate::models::{Enrolled, Summary, SyncStatus};
use crate::orchestration::{Flow, FlowOptions, Hooks};
use crate::startup::Services;

/// Runs the update for one employee; `Ok(true)` when every terminal succeeded or was skipped.
pub async fn update_photo(
    settings: Settings,
    angajat_id: &str,
    flags: FlowOptions,
) -> Result<bool, String> {
    let id =
        Uuid::parse_str(angajat_id.trim()).map_err(|_| format!("'{angajat_id}' is not a UUID"))?;
    let directory = super::directory(&settings)?;
    let angajat = directory
        .get_angajat_with_biometrie(id)
        .await
        .map_err(|e| e.to_string())?;
    let devices = directory
        .get_active_devices()
        .await
        .map_err(|e| e.to_string())?;
    let total = devices.len();
    println!(
        "Updating the face of {} (employee_no {}) on {total} terminal(s)...",
        angajat.display_name(),
        angajat
            .employee_no()
            .map_or("-", hikvision_isapi::EmployeeNo::as_str)
    );
    let orchestrator = Services::build(&settings)
        .map_err(|e| e.to_string())?
        .orchestrator;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = tokio::spawn(async move {
        orchestrator
            .sync(
                angajat,
                devices,
                Flow::UpdatePhoto,
                flags,
                Hooks {
                    progress: Some(tx),
                    gate: None,
                    permits: None,
                },
            )
            .await
    });
    let mut done = 0;
    while let Some((_, r)) = rx.recv().await {
        done += 1;
        println!(
            "[{done}/{total}] {:<24} {:<21} {:<8} {} ms",
            r.device_name,
            r.device_ip,
            r.result.status.name(),
            r.elapsed_ms
        );
    }
    let reports = run.await.map_err(|e| format!("internal error: {e}"))?;
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.device_name.clone(),
                r.device_ip.clone(),
                r.result.status.name().to_string(),
                r.result.method.map_or("-", |m| m.name()).to_string(),
                r.result.message.clone(),
            ]
        })
        .collect();
    println!();
    println!(
        "{}",
        table::render(&["terminal", "ip", "status", "method", "message"], &rows)
    );
    let summary = Summary::of(reports.iter().map(|r| &r.result.status));
    println!(
        "\nsuccess {}  partial {}  skipped {}  fatal {}",
        summary.success, summary.partial, summary.skipped, summary.fatal
    );
    Ok(reports
        .iter()
        .all(|r| matches!(r.result.status, SyncStatus::Success | SyncStatus::Skipped)))
}
