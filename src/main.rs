//! The `hikvision-sync` command: serve the API, run the embedded demo, simulate terminals.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hikvision_sync::config::Settings;
use hikvision_sync::startup;

#[derive(Parser)]
#[command(
    name = "hikvision-sync",
    version,
    about = "Keeps Supabase face photos in step with HikVision terminals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API with the settings from the environment / .env.
    Serve,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    startup::init_logging(settings.log_format);
    if settings.supabase.is_none() {
        return Err("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are not set: `serve` needs a Supabase project (see .env.example), or run `hikvision-sync demo` for the embedded demo".into());
    }
    let directory = startup::supabase_directory(&settings).map_err(|e| e.to_string())?;
    let listener = startup::bind(settings.bind_addr)
        .await
        .map_err(|e| e.to_string())?;
    let state = startup::build_state(settings, directory).map_err(|e| e.to_string())?;
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "hikvision-sync listening");
    startup::serve(listener, state)
        .await
        .map_err(|e| e.to_string())
}
