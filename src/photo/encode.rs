//! Resize, orient and encode: the decoded pixels become a baseline JPEG under the byte limit.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use super::decode::Decoded;
use super::error::PhotoError;

/// The quality tried first; most phone photos fit under 200 KB at 960 px with it.
pub(crate) const QUALITY_MAX: u8 = 92;
/// The lowest quality the search goes down to before shrinking the picture instead.
pub(crate) const QUALITY_MIN: u8 = 40;

/// An encoded picture and the quality that produced it.
pub(crate) struct Encoded {
    /// Baseline JPEG, no metadata segments.
    pub jpeg: Vec<u8>,
    /// Width of the JPEG.
    pub width: u32,
    /// Height of the JPEG.
    pub height: u32,
    /// JPEG quality used (1-100).
    pub quality: u8,
}

fn internal(what: &str, e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Internal(format!("{what}: {e}"))
}

/// Resizes packed RGB to `width` x `height` (Lanczos3). `None` when the size is already right.
pub(crate) fn resize(
    decoded: &Decoded,
    width: u32,
    height: u32,
) -> Result<Option<Decoded>, PhotoError> {
    if decoded.width == width && decoded.height == height {
        return Ok(None);
    }
    let src = ImageRef::new(decoded.width, decoded.height, &decoded.rgb, PixelType::U8x3)
        .map_err(|e| internal("resize source", e))?;
    let mut dst = Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| internal("resize", e))?;
    Ok(Some(Decoded {
        rgb: dst.into_vec(),
        width,
        height,
    }))
}

/// Turns the pixels so the picture displays upright without any EXIF tag.
pub(crate) fn orient(decoded: Decoded, orientation: Orientation) -> Result<Decoded, PhotoError> {
    if orientation == Orientation::NoTransforms {
        return Ok(decoded);
    }
    let buffer = RgbImage::from_raw(decoded.width, decoded.height, decoded.rgb)
        .ok_or_else(|| PhotoError::Internal("orientation: pixel buffer too short".into()))?;
    let mut image = DynamicImage::ImageRgb8(buffer);
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    Ok(Decoded {
        rgb: image.into_rgb8().into_raw(),
        width,
        height,
    })
}

/// One baseline JPEG at `quality`, 4:2:0, no metadata.
pub(crate) fn encode_once(pixels: &Decoded, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let width = u16::try_from(pixels.width).map_err(|e| internal("encode width", e))?;
    let height = u16::try_from(pixels.height).map_err(|e| internal("encode height", e))?;
    let mut out = Vec::with_capacity(pixels.rgb.len() / 8);
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    encoder
        .encode(&pixels.rgb, width, height, ColorType::Rgb)
        .map_err(|e| internal("encode", e))?;
    Ok(out)
}

/// The highest quality in [`QUALITY_MIN`, `QUALITY_MAX`] whose JPEG fits in `max_bytes`
/// (binary search; the first try is `QUALITY_MAX`, which usually fits). `None` when even the
/// lowest does not fit.
pub(crate) fn encode_under(
    pixels: &Decoded,
    max_bytes: usize,
) -> Result<Option<Encoded>, PhotoError> {
    let done = |jpeg: Vec<u8>, quality| Encoded {
        jpeg,
        width: pixels.width,
        height: pixels.height,
        quality,
    };
    let first = encode_once(pixels, QUALITY_MAX)?;
    if first.len() <= max_bytes {
        return Ok(Some(done(first, QUALITY_MAX)));
    }
    let (mut low, mut high) = (QUALITY_MIN, QUALITY_MAX - 1);
    let mut best = None;
    while low <= high {
        let mid = low + (high - low) / 2;
        let jpeg = encode_once(pixels, mid)?;
        if jpeg.len() <= max_bytes {
            best = Some(done(jpeg, mid));
            low = mid + 1;
        } else if mid == QUALITY_MIN {
            break;
        } else {
            high = mid - 1;
        }
    }
    Ok(best)
}
