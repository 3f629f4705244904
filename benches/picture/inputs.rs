//! The bench's inputs, synthesised: a 12 MP phone JPEG with EXIF orientation 6, a 4 MP PNG
//! with alpha and a 2 MP lossy WebP (Pillow encodes it; lossless from the `image` crate if
//! Pillow is missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::BoxError;
use super::synth;

/// One input file and what the output should look like.
pub struct Input {
    /// Short name for the table.
    pub name: &'static str,
    /// Where it is.
    pub path: PathBuf,
    /// File size.
    pub bytes: usize,
    /// Stored size (before orientation).
    pub stored: (u32, u32),
    /// Expected output size (upright, within 960).
    pub expected: (u32, u32),
    /// Note for the table.
    pub note: String,
}

/// Writes the inputs into `dir` (reused when already there).
pub fn generate(dir: &Path, python: &str) -> Result<Vec<Input>, BoxError> {
    std::fs::create_dir_all(dir)?;
    let jpeg = dir.join("phone-12mp-orient6.jpg");
    if !jpeg.exists() {
        std::fs::write(&jpeg, synth::phone_jpeg(3000, 4000)?)?;
    }
    let png = dir.join("alpha-4mp.png");
    if !png.exists() {
        std::fs::write(&png, synth::png_rgba(2310, 1732)?)?;
    }
    let webp = dir.join("photo-2mp.webp");
    let mut webp_note = "lossy q80 (Pillow)".to_owned();
    if !webp.exists() {
        let source = dir.join("webp-source.png");
        let (rgb, w, h) = synth::stored_rgb(1732, 1155, 1, 10);
        image::save_buffer(&source, &rgb, w, h, image::ExtendedColorType::Rgb8)?;
        let script = "import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], 'WEBP', quality=80)";
        let ok = Command::new(python)
            .args(["-c", script])
            .arg(&source)
            .arg(&webp)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            std::fs::write(&webp, synth::webp_lossless(1732, 1155)?)?;
            webp_note = "lossless (image crate; Pillow missing)".to_owned();
        }
    }
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() as usize);
    Ok(vec![
        Input {
            name: "12 MP JPEG, EXIF 6",
            bytes: size(&jpeg)?,
            path: jpeg,
            stored: (4000, 3000),
            expected: (720, 960),
            note: "4000x3000 stored, q90 4:2:0, shows portrait".to_owned(),
        },
        Input {
            name: "4 MP PNG, alpha",
            bytes: size(&png)?,
            path: png,
            stored: (2310, 1732),
            expected: (960, 720),
            note: "RGBA, left half transparent".to_owned(),
        },
        Input {
            name: "2 MP WebP",
            bytes: size(&webp)?,
            path: webp,
            stored: (1732, 1155),
            expected: (960, 640),
            note: webp_note,
        },
    ])
}
