//! What the debugging endpoint accepts as a terminal's host: an IP address literal (IPv6 in
//! brackets or not) or a host name, checked before anything is resolved.

use std::net::IpAddr;

/// An IP address (IPv6 in brackets or not) or a host name.
pub(super) fn is_host(host: &str) -> bool {
    literal(host).parse::<IpAddr>().is_ok() || is_host_name(host)
}

/// The address inside IPv6's brackets, or `host` as it is.
pub(super) fn literal(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Letters, digits and hyphens in dot-separated labels of at most 63 characters.
pub(super) fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_sent_to_the_resolver() {
        for bad in ["a b", "-x", "x..y", "😀", &"a".repeat(64)] {
            assert!(!is_host_name(bad), "{bad}");
        }
        assert!(is_host_name("door-1.example.com"));
        for ok in ["10.0.0.1", "::1", "[fe80::1]", "localhost"] {
            assert!(is_host(ok), "{ok}");
        }
        for bad in ["", " ", "10.0.0.1 ", "[10.0.0.1"] {
            assert!(!is_host(bad), "{bad:?}");
        }
    }
}
