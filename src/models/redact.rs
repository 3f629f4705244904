//! Messages for readers who must not learn the network: the status endpoints show what happened
//! at each terminal without its address or the photo's location (the log keeps them for
//! operators).

use std::net::IpAddr;

/// `message` with every URL, network address (`host:port`, IP literal) and photo path replaced
/// by a placeholder: `[url]`, `[address]`, `[photo]`.
pub fn public_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push_str(&redact_word(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

/// One whitespace-separated word, its surrounding punctuation kept.
fn redact_word(word: &str) -> String {
    const EDGE: &[char] = &['(', ')', '\'', '"', ',', ';', '.', '!', '?', '<', '>'];
    let core = word.trim_start_matches(EDGE);
    let lead = &word[..word.len() - core.len()];
    let core_trimmed = core.trim_end_matches(EDGE).trim_end_matches(':');
    let tail = &core[core_trimmed.len()..];
    let placeholder = if core_trimmed.contains("://") {
        Some("[url]")
    } else if is_address(core_trimmed) {
        Some("[address]")
    } else if is_photo_path(core_trimmed) {
        Some("[photo]")
    } else {
        None
    };
    match placeholder {
        Some(p) => format!("{lead}{p}{tail}"),
        None => word.to_string(),
    }
}

fn is_address(word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    if word.parse::<IpAddr>().is_ok() {
        return true;
    }
    let bare = word.trim_start_matches('[');
    if let Some((host, port)) = bare.rsplit_once(':') {
        let host = host.trim_end_matches(']');
        let port_ok =
            !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit());
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            && host.chars().any(|c| c.is_ascii_alphanumeric());
        return port_ok && host_ok;
    }
    false
}

fn is_photo_path(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    word.contains('/')
        && [".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".heic"]
            .iter()
            .any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::public_message;

    #[test]
    fn addresses_urls_and_photo_paths_are_replaced_and_the_rest_kept() {
        for (message, public) in [
            (
                "Cannot reach the terminal at 10.0.0.5:80: connection refused; check that it is powered on",
                "Cannot reach the terminal at [address]: connection refused; check that it is powered on",
            ),
            (
                "The terminal could not download https://cdn.example.com/faces/ion.jpg (404)",
                "The terminal could not download [url] (404)",
            ),
            (
                "Photo 'angajati/ion-popescu.jpg' is not a picture",
                "Photo '[photo]' is not a picture",
            ),
            ("at door.local:8080.", "at [address]."),
            (
                "at [fd00::5]:80 and 192.168.1.20",
                "at [address] and [address]",
            ),
            (
                "The terminal did not answer within 2000 ms (offline, overloaded or hung)",
                "The terminal did not answer within 2000 ms (offline, overloaded or hung)",
            ),
            ("Step 2: face upload", "Step 2: face upload"),
        ] {
            assert_eq!(public_message(message), public, "{message}");
        }
    }
}
