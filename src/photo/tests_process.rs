//! The synchronous pipeline: orientation, alpha, formats, limits, errors, "qualifies as is".

use std::time::{Duration, Instant};

use super::header::jpeg_header;
use super::synth;
use super::{ImageFormat, PhotoError, PhotoLimits, process, qualifies_as_is};

fn decode_rgb(jpeg: &[u8]) -> (Vec<u8>, u32, u32) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24);
    (pixels, u32::from(info.width), u32::from(info.height))
}

/// Mean colour of a rectangle.
fn mean(rgb: &[u8], width: u32, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> [u32; 3] {
    let mut sum = [0u64; 3];
    let mut count = 0u64;
    for row in y {
        for col in x.clone() {
            let i = (row * width + col) as usize * 3;
            for c in 0..3 {
                sum[c] += u64::from(rgb[i + c]);
            }
            count += 1;
        }
    }
    sum.map(|s| (s / count) as u32)
}

fn small_jpeg(width: u32, height: u32, exif: Option<u16>, progressive: bool) -> Vec<u8> {
    let (rgb, w, h) = synth::stored_rgb(width, height, 1, 4);
    synth::jpeg(&rgb, w, h, 80, exif, progressive).unwrap()
}

#[test]
fn a_rotated_phone_photo_comes_out_upright_small_and_without_metadata() {
    let source = synth::phone_jpeg(3000, 4000).unwrap();
    let header = jpeg_header(&source).unwrap();
    assert_eq!(
        (header.width, header.height, header.orientation),
        (4000, 3000, Some(6))
    );
    eprintln!("source: {} bytes", source.len());
    assert!(
        (2 << 20..5 << 20).contains(&source.len()),
        "source is {} bytes",
        source.len()
    );

    let out = process(&source, &PhotoLimits::default()).unwrap();
    assert_eq!((out.width, out.height), (720, 960));
    assert!(out.jpeg.len() <= 204_800, "{} bytes", out.jpeg.len());
    assert_eq!(out.source_format, ImageFormat::Jpeg);
    assert!(!out.qualifies_as_is);
    let out_header = jpeg_header(&out.jpeg).unwrap();
    assert!(out_header.baseline);
    assert!(!out_header.has_metadata, "no EXIF/XMP segment may leave");
    assert!(!out.jpeg.windows(4).any(|w| w == b"Exif"));

    let (rgb, width, height) = decode_rgb(&out.jpeg);
    assert_eq!((width, height), (720, 960));
    let [r, g, b] = mean(&rgb, width, 40..320, 40..440);
    assert!(
        r > 180 && g < 80 && b < 80,
        "top-left quarter should be red, is {r},{g},{b}"
    );
    for (x, y) in [
        (400..700, 40..440),
        (40..320, 520..920),
        (400..700, 520..920),
    ] {
        let [r, g, _] = mean(&rgb, width, x, y);
        assert!(r < 180 || g > 80, "only the top-left quarter is red");
    }
}

#[test]
fn a_png_with_alpha_is_flattened_onto_white() {
    let source = synth::png_rgba(2000, 1500).unwrap();
    let out = process(&source, &PhotoLimits::default()).unwrap();
    assert_eq!(
        (out.width, out.height, out.source_format),
        (960, 720, ImageFormat::Png)
    );
    assert!(!out.qualifies_as_is);
    let (rgb, width, _) = decode_rgb(&out.jpeg);
    assert!(
        mean(&rgb, width, 20..440, 20..700)
            .iter()
            .all(|&c| c >= 250),
        "transparent half is white"
    );
    let [r, g, b] = mean(&rgb, width, 520..940, 400..700);
    assert!(
        r < 240 || g < 240 || b < 240,
        "opaque half keeps its colours"
    );
}

#[test]
fn webp_is_decoded() {
    let source = synth::webp_lossless(1200, 900).unwrap();
    let out = process(&source, &PhotoLimits::default()).unwrap();
    assert_eq!(
        (out.width, out.height, out.source_format),
        (960, 720, ImageFormat::WebP)
    );
    decode_rgb(&out.jpeg);
}

#[test]
fn a_picture_inside_the_envelope_keeps_its_size() {
    let out = process(&small_jpeg(640, 480, None, true), &PhotoLimits::default()).unwrap();
    assert_eq!((out.width, out.height, out.quality), (640, 480, 92));
    assert!(
        jpeg_header(&out.jpeg).unwrap().baseline,
        "progressive in, baseline out"
    );
}

#[test]
fn a_large_progressive_jpeg_is_scaled_and_comes_out_baseline() {
    let out = process(&small_jpeg(2000, 1500, None, true), &PhotoLimits::default()).unwrap();
    assert_eq!((out.width, out.height), (960, 720));
    assert!(jpeg_header(&out.jpeg).unwrap().baseline);
}

#[test]
fn what_is_not_a_picture_is_refused_with_a_reason() {
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: [(&[u8], Option<&str>); 4] = [
        (&random, None),
        (b"name,photo\nAna,ana.jpg\n", Some("text")),
        (
            b"<html><body>Not found</body></html>",
            Some("HTML or XML (often an error page instead of the photo)"),
        ),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", Some("HEIC")),
    ];
    for (bytes, detected) in cases {
        let error = process(bytes, &PhotoLimits::default()).unwrap_err();
        assert_eq!(error, PhotoError::NotAnImage { detected });
        assert!(error.is_invalid_photo());
        assert!(error.to_string().contains("export it as JPEG"), "{error}");
    }
}

#[test]
fn a_damaged_file_is_refused_as_corrupt() {
    let good = small_jpeg(640, 480, None, false);
    let mut garbage = b"\xFF\xD8\xFF".to_vec();
    garbage.extend((0..2000u32).map(|i| (i * 7919 % 251) as u8));
    let truncated_png = synth::png_rgba(400, 300).unwrap()[..300].to_vec();
    for bytes in [good[..good.len() / 3].to_vec(), garbage, truncated_png] {
        let error = process(&bytes, &PhotoLimits::default()).unwrap_err();
        assert!(matches!(error, PhotoError::Corrupt { .. }), "{error:?}");
        assert!(error.to_string().contains("damaged"), "{error}");
    }
}

#[test]
fn a_tiny_or_thin_picture_is_refused() {
    let error = process(&small_jpeg(50, 50, None, false), &PhotoLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PhotoError::TooSmall {
            width: 50,
            height: 50,
            min_side: 80
        }
    );
    assert!(
        error.to_string().contains("50 x 50 pixels") && error.to_string().contains("at least 80")
    );
    let error = process(&small_jpeg(2000, 120, None, false), &PhotoLimits::default()).unwrap_err();
    assert!(
        matches!(
            error,
            PhotoError::BadAspect {
                width: 2000,
                height: 120,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn decompression_bombs_are_refused_before_allocating() {
    let png_bomb = synth::png_bomb(100_000, 100_000);
    // A small JPEG whose frame header claims 60000 x 60000.
    let mut jpeg_bomb = small_jpeg(16, 16, None, false);
    let sof = jpeg_bomb
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .unwrap();
    jpeg_bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);

    let started = Instant::now();
    let error = process(&png_bomb, &PhotoLimits::default()).unwrap_err();
    assert!(
        matches!(error, PhotoError::TooManyPixels { .. }),
        "{error:?}"
    );
    let error = process(&jpeg_bomb, &PhotoLimits::default()).unwrap_err();
    assert_eq!(
        error,
        PhotoError::TooManyPixels {
            width: 60_000,
            height: 60_000,
            max_megapixels: 50
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused from the header, without decoding"
    );

    let limits = PhotoLimits {
        max_pixels: 1_000_000,
        ..PhotoLimits::default()
    };
    let error = process(&synth::png_rgba(2000, 1000).unwrap(), &limits).unwrap_err();
    assert!(
        matches!(error, PhotoError::TooManyPixels { .. }),
        "{error:?}"
    );
}

#[test]
fn the_quality_search_meets_a_tight_byte_limit() {
    let (rgb, w, h) = synth::stored_rgb(960, 960, 1, 60);
    let source = synth::jpeg(&rgb, w, h, 95, None, false).unwrap();
    let limits = PhotoLimits {
        max_bytes: 60_000,
        ..PhotoLimits::default()
    };
    let out = process(&source, &limits).unwrap();
    assert!(out.jpeg.len() <= 60_000, "{} bytes", out.jpeg.len());
    assert!(out.quality < 92);
    let limits = PhotoLimits {
        max_bytes: 1_000,
        ..PhotoLimits::default()
    };
    assert_eq!(
        process(&source, &limits).unwrap_err(),
        PhotoError::CannotFit { max_bytes: 1_000 }
    );
}

#[test]
fn only_a_small_plain_baseline_jpeg_qualifies_as_is() {
    let limits = PhotoLimits::default();
    let plain = small_jpeg(640, 480, None, false);
    assert!(qualifies_as_is(&plain, &limits));
    let out = process(&plain, &limits).unwrap();
    assert!(out.qualifies_as_is);
    assert_eq!(out.source_sha256_hex().len(), 64);

    assert!(
        !qualifies_as_is(&small_jpeg(640, 480, None, true), &limits),
        "progressive"
    );
    assert!(
        !qualifies_as_is(&small_jpeg(640, 480, Some(6), false), &limits),
        "rotated"
    );
    // Orientation 1 is no rotation, but the EXIF block may carry camera/GPS data.
    assert!(
        !qualifies_as_is(&small_jpeg(640, 480, Some(1), false), &limits),
        "metadata"
    );
    assert!(
        !qualifies_as_is(&small_jpeg(1200, 900, None, false), &limits),
        "larger than 960"
    );
    assert!(
        !qualifies_as_is(&small_jpeg(60, 60, None, false), &limits),
        "smaller than 80"
    );
    assert!(
        !qualifies_as_is(
            &plain,
            &PhotoLimits {
                max_bytes: plain.len() - 1,
                ..limits.clone()
            }
        ),
        "bytes"
    );
    assert!(
        !qualifies_as_is(&synth::png_rgba(400, 300).unwrap(), &limits),
        "PNG"
    );
    assert!(!qualifies_as_is(b"not a picture", &limits));
}
