//! The photo-URL rules (`_build_face_image_payload`'s URL logic in `docs/owner-plan.md`).
//!
//! A terminal downloads `faceURL` itself, so the URL must be absolute, reachable from the terminal and at
//! most 256 bytes. Relative values are Supabase Storage objects.

use serde::{Deserialize, Serialize};
use url::Url;

use hikvision_isapi::wire::MAX_FACE_URL_BYTES;

/// What to do with the scheme of a photo URL before a terminal sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaceUrlScheme {
    /// Use URLs exactly as stored.
    Keep,
    /// Upgrade `http://` to `https://` on the Supabase project's host (the default).
    #[default]
    Https,
    /// Force `http://` everywhere, for terminals that cannot download over TLS.
    Http,
}

impl std::str::FromStr for FaceUrlScheme {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keep" => Ok(Self::Keep),
            "https" => Ok(Self::Https),
            "http" => Ok(Self::Http),
            other => Err(format!(
                "'{other}' is not a face URL scheme policy; use keep, https or http"
            )),
        }
    }
}

/// Why a stored photo value cannot become a `faceURL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaceUrlError {
    /// Nothing stored.
    #[error("the photo URL is empty")]
    Empty,
    /// A relative storage path, but no Supabase URL to resolve it against.
    #[error(
        "the photo '{0}' is a storage path, but SUPABASE_URL is not set, so it cannot be turned into a URL"
    )]
    NoBaseUrl(String),
    /// Not http or https.
    #[error("the photo URL uses the scheme '{0}'; terminals can only download http or https URLs")]
    UnsupportedScheme(String),
    /// Not parseable.
    #[error("the photo URL '{value}' is not a valid URL: {reason}")]
    Invalid {
        /// The stored value (truncated).
        value: String,
        /// The parser's reason.
        reason: String,
    },
    /// Longer than a terminal accepts.
    #[error(
        "the photo URL is {len} bytes long; terminals accept at most {MAX_FACE_URL_BYTES}: store the photo under a shorter path"
    )]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

/// How stored photo values become the `faceURL` a terminal downloads.
#[derive(Debug, Clone)]
pub struct FaceUrlPolicy {
    /// The Supabase project URL (`SUPABASE_URL`), base of relative storage paths.
    pub supabase_url: Option<Url>,
    /// Storage bucket of bare relative paths (`SUPABASE_STORAGE_BUCKET`).
    pub bucket: String,
    /// Scheme policy (`FACE_URL_SCHEME`).
    pub scheme: FaceUrlScheme,
}

impl Default for FaceUrlPolicy {
    fn default() -> Self {
        Self {
            supabase_url: None,
            bucket: "photos".into(),
            scheme: FaceUrlScheme::Https,
        }
    }
}

impl FaceUrlPolicy {
    /// Turns a stored `foto_fata_url` into the absolute URL a terminal downloads.
    pub fn resolve(&self, raw: &str) -> Result<Url, FaceUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(FaceUrlError::Empty);
        }
        let mut url = match Url::parse(raw) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => self.storage_url(raw)?,
            Err(e) => return Err(invalid(raw, e)),
        };
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(FaceUrlError::UnsupportedScheme(other.to_string())),
        }
        self.apply_scheme_policy(&mut url);
        let len = url.as_str().len();
        if len > MAX_FACE_URL_BYTES {
            return Err(FaceUrlError::TooLong { len });
        }
        Ok(url)
    }

    /// `/storage/v1/...` joins the project URL; any other relative path is an object in the bucket.
    fn storage_url(&self, raw: &str) -> Result<Url, FaceUrlError> {
        let Some(base) = &self.supabase_url else {
            return Err(FaceUrlError::NoBaseUrl(truncate(raw)));
        };
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let outside = |reason: &str| FaceUrlError::Invalid {
            value: truncate(raw),
            reason: reason.into(),
        };
        // The URL parser drops tabs and newlines, so "\t.." would become ".." after our checks.
        if raw.chars().any(char::is_control) {
            return Err(outside("a storage path cannot contain control characters"));
        }
        let relative = raw.trim_start_matches('/');
        let (url, root) = if relative.starts_with("storage/v1/") {
            let url = base.join(relative).map_err(|e| invalid(raw, e))?;
            (url, format!("{}storage/v1/", base.path()))
        } else {
            let (path, query) = match relative.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (relative, None),
            };
            // The URL builder drops dot segments; a path of nothing else names the bucket itself.
            let segments: Vec<&str> = path
                .split('/')
                .filter(|s| !matches!(*s, "" | "." | ".."))
                .collect();
            if segments.is_empty() {
                return Err(outside("the storage path names no file"));
            }
            let mut url = base
                .join("storage/v1/object/public/")
                .map_err(|e| invalid(raw, e))?;
            url.path_segments_mut()
                .map_err(|()| invalid(raw, url::ParseError::RelativeUrlWithCannotBeABaseBase))?
                .pop_if_empty()
                .push(&self.bucket)
                .extend(segments);
            url.set_query(query);
            let root = format!("{}storage/v1/object/public/{}/", base.path(), self.bucket);
            (url, root)
        };
        // Whatever the parser made of dot segments ("..", ".%2e", "..\\"), the result stays under
        // the storage API (or the bucket) and names a file.
        let names_a_file = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .is_some_and(|last| !last.is_empty());
        if !url.path().starts_with(&root) || !names_a_file {
            return Err(outside(
                "a storage path must name a file under /storage/v1/, without '..' segments",
            ));
        }
        Ok(url)
    }

    fn apply_scheme_policy(&self, url: &mut Url) {
        let target = match self.scheme {
            FaceUrlScheme::Keep => return,
            FaceUrlScheme::Http => "http",
            FaceUrlScheme::Https => {
                let on_supabase_host = self
                    .supabase_url
                    .as_ref()
                    .is_some_and(|s| s.host_str().is_some() && s.host_str() == url.host_str());
                if url.scheme() != "http" || !on_supabase_host {
                    return;
                }
                "https"
            }
        };
        // Only fails for special/non-special scheme switches, which http<->https never is.
        let _ = url.set_scheme(target);
    }
}

fn invalid(raw: &str, e: url::ParseError) -> FaceUrlError {
    FaceUrlError::Invalid {
        value: truncate(raw),
        reason: e.to_string(),
    }
}

fn truncate(raw: &str) -> String {
    raw.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(scheme: FaceUrlScheme) -> FaceUrlPolicy {
        FaceUrlPolicy {
            supabase_url: Url::parse("http://abc.supabase.co").ok(),
            bucket: "photos".into(),
            scheme,
        }
    }

    fn resolve(p: &FaceUrlPolicy, raw: &str) -> String {
        match p.resolve(raw) {
            Ok(u) => u.to_string(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn absolute_url_on_another_host_is_kept() {
        let p = policy(FaceUrlScheme::Https);
        assert_eq!(
            resolve(&p, "http://10.0.0.5/img/a.jpg"),
            "http://10.0.0.5/img/a.jpg"
        );
    }

    #[test]
    fn http_on_the_supabase_host_is_upgraded_by_default() {
        let p = policy(FaceUrlScheme::Https);
        assert_eq!(
            resolve(
                &p,
                "http://abc.supabase.co/storage/v1/object/public/photos/a.jpg"
            ),
            "https://abc.supabase.co/storage/v1/object/public/photos/a.jpg"
        );
    }

    #[test]
    fn keep_policy_leaves_http_alone() {
        let p = policy(FaceUrlScheme::Keep);
        assert_eq!(
            resolve(&p, "http://abc.supabase.co/x.jpg"),
            "http://abc.supabase.co/x.jpg"
        );
    }

    #[test]
    fn http_policy_forces_http_everywhere() {
        let p = policy(FaceUrlScheme::Http);
        assert_eq!(
            resolve(&p, "https://cdn.example.com/x.jpg"),
            "http://cdn.example.com/x.jpg"
        );
    }

    #[test]
    fn storage_path_is_joined_to_the_project_url() {
        let p = policy(FaceUrlScheme::Keep);
        assert_eq!(
            resolve(&p, "/storage/v1/object/public/photos/a b.jpg"),
            "http://abc.supabase.co/storage/v1/object/public/photos/a%20b.jpg"
        );
    }

    #[test]
    fn bare_path_becomes_a_public_object_in_the_bucket() {
        let p = policy(FaceUrlScheme::Https);
        assert_eq!(
            resolve(&p, "angajati/ion popescu.jpg"),
            "https://abc.supabase.co/storage/v1/object/public/photos/angajati/ion%20popescu.jpg"
        );
    }

    #[test]
    fn bare_path_keeps_its_query_string() {
        let p = policy(FaceUrlScheme::Keep);
        assert_eq!(
            resolve(&p, "/a/b.jpg?v=3"),
            "http://abc.supabase.co/storage/v1/object/public/photos/a/b.jpg?v=3"
        );
    }

    #[test]
    fn project_url_with_a_path_prefix_is_respected() {
        let p = FaceUrlPolicy {
            supabase_url: Url::parse("http://gw.local:8000/supabase").ok(),
            ..policy(FaceUrlScheme::Keep)
        };
        assert_eq!(
            resolve(&p, "x.jpg"),
            "http://gw.local:8000/supabase/storage/v1/object/public/photos/x.jpg"
        );
    }

    #[test]
    fn path_traversal_segments_cannot_leave_the_bucket() {
        let p = policy(FaceUrlScheme::Keep);
        let url = resolve(&p, "../../auth/v1/x.jpg");
        assert!(
            url.starts_with("http://abc.supabase.co/storage/v1/object/public/photos/"),
            "{url}"
        );
    }

    #[test]
    fn storage_paths_cannot_climb_out_of_the_storage_api() {
        let p = policy(FaceUrlScheme::Keep);
        for raw in [
            "storage/v1/../../auth/v1/admin/users",
            "/storage/v1/.%2e/.%2e/x.jpg",
            "storage/v1/object/..\\..\\..\\x.jpg",
            "storage/v1/",
        ] {
            assert!(
                matches!(p.resolve(raw), Err(FaceUrlError::Invalid { .. })),
                "{raw}: {}",
                resolve(&p, raw)
            );
        }
        assert_eq!(
            resolve(&p, "storage/v1/object/public/photos/../photos/a.jpg"),
            "http://abc.supabase.co/storage/v1/object/public/photos/a.jpg"
        );
    }

    #[test]
    fn a_path_of_only_dot_segments_names_no_photo() {
        let p = policy(FaceUrlScheme::Keep);
        for raw in [
            "..",
            "/",
            "./",
            "../..",
            "?v=1",
            "/./?x",
            "../\t..",
            "a/\n../../x",
        ] {
            assert!(
                matches!(p.resolve(raw), Err(FaceUrlError::Invalid { .. })),
                "{raw}: {}",
                resolve(&p, raw)
            );
        }
    }

    #[test]
    fn relative_path_without_project_url_is_an_error() {
        let p = FaceUrlPolicy::default();
        assert_eq!(
            p.resolve("a.jpg"),
            Err(FaceUrlError::NoBaseUrl("a.jpg".into()))
        );
    }

    #[test]
    fn empty_and_blank_values_are_errors() {
        let p = policy(FaceUrlScheme::Https);
        assert_eq!(p.resolve("  "), Err(FaceUrlError::Empty));
    }

    #[test]
    fn non_http_schemes_are_rejected() {
        let p = policy(FaceUrlScheme::Https);
        assert!(matches!(
            p.resolve("ftp://x/a.jpg"),
            Err(FaceUrlError::UnsupportedScheme(s)) if s == "ftp"
        ));
        assert!(matches!(
            p.resolve("data:image/jpeg;base64,AAAA"),
            Err(FaceUrlError::UnsupportedScheme(_))
        ));
    }

    #[test]
    fn urls_over_256_bytes_are_rejected_before_sending() {
        let p = policy(FaceUrlScheme::Keep);
        let long = format!("http://h/{}", "a".repeat(250));
        assert!(matches!(p.resolve(&long), Err(FaceUrlError::TooLong { len }) if len > 256));
        let exact = format!("http://h/{}", "a".repeat(256 - "http://h/".len()));
        assert_eq!(p.resolve(&exact).map(|u| u.as_str().len()), Ok(256));
    }

    #[test]
    fn scheme_policy_parses_from_settings() {
        assert_eq!("HTTPS".parse(), Ok(FaceUrlScheme::Https));
        assert_eq!("keep".parse(), Ok(FaceUrlScheme::Keep));
        assert!("ftp".parse::<FaceUrlScheme>().is_err());
    }
}

/// Property tests (proptest) of the photo-URL builder. The test suite runs 256 cases per property;
/// the long run is `PROPTEST_CASES=100000 cargo test --release --lib fuzz_` (see the README).
#[cfg(test)]
mod fuzz;
