//! The embedded demo: the real service on local data, three simulated terminals in-process (one on
//! old firmware without FDModify), and the employees' photos served by the demo itself at Supabase
//! Storage paths, so the terminals really download them. No Supabase account, no hardware.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use hikvision_isapi::{EmployeeNo, build_person};
use hikvision_simulator::{self as simulator, Faults, SimulatedTerminal, TerminalConfig};

use crate::config::{AuthSettings, Settings};
use crate::models::{BiometricRecord, Device, Employee, Enrolled};
use crate::photo::{FaceUrlScheme, synth};
use crate::startup::{self, Application, StartupError};
use crate::supabase::MemoryDirectory;

/// The demo data file, relative to the working directory.
pub const DEMO_DATA: &str = "config/demo.json";

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data file could not be read.
    #[error("cannot read the demo data {path}: {reason}")]
    Data {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Start-up failed.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// A simulated terminal could not start.
    #[error("cannot start a simulated terminal: {0}")]
    Terminal(std::io::Error),
}

#[derive(Debug, Deserialize)]
struct DemoData {
    angajati: Vec<DemoAngajat>,
    terminals: Vec<DemoTerminal>,
}

#[derive(Debug, Deserialize)]
struct DemoAngajat {
    id: Uuid,
    nume: String,
    prenume: String,
    biometrie: Option<DemoBiometrie>,
}

#[derive(Debug, Deserialize)]
struct DemoBiometrie {
    employee_no: Option<String>,
    foto_fata_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DemoTerminal {
    name: String,
    model: String,
    firmware: String,
    #[serde(default)]
    faults: Faults,
}

/// A running demo.
pub struct Demo {
    /// Where the service listens.
    pub addr: SocketAddr,
    /// The simulated terminals, in the data file's order.
    pub terminals: Vec<(String, SimulatedTerminal)>,
    /// The employees.
    pub angajati: Vec<Employee>,
    /// Whether `/api/*` wants the `x-api-key` header (`API_KEY` is set).
    pub api_key_required: bool,
    server: tokio::task::JoinHandle<Result<(), StartupError>>,
}

impl Demo {
    /// Runs until the service stops (Ctrl-C).
    pub async fn wait(self) -> Result<(), DemoError> {
        match self.server.await {
            Ok(result) => result.map_err(DemoError::from),
            Err(e) => Err(DemoError::Data {
                path: "server".into(),
                reason: e.to_string(),
            }),
        }
    }

    /// A ready-to-paste curl for the first employee with a photo.
    pub fn example_curl(&self) -> String {
        let id = self
            .angajati
            .iter()
            .find(|a| a.photo().is_some() && a.employee_no().is_some())
            .map(|a| a.id.to_string())
            .unwrap_or_default();
        let key = if self.api_key_required {
            " -H \"x-api-key: $API_KEY\""
        } else {
            ""
        };
        format!(
            "curl -s -X POST http://{}/api/hikvision/update-angajat-photo -H 'content-type: application/json'{key} -d '{{\"angajat_id\": \"{id}\"}}'",
            self.addr
        )
    }
}

impl Demo {
    /// Ready-to-paste curls: one presents the first enrolled employee's face at the first
    /// terminal (the simulator pushes the event to the demo), one lists the stored events.
    pub fn event_curls(&self) -> (String, String) {
        let employee_no = self
            .angajati
            .iter()
            .find_map(|a| a.employee_no())
            .map_or("1", EmployeeNo::as_str);
        let present = self.terminals.first().map_or_else(String::new, |(_, t)| {
            format!(
                "curl -s -X POST {}/_sim/events/face -H 'content-type: application/json' -d '{{\"employeeNo\": \"{employee_no}\", \"doorNo\": 1}}'",
                t.base_url()
            )
        });
        let key = if self.api_key_required {
            " -H \"x-api-key: $API_KEY\""
        } else {
            ""
        };
        let list = format!(
            "curl -s 'http://{}/api/hikvision/events?limit=10'{key}",
            self.addr
        );
        (present, list)
    }
}

/// The picture the demo serves for a storage path: a small real JPEG unique to the path, or, for
/// a path with `phone` in it, a large phone photo stored sideways with EXIF orientation 6 (the
/// service turns it upright, shrinks it under 200 KB and pushes it).
pub fn demo_picture(path: &str) -> Vec<u8> {
    static PHONE: OnceLock<Vec<u8>> = OnceLock::new();
    if path.contains("phone") {
        return PHONE
            .get_or_init(|| synth::phone_jpeg(1500, 2000).unwrap_or_default())
            .clone();
    }
    let seed = path.bytes().fold(0x811C_9DC5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    synth::seeded_jpeg(seed, 240, 320).unwrap_or_default()
}

/// Starts the demo: terminals, data, service on `bind`.
pub async fn start(data_path: &Path, bind: SocketAddr) -> Result<Demo, DemoError> {
    let data_err = |reason: String| DemoError::Data {
        path: data_path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(data_path).map_err(|e| data_err(e.to_string()))?;
    let data: DemoData = serde_json::from_str(&text).map_err(|e| data_err(e.to_string()))?;

    let listener = startup::bind(bind).await?;
    let addr = listener.local_addr().map_err(|source| StartupError::Io {
        addr: bind.to_string(),
        source,
    })?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], addr.port()));
    let base = Url::parse(&format!("http://{loopback}/")).map_err(|e| data_err(e.to_string()))?;

    let angajati: Vec<Employee> = data
        .angajati
        .into_iter()
        .map(|a| Employee {
            id: a.id,
            last_name: a.nume,
            first_name: a.prenume,
            biometrics: a
                .biometrie
                .map(|b| BiometricRecord::from_row(b.employee_no.as_deref(), b.foto_fata_url)),
            validity: Default::default(),
        })
        .collect();

    let mut terminals = Vec::new();
    let mut devices = Vec::new();
    for (i, spec) in data.terminals.into_iter().enumerate() {
        let config = TerminalConfig {
            name: spec.name.clone(),
            model: spec.model,
            firmware: spec.firmware,
            faults: spec.faults.clone(),
            ..TerminalConfig::default()
        };
        let password = config.password.clone();
        let terminal = simulator::spawn(
            config,
            "127.0.0.1:0"
                .parse()
                .map_err(|_| data_err("bad address".into()))?,
        )
        .await
        .map_err(DemoError::Terminal)?;
        // Everyone with an employee number is enrolled; terminals with FDModify already hold an old
        // face (so FDModify replaces it), the old-firmware one holds none (so the fallback adds it).
        for a in &angajati {
            if let Some(employee_no) = a.employee_no() {
                let no = employee_no.as_str();
                terminal.add_person(build_person(employee_no, &a.display_name()));
                if !spec.faults.fdmodify_unsupported {
                    terminal.set_face(no, demo_picture(&format!("old/{no}")));
                }
            }
        }
        devices.push(Ok(Device {
            id: format!("demo-{}", i + 1),
            name: spec.name.clone(),
            ip: terminal.addr().ip().to_string(),
            port: terminal.addr().port(),
            username: "admin".into(),
            password: SecretString::from(password),
        }));
        terminals.push((spec.name, terminal));
    }

    let mut settings = Settings::from_env().map_err(StartupError::from)?;
    settings.bind_addr = addr;
    settings.supabase = None;
    // No Supabase project, so no user tokens; API_KEY is honoured when set (x-api-key), and without
    // it the demo runs open (and says so loudly): it listens on loopback with made-up data.
    settings.auth = AuthSettings::default();
    let api_key_required = settings.api_key.is_some();
    // The embedded photo server stands for the project: its loopback origin is the Supabase
    // origin of the photo allow-list, so the demo fetches its own photos (and nothing else unless
    // PHOTO_ALLOWED_ORIGINS says so). The banner says it.
    settings.face_url.supabase_url = Some(base);
    settings.face_url.scheme = FaceUrlScheme::Keep;
    // The simulated terminals push their events to the demo itself, unless told otherwise.
    if settings.events.public_url.is_none() {
        settings.events.public_url =
            Some(Url::parse(&format!("http://{loopback}")).map_err(|e| data_err(e.to_string()))?);
    }
    let directory = MemoryDirectory::new(angajati.clone(), devices);
    // Public and authenticated (service key) Storage paths, as Supabase serves them.
    let photos = Router::new()
        .route("/storage/v1/object/public/photos/{*path}", get(serve_photo))
        .route(
            "/storage/v1/object/authenticated/photos/{*path}",
            get(serve_photo),
        );
    let app = Application::assemble(listener, settings, Some(Arc::new(directory)), photos).await?;
    let server = tokio::spawn(app.run_until_stopped());
    Ok(Demo {
        addr,
        terminals,
        angajati,
        api_key_required,
        server,
    })
}

async fn serve_photo(UrlPath(path): UrlPath<String>) -> impl IntoResponse {
    if path.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([(header::CONTENT_TYPE, "image/jpeg")], demo_picture(&path)).into_response()
}
