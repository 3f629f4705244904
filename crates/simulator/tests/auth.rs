//! Digest authentication of the simulated terminal, over real HTTP: the challenge, right and wrong
//! passwords, the lockout, stale nonces, SHA-256, and bodies sent with the unauthenticated leg.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hikvision_isapi::wire::{UserCheck, paths};
use hikvision_simulator::{RequestLogEntry, StateSnapshot, TerminalConfig};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::json;
use support::{
    PASS, USER, assert_ok, call, client, device_info_url, get_as, jpeg_of_len, json_of, multipart,
    send_multipart, start, start_default, user_body,
};

fn challenge_of(response: &Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .expect("challenge header")
        .to_str()
        .expect("ASCII header")
        .to_owned()
}

/// Builds an `Authorization` header by hand for `challenge` (to control nonce and algorithm).
fn authorization(
    challenge: &str,
    method: &str,
    uri: &str,
    password: &str,
    algorithm: Option<digest_auth::AlgorithmType>,
) -> String {
    let mut prompt = digest_auth::parse(challenge).expect("challenge parses");
    if let Some(algo) = algorithm {
        prompt.algorithm = digest_auth::Algorithm::new(algo, false);
    }
    let context = digest_auth::AuthContext::new_with_method(
        USER,
        password,
        uri,
        Option::<&[u8]>::None,
        digest_auth::HttpMethod::from(method.to_owned()),
    );
    prompt.respond(&context).expect("answer").to_header_string()
}

/// A GET of `url` with a hand-made `Authorization` header.
async fn get_with_header(client: &Client, url: &str, header: String) -> Response {
    client
        .get(url)
        .header("Authorization", header)
        .send()
        .await
        .expect("request completes")
}

#[tokio::test]
async fn challenge_has_the_hikvision_shape_and_a_fresh_nonce_each_time() {
    let t = start_default().await;
    let url = device_info_url(&t);
    let first = client().get(&url).send().await.expect("request");
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let header = challenge_of(&first);
    let prefix = "Digest realm=\"DS-K1T341AM\", domain=\"::\", qop=\"auth\", nonce=\"";
    let suffix = "\", opaque=\"\", algorithm=\"MD5\", stale=\"FALSE\"";
    assert!(header.starts_with(prefix), "{header}");
    assert!(header.ends_with(suffix), "{header}");
    let nonce = &header[prefix.len()..header.len() - suffix.len()];
    assert_eq!(nonce.len(), 32, "{header}");
    assert!(nonce.chars().all(|c| c.is_ascii_hexdigit()), "{header}");

    let second = client().get(&url).send().await.expect("request");
    assert_ne!(challenge_of(&second), header, "a fresh nonce per challenge");
    assert_eq!(
        t.failed_logins(),
        0,
        "no Authorization header is not a failed login"
    );
}

#[tokio::test]
async fn right_credentials_succeed_in_exactly_two_requests() {
    let t = start_default().await;
    let response = get_as(&client(), &device_info_url(&t), PASS).await;
    assert_eq!(response.status(), StatusCode::OK);
    let entry = |status| RequestLogEntry {
        method: "GET".into(),
        path: paths::DEVICE_INFO.into(),
        status: Some(status),
    };
    assert_eq!(t.request_log(), vec![entry(401), entry(200)]);
}

#[tokio::test]
async fn wrong_password_gets_user_check_with_attempts_left_counting_down() {
    let t = start_default().await;
    let client = client();
    for expected_left in [4u32, 3, 2, 1] {
        let response = call(
            &client,
            &t,
            Method::POST,
            paths::USER_RECORD,
            &user_body("1"),
            (USER, "wrong"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(challenge_of(&response).contains("stale=\"FALSE\""));
        assert_eq!(
            response.headers()["content-type"],
            "application/xml",
            "userCheck is XML"
        );
        let body = response.text().await.expect("body");
        assert_eq!(
            body,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<userCheck version=\"2.0\" xmlns=\"http://www.isapi.org/ver20/XMLSchema\"><statusValue>401</statusValue><statusString>Unauthorized</statusString><isDefaultPassword>false</isDefaultPassword><isRiskPassword>false</isRiskPassword><isActivated>true</isActivated><lockStatus>unlock</lockStatus><unlockTime>0</unlockTime><retryLoginTime>{expected_left}</retryLoginTime></userCheck>"
            )
        );
    }
    assert_eq!(t.failed_logins(), 4);
    assert!(t.persons().is_empty());
}

#[tokio::test]
async fn account_locks_after_five_failures_even_for_the_right_password() {
    let t = start_default().await;
    let client = client();
    let url = device_info_url(&t);
    for _ in 0..5 {
        let response = get_as(&client, &url, "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(t.failed_logins(), 5);
    assert!(t.is_locked());

    let response = get_as(&client, &url, PASS).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let check: UserCheck =
        quick_xml::de::from_str(&response.text().await.expect("body")).expect("userCheck XML");
    assert_eq!(check.lock_status, "locked");
    assert_eq!(check.retry_login_time, Some(0));
    let unlock = check.unlock_time.expect("unlockTime");
    assert!((1700..=1800).contains(&unlock), "unlockTime {unlock}");
    assert_eq!(
        t.failed_logins(),
        5,
        "attempts while locked are not counted"
    );

    let state: StateSnapshot = client
        .post(format!("{}/_sim/reset-lock", t.base_url()))
        .send()
        .await
        .expect("reset-lock")
        .json()
        .await
        .expect("state");
    assert!(!state.locked);
    let response = get_as(&client, &url, PASS).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn lock_lifts_after_lockout_secs() {
    let t = start(TerminalConfig {
        lockout_after: 2,
        lockout_secs: 1,
        ..TerminalConfig::default()
    })
    .await;
    let url = device_info_url(&t);
    for _ in 0..2 {
        get_as(&client(), &url, "wrong").await;
    }
    assert!(t.is_locked());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = get_as(&client(), &url, PASS).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn stale_nonce_gets_stale_true_and_is_not_a_failed_login() {
    let t = start(TerminalConfig {
        nonce_ttl: Duration::from_millis(200),
        ..TerminalConfig::default()
    })
    .await;
    let client = client();
    let url = device_info_url(&t);
    let challenge = challenge_of(&client.get(&url).send().await.expect("request"));
    tokio::time::sleep(Duration::from_millis(400)).await;

    let header = authorization(&challenge, "GET", paths::DEVICE_INFO, PASS, None);
    let response = get_with_header(&client, &url, header).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let fresh = challenge_of(&response);
    assert!(fresh.ends_with("stale=\"TRUE\""), "{fresh}");
    assert_eq!(t.failed_logins(), 0);

    // The fresh nonce of the stale reply works straight away.
    let header = authorization(&fresh, "GET", paths::DEVICE_INFO, PASS, None);
    let response = get_with_header(&client, &url, header).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn sha256_digest_is_accepted() {
    let t = start_default().await;
    let client = client();
    let url = device_info_url(&t);
    let challenge = challenge_of(&client.get(&url).send().await.expect("request"));
    let header = authorization(
        &challenge,
        "GET",
        paths::DEVICE_INFO,
        PASS,
        Some(digest_auth::AlgorithmType::SHA2_256),
    );
    assert!(header.contains("algorithm=SHA-256"), "{header}");
    let response = get_with_header(&client, &url, header).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn body_sent_with_the_unauthenticated_request_keeps_the_connection_usable() {
    let t = start_default().await;
    let client = client();
    for no in ["100", "101", "102"] {
        let response = call(
            &client,
            &t,
            Method::POST,
            paths::USER_RECORD,
            &user_body(no),
            (USER, PASS),
        )
        .await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_ok(&body);
    }
    // Large bodies too: 150 KB pictures, twice on the same kept-alive connection.
    for seed in [1u64, 2] {
        let body = multipart(
            &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "100"}),
            "img",
            &jpeg_of_len(seed, 150 * 1024),
        );
        let response = send_multipart(&client, &t, Method::PUT, paths::FACE_SETUP, body).await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(t.persons().len(), 3);
    assert_eq!(t.face("100").expect("face").updates, 2);
    // Ten requests (five challenges, five answers), all on one kept-alive connection.
    assert_eq!(t.request_log().len(), 10);
    assert_eq!(t.connections_accepted(), 1);
}
