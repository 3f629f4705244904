//! The measured processes: our pipeline, ImageMagick and Pillow, each run under a wrapper that
//! pins it to one CPU and reads its peak memory with `getrusage(RUSAGE_CHILDREN)`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hikvision_sync::photo::{PhotoLimits, process};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::Pid;

use super::BoxError;

/// Pillow doing the same work: `draft()` (DCT scaling) to the target size, `exif_transpose`,
/// flatten alpha onto white, `thumbnail()` (Lanczos), baseline 4:2:0 JPEG with the same
/// quality search (92 first, then binary search 40-91). Prints per-run times and `VmHWM`.
pub const PILLOW_SCRIPT: &str = r#"
import io, sys, time
from PIL import Image, ImageOps
src, out, runs, warmup, max_side, max_bytes = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
data = open(src, 'rb').read()

def encode(im, q):
    buf = io.BytesIO()
    im.save(buf, 'JPEG', quality=q, subsampling='4:2:0', optimize=False, progressive=False)
    return buf.getvalue()

def convert(data):
    im = Image.open(io.BytesIO(data))
    w, h = im.size
    if im.format == 'JPEG' and max(w, h) > max_side:
        s = max_side / max(w, h)
        im.draft('RGB', (max(1, int(w * s)), max(1, int(h * s))))
    im = ImageOps.exif_transpose(im)
    if im.mode in ('RGBA', 'LA', 'PA') or (im.mode == 'P' and 'transparency' in im.info):
        im = im.convert('RGBA')
        bg = Image.new('RGB', im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel('A'))
        im = bg
    elif im.mode != 'RGB':
        im = im.convert('RGB')
    im.thumbnail((max_side, max_side), Image.LANCZOS)
    best = encode(im, 92)
    if len(best) <= max_bytes:
        return best
    lo, hi, best = 40, 91, None
    while lo <= hi:
        mid = (lo + hi) // 2
        b = encode(im, mid)
        if len(b) <= max_bytes:
            best, lo = b, mid + 1
        else:
            hi = mid - 1
    return best

times, cpu = [], []
for i in range(warmup + runs):
    t, c = time.perf_counter(), time.process_time()
    result = convert(data)
    if i >= warmup:
        times.append(int((time.perf_counter() - t) * 1e6))
        cpu.append(int((time.process_time() - c) * 1e6))
open(out, 'wb').write(result)
print('times_us=' + ','.join(map(str, times)))
print('cpu_us=' + ','.join(map(str, cpu)))
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]
print('hwm_kib=' + hwm)
"#;

/// ImageMagick's arguments for the same work (`-define jpeg:size` makes libjpeg scale in the
/// DCT domain, like ours and Pillow's `draft()`).
pub fn magick_args(
    input: &Path,
    output: &Path,
    stored: (u32, u32),
    max_side: u32,
    max_bytes: usize,
) -> Vec<String> {
    let long = stored.0.max(stored.1);
    let scale = f64::from(max_side) / f64::from(long);
    let (w, h) = (
        (f64::from(stored.0) * scale) as u32,
        (f64::from(stored.1) * scale) as u32,
    );
    let mut args = vec![];
    if input.extension().is_some_and(|e| e == "jpg") {
        args.extend(["-define".to_owned(), format!("jpeg:size={w}x{h}")]);
    }
    args.push(input.display().to_string());
    args.extend(["-background", "white", "-alpha", "remove", "-alpha", "off"].map(str::to_owned));
    args.extend(["-auto-orient", "-strip", "-resize"].map(str::to_owned));
    args.push(format!("{max_side}x{max_side}>"));
    args.extend(["-sampling-factor", "4:2:0", "-interlace", "none", "-define"].map(str::to_owned));
    args.push(format!("jpeg:extent={max_bytes}"));
    args.push(output.display().to_string());
    args
}

fn print_times(times: &[Duration], cpu: &[Duration]) {
    let list = |d: &[Duration]| {
        d.iter()
            .map(|t| t.as_micros().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    println!("times_us={}", list(times));
    println!("cpu_us={}", list(cpu));
}

/// User + system CPU time of this process (all its threads) or of its waited-for children.
fn cpu_time(who: UsageWho) -> Result<Duration, BoxError> {
    let usage = getrusage(who)?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
}

fn own_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// `--child-ours`: our pipeline `warmup + runs` times on the file's bytes in memory.
pub fn child_ours(input: &Path, output: &Path, runs: usize, warmup: usize) -> Result<(), BoxError> {
    let bytes = std::fs::read(input)?;
    let limits = PhotoLimits::default();
    let (mut times, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let mut last = None;
    for i in 0..warmup + runs {
        let (started, cpu_before) = (Instant::now(), cpu_time(UsageWho::RUSAGE_SELF)?);
        let processed = process(&bytes, &limits)?;
        if i >= warmup {
            times.push(started.elapsed());
            cpu.push(cpu_time(UsageWho::RUSAGE_SELF)?.saturating_sub(cpu_before));
        }
        last = Some(processed);
    }
    if let Some(processed) = last {
        std::fs::write(output, &processed.jpeg)?;
    }
    print_times(&times, &cpu);
    println!("hwm_kib={}", own_hwm_kib());
    Ok(())
}

/// `--child-exec`: runs a command `warmup + runs` times, timing each whole process.
pub fn child_exec(command: &[String], runs: usize, warmup: usize) -> Result<(), BoxError> {
    let (program, args) = command.split_first().ok_or("no command")?;
    let (mut times, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for i in 0..warmup + runs {
        let (started, cpu_before) = (Instant::now(), cpu_time(UsageWho::RUSAGE_CHILDREN)?);
        let status = Command::new(program).args(args).status()?;
        if !status.success() {
            return Err(format!("{program} failed: {status}").into());
        }
        if i >= warmup {
            times.push(started.elapsed());
            cpu.push(cpu_time(UsageWho::RUSAGE_CHILDREN)?.saturating_sub(cpu_before));
        }
    }
    print_times(&times, &cpu);
    Ok(())
}

/// `--measure`: pins itself (and so the command) to CPU `cpu` if given, runs the command with
/// single-thread settings, echoes its output, then prints the largest child's peak RSS.
pub fn measure(command: &[String], cpu: Option<usize>) -> Result<(), BoxError> {
    if let Some(cpu) = cpu {
        let mut set = CpuSet::new();
        set.set(cpu)?;
        sched_setaffinity(Pid::from_raw(0), &set)?;
    }
    let (program, args) = command.split_first().ok_or("no command")?;
    let output = Command::new(program)
        .args(args)
        .env("MAGICK_THREAD_LIMIT", "1")
        .env("OMP_NUM_THREADS", "1")
        .stderr(Stdio::inherit())
        .output()?;
    std::io::stdout().write_all(&output.stdout)?;
    if !output.status.success() {
        return Err(format!("{program} failed: {}", output.status).into());
    }
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    println!("maxrss_kib={}", usage.max_rss());
    Ok(())
}

fn median_of(
    runs: usize,
    mut f: impl FnMut() -> Result<(), BoxError>,
) -> Result<Duration, BoxError> {
    f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        f()?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// `--child-stages`: what each stage of our pipeline costs on the 12 MP JPEG, and the
/// alternatives the crate choice was made against.
pub fn child_stages(input: &Path, runs: usize) -> Result<(), BoxError> {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

    let bytes = std::fs::read(input)?;
    let mut rows: Vec<(String, Duration)> = Vec::new();
    rows.push((
        "jpeg-decoder, full 4000x3000 decode".into(),
        median_of(runs, || {
            jpeg_decoder::Decoder::new(bytes.as_slice()).decode()?;
            Ok(())
        })?,
    ));
    rows.push((
        "zune-jpeg, full 4000x3000 decode (no DCT scaling; for comparison)".into(),
        median_of(runs, || {
            zune_jpeg::JpegDecoder::new(std::io::Cursor::new(bytes.as_slice())).decode()?;
            Ok(())
        })?,
    ));
    let mut scaled = (Vec::new(), 0u32, 0u32);
    rows.push((
        "jpeg-decoder, DCT-scaled decode (1/4: 1000x750)".into(),
        median_of(runs, || {
            let mut decoder = jpeg_decoder::Decoder::new(bytes.as_slice());
            decoder.scale(960, 720)?;
            let pixels = decoder.decode()?;
            let info = decoder.info().ok_or("no info")?;
            scaled = (pixels, u32::from(info.width), u32::from(info.height));
            Ok(())
        })?,
    ));
    let (pixels, w, h) = &scaled;
    let rgb = image::RgbImage::from_raw(*w, *h, pixels.clone()).ok_or("buffer")?;
    rows.push((
        "orientation 6 on 1000x750 (image::imageops::rotate90)".into(),
        median_of(runs, || {
            image::imageops::rotate90(&rgb);
            Ok(())
        })?,
    ));
    let rotated = image::imageops::rotate90(&rgb);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    let mut resized = Vec::new();
    rows.push((
        "resize 750x1000 -> 720x960, fast_image_resize Lanczos3".into(),
        median_of(runs, || {
            let src = ImageRef::new(750, 1000, rotated.as_raw(), PixelType::U8x3)?;
            let mut dst = Image::new(720, 960, PixelType::U8x3);
            Resizer::new().resize(&src, &mut dst, &options)?;
            resized = dst.into_vec();
            Ok(())
        })?,
    ));
    rows.push((
        "resize 750x1000 -> 720x960, image::imageops Lanczos3 (for comparison)".into(),
        median_of(runs, || {
            image::imageops::resize(&rotated, 720, 960, image::imageops::FilterType::Lanczos3);
            Ok(())
        })?,
    ));
    let (big, bw, bh) = synth_like(2310, 1732);
    rows.push((
        "resize 2310x1732 -> 960x720 (the PNG case), fast_image_resize".into(),
        median_of(runs, || {
            let src = ImageRef::new(bw, bh, &big, PixelType::U8x3)?;
            let mut dst = Image::new(960, 720, PixelType::U8x3);
            Resizer::new().resize(&src, &mut dst, &options)?;
            Ok(())
        })?,
    ));
    let big_image = image::RgbImage::from_raw(bw, bh, big.clone()).ok_or("buffer")?;
    rows.push((
        "resize 2310x1732 -> 960x720, image::imageops (for comparison)".into(),
        median_of(runs, || {
            image::imageops::resize(&big_image, 960, 720, image::imageops::FilterType::Lanczos3);
            Ok(())
        })?,
    ));
    let mut size = 0;
    rows.push((
        "encode 720x960 baseline q92 4:2:0, jpeg-encoder (AVX2)".into(),
        median_of(runs, || {
            let mut out = Vec::new();
            let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            encoder.encode(&resized, 720, 960, jpeg_encoder::ColorType::Rgb)?;
            size = out.len();
            Ok(())
        })?,
    ));
    let limits = PhotoLimits::default();
    rows.push((
        "whole pipeline (`picture::process`)".into(),
        median_of(runs, || {
            process(&bytes, &limits)?;
            Ok(())
        })?,
    ));
    println!("| stage (12 MP JPEG unless said) | median ms |");
    println!("|---|---:|");
    for (name, time) in rows {
        println!("| {name} | {:.2} |", time.as_secs_f64() * 1000.0);
    }
    println!("\n(the q92 encode is {:.1} KB)", size as f64 / 1024.0);
    Ok(())
}

/// Noisy RGB of the given size (the resize cost does not depend on content).
fn synth_like(width: u32, height: u32) -> (Vec<u8>, u32, u32) {
    super::synth::stored_rgb(width, height, 1, 10)
}
