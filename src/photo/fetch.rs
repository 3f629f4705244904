//! Downloading photos: absolute URLs as they are, Storage objects with the service key (which
//! never leaves `SUPABASE_URL`'s origin), with a timeout and a size cap, from where the
//! [`super::allow`] rules let the service connect.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH};
use secrecy::ExposeSecret;
use url::Url;

use super::allow::{
    AllowList, GuardedResolver, NotAllowed, literal_address, refused_address, same_origin_redirects,
};
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

/// How a download goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// A Storage object: `SUPABASE_URL`'s origin, with the service key.
    Storage,
    /// An absolute URL on `SUPABASE_URL`'s origin, without the key.
    Supabase,
    /// An absolute URL on an origin of `PHOTO_ALLOWED_ORIGINS`: guarded addresses.
    Listed,
}

/// Downloads photos. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PhotoFetcher {
    /// For `SUPABASE_URL`'s origin (Storage and absolute URLs): whatever address it resolves to.
    supabase_client: reqwest::Client,
    /// For listed origins: connects only to addresses the allow-list permits, never through a
    /// proxy (which would connect for us, unchecked).
    listed_client: reqwest::Client,
    storage: Option<SupabaseStorage>,
    allow: Arc<AllowList>,
    timeout: Duration,
    max_bytes: usize,
}

impl PhotoFetcher {
    /// A fetcher with a per-download `timeout` and a `max_bytes` cap; `storage` enables
    /// Storage paths and is the Supabase origin; `allow` lists what else may be fetched.
    /// Both clients follow redirects only within the origin they start from.
    pub fn new(
        storage: Option<SupabaseStorage>,
        allow: AllowList,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let allow = Arc::new(allow);
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("hikvision-sync/", env!("CARGO_PKG_VERSION")))
                .redirect(same_origin_redirects())
        };
        Ok(Self {
            supabase_client: builder().build()?,
            listed_client: builder()
                .no_proxy()
                .dns_resolver(GuardedResolver::new(Arc::clone(&allow)))
                .build()?,
            storage,
            allow,
            timeout,
            max_bytes,
        })
    }

    /// The URL a source is downloaded from (also the cache key; never contains the key), once
    /// the allow-list permits it: `FetchError::NotAllowed` before any connection otherwise.
    pub fn download_url(&self, source: &PhotoSource) -> Result<Url, FetchError> {
        self.route(source).map(|(url, _)| url)
    }

    fn route(&self, source: &PhotoSource) -> Result<(Url, Route), FetchError> {
        let refuse = |why| FetchError::NotAllowed {
            photo: source.describe(),
            why,
        };
        match source {
            PhotoSource::Storage { bucket, path } => {
                let storage = self.storage.as_ref().ok_or_else(|| FetchError::NoStorage {
                    photo: source.describe(),
                })?;
                if *bucket != storage.bucket && !self.allow.buckets.contains(bucket) {
                    return Err(refuse(NotAllowed::Bucket {
                        bucket: bucket.clone(),
                    }));
                }
                Ok((storage.object_url(bucket, path)?, Route::Storage))
            }
            PhotoSource::Url(url) => {
                let origin = url.origin();
                if self
                    .storage
                    .as_ref()
                    .is_some_and(|s| s.base.origin() == origin)
                {
                    return Ok((url.clone(), Route::Supabase));
                }
                if !self.allow.lists_origin(&origin) {
                    return Err(refuse(NotAllowed::Origin {
                        origin: origin.ascii_serialization(),
                    }));
                }
                // Address literals are not resolved, so the resolver cannot see them: checked here.
                if literal_address(url).is_some_and(|ip| !self.allow.permits(ip)) {
                    return Err(refuse(NotAllowed::InternalAddress));
                }
                Ok((url.clone(), Route::Listed))
            }
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
        let (url, route) = self.route(source)?;
        let mut request = match (route, &self.storage) {
            (Route::Storage, Some(storage)) => {
                let key = storage.key.expose_secret();
                let mut apikey =
                    HeaderValue::from_str(key).map_err(|_| FetchError::InvalidSource {
                        reason:
                            "SUPABASE_SERVICE_ROLE_KEY contains characters not allowed in a header"
                                .into(),
                    })?;
                apikey.set_sensitive(true);
                self.supabase_client
                    .get(url.clone())
                    .bearer_auth(key)
                    .header("apikey", apikey)
            }
            (Route::Listed, _) => self.listed_client.get(url.clone()),
            _ => self.supabase_client.get(url.clone()),
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
            // Where it pointed stays out of the message: it may be an internal address.
            return Err(FetchError::Redirected {
                photo,
                status: status.as_u16(),
            });
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
        if refused_address(&error) {
            return FetchError::NotAllowed {
                photo,
                why: NotAllowed::InternalAddress,
            };
        }
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
