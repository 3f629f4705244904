//! Command-line front ends over the same layers the HTTP API uses: a one-off photo update with
//! live progress, a terminal health check, and the simulator and demo launchers.

mod devices;
mod table;
mod terminals;
mod update;

pub use devices::devices_check;
pub use terminals::{devices_reconcile, devices_resync};
pub use update::update_photo;

use std::sync::Arc;

use crate::config::Settings;
use crate::startup;
use crate::supabase::Directory;

/// The Supabase directory from the settings, or a message saying what to set.
fn directory(settings: &Settings) -> Result<Arc<dyn Directory>, String> {
    startup::supabase_directory(settings)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are not set (see .env.example)".to_string()
        })
}
