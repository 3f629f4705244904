//! The ISAPI client against simulated terminals over real HTTP with real Digest auth: every reply
//! and fault ends in the right typed error and a message an HR admin can act on.

use std::time::{Duration, Instant};

use crate::support::{PASSWORD, PhotoServer, jpeg, terminal};
use axum::Router;
use axum::http::StatusCode;
use bytes::Bytes;
use hikvision_isapi::{
    ClientOptions, ErrorClass, FacePicture, IsapiClient, IsapiError, Terminal, build_person,
};
use hikvision_simulator::{Faults, SimulatedTerminal};
use secrecy::SecretString;
use url::Url;

fn client(timeout_ms: u64) -> IsapiClient {
    IsapiClient::new(ClientOptions::with_total_timeout(Duration::from_millis(
        timeout_ms,
    )))
    .unwrap()
}

fn target(t: &SimulatedTerminal, password: &str) -> Terminal {
    Terminal::new(
        &t.addr().ip().to_string(),
        t.addr().port(),
        "admin",
        SecretString::from(password.to_string()),
    )
    .unwrap()
}

async fn photo(photos: &PhotoServer, name: &str, bytes: Vec<u8>) -> FacePicture {
    FacePicture::Url(Url::parse(&photos.put(name, bytes)).unwrap())
}

fn rejection_code(e: &IsapiError) -> &str {
    e.rejection()
        .map(|r| r.sub_status_code.as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn person_and_face_lifecycle() {
    let t = terminal(Faults::default()).await;
    let (c, tt) = (client(3_000), target(&t, PASSWORD));
    let photos = PhotoServer::start().await.unwrap();
    let person = build_person(&"1001".parse().unwrap(), "Ion Popescu");

    c.add_person(&tt, &person).await.unwrap();
    let dup = c.add_person(&tt, &person).await.unwrap_err();
    assert!(
        dup.rejection().is_some_and(|r| r.person_exists()),
        "{dup:?}"
    );
    assert_eq!(
        dup.to_string(),
        "Terminal refused the request: this person already exists on the terminal (employeeNoAlreadyExist, checkUser)"
    );
    assert_eq!(
        c.find_person(&tt, &"1001".parse().unwrap())
            .await
            .unwrap()
            .map(|p| p.name),
        Some("Ion Popescu".into())
    );
    assert_eq!(
        c.find_person(&tt, &"9999".parse().unwrap()).await.unwrap(),
        None
    );

    let first = photo(&photos, "a.jpg", jpeg(1)).await;
    let ok = c
        .add_face_image_to_device(&tt, &"1001".parse().unwrap(), &first)
        .await
        .unwrap();
    assert_eq!(ok.fpid.as_deref(), Some("1001"));
    assert_eq!(t.face("1001").unwrap().bytes, jpeg(1));

    let again = c
        .add_face_image_to_device(&tt, &"1001".parse().unwrap(), &first)
        .await
        .unwrap_err();
    assert_eq!(rejection_code(&again), "deviceUserAlreadyExistFace");

    let second = photo(&photos, "b.jpg", jpeg(2)).await;
    c.update_face_image_to_device(&tt, &"1001".parse().unwrap(), &second)
        .await
        .unwrap();
    assert_eq!(t.face("1001").unwrap().bytes, jpeg(2));

    let third = FacePicture::Jpeg(Bytes::from(jpeg(3)).into());
    c.setup_face_image_on_device(&tt, &"1001".parse().unwrap(), &third)
        .await
        .unwrap();
    let face = t.face("1001").unwrap();
    assert_eq!(
        (face.bytes.clone(), face.source.as_str()),
        (Bytes::from(jpeg(3)), "multipart")
    );

    let found = c
        .search_faces(&tt, Some(&"1001".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        found
            .match_list
            .iter()
            .map(|m| m.fpid.as_str())
            .collect::<Vec<_>>(),
        ["1001"]
    );

    let info = c.device_info(&tt).await.unwrap();
    assert_eq!(
        (info.model.as_str(), info.firmware_version.as_str()),
        ("DS-K1T341AM", "V3.2.30")
    );
}

#[tokio::test]
async fn faces_need_an_enrolled_person_and_fdmodify_needs_an_existing_face() {
    let t = terminal(Faults::default()).await;
    let (c, tt) = (client(3_000), target(&t, PASSWORD));
    let photos = PhotoServer::start().await.unwrap();
    let pic = photo(&photos, "a.jpg", jpeg(4)).await;

    let unknown = c
        .add_face_image_to_device(&tt, &"404".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert!(
        unknown.rejection().is_some_and(|r| r.person_missing()),
        "{unknown:?}"
    );
    assert!(
        unknown
            .to_string()
            .contains("does not exist on the terminal"),
        "{unknown}"
    );

    t.add_person(build_person(&"5".parse().unwrap(), "X"));
    let no_face = c
        .update_face_image_to_device(&tt, &"5".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert!(no_face.rejection().is_some(), "{no_face:?}");
    assert!(t.face("5").is_none());
}

#[tokio::test]
async fn picture_problems_are_reported_as_photo_rejections() {
    let t = terminal(Faults::default()).await;
    let (c, tt) = (client(5_000), target(&t, PASSWORD));
    let photos = PhotoServer::start().await.unwrap();
    t.add_person(build_person(&"7".parse().unwrap(), "X"));

    let not_image = photo(&photos, "x.txt", b"hello, not a picture".to_vec()).await;
    let e = c
        .add_face_image_to_device(&tt, &"7".parse().unwrap(), &not_image)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with("Terminal rejected the photo"),
        "{e}"
    );

    let mut big = jpeg(9);
    big.resize(201 * 1024, 0);
    let too_big = photo(&photos, "big.jpg", big).await;
    let e = c
        .add_face_image_to_device(&tt, &"7".parse().unwrap(), &too_big)
        .await
        .unwrap_err();
    assert_eq!(rejection_code(&e), "pictureSizeExceedLimit");
    assert!(e.to_string().contains("too large"), "{e}");

    let missing = FacePicture::Url(photos.base.join("nope.jpg").unwrap());
    let e = c
        .add_face_image_to_device(&tt, &"7".parse().unwrap(), &missing)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with("Terminal rejected the photo"),
        "{e}"
    );
    assert!(t.face("7").is_none());
}

#[tokio::test]
async fn a_wrong_password_costs_exactly_one_failed_login_per_call_and_then_locks() {
    let t = terminal(Faults::default()).await;
    let (c, tt) = (client(3_000), target(&t, "wrong"));

    for attempt in 1..=4u32 {
        let e = c.device_info(&tt).await.unwrap_err();
        assert!(
            matches!(e, IsapiError::WrongCredentials { attempts_left: Some(n) } if n == 5 - attempt),
            "{e:?}"
        );
        assert_eq!(t.failed_logins(), attempt);
    }
    let e = c.device_info(&tt).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Credentials);
    let locked = c.device_info(&target(&t, PASSWORD)).await.unwrap_err();
    assert!(
        matches!(locked, IsapiError::Locked { unlock_in_secs: Some(s) } if s > 1700),
        "{locked:?}"
    );
    assert!(
        locked.to_string().contains("locked this account"),
        "{locked}"
    );
}

#[tokio::test]
async fn a_hanging_terminal_returns_within_the_timeout() {
    let t = terminal(Faults {
        hang: true,
        ..Faults::default()
    })
    .await;
    let c = client(400);
    let started = Instant::now();
    let e = c.device_info(&target(&t, PASSWORD)).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(e, IsapiError::Timeout { timeout_ms: 400 }),
        "{e:?}"
    );
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(700),
        "{took:?}"
    );
    assert_eq!(e.class(), ErrorClass::Timeout);
}

#[tokio::test]
async fn latency_is_waited_for_within_the_timeout() {
    let t = terminal(Faults {
        latency_ms: 150,
        ..Faults::default()
    })
    .await;
    let started = Instant::now();
    client(2_000)
        .device_info(&target(&t, PASSWORD))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "the terminal's work on the answered leg"
    );
}

#[tokio::test]
async fn a_reset_connection_is_a_broken_connection() {
    let t = terminal(Faults {
        reset: true,
        ..Faults::default()
    })
    .await;
    let e = client(2_000)
        .device_info(&target(&t, PASSWORD))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            IsapiError::ConnectionLost { .. } | IsapiError::Unreachable { .. }
        ),
        "{e:?}"
    );
    assert!(e.class().terminal_did_nothing() || e.class() == ErrorClass::ConnectionLost);
}

#[tokio::test]
async fn a_refused_connection_says_the_terminal_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let tt = Terminal::new(
        "127.0.0.1",
        closed.port(),
        "admin",
        SecretString::from("x".to_string()),
    )
    .unwrap();
    let e = client(2_000).device_info(&tt).await.unwrap_err();
    assert!(matches!(e, IsapiError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[tokio::test]
async fn firmware_faults_map_to_typed_errors() {
    let t = terminal(Faults {
        http_500: true,
        ..Faults::default()
    })
    .await;
    let (c, photos) = (client(3_000), PhotoServer::start().await.unwrap());
    let pic = photo(&photos, "a.jpg", jpeg(5)).await;
    let e = c.device_info(&target(&t, PASSWORD)).await.unwrap_err();
    assert!(
        matches!(
            e,
            IsapiError::UnexpectedReply {
                http_status: 500,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("HTML error page"), "{e}");

    t.set_faults(Faults {
        fdmodify_unsupported: true,
        ..Faults::default()
    });
    t.add_person(build_person(&"8".parse().unwrap(), "X"));
    let e = c
        .update_face_image_to_device(&target(&t, PASSWORD), &"8".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert_eq!(rejection_code(&e), "notSupport");
    assert!(
        e.to_string()
            .contains("not supported by the terminal's firmware"),
        "{e}"
    );

    t.set_faults(Faults {
        device_busy: true,
        ..Faults::default()
    });
    let e = c
        .add_face_image_to_device(&target(&t, PASSWORD), &"8".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert!(
        e.rejection().is_some() && e.class() == ErrorClass::Busy,
        "{e:?}"
    );

    t.set_faults(Faults {
        face_download_fail: true,
        ..Faults::default()
    });
    let e = c
        .add_face_image_to_device(&target(&t, PASSWORD), &"8".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert_eq!(rejection_code(&e), "urlDownloadFail");
    assert!(e.to_string().contains("could not download"), "{e}");

    t.set_faults(Faults {
        xml_only: true,
        ..Faults::default()
    });
    let dup = c
        .add_person(
            &target(&t, PASSWORD),
            &build_person(&"8".parse().unwrap(), "X"),
        )
        .await
        .unwrap_err();
    assert!(
        dup.rejection().is_some_and(|r| r.person_exists()),
        "old-firmware XML is understood: {dup:?}"
    );
    c.add_face_image_to_device(&target(&t, PASSWORD), &"8".parse().unwrap(), &pic)
        .await
        .unwrap();
}

/// A server that is not a terminal at all, for the replies no firmware should send.
async fn raw_server(status: StatusCode, body: Vec<u8>) -> Terminal {
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { (status, body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Terminal::new(
        "127.0.0.1",
        addr.port(),
        "admin",
        SecretString::from("x".to_string()),
    )
    .unwrap()
}

#[tokio::test]
async fn garbage_empty_and_oversized_replies_are_typed_errors() {
    let c = client(3_000);
    let pic = FacePicture::Jpeg(Bytes::from(jpeg(1)).into());

    let garbage = raw_server(StatusCode::OK, b"\x00\x01garbage".to_vec()).await;
    let e = c
        .add_face_image_to_device(&garbage, &"1".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not an ISAPI reply"), "{e}");

    let empty = raw_server(StatusCode::OK, Vec::new()).await;
    let e = c
        .add_face_image_to_device(&empty, &"1".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("empty body"), "{e}");

    let huge = raw_server(StatusCode::OK, vec![b'x'; 10 * 1024 * 1024]).await;
    let e = c
        .add_face_image_to_device(&huge, &"1".parse().unwrap(), &pic)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IsapiError::ReplyTooLarge { limit: 65536 }),
        "{e:?}"
    );
}
