//! The picture envelope door terminals accept, and the guards applied to what we are sent.

/// Bounds for source photos and for the JPEG sent to terminals.
///
/// The defaults follow what peers use on hardware (80-960 px, at most 200 KB, see
/// `ISAPI-FACTS.md`), plus guards against hostile or accidental input (size of the download,
/// pixel count of the decoded image).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PhotoLimits {
    /// The longest side of the picture sent to a terminal, in pixels (`PHOTO_MAX_SIDE`).
    pub max_side: u32,
    /// The shortest side a usable photo may have after orientation, in pixels (`PHOTO_MIN_SIDE`).
    pub min_side: u32,
    /// The largest JPEG sent to a terminal, in bytes (`PHOTO_MAX_BYTES`).
    pub max_bytes: usize,
    /// The largest source file accepted (download cap), in bytes.
    pub max_source_bytes: usize,
    /// The most pixels a source may declare; larger ones are refused before decoding
    /// (decompression bombs).
    pub max_pixels: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_side: 960,
            min_side: 80,
            max_bytes: 204_800,
            max_source_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
        }
    }
}

impl PhotoLimits {
    /// The most bytes a decoder may allocate for one image: the decoded picture at four bytes a
    /// pixel, plus room for the decoder's own buffers.
    pub(crate) fn max_decode_alloc(&self) -> u64 {
        self.max_pixels
            .saturating_mul(4)
            .saturating_add(64 * 1024 * 1024)
    }
}
