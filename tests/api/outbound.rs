//! Where the service connects, seen from the listeners: photos only from the Supabase origin and
//! the `PHOTO_ALLOWED_*` settings (a listener outside them counts no connection, whether named
//! directly, by a host name resolving to loopback, or by a redirect); the terminal and PostgREST
//! clients follow no redirect; the debugging endpoint is for administrators, with the credentials
//! it is given and without enrolling anyone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use hikvision_isapi::{ClientOptions, IsapiClient, IsapiError, Terminal};
use hikvision_simulator::{Faults, SimulatedTerminal};
use hikvision_sync::config::{DeviceDefaults, SupabaseSettings, Tables};
use hikvision_sync::photo::AllowList;
use hikvision_sync::supabase::{Directory, DirectoryError, PostgrestDirectory};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

/// A TCP listener that counts the connections it accepts and answers none.
struct Counter {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Counter {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { addr, accepted }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}/{path}", self.addr)).unwrap()
    }

    /// The connections accepted so far, after a moment for any still on their way.
    async fn connections(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A loopback web server: `/photo.jpg` is a real JPEG, every other path redirects to `to`.
async fn redirecting_server(to: Url) -> Url {
    let app = Router::new()
        .route("/photo.jpg", get(|| async { jpeg(9) }))
        .fallback(move || {
            let to = to.to_string();
            async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// The service allowing `allow`, with one terminal that cannot download photo URLs itself (so
/// only the service could have connected to a listener).
async fn closed_lan_fixture(allow: AllowList) -> (Fixture, SimulatedTerminal) {
    let f = Fixture::on(Store::memory(), |s| s.photo.pipeline.allow = allow).await;
    let t = terminal(Faults {
        closed_lan: true,
        ..Faults::default()
    })
    .await;
    f.only_device("t", &t).await;
    (f, t)
}

/// Updates a new employee, enrolled on `t`, whose photo is `url`: the terminal's result.
async fn update_photo(f: &Fixture, t: &SimulatedTerminal, url: &str) -> Value {
    let no = unique_employee_no();
    enrol(t, &no, Some(jpeg(1)));
    let id = f.store.insert_angajat(Some(&no), Some(url)).await;
    update(&f.app, id).await["per_device"][0].clone()
}

fn message(result: &Value) -> &str {
    result["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn photos_outside_the_allow_list_reach_no_listener() {
    let counter = Counter::start().await;
    let mut by_name = counter.url("by-name.jpg");
    by_name.set_host(Some("localhost")).unwrap();
    // The name's origin is listed, but not loopback: it resolves to loopback only.
    let (f, t) = closed_lan_fixture(AllowList {
        origins: vec![by_name.origin()],
        ..AllowList::default()
    })
    .await;

    let other_port = update_photo(&f, &t, counter.url("a.jpg").as_str()).await;
    assert!(
        message(&other_port).contains("PHOTO_ALLOWED_ORIGINS"),
        "{other_port}"
    );
    assert_eq!(other_port["delivery"], "url", "sent as faceURL instead");

    let resolved = update_photo(&f, &t, by_name.as_str()).await;
    assert!(
        message(&resolved).contains("PHOTO_ALLOWED_NETS"),
        "{resolved}"
    );
    assert!(
        !message(&resolved).contains(&format!("127.0.0.1:{}", counter.addr.port())),
        "what the name resolved to is not told: {resolved}"
    );

    let calls_before = t.request_log().len();
    let long = counter.url(&format!("{}.jpg", "a".repeat(260)));
    let too_long = update_photo(&f, &t, long.as_str()).await;
    assert_eq!(too_long["status"], "skipped", "{too_long}");
    assert_eq!(too_long["error_code"], "invalid_photo", "{too_long}");
    assert!(
        message(&too_long).contains("PHOTO_ALLOWED_ORIGINS"),
        "{too_long}"
    );
    assert_eq!(t.request_log().len(), calls_before, "no terminal call");

    assert_eq!(counter.connections().await, 0);
}

#[tokio::test]
async fn a_listed_origin_is_fetched_and_its_redirects_elsewhere_are_not() {
    let counter = Counter::start().await;
    let cdn = redirecting_server(counter.url("inside.jpg")).await;
    let (f, t) = closed_lan_fixture(AllowList {
        origins: vec![cdn.origin()],
        nets: vec!["127.0.0.0/8".parse().unwrap()],
        ..AllowList::default()
    })
    .await;

    let redirected = update_photo(&f, &t, cdn.join("moved.jpg").unwrap().as_str()).await;
    assert_ne!(redirected["status"], "success", "{redirected}");
    assert!(message(&redirected).contains("HTTP 302"), "{redirected}");
    assert_eq!(counter.connections().await, 0);

    let allowed = update_photo(&f, &t, cdn.join("photo.jpg").unwrap().as_str()).await;
    assert_eq!(allowed["status"], "success", "{allowed}");
    assert_eq!(
        allowed["delivery"], "push",
        "fetched by the service, pushed to the closed LAN"
    );
}

#[tokio::test]
async fn the_terminal_client_follows_no_redirect() {
    let counter = Counter::start().await;
    let hop = redirecting_server(counter.url("ISAPI/System/deviceInfo")).await;
    let client =
        IsapiClient::new(ClientOptions::with_total_timeout(Duration::from_secs(3))).unwrap();
    let t = Terminal::new(
        "127.0.0.1",
        hop.port().unwrap(),
        "admin",
        SecretString::from(PASSWORD.to_string()),
    )
    .unwrap();
    let error = client.device_info(&t).await.unwrap_err();
    assert!(
        matches!(
            error,
            IsapiError::UnexpectedReply {
                http_status: 302,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains(&counter.addr.port().to_string()),
        "{error}"
    );
    assert_eq!(counter.connections().await, 0);
}

#[tokio::test]
async fn the_postgrest_client_follows_no_redirect() {
    let counter = Counter::start().await;
    let hop = redirecting_server(counter.url("rest/v1/hikvision_devices")).await;
    let project = SupabaseSettings {
        url: None,
        rest_url: hop,
        service_key: SecretString::from("eyJ-service-key-never-forwarded".to_string()),
    };
    let defaults = DeviceDefaults {
        username: "admin".into(),
        password: None,
    };
    let directory = PostgrestDirectory::new(
        &project,
        Tables::default(),
        defaults,
        Duration::from_secs(3),
    )
    .unwrap();
    let error = directory.get_active_devices().await.unwrap_err();
    assert!(
        matches!(error, DirectoryError::Postgrest { status: 302, .. }),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains(&counter.addr.port().to_string()),
        "{error}"
    );
    assert_eq!(counter.connections().await, 0, "the key went nowhere");
}

mod debug_endpoint {
    use super::*;
    use crate::auth_support::{API_KEY, JWT_SECRET, hs256, user_claims};

    const ISSUER: &str = "http://127.0.0.1:54321/auth/v1";
    const PATH: &str = "/api/test-isapi/update-face-image";

    /// The service with tokens, `AUTH_ADMIN_ROLE=hr_admin`, the API key and a service-wide
    /// terminal password (which the debugging endpoint must not use).
    async fn fixture() -> Fixture {
        Fixture::on(Store::memory(), |s| {
            s.api_key = Some(SecretString::from(API_KEY));
            s.auth.jwt_secret = Some(SecretString::from(JWT_SECRET));
            s.auth.issuer = Some(ISSUER.into());
            s.auth.admin_role = Some("hr_admin".into());
            s.device_defaults.password = Some(SecretString::from(PASSWORD));
        })
        .await
    }

    async fn post(f: &Fixture, auth: (&str, String), body: Value) -> (u16, Value) {
        let response = f
            .app
            .http
            .post(f.app.base.join(PATH).unwrap())
            .header(auth.0, auth.1)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn user(role: Option<&str>) -> (&'static str, String) {
        let mut claims = user_claims(ISSUER);
        if let Some(role) = role {
            claims["app_metadata"]["role"] = json!(role);
        }
        (
            "authorization",
            format!("Bearer {}", hs256(JWT_SECRET, &claims)),
        )
    }

    fn api_key() -> (&'static str, String) {
        ("x-api-key", API_KEY.to_string())
    }

    fn body(t: &SimulatedTerminal, no: &str, face_url: &str, password: Option<&str>) -> Value {
        let mut device = json!({"ip": "127.0.0.1", "port": t.addr().port(), "username": "admin"});
        if let Some(password) = password {
            device["password"] = json!(password);
        }
        json!({"device": device, "employee_no": no, "face_url": face_url})
    }

    #[tokio::test]
    async fn only_admins_may_call_it_and_only_with_the_credentials_they_give() {
        let f = fixture().await;
        let t = terminal(Faults::default()).await;
        let no = unique_employee_no();
        enrol(&t, &no, Some(jpeg(1)));
        let url = f.photos.put(&format!("{no}.jpg"), jpeg(2));

        let (status, reply) = post(&f, user(None), body(&t, &no, &url, Some(PASSWORD))).await;
        assert_eq!((status, reply["code"].as_str()), (403, Some("forbidden")));
        let (status, reply) = post(&f, api_key(), body(&t, &no, &url, None)).await;
        assert_eq!(status, 422, "no HIKVISION_PASSWORD fallback: {reply}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains("device.password"),
            "{reply}"
        );
        let mut asks_to_enrol = body(&t, &no, &url, Some(PASSWORD));
        asks_to_enrol["create_missing_person"] = json!(true);
        let (status, reply) = post(&f, api_key(), asks_to_enrol).await;
        assert_eq!(status, 422, "{reply}");
        assert!(
            t.request_log().is_empty(),
            "no refused call reached the terminal"
        );

        let (status, reply) = post(
            &f,
            user(Some("hr_admin")),
            body(&t, &no, &url, Some(PASSWORD)),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["per_device"][0]["status"], "success", "{reply}");
        assert_eq!(t.face(&no).unwrap().bytes, jpeg(2));
    }

    #[tokio::test]
    async fn it_enrols_no_one_and_keeps_to_the_photo_rules() {
        let f = fixture().await;
        let t = terminal(Faults {
            closed_lan: true,
            ..Faults::default()
        })
        .await;
        let counter = Counter::start().await;
        let url = f.photos.put("stranger.jpg", jpeg(3));

        let (status, reply) = post(&f, api_key(), body(&t, "404404", &url, Some(PASSWORD))).await;
        assert_eq!(status, 200, "{reply}");
        assert_ne!(reply["per_device"][0]["status"], "success", "{reply}");
        assert!(t.person("404404").is_none(), "nobody enrolled");

        let no = unique_employee_no();
        enrol(&t, &no, Some(jpeg(1)));
        let outside = counter.url("x.jpg");
        let (status, reply) = post(
            &f,
            api_key(),
            body(&t, &no, outside.as_str(), Some(PASSWORD)),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert!(
            message(&reply["per_device"][0]).contains("PHOTO_ALLOWED_ORIGINS"),
            "{reply}"
        );
        assert_eq!(counter.connections().await, 0);
    }
}
