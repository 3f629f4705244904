//! `hikvision-sync devices check`: for every active terminal, whether it answers, whether the
//! credentials work, its model and firmware, and whether it offers FDModify.

use futures::StreamExt;

use super::table;
use hikvision_isapi::{ClientOptions, ErrorClass, IsapiClient};

use crate::config::Settings;
use crate::models::DeviceEntry;

/// Checks every active terminal; `Ok(true)` when all are reachable with working credentials.
///
/// Each terminal gets one deviceInfo call, and a capabilities call only if that logged in, so a
/// wrong password costs exactly one failed login.
pub async fn devices_check(settings: Settings) -> Result<bool, String> {
    let directory = super::directory(&settings)?;
    let devices = directory
        .get_active_devices()
        .await
        .map_err(|e| e.to_string())?;
    let client = IsapiClient::new(ClientOptions::with_total_timeout(
        settings.sync.device_timeout,
    ))
    .map_err(|e| e.to_string())?;
    let rows: Vec<(bool, Vec<String>)> = futures::stream::iter(devices)
        .map(|entry| check_one(&client, entry))
        .buffered(settings.sync.device_concurrency.max(1))
        .collect()
        .await;
    let all_ok = rows.iter().all(|(ok, _)| *ok);
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r).collect();
    println!(
        "{}",
        table::render(
            &[
                "terminal",
                "address",
                "reachable",
                "login",
                "model",
                "firmware",
                "FDModify",
                "note"
            ],
            &rows
        )
    );
    Ok(all_ok)
}

async fn check_one(client: &IsapiClient, entry: DeviceEntry) -> (bool, Vec<String>) {
    let device = match entry {
        Ok(d) => d,
        Err(invalid) => {
            return (
                false,
                row(
                    &invalid.name,
                    &invalid.ip,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    &invalid.reason,
                ),
            );
        }
    };
    let address = format!("{}:{}", device.ip, device.port);
    let terminal = match device.terminal() {
        Ok(t) => t,
        Err(e) => {
            return (
                false,
                row(
                    &device.name,
                    &address,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    &e.to_string(),
                ),
            );
        }
    };
    match client.device_info(&terminal).await {
        Ok(info) => {
            let fdmodify = match client.supports_fdmodify(&terminal).await {
                Ok(Some(true)) => "yes",
                Ok(Some(false)) => "no (fallback)",
                Ok(None) | Err(_) => "unknown",
            };
            (
                true,
                row(
                    &device.name,
                    &address,
                    "yes",
                    "ok",
                    &info.model,
                    &info.firmware_version,
                    fdmodify,
                    "",
                ),
            )
        }
        Err(e) => {
            let (reachable, login) = match e.class() {
                ErrorClass::Credentials => ("yes", "FAILED"),
                ErrorClass::Timeout | ErrorClass::Unreachable | ErrorClass::ConnectionLost => {
                    ("NO", "-")
                }
                _ => ("yes", "?"),
            };
            (
                false,
                row(
                    &device.name,
                    &address,
                    reachable,
                    login,
                    "-",
                    "-",
                    "-",
                    &e.to_string(),
                ),
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn row(
    name: &str,
    address: &str,
    reachable: &str,
    login: &str,
    model: &str,
    firmware: &str,
    fdmodify: &str,
    note: &str,
) -> Vec<String> {
    [
        name, address, reachable, login, model, firmware, fdmodify, note,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
