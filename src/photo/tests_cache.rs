//! The service against a tiny HTTP server: one download per fan-out, ETag revalidation, a
//! changed file, Storage with the key, and a redirect that must not receive the key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use secrecy::SecretString;
use url::Url;

use super::synth;
use super::{
    AllowList, FetchError, PhotoError, PhotoService, PhotoSource, PhotoStats, PipelineSettings,
    SupabaseStorage,
};

pub(super) const KEY: &str = "service-key-do-not-leak";

/// One request as the server saw it: name, `Authorization`, `apikey`, `If-None-Match`.
type Seen = (String, Option<String>, Option<String>, Option<String>);

#[derive(Default)]
pub(super) struct Server {
    files: Mutex<HashMap<String, (Bytes, u32)>>,
    requests: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    redirect_to: Mutex<Option<String>>,
    delay: Mutex<Duration>,
}

impl Server {
    pub(super) fn put(&self, name: &str, bytes: Vec<u8>) {
        let mut files = self.files.lock().unwrap();
        let version = files.get(name).map_or(1, |(_, v)| v + 1);
        files.insert(name.to_owned(), (Bytes::from(bytes), version));
    }

    pub(super) fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(server: Arc<Server>, name: String, headers: HeaderMap) -> Response {
    server.requests.fetch_add(1, Ordering::SeqCst);
    let text = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    server.seen.lock().unwrap().push((
        name.clone(),
        text("authorization"),
        text("apikey"),
        text("if-none-match"),
    ));
    let delay = *server.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let Some((bytes, version)) = server.files.lock().unwrap().get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"v{version}\"");
    if text("if-none-match").as_deref() == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

async fn public(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(server, name, headers).await
}

async fn storage(
    State(server): State<Arc<Server>>,
    Path((bucket, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(to) = server.redirect_to.lock().unwrap().clone() {
        server.requests.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    let authorized = headers
        .get("authorization")
        .is_some_and(|v| v == format!("Bearer {KEY}").as_str())
        && headers.get("apikey").is_some_and(|v| v == KEY);
    if !authorized {
        server.requests.fetch_add(1, Ordering::SeqCst);
        return StatusCode::FORBIDDEN.into_response();
    }
    serve(server, format!("storage:{bucket}/{path}"), headers).await
}

pub(super) async fn start() -> (Arc<Server>, Url) {
    let server = Arc::new(Server::default());
    let app = Router::new()
        .route("/photos/{*name}", get(public))
        .route(
            "/storage/v1/object/authenticated/{bucket}/{*path}",
            get(storage),
        )
        .with_state(Arc::clone(&server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (server, base)
}

fn service(base: &Url, ttl: Duration) -> PhotoService {
    service_allowing(base, ttl, AllowList::default())
}

/// The service with `base` as the Supabase project (bucket `faces`) and `allow`.
pub(super) fn service_allowing(base: &Url, ttl: Duration, allow: AllowList) -> PhotoService {
    let settings = PipelineSettings {
        ttl,
        allow,
        ..PipelineSettings::default()
    };
    let storage = SupabaseStorage {
        base: base.clone(),
        key: SecretString::from(KEY),
        bucket: "faces".into(),
    };
    PhotoService::new(settings, Some(storage)).unwrap()
}

/// An allow-list of `bases`' origins, reachable on loopback (where the test servers listen).
pub(super) fn listed(bases: &[&Url]) -> AllowList {
    AllowList {
        origins: bases.iter().map(|b| b.origin()).collect(),
        nets: vec!["127.0.0.0/8".parse().unwrap()],
        ..AllowList::default()
    }
}

pub(super) fn photo(width: u32, height: u32, noise: i32) -> Vec<u8> {
    let (rgb, w, h) = synth::stored_rgb(width, height, 1, noise);
    synth::jpeg(&rgb, w, h, 85, None, false).unwrap()
}

#[tokio::test]
async fn twenty_concurrent_requests_make_one_download_and_one_encode() {
    let (server, base) = start().await;
    server.put("ana.jpg", photo(1600, 1200, 8));
    *server.delay.lock().unwrap() = Duration::from_millis(150);
    let pictures = service(&base, Duration::from_secs(60));
    let source = PhotoSource::Url(base.join("photos/ana.jpg").unwrap());

    let results = futures::future::join_all((0..20).map(|_| pictures.prepare(&source))).await;
    let first = results[0].as_ref().unwrap();
    assert!(
        results
            .iter()
            .all(|r| Arc::ptr_eq(r.as_ref().unwrap(), first))
    );
    assert_eq!(server.count(), 1);
    assert_eq!((first.picture.width, first.picture.height), (960, 720));
    assert_eq!(first.deliver_by_url(), None, "too large to go as it is");

    // A retry within the TTL needs no network at all.
    pictures.prepare(&source).await.unwrap();
    assert_eq!(server.count(), 1);
    assert_eq!(
        pictures.stats(),
        PhotoStats {
            downloads: 1,
            not_modified: 0,
            encodes: 1,
            hits: 1
        }
    );
}

#[tokio::test]
async fn an_invalid_photo_is_downloaded_once_per_fan_out_too() {
    let (server, base) = start().await;
    server.put("cv.pdf", b"%PDF-1.7 not a face".to_vec());
    *server.delay.lock().unwrap() = Duration::from_millis(100);
    let pictures = service(&base, Duration::from_secs(60));
    let source = PhotoSource::Url(base.join("photos/cv.pdf").unwrap());
    let results = futures::future::join_all((0..20).map(|_| pictures.prepare(&source))).await;
    for result in results {
        let error = result.unwrap_err();
        assert_eq!(
            error,
            PhotoError::NotAnImage {
                detected: Some("PDF")
            }
        );
        assert!(error.is_invalid_photo());
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn after_the_ttl_a_304_keeps_the_picture_and_a_change_is_seen() {
    let (server, base) = start().await;
    server.put("ana.jpg", photo(1200, 900, 8));
    let portrait = photo(900, 1200, 8);
    let pictures = service(&base, Duration::from_millis(500));
    let source = PhotoSource::Url(base.join("photos/ana.jpg").unwrap());
    let first = pictures.prepare(&source).await.unwrap();

    tokio::time::sleep(Duration::from_millis(600)).await;
    let revalidated = pictures.prepare(&source).await.unwrap();
    assert!(
        Arc::ptr_eq(&first.picture, &revalidated.picture),
        "no new encode after a 304"
    );
    assert_eq!(server.seen.lock().unwrap()[1].3.as_deref(), Some("\"v1\""));
    assert_eq!(
        pictures.stats(),
        PhotoStats {
            downloads: 1,
            not_modified: 1,
            encodes: 1,
            hits: 0
        }
    );

    server.put("ana.jpg", portrait);
    pictures.prepare(&source).await.unwrap();
    assert_eq!(server.count(), 2, "still fresh after the 304");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let changed = pictures.prepare(&source).await.unwrap();
    assert_ne!(changed.picture.source_sha256, first.picture.source_sha256);
    assert_eq!((changed.picture.width, changed.picture.height), (720, 960));
    assert_eq!(changed.etag.as_deref(), Some("\"v2\""));
    assert_eq!(pictures.stats().encodes, 2);
}

#[tokio::test]
async fn a_server_down_at_revalidation_time_does_not_stop_the_fan_out() {
    let (server, base) = start().await;
    server.put("ana.jpg", photo(640, 480, 4));
    let settings = PipelineSettings {
        ttl: Duration::from_millis(300),
        fetch_timeout: Duration::from_millis(500),
        allow: listed(&[&base]),
        ..PipelineSettings::default()
    };
    let pictures = PhotoService::new(settings, None).unwrap();
    let source = PhotoSource::Url(base.join("photos/ana.jpg").unwrap());
    let first = pictures.prepare(&source).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    *server.delay.lock().unwrap() = Duration::from_secs(3);
    let stale = pictures.prepare(&source).await.unwrap();
    assert!(Arc::ptr_eq(&first, &stale), "the last good copy is used");
    let again = pictures.prepare(&source).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(
        server.count(),
        3,
        "each request after the TTL asks the server again"
    );

    let missing = PhotoSource::Url(base.join("photos/none.jpg").unwrap());
    *server.delay.lock().unwrap() = Duration::ZERO;
    assert!(
        pictures.prepare(&missing).await.is_err(),
        "nothing cached: the error stands"
    );
}

#[tokio::test]
async fn two_urls_with_the_same_bytes_are_encoded_once() {
    let (server, base) = start().await;
    let bytes = photo(640, 480, 4);
    server.put("a.jpg", bytes.clone());
    server.put("b.jpg", bytes);
    let pictures = service(&base, Duration::from_secs(60));
    let a = pictures
        .prepare(&PhotoSource::Url(base.join("photos/a.jpg").unwrap()))
        .await
        .unwrap();
    let b = pictures
        .prepare(&PhotoSource::Url(base.join("photos/b.jpg").unwrap()))
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&a.picture, &b.picture));
    assert_eq!(pictures.stats().encodes, 1);
    assert_eq!(
        a.deliver_by_url(),
        a.url_for_terminal.as_ref(),
        "a small plain JPEG goes by URL"
    );
}

#[tokio::test]
async fn storage_objects_are_fetched_with_the_key_from_the_authenticated_endpoint() {
    let (server, base) = start().await;
    server.put("storage:faces/team/ana maria.jpg", photo(640, 480, 4));
    let pictures = service(&base, Duration::from_secs(60));
    let source = PhotoSource::parse("team/ana maria.jpg", "faces").unwrap();
    let prepared = pictures.prepare(&source).await.unwrap();
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(seen[0].2.as_deref(), Some(KEY));
    assert_eq!(
        prepared.url_for_terminal, None,
        "a storage object never goes by URL"
    );
    assert_eq!(prepared.deliver_by_url(), None);

    let missing = PhotoSource::parse("/storage/v1/object/public/faces/nobody.jpg", "x").unwrap();
    assert_eq!(
        missing,
        PhotoSource::Storage {
            bucket: "faces".into(),
            path: "nobody.jpg".into()
        }
    );
    let signed = "/storage/v1/object/sign/faces/nobody.jpg?token=abc";
    assert_eq!(PhotoSource::parse(signed, "x").unwrap(), missing);
    let error = pictures.prepare(&missing).await.unwrap_err();
    assert!(
        matches!(error, PhotoError::Fetch(FetchError::NotFound { .. })),
        "{error:?}"
    );
    assert!(!error.is_invalid_photo());
}

#[tokio::test]
async fn a_redirect_to_another_origin_does_not_receive_the_key() {
    let (other, other_base) = start().await;
    other.put("ana.jpg", photo(640, 480, 4));
    let (storage, base) = start().await;
    *storage.redirect_to.lock().unwrap() =
        Some(other_base.join("photos/ana.jpg").unwrap().to_string());
    let pictures = service(&base, Duration::from_secs(60));
    let error = pictures
        .prepare(&PhotoSource::parse("ana.jpg", "faces").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, PhotoError::Fetch(FetchError::Redirected { .. })),
        "{error:?}"
    );
    assert!(!error.to_string().contains(KEY));
    assert_eq!(storage.count(), 1);
    assert_eq!(
        other.count(),
        0,
        "the other origin got no request, so no key"
    );
}

#[tokio::test]
async fn download_failures_say_what_happened() {
    let (server, base) = start().await;
    server.put("big.jpg", vec![0xFF; 3 << 20]);
    server.put("slow.jpg", photo(640, 480, 4));
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = Url::parse(&format!("http://{}/a.jpg", closed.local_addr().unwrap())).unwrap();
    drop(closed);
    let settings = PipelineSettings {
        allow: listed(&[&base, &closed_url]),
        fetch_timeout: Duration::from_millis(300),
        limits: super::PhotoLimits {
            max_source_bytes: 1 << 20,
            ..super::PhotoLimits::default()
        },
        ..PipelineSettings::default()
    };
    let pictures = PhotoService::new(settings, None).unwrap();
    let url = |name: &str| PhotoSource::Url(base.join(name).unwrap());

    let error = pictures.prepare(&url("photos/big.jpg")).await.unwrap_err();
    assert!(
        matches!(
            error,
            PhotoError::Fetch(FetchError::TooLarge {
                limit: 1_048_576,
                ..
            })
        ),
        "{error:?}"
    );
    let error = pictures
        .prepare(&url("photos/none.jpg?token=secret"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, PhotoError::Fetch(FetchError::NotFound { .. })),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("secret"),
        "query strings stay out of messages: {error}"
    );
    let error = pictures
        .prepare(&PhotoSource::parse("faces/ana.jpg", "faces").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, PhotoError::Fetch(FetchError::NoStorage { .. })),
        "{error:?}"
    );

    *server.delay.lock().unwrap() = Duration::from_secs(2);
    let error = pictures.prepare(&url("photos/slow.jpg")).await.unwrap_err();
    assert!(
        matches!(error, PhotoError::Fetch(FetchError::Timeout { .. })),
        "{error:?}"
    );

    let error = pictures
        .prepare(&PhotoSource::Url(closed_url))
        .await
        .unwrap_err();
    assert!(
        matches!(error, PhotoError::Fetch(FetchError::Unreachable { .. })),
        "{error:?}"
    );
}
