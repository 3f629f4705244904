//! The service under test, in its own process: the bench binary re-executes itself with
//! `--serve-child`, reads a [`ServiceSpec`] (one JSON line on stdin), builds the real service
//! (`Settings::from_lookup` -> `Application::build_with` -> `run_until_stopped`, i.e. `api::router`)
//! with a `MemoryDirectory`, prints `LISTEN <addr> <pid>`, and exits when its stdin closes.
//!
//! A separate process keeps the simulated terminals, the photo server and the load generator
//! (all in the parent) out of the service's memory and CPU figures.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hikvision_sync::config::Settings;
use hikvision_sync::models::{BiometricRecord, Device, Employee};
use hikvision_sync::photo::FaceUrlScheme;
use hikvision_sync::startup::{self, Application};
use hikvision_sync::supabase::MemoryDirectory;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;
use uuid::Uuid;

use super::BoxError;
use super::stats::{self, Memory};

/// The argument that turns the bench binary into the service.
pub const CHILD_FLAG: &str = "--serve-child";

/// One employee of the directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonSpec {
    /// The angajat id.
    pub id: Uuid,
    /// `biometrie.employee_no`.
    pub employee_no: String,
    /// `biometrie.foto_fata_url`: a storage path, resolved against the photo server.
    pub photo: String,
}

impl PersonSpec {
    /// The name shown on the terminals.
    pub fn display_name(&self) -> String {
        format!("Bench {}", self.employee_no)
    }
}

/// One active device row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// Row id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Login.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Everything the child needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Settings as environment variables (`DEVICE_CONCURRENCY`, `RATE_LIMIT_DELAY_MS`, ...),
    /// parsed by the service's own `Settings::from_lookup`.
    pub env: BTreeMap<String, String>,
    /// Base URL of the photo server (plays Supabase Storage).
    pub photo_base: String,
    /// `RUST_LOG` of the service (the parent sets it in the child's environment, as the real
    /// binary reads it), or `None` for no log subscriber at all.
    pub log_filter: Option<String>,
    /// The directory's employees.
    pub angajati: Vec<PersonSpec>,
    /// The directory's active devices.
    pub devices: Vec<DeviceSpec>,
}

/// The child's `main`: serve until stdin closes.
pub fn child_main() -> Result<(), BoxError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let spec: ServiceSpec = serde_json::from_str(&line)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(spec))
}

async fn serve(spec: ServiceSpec) -> Result<(), BoxError> {
    let env = spec.env;
    let mut settings = Settings::from_lookup(|key| env.get(key).cloned())?;
    settings.supabase = None;
    settings.face_url.supabase_url = Some(Url::parse(&spec.photo_base)?);
    settings.face_url.scheme = FaceUrlScheme::Keep;
    if spec.log_filter.is_some() {
        startup::init_logging(settings.log_format);
    }
    let angajati = spec
        .angajati
        .iter()
        .map(|p| Employee {
            id: p.id,
            last_name: p.employee_no.clone(),
            first_name: "Bench".into(),
            biometrics: Some(BiometricRecord::from_row(
                Some(&p.employee_no),
                Some(p.photo.clone()),
            )),
            validity: Default::default(),
        })
        .collect();
    let devices = spec
        .devices
        .into_iter()
        .map(|d| {
            Ok(Device {
                id: d.id,
                name: d.name,
                ip: d.ip,
                port: d.port,
                username: d.username,
                password: SecretString::from(d.password),
            })
        })
        .collect();
    let directory = MemoryDirectory::new(angajati, devices);
    settings.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let app = Application::build_with(settings, Some(Arc::new(directory))).await?;
    let addr = app.addr();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "LISTEN {addr} {}", std::process::id())?;
        out.flush()?;
    }
    // The parent closing our stdin (or dying) ends the service.
    std::thread::spawn(|| {
        let mut rest = Vec::new();
        let _ = std::io::stdin().lock().read_to_end(&mut rest);
        std::process::exit(0);
    });
    app.run_until_stopped().await?;
    Ok(())
}

/// How the child is started, for diagnostics: a wrapper command (`perf stat -e ...`,
/// `valgrind --tool=massif`) and extra environment variables (`MALLOC_ARENA_MAX=2`).
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Program and arguments put in front of the service's command line.
    pub wrapper: Vec<String>,
    /// Extra environment of the service process.
    pub env: Vec<(String, String)>,
    /// Where the service's log (its stdout) is appended; `None` drops it.
    pub log_file: Option<std::path::PathBuf>,
}

/// The running service, seen from the bench process.
pub struct ServiceProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id, as `/proc` wants it.
    pub pid: String,
}

impl ServiceProcess {
    /// Starts the service described by `spec` and waits until it listens.
    pub async fn start(spec: &ServiceSpec, launch: &Launch) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?;
        let mut command = match launch.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command
            .arg(CHILD_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .envs(launch.env.iter().map(|(k, v)| (k, v)));
        match &spec.log_filter {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command.spawn()?;
        let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut line = serde_json::to_vec(spec)?;
        line.push(b'\n');
        stdin.write_all(&line).await?;
        stdin.flush().await?;

        let mut lines = BufReader::new(stdout).lines();
        // `LISTEN <addr> <pid>`: the pid is the service's own, even under a wrapper that forks.
        // The service may log before it listens (to stdout, as in production): skip those lines.
        let listen = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("LISTEN ") {
                    return Ok::<_, std::io::Error>(Some(rest.to_string()));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|_| "the service did not start within 60 s")??
        .ok_or("the service exited before listening")?;
        let mut words = listen.split_whitespace();
        let addr: SocketAddr = words.next().ok_or("no address")?.parse()?;
        let pid = words.next().ok_or("no pid")?.to_string();
        // The service logs to stdout, as in production; drain it so it never blocks (into
        // `--service-log-file` when given).
        let mut log = match &launch.log_file {
            Some(path) => Some(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await?,
            ),
            None => None,
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(file) = log.as_mut() {
                    let _ = file.write_all(format!("{line}\n").as_bytes()).await;
                }
            }
        });
        Ok(Self {
            child,
            stdin: Some(stdin),
            addr,
            pid,
        })
    }

    /// Its memory now.
    pub fn memory(&self) -> Memory {
        stats::memory(&self.pid)
    }

    /// Its CPU time so far.
    pub fn cpu_time(&self, ticks: u64) -> Duration {
        stats::cpu_time(&self.pid, ticks)
    }

    /// Its open file descriptors now.
    pub fn open_fds(&self) -> usize {
        stats::open_fds(&self.pid)
    }

    /// Closes its stdin (it exits) and waits; kills it if it takes more than 5 s.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
