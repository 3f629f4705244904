//! Downloading photos: absolute URLs as they are, Storage objects with the service key (which
//! never leaves `SUPABASE_URL`'s origin), with a timeout and a size cap.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH};
use reqwest::{StatusCode, redirect};
use secrecy::ExposeSecret;
use url::Url;

use super::error::FetchError;
use super::source::{PhotoSource, SupabaseStorage};

/// A downloaded photo.
#[derive(Clone, Debug)]
pub struct FetchedPhoto {
    /// The file's bytes.
    pub bytes: Bytes,
    /// The server's `ETag`, for revalidation.
    pub etag: Option<String>,
    /// The server's `Content-Type` (informative; the format is sniffed from the bytes).
    pub content_type: Option<String>,
    /// A URL a terminal could download the original from: the absolute URL; `None` for Storage
    /// objects (private buckets need the key, and signed URLs exceed `faceURL`'s 256 bytes).
    pub url_for_terminal: Option<Url>,
}

/// The result of a conditional download.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// 304: the copy behind the given `ETag` is still current.
    NotModified,
    /// The file (new, or changed).
    Photo(FetchedPhoto),
}

/// Downloads photos. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PhotoFetcher {
    /// For absolute URLs: follows up to 5 redirects; sends no credentials.
    public: reqwest::Client,
    /// For Storage: follows same-origin redirects only, so the key never leaves the origin.
    storage_client: reqwest::Client,
    storage: Option<SupabaseStorage>,
    timeout: Duration,
    max_bytes: usize,
}

impl PhotoFetcher {
    /// A fetcher with a per-download `timeout` and a `max_bytes` cap; `storage` enables
    /// Storage paths.
    pub fn new(
        storage: Option<SupabaseStorage>,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("hikvision-sync/", env!("CARGO_PKG_VERSION")))
        };
        let same_origin = redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(Url::origin);
            if attempt.previous().len() < 5 && first == Some(attempt.url().origin()) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        Ok(Self {
            public: builder().redirect(redirect::Policy::limited(5)).build()?,
            storage_client: builder().redirect(same_origin).build()?,
            storage,
            timeout,
            max_bytes,
        })
    }

    /// The URL a source is downloaded from (also the cache key); never contains the key.
    pub fn download_url(&self, source: &PhotoSource) -> Result<Url, FetchError> {
        match source {
            PhotoSource::Url(url) => Ok(url.clone()),
            PhotoSource::Storage { bucket, path } => self
                .storage
                .as_ref()
                .ok_or_else(|| FetchError::NoStorage {
                    photo: source.describe(),
                })?
                .object_url(bucket, path),
        }
    }

    /// Downloads the photo.
    pub async fn fetch(&self, source: &PhotoSource) -> Result<FetchedPhoto, FetchError> {
        match self.fetch_if_changed(source, None).await? {
            Fetched::Photo(photo) => Ok(photo),
            Fetched::NotModified => Err(FetchError::Status {
                photo: source.describe(),
                status: 304,
            }),
        }
    }

    /// Downloads the photo unless it still has `etag` (then `Fetched::NotModified`).
    pub async fn fetch_if_changed(
        &self,
        source: &PhotoSource,
        etag: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let photo = source.describe();
        let url = self.download_url(source)?;
        let mut request = match (source, &self.storage) {
            (PhotoSource::Storage { .. }, Some(storage)) => {
                let key = storage.key.expose_secret();
                let mut apikey =
                    HeaderValue::from_str(key).map_err(|_| FetchError::InvalidSource {
                        reason: "SUPABASE_SERVICE_KEY contains characters not allowed in a header"
                            .into(),
                    })?;
                apikey.set_sensitive(true);
                self.storage_client
                    .get(url.clone())
                    .bearer_auth(key)
                    .header("apikey", apikey)
            }
            _ => self.public.get(url.clone()),
        };
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport_error(&photo, e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(Fetched::NotModified);
        }
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .map_or_else(
                    || "an unknown address".to_owned(),
                    |u| u.origin().ascii_serialization(),
                );
            return Err(FetchError::Redirected { photo, to });
        }
        if !status.is_success() {
            let body = read_capped(&mut response, 4096).await.unwrap_or_default();
            return Err(status_error(photo, status, &body));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge {
                photo,
                limit: self.max_bytes,
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, content_type) = (header(ETAG), header(CONTENT_TYPE));
        let bytes = read_capped(&mut response, self.max_bytes)
            .await
            .map_err(|e| self.transport_error(&photo, e))?
            .ok_or(FetchError::TooLarge {
                photo,
                limit: self.max_bytes,
            })?;
        let url_for_terminal = matches!(source, PhotoSource::Url(_)).then_some(url);
        Ok(Fetched::Photo(FetchedPhoto {
            bytes,
            etag,
            content_type,
            url_for_terminal,
        }))
    }

    fn transport_error(&self, photo: &str, error: reqwest::Error) -> FetchError {
        let photo = photo.to_owned();
        if error.is_timeout() {
            return FetchError::Timeout {
                photo,
                seconds: self.timeout.as_secs().max(1),
            };
        }
        let reason = if error.is_connect() {
            "connection failed".to_owned()
        } else {
            // The chain without URLs: reqwest's own text names the URL, which may carry a token.
            let mut reason = String::new();
            let mut cause: Option<&dyn std::error::Error> = Some(&error.without_url());
            while let Some(e) = cause {
                if !reason.is_empty() {
                    reason.push_str(": ");
                }
                reason.push_str(&e.to_string());
                cause = e.source();
            }
            reason
        };
        FetchError::Unreachable { photo, reason }
    }
}

/// The body, or `Ok(None)` when it is longer than `cap`.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Option<Bytes>, reqwest::Error> {
    let expected = response.content_length().map_or(64 * 1024, |n| n as usize);
    let mut body = BytesMut::with_capacity(expected.min(cap));
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

fn status_error(photo: String, status: StatusCode, body: &Option<Bytes>) -> FetchError {
    // Storage answers a missing object with 400 and `"statusCode":"404"` / `not_found`.
    let says_not_found = body.as_ref().is_some_and(|b| {
        let text = String::from_utf8_lossy(b);
        text.contains("not_found") || text.contains("\"404\"") || text.contains("Object not found")
    });
    match status {
        StatusCode::NOT_FOUND => FetchError::NotFound { photo },
        StatusCode::BAD_REQUEST if says_not_found => FetchError::NotFound { photo },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FetchError::Forbidden {
            photo,
            status: status.as_u16(),
        },
        _ => FetchError::Status {
            photo,
            status: status.as_u16(),
        },
    }
}
