//! The allow-list over real sockets: what is refused never reaches the server it names (each
//! counts the requests it gets), what is listed is fetched, and no message names an internal
//! address. `tests/api/outbound.rs` shows the same through the whole service.

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use url::Url;

use super::tests_cache::{KEY, listed, photo, service_allowing, start};
use super::{AllowList, FetchError, NotAllowed, PhotoError, PhotoSource};

/// A web server that answers every request with `302 Location: to`.
async fn redirector(to: Url) -> Url {
    let app = Router::new().fallback(move || {
        let to = to.to_string();
        async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn refusal(error: &PhotoError) -> Option<&NotAllowed> {
    match error {
        PhotoError::Fetch(FetchError::NotAllowed { why, .. }) => Some(why),
        _ => None,
    }
}

#[tokio::test]
async fn a_url_on_another_port_of_the_project_host_is_not_fetched() {
    let (_project, base) = start().await;
    let (other, other_base) = start().await;
    other.put("a.jpg", photo(640, 480, 4));
    let pictures = service_allowing(&base, Duration::from_secs(60), AllowList::default());
    let url = other_base.join("photos/a.jpg").unwrap();
    let error = pictures.prepare(&PhotoSource::Url(url)).await.unwrap_err();
    assert_eq!(
        refusal(&error),
        Some(&NotAllowed::Origin {
            origin: other_base.origin().ascii_serialization()
        }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("PHOTO_ALLOWED_ORIGINS"),
        "{error}"
    );
    assert_eq!(other.count(), 0);
}

#[tokio::test]
async fn a_listed_origin_on_an_internal_address_needs_its_network_listed() {
    let (_project, base) = start().await;
    let (inside, inside_base) = start().await;
    inside.put("a.jpg", photo(640, 480, 4));
    let literal = inside_base.join("photos/a.jpg").unwrap();
    let mut by_name = literal.clone();
    by_name.set_host(Some("localhost")).unwrap();
    let allow = AllowList {
        origins: vec![literal.origin(), by_name.origin()],
        nets: vec!["10.0.0.0/8".parse().unwrap()],
        ..AllowList::default()
    };
    let pictures = service_allowing(&base, Duration::from_secs(60), allow);
    for (url, resolved) in [(literal, false), (by_name, true)] {
        let error = pictures.prepare(&PhotoSource::Url(url)).await.unwrap_err();
        assert_eq!(
            refusal(&error),
            Some(&NotAllowed::InternalAddress),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("PHOTO_ALLOWED_NETS"), "{text}");
        if resolved {
            assert!(
                !text.contains("127.0.0.1") && !text.contains("::1"),
                "what the name resolved to is not told: {text}"
            );
        }
    }
    assert_eq!(inside.count(), 0);
}

#[tokio::test]
async fn a_redirect_to_another_listener_is_not_followed() {
    let (_project, base) = start().await;
    let (inside, inside_base) = start().await;
    inside.put("a.jpg", photo(640, 480, 4));
    let target = inside_base.join("photos/a.jpg").unwrap();
    let hop = redirector(target).await;
    // Both origins listed and loopback allowed: only the redirect rule stands in the way.
    let pictures = service_allowing(
        &base,
        Duration::from_secs(60),
        listed(&[&hop, &inside_base]),
    );
    let error = pictures
        .prepare(&PhotoSource::Url(hop.join("a.jpg").unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            PhotoError::Fetch(FetchError::Redirected { status: 302, .. })
        ),
        "{error:?}"
    );
    let port = inside_base.port().unwrap().to_string();
    assert!(
        !error.to_string().contains(&port),
        "where it pointed is not told: {error}"
    );
    assert_eq!(inside.count(), 0);
}

#[tokio::test]
async fn a_listed_origin_on_an_allowed_network_is_fetched() {
    let (project, base) = start().await;
    let (cdn, cdn_base) = start().await;
    cdn.put("ana.jpg", photo(640, 480, 4));
    let mut by_name = cdn_base.join("photos/ana.jpg").unwrap();
    by_name.set_host(Some("localhost")).unwrap();
    let mut allow = listed(&[&cdn_base, &by_name]);
    allow.nets.push("::1/128".parse().unwrap());
    let pictures = service_allowing(&base, Duration::from_secs(60), allow);
    for url in [cdn_base.join("photos/ana.jpg").unwrap(), by_name] {
        let prepared = pictures.prepare(&PhotoSource::Url(url)).await.unwrap();
        assert_eq!(
            (prepared.picture.width, prepared.picture.height),
            (640, 480)
        );
    }
    assert_eq!(
        (cdn.count(), project.count()),
        (2, 0),
        "by address, and by a name resolved to an allowed address"
    );
}

#[tokio::test]
async fn storage_buckets_are_the_configured_one_and_the_listed_ones() {
    let (project, base) = start().await;
    project.put("storage:hr/ana.jpg", photo(640, 480, 4));
    let source = PhotoSource::Storage {
        bucket: "hr".into(),
        path: "ana.jpg".into(),
    };
    let closed = service_allowing(&base, Duration::from_secs(60), AllowList::default());
    let error = closed.prepare(&source).await.unwrap_err();
    assert_eq!(
        refusal(&error),
        Some(&NotAllowed::Bucket {
            bucket: "hr".into()
        })
    );
    assert!(error.to_string().contains("PHOTO_ALLOWED_BUCKETS"));
    assert!(!error.to_string().contains(KEY));
    assert_eq!(project.count(), 0, "no request, so no key sent");

    let open = service_allowing(
        &base,
        Duration::from_secs(60),
        AllowList {
            buckets: vec!["hr".into()],
            ..AllowList::default()
        },
    );
    open.prepare(&source).await.unwrap();
    assert_eq!(project.count(), 1);
}
