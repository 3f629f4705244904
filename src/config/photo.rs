//! Settings of the picture pipeline: how photos reach the terminals, and the terminal envelope.

use std::str::FromStr;

use super::parse::read_millis;
use crate::picture::{PictureLimits, PictureSettings};

/// How a photo reaches a terminal (`PHOTO_DELIVERY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhotoDelivery {
    /// The service fetches the photo; by URL when the original qualifies, pushed otherwise, and
    /// pushed when a terminal cannot download the URL.
    #[default]
    Auto,
    /// The terminal downloads `faceURL` (the owner's original flow); the service does not fetch.
    Url,
    /// The processed bytes are always pushed (multipart).
    Push,
}

impl FromStr for PhotoDelivery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "url" => Ok(Self::Url),
            "push" => Ok(Self::Push),
            other => Err(format!(
                "PHOTO_DELIVERY='{other}' must be auto, url or push"
            )),
        }
    }
}

/// Picture settings.
#[derive(Debug, Clone, Default)]
pub struct PhotoSettings {
    /// How photos reach terminals.
    pub delivery: PhotoDelivery,
    /// Envelope, byte limit, workers, cache.
    pub pipeline: PictureSettings,
}

/// Reads the picture settings, adding every problem to `problems`.
pub(super) fn read_photo(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> PhotoSettings {
    let mut p = PhotoSettings::default();
    if let Some(v) = get("PHOTO_DELIVERY") {
        match v.parse() {
            Ok(mode) => p.delivery = mode,
            Err(why) => problems.push(why),
        }
    }
    let limits: &mut PictureLimits = &mut p.pipeline.limits;
    let mut number = |key: &str, default: u64, min: u64, max: u64| -> u64 {
        match get(key).map(|v| (v.parse::<u64>(), v)) {
            None => default,
            Some((Ok(n), _)) if (min..=max).contains(&n) => n,
            Some((_, v)) => {
                problems.push(format!(
                    "{key}='{v}' must be a whole number between {min} and {max}"
                ));
                default
            }
        }
    };
    limits.max_side = number("PHOTO_MAX_SIDE", u64::from(limits.max_side), 80, 4096) as u32;
    limits.min_side = number("PHOTO_MIN_SIDE", u64::from(limits.min_side), 16, 2048) as u32;
    limits.max_bytes = number(
        "PHOTO_MAX_BYTES",
        limits.max_bytes as u64,
        10_240,
        10_485_760,
    ) as usize;
    p.pipeline.workers = number("PHOTO_WORKERS", p.pipeline.workers as u64, 1, 64) as usize;
    if limits.min_side > limits.max_side {
        problems.push("PHOTO_MIN_SIDE must not be larger than PHOTO_MAX_SIDE".into());
    }
    p.pipeline.fetch_timeout = read_millis(
        get,
        problems,
        "PHOTO_FETCH_TIMEOUT_MS",
        p.pipeline.fetch_timeout,
        (100, 300_000),
    );
    p
}
