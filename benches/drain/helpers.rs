//! The drain bench's plumbing: progress lines, people and their photos, the photo server,
//! a database of its own, request counting and PostgreSQL CPU.

use super::*;

pub(super) fn progress(started: Instant, what: std::fmt::Arguments<'_>) {
    eprint!(
        "[{:>4.0} s, load {}] {what}",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}

pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// `n` employees, each with an old face (on the terminals) and a new one (on the photo server),
/// all different pictures (the terminals refuse the same picture under two persons).
pub(super) fn make_persons(n: usize) -> Result<Vec<Person>, BoxError> {
    (0..n)
        .map(|i| {
            let no = 200_000 + i;
            // Distinct even seeds: the generator uses `seed | 1`.
            let seed = 0x1000_0000_u32 + 4 * i as u32;
            Ok(Person {
                id: Uuid::new_v4(),
                employee_no: no.to_string(),
                new_face: Bytes::from(seeded_jpeg(seed, PHOTO_SIZE.0, PHOTO_SIZE.1)?),
                old_face: Bytes::from(seeded_jpeg(seed + 2, PHOTO_SIZE.0, PHOTO_SIZE.1)?),
            })
        })
        .collect()
}

/// Requests the terminals received during the drain.
pub(super) struct Calls {
    /// Requests per pair (over the terminals whose log did not overflow).
    pub(super) per_pair: f64,
    /// Every terminal's log overflowed: `per_pair` counts only the last entries.
    pub(super) capped: bool,
    /// `METHOD path status` x count per pair.
    pub(super) summary: String,
}

pub(super) fn count_requests(sims: &[SimulatedTerminal], pairs_per_terminal: usize) -> Calls {
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let (mut total, mut counted) = (0u64, 0u64);
    let complete: Vec<_> = sims
        .iter()
        .map(|s| s.request_log())
        .filter(|log| log.len() < simulator::REQUEST_LOG_CAPACITY)
        .collect();
    let capped = complete.is_empty();
    let logs = if capped {
        sims.iter().map(|s| s.request_log()).collect()
    } else {
        complete
    };
    for log in &logs {
        counted += 1;
        for entry in log {
            total += 1;
            let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
            let status = entry.status.map_or("-".into(), |s| s.to_string());
            *by_kind
                .entry(format!("{} {name} {status}", entry.method))
                .or_default() += 1;
        }
    }
    let pairs = (counted * pairs_per_terminal as u64).max(1) as f64;
    let summary = by_kind
        .iter()
        .map(|(k, n)| format!("{k} x {:.2}", *n as f64 / pairs))
        .collect::<Vec<_>>()
        .join(", ");
    Calls {
        per_pair: total as f64 / pairs,
        capped,
        summary,
    }
}

/// A tiny photo server: each employee's new picture at `/drain/<no>.jpg`. The photo values are
/// absolute URLs, so with `PHOTO_DELIVERY=auto` the service fetches each picture once (its cache),
/// finds it qualifies as it is, and sends `faceURL`: every terminal downloads the picture itself
/// and stores exactly these bytes. (A Storage path would be pushed as multipart instead: a
/// private bucket is not reachable by the terminals.)
pub(super) struct PhotoServer {
    pub(super) base: String,
    pub(super) hits: Arc<AtomicU64>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
pub(super) struct Photos {
    pub(super) by_name: Arc<HashMap<String, Bytes>>,
    pub(super) hits: Arc<AtomicU64>,
}

impl PhotoServer {
    /// `biometrie.foto_fata_url` of `p`.
    pub(super) fn url_of(&self, p: &Person) -> String {
        format!("{}drain/{}.jpg", self.base, p.employee_no)
    }

    pub(super) async fn start(persons: &[Person]) -> Result<Self, BoxError> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        // Terminals download at the same moment: no SYN drops at tokio's default backlog of 128.
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(AtomicU64::new(0));
        let state = Photos {
            by_name: Arc::new(
                persons
                    .iter()
                    .map(|p| (format!("{}.jpg", p.employee_no), p.new_face.clone()))
                    .collect(),
            ),
            hits: Arc::clone(&hits),
        };
        let app = Router::new().fallback(photo).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base: format!("http://{addr}/"),
            hits,
            task,
        })
    }
}

impl Drop for PhotoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(super) async fn photo(State(photos): State<Photos>, uri: Uri) -> Response {
    photos.hits.fetch_add(1, Ordering::Relaxed);
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    match photos.by_name.get(name) {
        Some(bytes) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The bench's own database.
pub(super) struct Database {
    pub(super) name: String,
    pub(super) url: String,
}

/// Creates `hs_drain_<id>` on the admin URL's server and applies `supabase/migrations/*.sql`, as
/// the integration tests do (`tests/support/database.rs`).
pub(super) async fn fresh_database(admin: &str) -> Result<Database, BoxError> {
    let name = format!(
        "hs_drain_{}",
        Uuid::new_v4().simple().to_string().get(..12).unwrap_or("0")
    );
    execute(admin, &format!("create database {name}")).await?;
    let mut url = Url::parse(admin)?;
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/supabase/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file)?;
        execute(&url, &format!("begin;\n{sql}\ncommit;")).await?;
    }
    Ok(Database { name, url })
}

pub(super) async fn drop_database(admin: &str, name: &str) {
    // The job engine still holds connections: `with (force)` ends them.
    if let Err(e) = execute(
        admin,
        &format!("drop database if exists {name} with (force)"),
    )
    .await
    {
        eprintln!("could not drop database {name}: {e}");
    }
}

/// CPU time so far of every PostgreSQL backend connected to the database of `url` (other than
/// the asking one), by pid, read from `/proc` (the server runs on this machine). Empty when the
/// server cannot be asked.
pub(super) async fn backend_cpu(url: &str, ticks: u64) -> HashMap<i32, Duration> {
    let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return HashMap::new();
    };
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap_or_default();
    drop(client);
    let _ = driver.await;
    rows.iter()
        .filter_map(|r| r.try_get::<_, i32>(0).ok())
        .map(|pid| (pid, stats::cpu_time(&pid.to_string(), ticks)))
        .collect()
}

pub(super) async fn execute(url: &str, sql: &str) -> Result<(), BoxError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}
