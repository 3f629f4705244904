//! A PostgreSQL cluster of one test's own, which the test stops the hard way (`pg_ctl stop -m
//! immediate`, as a crash, a failover or a managed database's maintenance does) and starts again
//! on the same port. The stack's cluster is shared by every test, so it is never the one stopped.

use std::path::PathBuf;

use tokio::process::Command;
use uuid::Uuid;

use super::database::execute;

/// The Supabase roles the migrations grant to (as `scripts/test-stack.sh` creates them).
const ROLES: &str = "create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
grant usage on schema public to anon, authenticated, service_role;";

/// A running (or stopped) cluster; removed when dropped.
pub struct Cluster {
    dir: PathBuf,
    /// Its superuser URL, with the migrations applied to its `postgres` database.
    pub url: String,
}

fn bin(name: &str) -> String {
    let dir = std::env::var("HS_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    format!("{dir}/{name}")
}

/// `program args` as the cluster's owner: `postgres` when the tests run as root.
fn as_owner(program: &str, args: &[&str]) -> Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut command = if root {
        // runuser lives in /usr/sbin, which a minimal PATH may lack.
        let runuser = ["/usr/sbin/runuser", "/sbin/runuser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("runuser");
        let mut c = Command::new(runuser);
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    };
    command.args(args).kill_on_drop(true);
    command
}

async fn run(mut command: Command, what: &str) {
    let out = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A loopback port free now, below the ephemeral range (no outgoing connection can take it while
/// the cluster is stopped) and above the simulators' (no terminal can either).
fn low_port() -> u16 {
    for _ in 0..100 {
        let port = 32_000 + u16::try_from(Uuid::new_v4().as_u128() % 700).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port for a PostgreSQL cluster")
}

impl Cluster {
    /// A new cluster with the project's migrations; `None` (the test skips) without the stack,
    /// like [`super::database::fresh_database`].
    pub async fn start() -> Option<Self> {
        hikvision_testkit::Stack::from_env()?;
        let dir = std::env::temp_dir().join(format!("hs-cluster-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a cluster directory");
        let _ = std::process::Command::new("chown")
            .arg("postgres")
            .arg(&dir)
            .status();
        let data = dir.join("data");
        let data_arg = data.to_string_lossy().to_string();
        let initdb = bin("initdb");
        let args = [
            "-D",
            &data_arg,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ];
        run(as_owner(&initdb, &args), "initdb").await;
        let port = low_port();
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\nfull_page_writes = off\nmax_connections = 40\nshared_buffers = 16MB\ntimezone = 'UTC'\n",
            dir.display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("postgresql.conf is writable");
        let cluster = Self {
            dir,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        };
        cluster.start_again().await;
        execute(&cluster.url, ROLES).await;
        hikvision_testkit::apply_migrations(&cluster.url)
            .await
            .expect("the migrations apply");
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().to_string()
    }

    /// Stops it at once: every connection is cut, nothing is shut down cleanly.
    pub async fn stop_immediately(&self) {
        let data = self.data();
        let pg_ctl = bin("pg_ctl");
        run(
            as_owner(&pg_ctl, &["stop", "-D", &data, "-m", "immediate", "-w"]),
            "pg_ctl stop",
        )
        .await;
    }

    /// Starts it (again) on its port and waits until it accepts connections.
    pub async fn start_again(&self) {
        let data = self.data();
        let log = self.dir.join("postgres.log").to_string_lossy().to_string();
        let pg_ctl = bin("pg_ctl");
        let args = ["start", "-D", &data, "-l", &log, "-w", "-t", "60"];
        // `-w`: returns once the server (after its crash recovery) accepts connections.
        run(as_owner(&pg_ctl, &args), "pg_ctl start").await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let pg_ctl = bin("pg_ctl");
        let _ = as_owner(&pg_ctl, &["stop", "-D", &data, "-m", "immediate"])
            .as_std_mut()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
