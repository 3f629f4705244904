//! Decoding with limits: JPEG through `jpeg-decoder` (scaled in the DCT domain when the picture
//! will be shrunk anyway, as libjpeg's `scale_denom` does), PNG and WebP through the `image`
//! crate. The result is 8-bit RGB with any transparency flattened onto white, still in the
//! stored orientation.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder};

use super::error::{ImageFormat, PhotoError};
use super::header::JpegHeader;
use super::limits::PhotoLimits;

/// Pixels ready to be resized, oriented and encoded.
pub(crate) struct Decoded {
    /// Packed RGB, 3 bytes a pixel.
    pub rgb: Vec<u8>,
    /// Width of `rgb` (may be smaller than the stored width after DCT scaling).
    pub width: u32,
    /// Height of `rgb`.
    pub height: u32,
}

/// Stored (pre-orientation) size and orientation, read from the headers only.
pub(crate) struct Probe {
    /// Stored width.
    pub width: u32,
    /// Stored height.
    pub height: u32,
    /// What the EXIF orientation asks for.
    pub orientation: Orientation,
}

/// Refuses a declared size larger than the pixel limit, before any pixel buffer exists.
pub(crate) fn check_pixels(
    width: u32,
    height: u32,
    limits: &PhotoLimits,
) -> Result<(), PhotoError> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max_megapixels: limits.max_pixels / 1_000_000,
        });
    }
    Ok(())
}

fn corrupt(format: ImageFormat, detail: impl std::fmt::Display) -> PhotoError {
    PhotoError::Corrupt {
        format,
        detail: detail.to_string(),
    }
}

/// Size and orientation of a JPEG from its header.
pub(crate) fn probe_jpeg(header: Option<&JpegHeader>) -> Result<Probe, PhotoError> {
    let header = header
        .ok_or_else(|| corrupt(ImageFormat::Jpeg, "no frame header before the image data"))?;
    if header.width == 0 || header.height == 0 {
        return Err(corrupt(
            ImageFormat::Jpeg,
            "the header declares an empty picture",
        ));
    }
    Ok(Probe {
        width: header.width,
        height: header.height,
        orientation: header
            .orientation
            .and_then(Orientation::from_exif)
            .unwrap_or(Orientation::NoTransforms),
    })
}

/// Decodes a JPEG, letting the decoder shrink it by 1/2, 1/4 or 1/8 while it is at least
/// `want_width` x `want_height`.
pub(crate) fn decode_jpeg(
    source: &[u8],
    want_width: u32,
    want_height: u32,
    limits: &PhotoLimits,
) -> Result<Decoded, PhotoError> {
    let mut decoder = jpeg_decoder::Decoder::new(source);
    let max_buffer = usize::try_from(limits.max_decode_alloc()).unwrap_or(usize::MAX);
    decoder.set_max_decoding_buffer_size(max_buffer);
    let clamp = |v: u32| u16::try_from(v.max(1)).unwrap_or(u16::MAX);
    decoder
        .read_info()
        .map_err(|e| corrupt(ImageFormat::Jpeg, e))?;
    let info = decoder
        .info()
        .ok_or_else(|| corrupt(ImageFormat::Jpeg, "no frame header"))?;
    if info.coding_process != jpeg_decoder::CodingProcess::Lossless {
        decoder
            .scale(clamp(want_width), clamp(want_height))
            .map_err(|e| corrupt(ImageFormat::Jpeg, e))?;
    }
    let pixels = decoder
        .decode()
        .map_err(|e| corrupt(ImageFormat::Jpeg, e))?;
    let info = decoder
        .info()
        .ok_or_else(|| corrupt(ImageFormat::Jpeg, "no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let count = width as usize * height as usize;
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        // Big-endian 16-bit grey: keep the high byte.
        jpeg_decoder::PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        // Adobe stores CMYK inverted: each channel is already "how much light is left".
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u16::from(p[3]);
                let mix = |c: u8| ((u16::from(c) * k + 127) / 255) as u8;
                [mix(p[0]), mix(p[1]), mix(p[2])]
            })
            .collect(),
    };
    if rgb.len() < count * 3 {
        return Err(corrupt(ImageFormat::Jpeg, "the picture data ends early"));
    }
    Ok(Decoded { rgb, width, height })
}

/// An `image` decoder for PNG or WebP, with the allocation limit set.
fn image_decoder<'a>(
    source: &'a [u8],
    format: ImageFormat,
    limits: &PhotoLimits,
) -> Result<Box<dyn ImageDecoder + 'a>, PhotoError> {
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_decode_alloc());
    let cursor = Cursor::new(source);
    let mut decoder: Box<dyn ImageDecoder> = match format {
        ImageFormat::Png => Box::new(
            image::codecs::png::PngDecoder::with_limits(cursor, image_limits.clone())
                .map_err(|e| corrupt(format, e))?,
        ),
        ImageFormat::WebP => {
            Box::new(image::codecs::webp::WebPDecoder::new(cursor).map_err(|e| corrupt(format, e))?)
        }
        ImageFormat::Jpeg => {
            return Err(PhotoError::Internal("JPEG is decoded elsewhere".into()));
        }
    };
    decoder
        .set_limits(image_limits)
        .map_err(|e| corrupt(format, e))?;
    Ok(decoder)
}

/// Size and orientation of a PNG or WebP (eXIf chunk / EXIF chunk) from its headers.
pub(crate) fn probe_other(
    source: &[u8],
    format: ImageFormat,
    limits: &PhotoLimits,
) -> Result<Probe, PhotoError> {
    let mut decoder = image_decoder(source, format, limits)?;
    let (width, height) = decoder.dimensions();
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok(Probe {
        width,
        height,
        orientation,
    })
}

/// Decodes a PNG or WebP at full size and flattens transparency onto white.
pub(crate) fn decode_other(
    source: &[u8],
    format: ImageFormat,
    limits: &PhotoLimits,
) -> Result<Decoded, PhotoError> {
    let decoder = image_decoder(source, format, limits)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    let image = DynamicImage::from_decoder(decoder).map_err(|e| corrupt(format, e))?;
    let rgb = if image.color().has_alpha() {
        flatten_on_white(image.into_rgba8().as_raw())
    } else {
        image.into_rgb8().into_raw()
    };
    Ok(Decoded { rgb, width, height })
}

/// RGBA to RGB over a white background.
fn flatten_on_white(rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for p in rgba.chunks_exact(4) {
        let a = u32::from(p[3]);
        let white = 255 * (255 - a);
        for &c in &p[..3] {
            out.push(((u32::from(c) * a + white + 127) / 255) as u8);
        }
    }
    out
}
