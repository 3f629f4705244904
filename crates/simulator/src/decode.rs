//! Decoding a face picture, as a terminal does before it looks for a face in it.
//!
//! JPEG (baseline or progressive, through `jpeg-decoder`) and PNG (through `image`) are the
//! formats a terminal takes; anything else, or a picture that does not decode to the end (a
//! truncated JPEG, say), is `faceDetectFailed`, since a terminal cannot tell "not a picture"
//! from "no face in the picture". The resolution is checked from the headers, before any
//! pixel is decoded, so the decoder never works on more than `max_side` x `max_side` pixels
//! however large a picture claims to be: a small file declaring 60000 x 60000 pixels is
//! refused without allocating anything.

use std::io::Cursor;

use image::codecs::png::PngDecoder;
use image::{ImageDecoder, Limits};

use super::config::TerminalConfig;
use super::reply::Failure;

/// How a JPEG starts.
const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
/// How a PNG starts.
pub(crate) const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Bytes per decoded pixel at most: 4 channels of 16 bits (PNG); JPEG needs at most 4 bytes
/// out and about as much again in coefficients while decoding.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Width and height of a picture, in pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) width: u32,
    pub(crate) height: u32,
}

/// The resolutions a terminal accepts: the short side at least `min_side`, the long side at
/// most `max_side`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) min_side: u32,
    pub(crate) max_side: u32,
}

impl Envelope {
    /// The envelope of a terminal.
    pub(crate) fn of(config: &TerminalConfig) -> Self {
        Self {
            min_side: config.min_side,
            max_side: config.max_side,
        }
    }

    fn check(self, size: Size, field: &str) -> Result<(), Failure> {
        if size.width.max(size.height) > self.max_side {
            return Err(Failure::picture_pixels_too_large(field));
        }
        if size.width.min(size.height) < self.min_side {
            return Err(Failure::picture_pixels_too_small(field));
        }
        Ok(())
    }

    /// The most memory a decode within the envelope may take.
    fn decoding_budget(self) -> u64 {
        u64::from(self.max_side)
            .saturating_mul(u64::from(self.max_side))
            .saturating_mul(MAX_BYTES_PER_PIXEL)
    }
}

/// A picture whose headers were read, ready to decode (the decoders are boxed: they are
/// large, and of very different sizes).
enum Opened<'a> {
    Jpeg(Box<jpeg_decoder::Decoder<&'a [u8]>>, Size),
    Png(Box<PngDecoder<Cursor<&'a [u8]>>>, Size),
}

impl<'a> Opened<'a> {
    /// Reads the headers of a JPEG or PNG; `None` for anything else or broken headers.
    fn open(bytes: &'a [u8], budget: u64) -> Option<Self> {
        if bytes.starts_with(JPEG_MAGIC) {
            let mut decoder = jpeg_decoder::Decoder::new(bytes);
            decoder.read_info().ok()?;
            let info = decoder.info()?;
            let size = Size {
                width: info.width.into(),
                height: info.height.into(),
            };
            decoder.set_max_decoding_buffer_size(usize::try_from(budget).unwrap_or(usize::MAX));
            Some(Self::Jpeg(Box::new(decoder), size))
        } else if bytes.starts_with(PNG_MAGIC) {
            let mut limits = Limits::default();
            limits.max_alloc = Some(budget);
            let decoder = PngDecoder::with_limits(Cursor::new(bytes), limits).ok()?;
            let (width, height) = decoder.dimensions();
            Some(Self::Png(Box::new(decoder), Size { width, height }))
        } else {
            None
        }
    }

    fn size(&self) -> Size {
        match self {
            Self::Jpeg(_, size) | Self::Png(_, size) => *size,
        }
    }

    /// Decodes every pixel; false if the picture is broken or needs more than `budget` bytes.
    fn decode(self, budget: u64) -> bool {
        match self {
            Self::Jpeg(mut decoder, _) => decoder.decode().is_ok(),
            Self::Png(decoder, _) => {
                let decoder = *decoder;
                let needed = decoder.total_bytes();
                let Ok(len) = usize::try_from(needed) else {
                    return false;
                };
                if needed > budget {
                    return false;
                }
                let mut pixels = vec![0; len];
                decoder.read_image(&mut pixels).is_ok()
            }
        }
    }
}

/// The dimensions a JPEG or PNG header declares, without decoding or checking anything;
/// `None` for other bytes. For pictures seeded in tests, which may be any bytes.
pub(crate) fn dimensions(bytes: &[u8]) -> Option<Size> {
    Opened::open(bytes, u64::MAX).map(|opened| opened.size())
}

/// Decodes `bytes` like a terminal: not a decodable JPEG or PNG -> `faceDetectFailed`, outside
/// `envelope` -> `picturePixelsTooLarge` / `picturePixelsTooSmall` (checked before decoding);
/// `field` names where the picture came from. CPU-bound: call it off the async workers.
pub(crate) fn decode(bytes: &[u8], field: &str, envelope: Envelope) -> Result<Size, Failure> {
    let budget = envelope.decoding_budget();
    let opened = Opened::open(bytes, budget).ok_or_else(|| Failure::face_detect_failed(field))?;
    let size = opened.size();
    envelope.check(size, field)?;
    if opened.decode(budget) {
        Ok(size)
    } else {
        Err(Failure::face_detect_failed(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::png::PngEncoder;
    use image::{ExtendedColorType, ImageEncoder};

    const ENVELOPE: Envelope = Envelope {
        min_side: 80,
        max_side: 4096,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let pixels = vec![128u8; (width * height) as usize];
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(&pixels, width, height, ExtendedColorType::L8)
            .map(|()| out)
            .unwrap_or_default()
    }

    #[test]
    fn the_envelope_bounds_both_sides() {
        let check = |width, height| ENVELOPE.check(Size { width, height }, "img");
        assert_eq!(check(80, 80), Ok(()));
        assert_eq!(check(4096, 80), Ok(()));
        assert_eq!(
            check(79, 500),
            Err(Failure::picture_pixels_too_small("img"))
        );
        assert_eq!(
            check(4097, 100),
            Err(Failure::picture_pixels_too_large("img"))
        );
    }

    #[test]
    fn pngs_decode_and_are_measured() {
        let size = Size {
            width: 120,
            height: 90,
        };
        assert_eq!(decode(&png(120, 90), "img", ENVELOPE), Ok(size));
        assert_eq!(dimensions(&png(120, 90)), Some(size));
        let wide = png(5000, 1);
        assert_eq!(
            decode(&wide, "img", ENVELOPE),
            Err(Failure::picture_pixels_too_large("img"))
        );
        let truncated = &wide[..wide.len() - 20];
        assert_eq!(
            decode(
                truncated,
                "faceURL",
                Envelope {
                    min_side: 1,
                    max_side: 5000
                }
            ),
            Err(Failure::face_detect_failed("faceURL"))
        );
    }

    #[test]
    fn other_bytes_are_not_pictures() {
        assert_eq!(dimensions(b"GIF89a"), None);
        assert_eq!(dimensions(&[0xFF, 0xD8, 0xFF, 0xE0]), None);
        assert_eq!(
            decode(b"RIFF\0\0\0\0WEBP", "img", ENVELOPE),
            Err(Failure::face_detect_failed("img"))
        );
    }
}
