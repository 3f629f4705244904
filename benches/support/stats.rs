//! Medians, percentiles, and what `/proc` says about a process (memory, CPU time, open files).

use std::time::Duration;

/// The median of `values` (mean of the two middle ones for an even count); zero when empty.
pub fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

/// The `p`-th percentile (nearest rank) of `values`; zero when empty.
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The arithmetic mean; zero when empty.
pub fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.iter().sum::<Duration>() / values.len() as u32
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Milliseconds with three decimals (for sub-millisecond figures).
pub fn ms3(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Seconds or milliseconds, whichever reads better.
pub fn human(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    }
}

/// Memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size since the process started (`VmHWM`).
    pub hwm_kib: u64,
    /// Threads.
    pub threads: u64,
}

/// Reads `/proc/<pid>/status` (`pid` "self" for this process).
pub fn memory(pid: &str) -> Memory {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        threads: field("Threads:"),
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// User + system CPU time of a process, all threads (`/proc/<pid>/stat`).
pub fn cpu_time(pid: &str, ticks_per_sec: u64) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After ')': state is field 3 of proc(5), so utime (14) and stime (15) are at 11 and 12.
    let ticks = tick(11) + tick(12);
    Duration::from_secs_f64(ticks as f64 / ticks_per_sec.max(1) as f64)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`, 100 when it cannot be asked).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Open file descriptors of a process.
pub fn open_fds(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The soft limit on open files of this process (`/proc/self/limits`).
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CPU model (first `model name` of `/proc/cpuinfo`) and the cores this process may use.
pub fn machine() -> (String, usize) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (model, cores)
}

/// Raises this process's soft open-file limit to `want` (at most the hard limit) with
/// util-linux `prlimit`, since the crate has no libc binding; children inherit it. Returns the
/// limit in force.
pub fn raise_open_file_limit(want: usize) -> Option<u64> {
    let current = open_file_limit()?;
    if current >= want as u64 {
        return Some(current);
    }
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={want}:")])
        .status();
    let now = open_file_limit();
    if now.is_none_or(|n| n < want as u64) {
        eprintln!(
            "warning: the open-file limit is {current} and could not be raised to {want} ({status:?}); \
             run `ulimit -n {want}` first, or a 1,000-terminal run may fail"
        );
    }
    now
}
