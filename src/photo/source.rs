//! Where a photo comes from: an absolute URL, or an object in Supabase Storage.

use secrecy::SecretString;
use url::Url;

use super::error::FetchError;

/// Supabase Storage access with the service key (private and public buckets alike).
#[derive(Clone, Debug)]
pub struct SupabaseStorage {
    /// `SUPABASE_URL`: the only origin the key is ever sent to.
    pub base: Url,
    /// The service key, sent as `Authorization: Bearer` and `apikey`.
    pub key: SecretString,
    /// The bucket used for bare paths such as `folder/file.jpg`.
    pub bucket: String,
}

impl SupabaseStorage {
    /// `{base}/storage/v1/object/authenticated/{bucket}/{path}`, built segment by segment.
    pub(crate) fn object_url(&self, bucket: &str, path: &str) -> Result<Url, FetchError> {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        let invalid = |reason: &str| FetchError::InvalidSource {
            reason: reason.to_owned(),
        };
        if bucket.is_empty() || bucket.contains('/') || matches!(bucket, "." | "..") {
            return Err(invalid("the storage bucket name is empty or contains '/'"));
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || matches!(*s, "." | ".."))
        {
            return Err(invalid("the storage path has an empty, '.' or '..' part"));
        }
        url.path_segments_mut()
            .map_err(|()| invalid("SUPABASE_URL cannot carry a path"))?
            .pop_if_empty()
            .extend(["storage", "v1", "object", "authenticated", bucket])
            .extend(segments);
        Ok(url)
    }
}

/// Where to download an employee's photo from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PhotoSource {
    /// An absolute `http(s)` URL, downloaded as it is (no key is sent).
    Url(Url),
    /// An object in Supabase Storage, downloaded with the service key.
    Storage {
        /// Bucket name.
        bucket: String,
        /// Object path inside the bucket (`folder/file.jpg`).
        path: String,
    },
}

impl PhotoSource {
    /// Reads a photo value as stored by the app: an absolute `http(s)` URL; a
    /// `/storage/v1/object/{public|authenticated|sign}/{bucket}/{path}` path (any query, such as
    /// a signed URL's token, is dropped: the key is used instead); or a bare path inside
    /// `default_bucket`. Paths are taken literally (not percent-decoded).
    pub fn parse(value: &str, default_bucket: &str) -> Result<Self, FetchError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FetchError::InvalidSource {
                reason: "the photo value is empty".into(),
            });
        }
        if let Ok(url) = Url::parse(value) {
            return match url.scheme() {
                "http" | "https" => Ok(Self::Url(url)),
                other => Err(FetchError::InvalidSource {
                    reason: format!("the photo URL uses '{other}:', not http or https"),
                }),
            };
        }
        let path = value.trim_start_matches('/');
        if let Some(rest) = path.strip_prefix("storage/v1/object/") {
            let rest = rest
                .strip_prefix("public/")
                .or_else(|| rest.strip_prefix("authenticated/"))
                .or_else(|| rest.strip_prefix("sign/"))
                .unwrap_or(rest);
            let rest = rest.split(['?', '#']).next().unwrap_or_default();
            return match rest.split_once('/') {
                Some((bucket, path)) if !bucket.is_empty() && !path.is_empty() => {
                    Ok(Self::Storage {
                        bucket: bucket.to_owned(),
                        path: path.to_owned(),
                    })
                }
                _ => Err(FetchError::InvalidSource {
                    reason: "the storage path names no bucket and object".into(),
                }),
            };
        }
        Ok(Self::Storage {
            bucket: default_bucket.to_owned(),
            path: path.to_owned(),
        })
    }

    /// How the photo is named in messages: a URL without its query (which may hold a token),
    /// or `bucket/path`.
    pub fn describe(&self) -> String {
        match self {
            Self::Url(url) => describe_url(url),
            Self::Storage { bucket, path } => format!("storage object {bucket}/{path}"),
        }
    }
}

/// A URL for messages: scheme, host, port and path only.
pub(crate) fn describe_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Only fails for URLs that cannot have credentials, which then have none to hide.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}
