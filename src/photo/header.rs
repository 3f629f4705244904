//! Cheap looks at a file's first bytes: which format it is, and a JPEG's frame header and
//! metadata segments, without decoding any pixels.

use super::error::ImageFormat;

/// The format a file's magic bytes announce; `Err` names what it looks like otherwise.
pub(crate) fn sniff(bytes: &[u8]) -> Result<ImageFormat, Option<&'static str>> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageFormat::Png);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(ImageFormat::WebP);
    }
    Err(other_format(bytes))
}

fn other_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"GIF8") {
        return Some("GIF");
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some(match &bytes[8..12] {
            b"avif" | b"avis" => "AVIF",
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => "HEIC",
            _ => "video or HEIF",
        });
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Some("TIFF");
    }
    if bytes.starts_with(b"BM") {
        return Some("BMP");
    }
    if bytes.starts_with(b"%PDF") {
        return Some("PDF");
    }
    let head = &bytes[..bytes.len().min(512)];
    if !head.is_empty() && std::str::from_utf8(head).is_ok() {
        let trimmed = head.trim_ascii_start();
        if trimmed.starts_with(b"<") {
            return Some("HTML or XML (often an error page instead of the photo)");
        }
        return Some("text");
    }
    None
}

/// What a JPEG's segments before the first scan say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JpegHeader {
    /// Baseline sequential DCT (SOF0), 8-bit, one or three components.
    pub baseline: bool,
    /// Stored width (before orientation).
    pub width: u32,
    /// Stored height (before orientation).
    pub height: u32,
    /// EXIF orientation tag (1-8), when present and valid.
    pub orientation: Option<u8>,
    /// An EXIF, XMP or IPTC segment is present (camera, GPS or author data may be inside).
    pub has_metadata: bool,
}

/// Walks a JPEG's marker segments up to the first scan. `None` when the structure is broken
/// or no frame header comes before the scan.
pub(crate) fn jpeg_header(bytes: &[u8]) -> Option<JpegHeader> {
    let mut header = JpegHeader::default();
    let mut frame_seen = false;
    let mut pos = 2; // after SOI
    loop {
        // A marker is 0xFF followed by a code; extra 0xFF bytes are fill.
        if *bytes.get(pos)? != 0xFF {
            return None;
        }
        while *bytes.get(pos)? == 0xFF {
            pos += 1;
        }
        let marker = *bytes.get(pos)?;
        pos += 1;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        let length = usize::from(u16::from_be_bytes([*bytes.get(pos)?, *bytes.get(pos + 1)?]));
        let segment = bytes.get(pos + 2..pos + length)?;
        pos += length;
        match marker {
            0xDA => return frame_seen.then_some(header),
            0xD9 => return None,
            0xE1 => {
                header.has_metadata = true;
                if let Some(tiff) = segment.strip_prefix(b"Exif\0\0") {
                    header.orientation = image::metadata::Orientation::from_exif_chunk(tiff)
                        .map(image::metadata::Orientation::to_exif);
                }
            }
            0xED => header.has_metadata = true,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let precision = *segment.first()?;
                header.height = u32::from(u16::from_be_bytes([*segment.get(1)?, *segment.get(2)?]));
                header.width = u32::from(u16::from_be_bytes([*segment.get(3)?, *segment.get(4)?]));
                let components = *segment.get(5)?;
                header.baseline = marker == 0xC0 && precision == 8 && matches!(components, 1 | 3);
                frame_seen = true;
            }
            _ => {}
        }
    }
}
