//! The benchmark's command line (clap): `cargo bench --bench fanout [-- OPTIONS]`, with the
//! defaults that depend on `--quick` and the checks of the numbers.

use clap::Parser;

use super::child::Launch;

/// A part of the benchmark that `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Healthy fan-out at K = 1, 10, 100, 500.
    Fanout,
    /// Old firmware and offline terminals.
    Faults,
    /// Service overhead with an instant terminal.
    Overhead,
    /// Memory at 1,000 terminals.
    Rss,
    /// The simulators alone, without the service.
    Check,
    /// Durable delivery on PostgreSQL (`--only durable`; needs `--database-url`).
    Durable,
    /// End to end from a Supabase webhook to the face on 100 terminals, durable delivery on
    /// PostgreSQL (`--only webhook`; needs `--database-url`).
    Webhook,
}

impl Section {
    const ALL: [Self; 5] = [
        Self::Fanout,
        Self::Faults,
        Self::Overhead,
        Self::Rss,
        Self::Check,
    ];
}

fn section(s: &str) -> Result<Section, String> {
    match s.trim() {
        "fanout" => Ok(Section::Fanout),
        "faults" => Ok(Section::Faults),
        "overhead" => Ok(Section::Overhead),
        "rss" => Ok(Section::Rss),
        "check" => Ok(Section::Check),
        "durable" => Ok(Section::Durable),
        "webhook" => Ok(Section::Webhook),
        other => Err(format!("unknown section '{other}'")),
    }
}

fn count(s: &str) -> Result<usize, String> {
    s.trim().parse().map_err(|e| format!("'{s}': {e}"))
}

fn key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("--service-env takes KEY=VALUE")?;
    Ok((k.to_string(), v.to_string()))
}

/// Fan-out at the speed of the slowest terminal, measured end to end; prints Markdown tables.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "fanout",
    override_usage = "cargo bench --bench fanout [-- OPTIONS]",
    args_override_self = true
)]
pub struct Args {
    /// Fewer cells and runs (under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Sections, comma-separated: fanout,faults,overhead,rss,check,durable,webhook [default:
    /// fanout,faults,overhead,rss,check].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = section)]
    only: Vec<Section>,
    /// Runs per cell [default: 5 for cells under 1.5 s, 3 under 5 s, else 1; with --quick: 3
    /// under 1.5 s, else 1].
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,
    /// Simulated delay before every terminal reply.
    #[arg(long, value_name = "L", default_value_t = 200)]
    pub latency_ms: u64,
    /// Largest K measured with DEVICE_CONCURRENCY=1; larger K are extrapolated from it.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub serial_max: usize,
    /// DEVICE_TIMEOUT_MS of the fault cells (the service's default is 10000).
    #[arg(long, value_name = "T", default_value_t = 2_000)]
    pub hang_timeout_ms: u64,
    /// Requests of each kind in the overhead test [default: 2000; --quick 500].
    #[arg(long = "requests", value_name = "N")]
    requests_given: Option<usize>,
    /// Duration of each load test [default: 5; --quick 2].
    #[arg(long = "load-secs", value_name = "S")]
    load_secs_given: Option<u64>,
    /// Concurrent clients of the load test.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub clients: usize,
    /// Terminals of the memory test.
    #[arg(long, value_name = "K", default_value_t = 1_000)]
    pub rss_k: usize,
    /// DEVICE_CONCURRENCY values of the memory test, comma-separated [default: K].
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = count)]
    rss_concurrency: Vec<usize>,
    /// RUST_LOG of the service (as in production); off = none.
    #[arg(long, value_name = "F", default_value = "info")]
    service_log: String,
    /// Append the service's log (its stdout, otherwise dropped) to this file.
    #[arg(long, value_name = "PATH")]
    service_log_file: Option<std::path::PathBuf>,
    /// Extra environment of the service process (repeatable), e.g. MALLOC_ARENA_MAX=2.
    #[arg(long, value_name = "K=V", value_parser = key_value)]
    service_env: Vec<(String, String)>,
    /// Run the service under CMD (split on spaces), e.g. 'perf stat -e task-clock' or
    /// 'valgrind --tool=massif'.
    #[arg(long, value_name = "CMD")]
    service_wrap: Option<String>,
    /// Superuser URL of the PostgreSQL the `durable` section creates its databases on (it
    /// needs `pg_stat_statements` in `shared_preload_libraries` to count round trips).
    #[arg(long, env = "HS_TEST_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Terminals of the `durable` section, comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = count, default_value = "1,100,1000")]
    pub durable_k: Vec<usize>,
    /// Passed by cargo to `harness = false` benches; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    /// The numbers that must be at least 1 are.
    pub fn check(&self) -> Result<(), String> {
        if self.runs == Some(0) || self.serial_max == 0 || self.clients == 0 || self.rss_k == 0 {
            return Err("--runs, --serial-max, --clients and --rss-k must be at least 1".into());
        }
        Ok(())
    }

    /// The sections to run (`--only`, or all), in the order they run.
    pub fn sections(&self) -> Vec<Section> {
        if self.only.is_empty() {
            Section::ALL.to_vec()
        } else {
            self.only.clone()
        }
    }

    /// `--requests`, or its default.
    pub fn requests(&self) -> usize {
        self.requests_given
            .unwrap_or(if self.quick { 500 } else { 2_000 })
    }

    /// `--load-secs`, or its default.
    pub fn load_secs(&self) -> u64 {
        self.load_secs_given
            .unwrap_or(if self.quick { 2 } else { 5 })
    }

    /// `--rss-concurrency`, or `[rss_k]`.
    pub fn rss_concurrency(&self) -> Vec<usize> {
        if self.rss_concurrency.is_empty() {
            vec![self.rss_k]
        } else {
            self.rss_concurrency.clone()
        }
    }

    /// `--service-log`; `None` for `off`.
    pub fn service_log(&self) -> Option<&str> {
        Some(self.service_log.as_str()).filter(|&log| log != "off")
    }

    /// `--service-env` and `--service-wrap`.
    pub fn launch(&self) -> Launch {
        Launch {
            wrapper: self
                .service_wrap
                .as_deref()
                .map(|cmd| cmd.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            env: self.service_env.clone(),
            log_file: self.service_log_file.clone(),
        }
    }
}
