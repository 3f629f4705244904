//! Property tests (proptest) of the photo-URL builder. The test suite runs 256 cases per property;
//! the long run is `PROPTEST_CASES=100000 cargo test --release --lib fuzz_` (see the README).

use proptest::prelude::*;

use super::*;

fn any_policy() -> impl Strategy<Value = FaceUrlPolicy> {
    let base = proptest::option::of(prop::sample::select(
        &[
            "http://abc.supabase.co",
            "https://abc.supabase.co/",
            "http://gw.local:8000/supabase",
            "https://10.0.0.5:8443/a/b/",
            "http://127.0.0.1:54321",
        ][..],
    ));
    let bucket = prop::sample::select(&["photos", "face-photos", "b"][..]);
    let scheme = prop::sample::select(
        &[
            FaceUrlScheme::Keep,
            FaceUrlScheme::Https,
            FaceUrlScheme::Http,
        ][..],
    );
    (base, bucket, scheme).prop_map(|(base, bucket, scheme)| FaceUrlPolicy {
        supabase_url: base.and_then(|b| Url::parse(b).ok()),
        bucket: bucket.into(),
        scheme,
    })
}

/// Stored values assembled from URL pieces: schemes, hosts, dot segments (plain, encoded,
/// backslashed), storage prefixes, queries, fragments, user info, unicode and noise.
fn urlish() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "http://",
        "https://",
        "HTTP://",
        "ftp://",
        "data:",
        "javascript:",
        "file:///",
        "//",
        "/",
        "\\",
        "abc.supabase.co",
        "evil.example",
        "10.0.0.5",
        "[::1]",
        ":8000",
        ":99999",
        "@",
        "user:pass@",
        "storage/v1/",
        "storage/v1/object/public/",
        "photos/",
        "object/sign/",
        "auth/v1/",
        "..",
        "../",
        "./",
        "%2e%2e/",
        "%2E%2E%2F",
        ".%2e/",
        "..\\",
        "?",
        "?v=3",
        "#",
        "#frag",
        "&",
        "%",
        "%00",
        "%ZZ",
        " ",
        "\t",
        "\n",
        "a.jpg",
        "ion popescu.jpg",
        "ă.jpg",
        "😀",
        "\u{0}",
        "\u{202e}",
    ];
    let piece = prop_oneof![
        8 => prop::sample::select(PIECES).prop_map(String::from),
        1 => "[a-z0-9]{1,60}",
        1 => ".{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

fn any_raw() -> impl Strategy<Value = String> {
    prop_oneof![3 => urlish(), 1 => ".{0,300}", 1 => "[a-z/]{200,300}"]
}

proptest! {
    #[test]
    fn fuzz_face_url_resolve(policy in any_policy(), raw in any_raw()) {
        let Ok(url) = policy.resolve(&raw) else {
            return Ok(());
        };
        prop_assert!(matches!(url.scheme(), "http" | "https"), "{url}");
        prop_assert!(url.as_str().len() <= MAX_FACE_URL_BYTES, "{} bytes", url.as_str().len());
        // What the terminal parses is what was checked.
        let reparsed = Url::parse(url.as_str());
        prop_assert_eq!(reparsed.as_ref().ok(), Some(&url), "{} does not re-parse to itself", url);

        let trimmed = raw.trim();
        if Url::parse(trimmed) == Err(url::ParseError::RelativeUrlWithoutBase) {
            // A relative value stays on the project's host, under its storage prefix.
            let base = policy.supabase_url.as_ref().expect("resolved without a base");
            prop_assert_eq!(url.host_str(), base.host_str());
            prop_assert_eq!(url.port(), base.port());
            let root = format!("{}/storage/v1/", base.path().trim_end_matches('/'));
            let prefix = if trimmed.trim_start_matches('/').starts_with("storage/v1/") {
                root
            } else {
                format!("{root}object/public/{}/", policy.bucket)
            };
            prop_assert!(url.path().starts_with(&prefix), "{} escapes {}", url, prefix);
            let segments = url.path_segments().map(|s| s.collect::<Vec<_>>()).unwrap_or_default();
            for segment in segments {
                let lower = segment.to_ascii_lowercase();
                prop_assert!(!matches!(lower.as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."), "{url}");
            }
        } else if let Ok(parsed) = Url::parse(trimmed) {
            // An absolute value keeps its host; only the scheme may change.
            prop_assert_eq!(url.host_str(), parsed.host_str());
            prop_assert_eq!(url.path(), parsed.path());
        }
    }

    #[test]
    fn fuzz_face_url_any_unicode(policy in any_policy(), raw in any::<String>()) {
        if let Ok(url) = policy.resolve(&raw) {
            prop_assert!(matches!(url.scheme(), "http" | "https"));
            prop_assert!(url.as_str().len() <= MAX_FACE_URL_BYTES);
        }
    }
}
