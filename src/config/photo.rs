//! Settings of the picture pipeline: how photos reach the terminals, and the terminal envelope.

use std::str::FromStr;

use super::read::{parse_nets, parse_origin, read_millis};
use crate::photo::{AllowList, PhotoLimits, PipelineSettings};

/// How a photo reaches a terminal (`PHOTO_DELIVERY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhotoTransferMode {
    /// The service fetches the photo; by URL when the original qualifies, pushed otherwise, and
    /// pushed when a terminal cannot download the URL.
    #[default]
    Auto,
    /// The terminal downloads `faceURL` (the owner's original flow); the service does not fetch.
    Url,
    /// The processed bytes are always pushed (multipart).
    Push,
}

impl FromStr for PhotoTransferMode {
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
    pub delivery: PhotoTransferMode,
    /// Envelope, byte limit, workers, cache.
    pub pipeline: PipelineSettings,
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
    let limits: &mut PhotoLimits = &mut p.pipeline.limits;
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
    p.pipeline.allow = read_allow_list(get, problems);
    p
}

/// `PHOTO_ALLOWED_ORIGINS`, `PHOTO_ALLOWED_BUCKETS` and `PHOTO_ALLOWED_NETS` (comma lists).
fn read_allow_list(get: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> AllowList {
    let items = |key: &str| -> Vec<String> {
        get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut allow = AllowList::default();
    for origin in items("PHOTO_ALLOWED_ORIGINS") {
        match parse_origin(&origin) {
            Some(url) => allow.origins.push(url.origin()),
            None => problems.push(format!(
                "PHOTO_ALLOWED_ORIGINS: '{origin}' is not an origin like https://cdn.example.com (scheme, host and port, no path)"
            )),
        }
    }
    for bucket in items("PHOTO_ALLOWED_BUCKETS") {
        let plain = bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if plain && bucket.len() <= 100 && !matches!(bucket.as_str(), "." | "..") {
            allow.buckets.push(bucket);
        } else {
            problems.push(format!(
                "PHOTO_ALLOWED_BUCKETS: '{}' is not a bucket name (letters, digits, '-', '_', '.')",
                bucket.chars().take(80).collect::<String>()
            ));
        }
    }
    if let Some(v) = get("PHOTO_ALLOWED_NETS") {
        match parse_nets(&v) {
            Ok(nets) => allow.nets = nets,
            Err(e) => problems.push(format!("PHOTO_ALLOWED_NETS: {e}")),
        }
    }
    allow
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load;

    #[test]
    fn the_photo_allow_list_is_empty_by_default_and_read_from_three_settings() {
        let s = load(&[]).unwrap();
        assert_eq!(s.photo.pipeline.allow, Default::default());
        let s = load(&[
            (
                "PHOTO_ALLOWED_ORIGINS",
                "https://cdn.example.com, http://10.0.0.5:8080/",
            ),
            ("PHOTO_ALLOWED_BUCKETS", "hr, badges.2024"),
            ("PHOTO_ALLOWED_NETS", "10.20.0.0/16, fd00::1"),
        ])
        .unwrap();
        let allow = &s.photo.pipeline.allow;
        let origins: Vec<String> = allow
            .origins
            .iter()
            .map(|o| o.ascii_serialization())
            .collect();
        assert_eq!(origins, ["https://cdn.example.com", "http://10.0.0.5:8080"]);
        assert_eq!(allow.buckets, ["hr", "badges.2024"]);
        assert!(allow.permits("10.20.1.2".parse().unwrap()));
        assert!(allow.permits("fd00::1".parse().unwrap()));
        assert!(!allow.permits("10.21.0.1".parse().unwrap()));
    }

    #[test]
    fn each_bad_allow_list_item_is_named() {
        let err = load(&[
            (
                "PHOTO_ALLOWED_ORIGINS",
                "https://cdn.example.com/photos, ftp://x",
            ),
            ("PHOTO_ALLOWED_BUCKETS", "ok, a/b, .."),
            ("PHOTO_ALLOWED_NETS", "10.0.0.0/33"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 5, "{text}");
        for part in [
            "'https://cdn.example.com/photos' is not an origin",
            "'ftp://x' is not an origin",
            "'a/b' is not a bucket name",
            "'..' is not a bucket name",
            "PHOTO_ALLOWED_NETS: '10.0.0.0/33'",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }
}
