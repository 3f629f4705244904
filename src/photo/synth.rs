//! Synthetic photos for the demo, the tests and the `picture` bench (which includes this file
//! with `#[path]`): gradients plus noise so that JPEG sizes look like a phone's, a red marker
//! on the top-left quarter *as displayed*, and a hand-written EXIF APP1 with the orientation.
#![allow(dead_code)]

use std::error::Error;

/// What the generators return.
pub type Synth = Result<Vec<u8>, Box<dyn Error + Send + Sync>>;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A tiny xorshift: deterministic noise without a dependency.
struct Noise(u32);

impl Noise {
    fn next(&mut self, amplitude: i32) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        if amplitude == 0 {
            0
        } else {
            (self.0 % (2 * amplitude as u32 + 1)) as i32 - amplitude
        }
    }
}

/// The scene at display coordinates: a red top-left quarter, gradients elsewhere.
fn scene(x: u32, y: u32, width: u32, height: u32) -> [i32; 3] {
    if x < width / 2 && y < height / 2 {
        return [230, 20, 20];
    }
    let gx = (x * 255 / width.max(1)) as i32;
    let gy = (y * 255 / height.max(1)) as i32;
    let ring = (((x / 37) ^ (y / 29)) % 7) as i32 * 12;
    [40 + gx / 2 + ring, 60 + gy / 2, 200 - gx / 3 - ring]
}

/// RGB pixels of a `width` x `height` stored picture which, shown with `orientation` (1 or 6),
/// is the scene at `displayed` size; `amplitude` is the noise.
pub fn stored_rgb(
    display_width: u32,
    display_height: u32,
    orientation: u8,
    amplitude: i32,
) -> (Vec<u8>, u32, u32) {
    let (width, height) = if orientation == 6 {
        (display_height, display_width)
    } else {
        (display_width, display_height)
    };
    let mut noise = Noise(0x9E37_79B9);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for ys in 0..height {
        for xs in 0..width {
            // Orientation 6 shows the stored picture turned 90 degrees clockwise:
            // displayed (x, y) = (height - 1 - ys, xs).
            let (xd, yd) = if orientation == 6 {
                (height - 1 - ys, xs)
            } else {
                (xs, ys)
            };
            for c in scene(xd, yd, display_width, display_height) {
                rgb.push((c + noise.next(amplitude)).clamp(0, 255) as u8);
            }
        }
    }
    (rgb, width, height)
}

/// TIFF bytes of an EXIF block with IFD0 = {Make, Orientation}.
pub fn exif_tiff(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    // Make: ASCII, 12 bytes at offset 8 + 2 + 2*12 + 4 = 38.
    tiff.extend_from_slice(&[0x01, 0x0F, 0, 2, 0, 0, 0, 12, 0, 0, 0, 38]);
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(b"SynthPhone\0\0");
    tiff
}

/// A JPEG of `rgb`; `exif_orientation` adds an EXIF APP1; `progressive` a progressive scan.
pub fn jpeg(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    exif_orientation: Option<u16>,
    progressive: bool,
) -> Synth {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder.set_progressive(progressive);
    if let Some(orientation) = exif_orientation {
        encoder.add_exif_metadata(&exif_tiff(orientation))?;
    }
    encoder.encode(
        rgb,
        u16::try_from(width)?,
        u16::try_from(height)?,
        ColorType::Rgb,
    )?;
    Ok(out)
}

/// A small JPEG whose pixels depend on `seed` (different seeds, different bytes): a stand-in
/// face photo that terminals accept as it is.
pub fn seeded_jpeg(seed: u32, width: u32, height: u32) -> Synth {
    let mut noise = Noise(seed | 1);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            for c in scene(x, y, width, height) {
                rgb.push((c + noise.next(24)).clamp(0, 255) as u8);
            }
        }
    }
    jpeg(&rgb, width, height, 85, None, false)
}

/// A phone-like JPEG: stored landscape `display_height` x `display_width` with EXIF
/// orientation 6, so it displays as `display_width` x `display_height` (portrait).
pub fn phone_jpeg(display_width: u32, display_height: u32) -> Synth {
    let (rgb, width, height) = stored_rgb(display_width, display_height, 6, 14);
    jpeg(&rgb, width, height, 90, Some(6), false)
}

/// RGBA pixels: the left half fully transparent (black underneath), the right half the scene.
pub fn rgba_half_transparent(width: u32, height: u32, amplitude: i32) -> Vec<u8> {
    let (rgb, _, _) = stored_rgb(width, height, 1, amplitude);
    let mut rgba = Vec::with_capacity(rgb.len() / 3 * 4);
    for (i, p) in rgb.chunks_exact(3).enumerate() {
        let x = i as u32 % width;
        if x < width / 2 {
            rgba.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
    }
    rgba
}

/// A PNG with alpha (see [`rgba_half_transparent`]).
pub fn png_rgba(width: u32, height: u32) -> Synth {
    let rgba = rgba_half_transparent(width, height, 12);
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(&rgba, width, height, image::ExtendedColorType::Rgba8)?;
    Ok(out)
}

/// A lossless WebP of the scene (the pure-Rust encoder writes lossless only).
pub fn webp_lossless(width: u32, height: u32) -> Synth {
    let (rgb, _, _) = stored_rgb(width, height, 1, 6);
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out).write_image(
        &rgb,
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// CRC-32 (PNG chunks).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid PNG header declaring `width` x `height` RGBA, with a tiny (truncated) data chunk:
/// a decompression bomb's announcement.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // zlib stream of a few zero bytes
    chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(b"IEND", &[]);
    out
}
