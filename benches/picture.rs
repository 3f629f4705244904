//! Picture pipeline benchmark: `cargo bench --bench picture` (about a minute;
//! `-- --help` lists the knobs).
//!
//! Turns three synthesised phone-like photos (a 12 MP JPEG with EXIF orientation 6, a 4 MP
//! PNG with alpha, a 2 MP WebP) into terminal-ready JPEGs (upright, white behind
//! transparency, long side 960, baseline, at most 204800 bytes, no metadata) with our
//! pipeline, ImageMagick (`convert`) and Pillow, side by side. Each method runs in its own
//! child process pinned to one CPU with single-thread settings; times are per conversion of
//! bytes already read (ImageMagick: per `convert` process, which includes its start-up, shown
//! separately); CPU is the user + system time of each conversion (all threads; ImageMagick: the
//! whole process), which load from elsewhere on the machine inflates less than wall time; peak
//! memory is the child's `ru_maxrss` read with `getrusage(RUSAGE_CHILDREN)` by a wrapper process.
//! Prints Markdown tables (quoted in BENCHMARKS.md).

#[path = "../src/photo/synth.rs"]
mod synth;

#[path = "picture/inputs.rs"]
mod inputs;
#[path = "picture/methods.rs"]
mod methods;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `ours-2cpu` is our pipeline unpinned (jpeg-decoder runs its IDCT on worker threads), as the
/// service runs on the 2-core machine; every other method is pinned to one CPU.
const METHODS: [&str; 4] = ["ours", "ours-2cpu", "magick", "pillow"];
const MAX_SIDE: u32 = 960;
const MAX_BYTES: usize = 204_800;

/// Picture pipeline vs ImageMagick vs Pillow.
#[derive(Parser, Debug)]
#[command(name = "cargo bench --bench picture --")]
struct Args {
    /// Measured conversions per method and input in each round.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Rounds: each runs every method once per input, so load from elsewhere on the machine
    /// spreads over all methods instead of hitting one; times are pooled.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Unmeasured conversions first.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Methods, comma-separated: ours,ours-2cpu,magick,pillow.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ours,ours-2cpu,magick,pillow"
    )]
    only: Vec<String>,
    /// ImageMagick's convert (Debian `imagemagick`).
    #[arg(long, default_value = "/usr/bin/convert")]
    convert: String,
    /// A Python with Pillow (e.g. a venv: `python3 -m venv V && V/bin/pip install pillow`).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where the inputs and outputs go (inputs are reused when present).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The CPU every measured process is pinned to.
    #[arg(long, default_value_t = 0)]
    cpu: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Child mode: our pipeline on INPUT, last output to OUTPUT.
    #[arg(long, hide = true, num_args = 2, value_names = ["INPUT", "OUTPUT"])]
    child_ours: Option<Vec<PathBuf>>,
    /// Child mode: run the command after `--` repeatedly, timing each process.
    #[arg(long, hide = true)]
    child_exec: bool,
    /// Child mode: time each stage of our pipeline on INPUT.
    #[arg(long, hide = true)]
    child_stages: Option<PathBuf>,
    /// Wrapper mode: pin, run the command after `--`, report its peak RSS.
    #[arg(long, hide = true)]
    measure: bool,
    /// Wrapper mode: do not pin.
    #[arg(long, hide = true)]
    no_pin: bool,
    /// The command of `--child-exec` / `--measure`.
    #[arg(last = true)]
    command: Vec<String>,
}

/// What one measured method reported.
struct Measured {
    times: Vec<Duration>,
    cpu: Vec<Duration>,
    maxrss_kib: u64,
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

fn run_measured(args: &Args, command: Vec<String>, pin: bool) -> Result<Measured, BoxError> {
    let exe = std::env::current_exe()?;
    let output = Command::new(exe)
        .args(["--measure", "--cpu", &args.cpu.to_string()])
        .args((!pin).then_some("--no-pin"))
        .arg("--")
        .args(&command)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}\n{text}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let number = |name| {
        field(&text, name)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(format!("no {name} in {text}"))
    };
    let list = |name| -> Result<Vec<Duration>, BoxError> {
        Ok(field(&text, name)
            .ok_or(format!("no {name} in {text}"))?
            .split(',')
            .map(|v| v.parse::<u64>().map(Duration::from_micros))
            .collect::<Result<Vec<_>, _>>()?)
    };
    let (times, cpu) = (list("times_us")?, list("cpu_us")?);
    Ok(Measured {
        times,
        cpu,
        maxrss_kib: number("maxrss_kib")?,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Size and dimensions of an output JPEG.
fn describe_output(path: &Path) -> Result<(u32, u32, usize, bool), BoxError> {
    let bytes = std::fs::read(path)?;
    let mut decoder = jpeg_decoder::Decoder::new(bytes.as_slice());
    decoder.read_info()?;
    let info = decoder.info().ok_or("no JPEG header")?;
    let has_exif = bytes.windows(6).any(|w| w == b"Exif\0\0");
    Ok((
        u32::from(info.width),
        u32::from(info.height),
        bytes.len(),
        has_exif,
    ))
}

fn method_command(
    args: &Args,
    method: &str,
    input: &inputs::Input,
    out: &Path,
    dir: &Path,
) -> Result<Vec<String>, BoxError> {
    let exe = std::env::current_exe()?.display().to_string();
    let (runs, warmup) = (args.runs.to_string(), args.warmup.to_string());
    let path = |p: &Path| p.display().to_string();
    Ok(match method {
        "ours" | "ours-2cpu" => vec![
            exe,
            "--child-ours".into(),
            path(&input.path),
            path(out),
            "--runs".into(),
            runs,
            "--warmup".into(),
            warmup,
        ],
        "magick" => {
            let mut command = vec![
                exe,
                "--child-exec".into(),
                "--runs".into(),
                runs,
                "--warmup".into(),
                warmup,
                "--".into(),
            ];
            command.push(args.convert.clone());
            command.extend(methods::magick_args(
                &input.path,
                out,
                input.stored,
                MAX_SIDE,
                MAX_BYTES,
            ));
            command
        }
        "pillow" => {
            let script = dir.join("pillow_bench.py");
            std::fs::write(&script, methods::PILLOW_SCRIPT)?;
            let mut command = vec![
                args.python.clone(),
                path(&script),
                path(&input.path),
                path(out),
            ];
            command.extend([runs, warmup, MAX_SIDE.to_string(), MAX_BYTES.to_string()]);
            command
        }
        other => return Err(format!("unknown method {other}").into()),
    })
}

fn output_path(dir: &Path, method: &str, input: &inputs::Input) -> PathBuf {
    let stem = input
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("x");
    dir.join(format!("out-{method}-{stem}.jpg"))
}

fn compare(args: &Args) -> Result<(), BoxError> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("hikvision-sync-picture-bench"));
    let started = Instant::now();
    let inputs = inputs::generate(&dir, &args.python)?;
    eprintln!(
        "inputs ready in {:.1} s in {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let (machine, cores) = (
        std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
        std::thread::available_parallelism()?,
    );
    let model = machine
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .unwrap_or(": ?")
        .trim_start_matches([':', ' ', '\t']);
    println!(
        "Machine: {model}, {cores} CPUs; methods pinned to CPU {} unless said; {} rounds of {} \
         runs (after {} warm-up each).\n",
        args.cpu, args.rounds, args.runs, args.warmup
    );
    let methods: Vec<&str> = METHODS
        .into_iter()
        .filter(|m| args.only.iter().any(|o| o == m))
        .collect();
    let mut results: Vec<Vec<Measured>> = inputs
        .iter()
        .map(|_| {
            methods
                .iter()
                .map(|_| Measured {
                    times: Vec::new(),
                    cpu: Vec::new(),
                    maxrss_kib: 0,
                })
                .collect()
        })
        .collect();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    for round in 0..args.rounds {
        eprintln!("round {}/{}", round + 1, args.rounds);
        for (i, input) in inputs.iter().enumerate() {
            for (j, method) in methods.iter().enumerate() {
                let out = output_path(&dir, method, input);
                let _ = std::fs::remove_file(&out);
                let command = method_command(args, method, input, &out, &dir)?;
                let measured = run_measured(args, command, *method != "ours-2cpu")?;
                let pooled = &mut results[i][j];
                pooled.times.extend(measured.times);
                pooled.cpu.extend(measured.cpu);
                pooled.maxrss_kib = pooled.maxrss_kib.max(measured.maxrss_kib);
            }
        }
    }
    println!(
        "Load average at the start: {}; at the end: {}\n",
        load_before.trim(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("| input | method | median ms | p95 ms | CPU ms (median) | peak RSS MiB | output |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for (i, input) in inputs.iter().enumerate() {
        for (j, method) in methods.iter().enumerate() {
            let measured = &results[i][j];
            let mut sorted = measured.times.clone();
            sorted.sort();
            let mut cpu = measured.cpu.clone();
            cpu.sort();
            let (w, h, bytes, exif) = describe_output(&output_path(&dir, method, input))?;
            let ok = (w, h) == input.expected && bytes <= MAX_BYTES && !exif;
            println!(
                "| {} ({:.1} MB) | {method} | {} | {} | {} | {:.1} | {w}x{h}, {:.1} KB{} |",
                input.name,
                input.bytes as f64 / 1e6,
                ms(percentile(&sorted, 0.5)),
                ms(percentile(&sorted, 0.95)),
                ms(percentile(&cpu, 0.5)),
                measured.maxrss_kib as f64 / 1024.0,
                bytes as f64 / 1024.0,
                if ok { "" } else { " **not as expected**" },
            );
        }
    }
    println!();
    for input in &inputs {
        println!("- {}: {}", input.name, input.note);
    }
    if args.only.iter().any(|m| m == "magick") {
        let tiny = dir.join("startup.jpg");
        let command = vec![
            std::env::current_exe()?.display().to_string(),
            "--child-exec".into(),
            "--runs".into(),
            args.runs.to_string(),
            "--warmup".into(),
            "1".into(),
            "--".into(),
            args.convert.clone(),
            "-size".into(),
            "1x1".into(),
            "xc:white".into(),
            tiny.display().to_string(),
        ];
        let measured = run_measured(args, command, true)?;
        let mut sorted = measured.times;
        sorted.sort();
        println!(
            "- ImageMagick start-up (convert of a 1x1 picture), included in its times: median {} ms",
            ms(percentile(&sorted, 0.5))
        );
    }
    let stages = Command::new(std::env::current_exe()?)
        .args([
            "--measure",
            "--cpu",
            &args.cpu.to_string(),
            "--",
            &std::env::current_exe()?.display().to_string(),
            "--child-stages",
        ])
        .arg(&inputs[0].path)
        .output()?;
    println!(
        "\n{}",
        String::from_utf8_lossy(&stages.stdout)
            .lines()
            .filter(|l| !l.contains('='))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.measure {
        methods::measure(&args.command, (!args.no_pin).then_some(args.cpu))
    } else if let Some(paths) = &args.child_ours {
        methods::child_ours(&paths[0], &paths[1], args.runs, args.warmup)
    } else if args.child_exec {
        methods::child_exec(&args.command, args.runs, args.warmup)
    } else if let Some(input) = &args.child_stages {
        methods::child_stages(input, args.runs)
    } else {
        compare(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("picture bench: {error}");
            ExitCode::FAILURE
        }
    }
}
