//! Face pictures: downloading `faceURL` like a terminal does, and the checks every picture
//! goes through whether it was downloaded or pushed in a multipart body.
//!
//! Reply choices (the 2020 guide documents none of them):
//! - `faceURL` longer than 256 bytes, or not an absolute `http(s)` URL -> `badParameters`
//!   (6), errorMsg `faceURL`;
//! - unreachable host, non-2xx status, timeout (connect + total, `download_timeout`) or the
//!   `face_download_fail` fault -> `urlDownloadFail` (6, HTTP 400), errorMsg `faceURL`;
//! - empty picture -> `badParameters` (6), errorMsg naming the field (`faceURL` / `img`);
//! - more than 200 KB -> `pictureSizeExceedLimit` (3, HTTP 400), before any decoding;
//! - not a JPEG (baseline or progressive) or PNG that decodes to the end -> `faceDetectFailed`
//!   (4, HTTP 400): a terminal cannot tell "not a picture" from "no face in the picture";
//! - the long side over `max_side` -> `picturePixelsTooLarge` (4), the short side under
//!   `min_side` -> `picturePixelsTooSmall` (4), both HTTP 400 (see the `decode` module).

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use hikvision_isapi::wire::{MAX_FACE_URL_BYTES, MAX_PICTURE_BYTES};

use super::decode::{Envelope, PNG_MAGIC, Size, decode};
use super::recent::Recent;
use super::reply::Failure;

/// One client for every simulated terminal in the process: building a TLS client per
/// terminal would dominate the cost of a 1,000-terminal benchmark. It keeps no idle
/// connections, so it never holds a connection bound to a finished test runtime, and it
/// ignores proxy variables, since a terminal on a LAN has no proxy settings.
fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|err| tracing::error!(%err, "simulator: cannot build the download client"))
                .ok()
        })
        .as_ref()
}

/// Checks `faceURL` before any download.
pub(crate) fn check_face_url(url: &str) -> Result<(), Failure> {
    if url.len() > MAX_FACE_URL_BYTES {
        return Err(Failure::bad_parameters("faceURL"));
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        _ => Err(Failure::bad_parameters("faceURL")),
    }
}

/// Downloads `url`, reading at most 200 KB + 1 bytes, within `timeout` overall.
pub(crate) async fn download(url: &str, timeout: Duration) -> Result<Bytes, Failure> {
    check_face_url(url)?;
    let client = client().ok_or_else(Failure::url_download_fail)?;
    match tokio::time::timeout(timeout, fetch(client, url, timeout)).await {
        Ok(result) => result,
        Err(_) => {
            tracing::debug!(url, "simulator: faceURL download timed out");
            Err(Failure::url_download_fail())
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<Bytes, Failure> {
    let fail = |what: &str| {
        tracing::debug!(url, what, "simulator: faceURL download failed");
        Failure::url_download_fail()
    };
    let mut response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|_| fail("request"))?;
    if !response.status().is_success() {
        return Err(fail("status"));
    }
    let limit = MAX_PICTURE_BYTES + 1;
    let mut picture = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| fail("body"))? {
        let room = limit - picture.len();
        picture.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if picture.len() >= limit {
            break;
        }
    }
    Ok(picture.freeze())
}

/// The cheap checks every picture goes through first: not empty, at most 200 KB.
fn check_size(bytes: &[u8], field: &str) -> Result<(), Failure> {
    if bytes.is_empty() {
        return Err(Failure::bad_parameters(field));
    }
    if bytes.len() > MAX_PICTURE_BYTES {
        return Err(Failure::picture_too_large(field));
    }
    Ok(())
}

/// Every check a picture goes through, `field` naming where it came from: its size, then a
/// full decode within `envelope` on the blocking pool (a decoder panic counts as a picture
/// that does not decode). Returns the picture's dimensions.
pub(crate) async fn check_picture(
    bytes: Bytes,
    field: &'static str,
    envelope: Envelope,
) -> Result<Size, Failure> {
    check_size(&bytes, field)?;
    // The same picture sent to many terminals is decoded once per process (see `recent`).
    static DECODED: Recent<(Bytes, &str, Envelope), Result<Size, Failure>> = Recent::new();
    let key = (bytes, field, envelope);
    if let Some(answer) = DECODED.get(&key) {
        return answer;
    }
    let bytes = key.0.clone();
    let answer = tokio::task::spawn_blocking(move || decode(&bytes, field, envelope))
        .await
        .unwrap_or_else(|_| Err(Failure::face_detect_failed(field)));
    DECODED.put(key, answer.clone());
    answer
}

/// The content type to serve stored picture bytes with.
pub(crate) fn content_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(PNG_MAGIC) {
        "image/png"
    } else {
        "image/jpeg"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_checks_come_first() {
        assert_eq!(check_size(b"", "img"), Err(Failure::bad_parameters("img")));
        assert!(check_size(b"GIF89a", "img").is_ok());
        let big = vec![0u8; MAX_PICTURE_BYTES + 1];
        assert_eq!(
            check_size(&big, "img"),
            Err(Failure::picture_too_large("img"))
        );
    }

    #[test]
    fn long_or_odd_face_urls_are_bad_parameters() {
        let long = format!("http://example.com/{}", "a".repeat(MAX_FACE_URL_BYTES));
        assert_eq!(
            check_face_url(&long),
            Err(Failure::bad_parameters("faceURL"))
        );
        assert_eq!(
            check_face_url("ftp://example.com/a.jpg"),
            Err(Failure::bad_parameters("faceURL"))
        );
        assert!(check_face_url("http://127.0.0.1:1/a.jpg").is_ok());
    }
}
