//! A database of one test's or bench's own on the stack's PostgreSQL, with the project's
//! migrations applied: the durable store and the job engine never see another's rows or jobs.

use std::path::{Path, PathBuf};

use url::Url;
use uuid::Uuid;

/// Why a database could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PostgreSQL refused a connection or a statement.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The admin URL is not a URL.
    #[error("the admin URL: {0}")]
    Url(#[from] url::ParseError),
    /// A migration file could not be read.
    #[error("{}: {source}", path.display())]
    Migration {
        /// The file (or `supabase/migrations` itself).
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

/// A database made by [`fresh_database`].
#[derive(Debug, Clone)]
pub struct Database {
    /// Its name (`<prefix>_<12 hex digits>`).
    pub name: String,
    /// Its URL: the admin URL with this database's name.
    pub url: String,
}

impl Database {
    /// Drops it, ending the connections still open (a job engine's); a failure is only printed.
    pub async fn drop_on(&self, admin_url: &str) {
        let sql = format!("drop database if exists {} with (force)", self.name);
        if let Err(e) = execute(admin_url, &sql).await {
            eprintln!("could not drop database {}: {e}", self.name);
        }
    }
}

/// Creates `<prefix>_<id>` on the server of `admin_url` (a superuser URL) with every file of
/// `supabase/migrations/` applied.
pub async fn fresh_database(admin_url: &str, prefix: &str) -> Result<Database, Error> {
    let id = Uuid::new_v4().simple().to_string();
    let name = format!("{prefix}_{}", &id[..12]);
    execute(admin_url, &format!("create database {name}")).await?;
    let mut url = Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    apply_migrations(&url).await?;
    Ok(Database { name, url })
}

/// Applies every file of `supabase/migrations/`, in order, each in a transaction, to the
/// database at `url`.
pub async fn apply_migrations(url: &str) -> Result<(), Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../supabase/migrations");
    let unreadable = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Migration { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(unreadable(&dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file).map_err(unreadable(&file))?;
        execute(url, &format!("begin;\n{sql}\ncommit;")).await?;
    }
    Ok(())
}

/// Runs `sql` (one or more statements) on the database at `url`, on a connection of its own.
pub async fn execute(url: &str, sql: &str) -> Result<(), Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    Ok(result?)
}
