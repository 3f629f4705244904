//! The `hikvision-sync` command: serve the API, run the embedded demo, simulate terminals, update
//! one employee's photo, check the terminals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hikvision_simulator::{self as simulator, Faults, TerminalConfig};
use hikvision_sync::config::Settings;
use hikvision_sync::models::Enrolled;
use hikvision_sync::orchestration::FlowOptions;
use hikvision_sync::startup::{self, Application};
use hikvision_sync::{cli, demo};

#[derive(Parser)]
#[command(
    name = "hikvision-sync",
    version,
    about = "Keeps employees' face photos in Supabase in step with HikVision terminals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API with the settings from the environment / .env (see .env.example).
    Serve,
    /// Run the whole product locally: the API on demo data plus three simulated terminals.
    Demo {
        /// Where the API listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// The demo data file.
        #[arg(long, default_value = demo::DEMO_DATA)]
        data: PathBuf,
    },
    /// Run simulated HikVision terminals (Digest auth, ISAPI face and person calls).
    Simulate {
        /// How many terminals.
        #[arg(long, default_value_t = 3)]
        count: usize,
        /// Port of the first terminal; the others follow.
        #[arg(long, default_value_t = 8101)]
        base_port: u16,
        /// Address to listen on (0.0.0.0 inside a container).
        #[arg(long, default_value = "127.0.0.1")]
        ip: std::net::IpAddr,
        /// The terminals' admin password.
        #[arg(long, env = "SIMULATOR_PASSWORD", default_value = TerminalConfig::DEMO_PASSWORD, hide_env_values = true)]
        password: String,
        /// Simulate old firmware without FDModify.
        #[arg(long)]
        fdmodify_unsupported: bool,
        /// Added latency per reply, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
    /// Update one employee's face on every active terminal, printing progress.
    UpdatePhoto {
        /// The angajat's UUID.
        angajat_id: String,
        /// Enrol the person on terminals that do not know them (grants door access).
        #[arg(long)]
        create_missing_person: bool,
    },
    /// Exit 0 when the service at URL answers /health (for container health checks).
    Healthcheck {
        /// The health URL.
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
    /// Terminal checks.
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
}

#[derive(Subcommand)]
enum DevicesCommand {
    /// For every active terminal: reachable? login ok? model, firmware, FDModify support.
    Check,
    /// Send every employee (person, then face) to one terminal, durably, with progress.
    Resync {
        /// The device row id or name.
        device: String,
    },
    /// Compare what one terminal holds with Supabase; optionally fix it.
    Reconcile {
        /// The device row id or name.
        device: String,
        /// Schedule the employees missing on the terminal (person or face).
        #[arg(long)]
        fix: bool,
        /// Remove exactly these unknown persons (employee numbers from the report).
        #[arg(long, value_delimiter = ',')]
        remove: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve().await.map(|()| true),
        Command::Demo { bind, data } => run_demo(bind, data).await.map(|()| true),
        Command::Simulate {
            count,
            base_port,
            ip,
            password,
            fdmodify_unsupported,
            latency_ms,
        } => {
            let config = TerminalConfig {
                password,
                faults: Faults {
                    fdmodify_unsupported,
                    latency_ms,
                    ..Faults::default()
                },
                ..TerminalConfig::default()
            };
            simulate(count, base_port, ip, config).await.map(|()| true)
        }
        Command::UpdatePhoto {
            angajat_id,
            create_missing_person,
        } => match settings() {
            Ok(s) => {
                cli::update_photo(
                    s,
                    &angajat_id,
                    FlowOptions {
                        create_missing_person,
                    },
                )
                .await
            }
            Err(e) => Err(e),
        },
        Command::Healthcheck { url } => healthcheck(&url).await,
        Command::Devices {
            command: DevicesCommand::Check,
        } => match settings() {
            Ok(s) => cli::devices_check(s).await,
            Err(e) => Err(e),
        },
        Command::Devices {
            command: DevicesCommand::Resync { device },
        } => match settings() {
            Ok(s) => cli::devices_resync(s, &device).await,
            Err(e) => Err(e),
        },
        Command::Devices {
            command:
                DevicesCommand::Reconcile {
                    device,
                    fix,
                    remove,
                },
        } => match settings() {
            Ok(s) => cli::devices_reconcile(s, &device, fix, remove).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(url: &str) -> Result<bool, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Ok(true),
        Ok(r) => Err(format!("{url} answered HTTP {}", r.status())),
        Err(e) => Err(format!("{url} did not answer: {e}")),
    }
}

fn settings() -> Result<Settings, String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    startup::init_logging(settings.log_format);
    Ok(settings)
}

async fn serve() -> Result<(), String> {
    let settings = settings()?;
    if settings.supabase.is_none() {
        return Err("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are not set: `serve` needs a Supabase project (see .env.example), or run `hikvision-sync demo` for the embedded demo".into());
    }
    if let Some(refusal) = settings.serve_refusal() {
        return Err(refusal);
    }
    if settings.delivery.database_url.is_none() {
        return Err("DATABASE_URL is not set: `serve` keeps every change durable in the project's Postgres. Copy the \"Session pooler\" connection string (port 5432) from Supabase > Project Settings > Database > Connection string, and apply supabase/migrations/ first; or run `hikvision-sync demo` for the embedded demo (in memory)".into());
    }
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(addr = %app.addr(), "hikvision-sync listening");
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

async fn run_demo(bind: SocketAddr, data: PathBuf) -> Result<(), String> {
    settings()?;
    let demo = demo::start(&data, bind).await.map_err(|e| e.to_string())?;
    println!("hikvision-sync demo: the API on embedded data and three simulated terminals\n");
    println!("  API            http://{}", demo.addr);
    println!("  health         http://{}/health", demo.addr);
    for (name, t) in &demo.terminals {
        println!(
            "  terminal       {:<16} http://{}  (admin / {}{})",
            name,
            t.addr(),
            t.config().password,
            match (t.faults().fdmodify_unsupported, t.faults().closed_lan) {
                (true, _) => ", old firmware: no FDModify",
                (false, true) => ", closed LAN: cannot download photo URLs, gets them pushed",
                (false, false) => "",
            }
        );
    }
    println!("\n  employees:");
    for a in &demo.angajati {
        println!(
            "    {}  {:<18} employee_no {:<6} photo {}",
            a.id,
            a.display_name(),
            a.employee_no()
                .map_or("-", hikvision_isapi::EmployeeNo::as_str),
            a.photo().unwrap_or("-")
        );
    }
    if demo.api_key_required {
        println!("\n/api/* needs the x-api-key header (API_KEY is set).");
    } else {
        println!(
            "\nWARNING: the demo API has no authentication (set API_KEY to require one); it listens on {} only.",
            demo.addr
        );
    }
    println!(
        "NOTE: photos are fetched from the demo's own embedded photo server at http://127.0.0.1:{}, which stands for SUPABASE_URL (so this loopback origin is allowed); other photo origins need PHOTO_ALLOWED_ORIGINS (and PHOTO_ALLOWED_NETS for internal addresses).",
        demo.addr.port()
    );
    println!(
        "NOTE: the demo keeps delivery state (pending changes, status) in memory: it forgets on restart. `serve` keeps it in Postgres (DATABASE_URL)."
    );
    let (present, list) = demo.event_curls();
    let first = demo
        .terminals
        .first()
        .map_or("the first terminal", |(name, _)| name.as_str());
    println!(
        "\nTry it:\n\n  {}\n\nPresent a face at {first} (the terminal pushes the event here), then list the events:\n\n  {present}\n  {list}\n\nCtrl-C to stop.",
        demo.example_curl()
    );
    demo.wait().await.map_err(|e| e.to_string())
}

async fn simulate(
    count: usize,
    base_port: u16,
    ip: std::net::IpAddr,
    config: TerminalConfig,
) -> Result<(), String> {
    settings()?;
    let terminals = simulator::run_many_on(ip, count, base_port, config)
        .await
        .map_err(|e| format!("cannot start the terminals: {e}"))?;
    for t in &terminals {
        println!(
            "simulated terminal {:<22} http://{}  user admin  (try: curl --digest -u admin:<password> http://{}/ISAPI/System/deviceInfo)",
            t.config().name,
            t.addr(),
            t.addr()
        );
    }
    println!("Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    for t in terminals {
        t.shutdown().await;
    }
    Ok(())
}
