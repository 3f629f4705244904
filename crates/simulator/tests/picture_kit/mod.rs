//! Real pictures for the simulator's tests, since the terminal decodes every picture it gets:
//! JPEGs (baseline, progressive, padded to an exact size, noisy), PNGs and WebPs, each
//! depending on a seed so that two seeds give two different pictures (the terminal refuses
//! the same picture under two persons).
#![allow(dead_code)]

use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{Rgb, RgbImage};

/// Side of [`real_jpeg`]'s pictures.
pub const SIDE: u16 = 96;
/// Side of the blocks that draw a seed's bits.
const BLOCK: u32 = 8;
/// JPEG quality of the pictures.
const QUALITY: u8 = 90;
/// Largest payload of one JPEG comment segment (its length field counts itself).
const MAX_COMMENT: usize = 65_533;

/// A `width` x `height` picture: a colour gradient with `seed`'s 64 bits drawn from the
/// top-left corner as dark and light 8 x 8 blocks, as many as fit (all 64 from 64 x 48 px up).
pub fn seeded(seed: u64, width: u16, height: u16) -> RgbImage {
    let (width, height) = (u32::from(width), u32::from(height));
    let per_row = width / BLOCK;
    RgbImage::from_fn(width, height, |x, y| {
        let block = (y / BLOCK) * per_row + x / BLOCK;
        if x / BLOCK < per_row && block < 64 {
            let level = if seed >> block & 1 == 1 { 230 } else { 25 };
            Rgb([level, level, level])
        } else {
            let shade = |at: u32, of: u32| u8::try_from(at * 255 / of.max(1)).unwrap_or(u8::MAX);
            Rgb([shade(x, width), shade(y, height), 128])
        }
    })
}

/// `picture` as a JPEG.
pub fn encode_jpeg(picture: &RgbImage, quality: u8, progressive: bool) -> Vec<u8> {
    let side = |n: u32| u16::try_from(n).expect("a JPEG side fits in 16 bits");
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_progressive(progressive);
    encoder
        .encode(
            picture.as_raw(),
            side(picture.width()),
            side(picture.height()),
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("JPEG encodes");
    out
}

/// A baseline JPEG of [`seeded`].
pub fn jpeg_of(seed: u64, width: u16, height: u16) -> Vec<u8> {
    encode_jpeg(&seeded(seed, width, height), QUALITY, false)
}

/// A progressive JPEG of [`seeded`].
pub fn progressive_jpeg(seed: u64, width: u16, height: u16) -> Vec<u8> {
    encode_jpeg(&seeded(seed, width, height), QUALITY, true)
}

/// A small real JPEG (96 x 96, a few KB), distinct for each `seed`.
pub fn real_jpeg(seed: u64) -> Vec<u8> {
    jpeg_of(seed, SIDE, SIDE)
}

/// [`real_jpeg`] grown to exactly `len` bytes with comment segments after its start marker,
/// as a camera's metadata grows a file: still a valid picture, whatever `len`.
///
/// # Panics
/// If `len` is less than 4 bytes over the plain picture (a comment segment takes 4 at least).
pub fn jpeg_of_len(seed: u64, len: usize) -> Vec<u8> {
    let picture = real_jpeg(seed);
    let mut need = len
        .checked_sub(picture.len())
        .filter(|&n| n == 0 || n >= 4)
        .unwrap_or_else(|| panic!("{len} bytes cannot hold a {} byte JPEG", picture.len()));
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&picture[..2]);
    while need > 0 {
        let mut payload = (need - 4).min(MAX_COMMENT);
        // Leave at least a whole (empty) segment for the rest.
        if (1..4).contains(&(need - 4 - payload)) {
            payload -= 4;
        }
        let length = u16::try_from(payload + 2).expect("comment length fits");
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend((0..payload).map(|i| b'a' + (i % 26) as u8));
        need -= payload + 4;
    }
    out.extend_from_slice(&picture[2..]);
    assert_eq!(out.len(), len);
    out
}

/// A JPEG of random pixels at `quality`: noise compresses badly, so a 400 x 400 one at
/// quality 95 is well over 200 KB (and a 1200 x 1200 one over the terminal's 1 MiB body limit).
pub fn noisy_jpeg(seed: u64, side: u16, quality: u8) -> Vec<u8> {
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()[0]
    };
    let picture = RgbImage::from_fn(side.into(), side.into(), |_, _| {
        Rgb([next(), next(), next()])
    });
    encode_jpeg(&picture, quality, false)
}

/// A PNG of [`seeded`].
pub fn png(seed: u64, width: u16, height: u16) -> Vec<u8> {
    let mut out = Vec::new();
    seeded(seed, width, height)
        .write_with_encoder(PngEncoder::new(&mut out))
        .expect("PNG encodes");
    out
}

/// A lossless WebP of [`seeded`]: a real picture, but not one a terminal takes.
pub fn webp(seed: u64, width: u16, height: u16) -> Vec<u8> {
    let mut out = Vec::new();
    seeded(seed, width, height)
        .write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .expect("WebP encodes");
    out
}
