//! The synchronous picture pipeline: sniff, decode with limits, orient, flatten, scale, encode.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use image::metadata::Orientation;
use sha2::{Digest, Sha256};

use super::decode::{self, Decoded, Probe};
use super::encode::{self, Encoded};
use super::error::{ImageFormat, PhotoError};
use super::header::{self, JpegHeader};
use super::limits::PhotoLimits;

/// A terminal-ready picture made from one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    /// Baseline JPEG within the limits, upright, without metadata.
    pub jpeg: Bytes,
    /// Width of `jpeg` in pixels.
    pub width: u32,
    /// Height of `jpeg` in pixels.
    pub height: u32,
    /// JPEG quality the size search settled on.
    pub quality: u8,
    /// SHA-256 of the source file's bytes.
    pub source_sha256: [u8; 32],
    /// Format of the source file.
    pub source_format: ImageFormat,
    /// The source file could go to terminals unchanged (see [`qualifies_as_is`]).
    pub qualifies_as_is: bool,
}

impl Processed {
    /// The source file's SHA-256 as lowercase hex.
    pub fn source_sha256_hex(&self) -> String {
        hex::encode(self.source_sha256)
    }
}

/// SHA-256 of a source file (the content key of the picture cache).
pub(crate) fn sha256(source: &[u8]) -> [u8; 32] {
    Sha256::digest(source).into()
}

/// Makes a terminal-ready JPEG from a JPEG, PNG or WebP file. CPU-bound: call it from a
/// blocking thread (see [`super::PhotoPool`]).
pub fn process(source: &[u8], limits: &PhotoLimits) -> Result<Processed, PhotoError> {
    process_hashed(source, limits, sha256(source))
}

/// [`process`] for a caller that already hashed the source (the cache does, to look it up).
pub(crate) fn process_hashed(
    source: &[u8],
    limits: &PhotoLimits,
    source_sha256: [u8; 32],
) -> Result<Processed, PhotoError> {
    if source.len() > limits.max_source_bytes {
        return Err(PhotoError::SourceTooLarge {
            size: source.len(),
            limit: limits.max_source_bytes,
        });
    }
    let format = header::sniff(source).map_err(|detected| PhotoError::NotAnImage { detected })?;
    let jpeg_header = match format {
        ImageFormat::Jpeg => header::jpeg_header(source),
        _ => None,
    };
    // Third-party decoders may panic on malformed input; that is a bad photo, not a crash.
    let encoded = catch_unwind(AssertUnwindSafe(|| {
        convert(source, format, jpeg_header.as_ref(), limits)
    }))
    .unwrap_or_else(|_| {
        Err(PhotoError::Corrupt {
            format,
            detail: "the decoder stopped on malformed data".into(),
        })
    })?;
    Ok(Processed {
        jpeg: Bytes::from(encoded.jpeg),
        width: encoded.width,
        height: encoded.height,
        quality: encoded.quality,
        source_sha256,
        source_format: format,
        qualifies_as_is: jpeg_header.is_some_and(|h| header_qualifies(&h, source.len(), limits)),
    })
}

/// Whether the file can go to terminals as it is (by URL): a baseline 8-bit JPEG within
/// `max_bytes`, both sides within `min_side..=max_side`, no EXIF rotation, and no EXIF, XMP or
/// IPTC segment at all, because camera and GPS data must not leave the company (the privacy
/// rule wins over delivery by URL). Reads the headers only.
pub fn qualifies_as_is(source: &[u8], limits: &PhotoLimits) -> bool {
    header::sniff(source) == Ok(ImageFormat::Jpeg)
        && header::jpeg_header(source).is_some_and(|h| header_qualifies(&h, source.len(), limits))
}

fn header_qualifies(header: &JpegHeader, size: usize, limits: &PhotoLimits) -> bool {
    let within = |side: u32| (limits.min_side..=limits.max_side).contains(&side);
    header.baseline
        && size <= limits.max_bytes
        && within(header.width)
        && within(header.height)
        && header.orientation.is_none_or(|o| o == 1)
        && !header.has_metadata
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The size that fits `width` x `height` into `max_side`, keeping the aspect ratio.
fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_side {
        return (width, height);
    }
    let scale = f64::from(max_side) / f64::from(long);
    let side = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, max_side);
    (side(width), side(height))
}

fn convert(
    source: &[u8],
    format: ImageFormat,
    jpeg_header: Option<&JpegHeader>,
    limits: &PhotoLimits,
) -> Result<Encoded, PhotoError> {
    let Probe {
        width,
        height,
        orientation,
    } = match format {
        ImageFormat::Jpeg => decode::probe_jpeg(jpeg_header)?,
        _ => decode::probe_other(source, format, limits)?,
    };
    decode::check_pixels(width, height, limits)?;
    let (shown_width, shown_height) = if swaps_sides(orientation) {
        (height, width)
    } else {
        (width, height)
    };
    if shown_width.min(shown_height) < limits.min_side {
        return Err(PhotoError::TooSmall {
            width: shown_width,
            height: shown_height,
            min_side: limits.min_side,
        });
    }
    let (mut target_width, mut target_height) = fit(shown_width, shown_height, limits.max_side);
    if target_width.min(target_height) < limits.min_side {
        return Err(PhotoError::BadAspect {
            width: shown_width,
            height: shown_height,
            max_side: limits.max_side,
            min_side: limits.min_side,
        });
    }
    let decoded = match format {
        ImageFormat::Jpeg => {
            let (want_width, want_height) = if swaps_sides(orientation) {
                (target_height, target_width)
            } else {
                (target_width, target_height)
            };
            decode::decode_jpeg(source, want_width, want_height, limits)?
        }
        _ => decode::decode_other(source, format, limits)?,
    };
    // Orienting before resizing costs little: JPEGs arrive already shrunk by the DCT scaling.
    let upright = encode::orient(decoded, orientation)?;
    loop {
        let resized = encode::resize(&upright, target_width, target_height)?;
        let pixels: &Decoded = resized.as_ref().unwrap_or(&upright);
        if let Some(encoded) = encode::encode_under(pixels, limits.max_bytes)? {
            return Ok(encoded);
        }
        // Even the lowest quality is too big: shrink by a quarter and search again.
        let (next_width, next_height) = ((target_width * 3) / 4, (target_height * 3) / 4);
        if next_width.min(next_height) < limits.min_side {
            return Err(PhotoError::CannotFit {
                max_bytes: limits.max_bytes,
            });
        }
        (target_width, target_height) = (next_width, next_height);
    }
}
