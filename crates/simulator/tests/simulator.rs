//! The terminal simulator, driven over real HTTP with real Digest auth (reqwest + diqwest), the
//! way the service talks to real terminals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use axum::routing::get;
use diqwest::WithDigestAuth;
use hikvision_isapi::wire::{
    DeviceInfo, FaceSearchReply, ResponseStatus, UserCheck, UserInfo, UserInfoSearchReplyEnvelope,
    paths,
};
use hikvision_simulator::{
    Faults, RequestLogEntry, SimulatedTerminal, StateSnapshot, TerminalConfig, run_many, spawn,
};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const USER: &str = "admin";
const PASS: &str = TerminalConfig::DEMO_PASSWORD;

// ---------------------------------------------------------------------------------------------
// helpers

async fn start(config: TerminalConfig) -> SimulatedTerminal {
    spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts")
}

async fn start_default() -> SimulatedTerminal {
    start(TerminalConfig::default()).await
}

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

fn isapi_url(t: &SimulatedTerminal, path: &str) -> String {
    format!("{}{path}?format=json", t.base_url())
}

async fn call(
    client: &Client,
    t: &SimulatedTerminal,
    method: Method,
    path: &str,
    body: &Value,
    creds: (&str, &str),
) -> Response {
    client
        .request(method, isapi_url(t, path))
        .json(body)
        .send_digest_auth(creds)
        .await
        .expect("request completes")
}

async fn post(t: &SimulatedTerminal, path: &str, body: Value) -> Response {
    call(&client(), t, Method::POST, path, &body, (USER, PASS)).await
}

async fn put(t: &SimulatedTerminal, path: &str, body: Value) -> Response {
    call(&client(), t, Method::PUT, path, &body, (USER, PASS)).await
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

fn user_body(employee_no: &str) -> Value {
    json!({"UserInfo": {
        "employeeNo": employee_no,
        "name": format!("Person {employee_no}"),
        "userType": "normal",
        "Valid": {"enable": true, "beginTime": "2024-01-01T00:00:00", "endTime": "2034-12-31T23:59:59", "timeType": "local"},
        "doorRight": "1",
        "RightPlan": [{"doorNo": 1, "planTemplateNo": "1"}]
    }})
}

fn person(employee_no: &str) -> UserInfo {
    serde_json::from_value(user_body(employee_no)["UserInfo"].clone()).expect("UserInfo")
}

fn face_body(fpid: &str, face_url: &str) -> Value {
    json!({"faceLibType": "blackFD", "FDID": "1", "FPID": fpid, "faceURL": face_url})
}

/// Bytes that pass the terminal's picture check (JPEG magic), distinct per `seed`.
fn jpeg(seed: u8, len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..len.saturating_sub(6)).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

fn assert_failure(body: &Value, status_code: i64, sub_status: &str) {
    assert_eq!(body["statusCode"], status_code, "body: {body}");
    assert_eq!(body["subStatusCode"], sub_status, "body: {body}");
    assert!(body["errorCode"].is_u64(), "body: {body}");
    assert!(body["errorMsg"].is_string(), "body: {body}");
    assert!(
        body["requestURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("/ISAPI/")),
        "body: {body}"
    );
}

fn assert_ok(body: &Value) {
    assert_eq!(body["statusCode"], 1, "body: {body}");
    assert_eq!(body["statusString"], "OK", "body: {body}");
    assert_eq!(body["subStatusCode"], "ok", "body: {body}");
}

struct MultipartBody {
    content_type: String,
    bytes: Vec<u8>,
}

fn multipart(record: &Value, image_part: &str, image: &[u8]) -> MultipartBody {
    let boundary = "----simtestboundary7MA4YWxkTrZu0gW";
    let mut bytes = Vec::new();
    bytes.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"FaceDataRecord\"\r\nContent-Type: application/json\r\n\r\n{record}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{image_part}\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(image);
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    MultipartBody {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
    }
}

async fn send_multipart(
    client: &Client,
    t: &SimulatedTerminal,
    method: Method,
    path: &str,
    body: MultipartBody,
) -> Response {
    client
        .request(method, isapi_url(t, path))
        .header("Content-Type", body.content_type)
        .body(body.bytes)
        .send_digest_auth((USER, PASS))
        .await
        .expect("request completes")
}

/// A tiny picture server standing in for Supabase Storage.
struct PictureServer {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl PictureServer {
    async fn start(pictures: HashMap<String, Vec<u8>>) -> Self {
        async fn picture(
            State(pictures): State<Arc<HashMap<String, Vec<u8>>>>,
            Path(name): Path<String>,
        ) -> axum::response::Response {
            match pictures.get(&name) {
                Some(bytes) => ([("content-type", "image/jpeg")], bytes.clone()).into_response(),
                None => AxumStatus::NOT_FOUND.into_response(),
            }
        }
        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "too late"
        }
        let app = Router::new()
            .route("/pictures/{name}", get(picture))
            .route("/slow", get(slow))
            .with_state(Arc::new(pictures));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("picture server");
        });
        Self { base, task }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/pictures/{name}", self.base)
    }
}

impl Drop for PictureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sim_get<T: serde::de::DeserializeOwned>(t: &SimulatedTerminal, path: &str) -> T {
    client()
        .get(format!("{}{path}", t.base_url()))
        .send()
        .await
        .expect("control request")
        .json()
        .await
        .expect("control JSON")
}

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

// ---------------------------------------------------------------------------------------------
// Digest auth

#[tokio::test]
async fn challenge_has_the_hikvision_shape_and_a_fresh_nonce_each_time() {
    let t = start_default().await;
    let url = format!("{}{}", t.base_url(), paths::DEVICE_INFO);
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
    let response = client()
        .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
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
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<userCheck><statusValue>401</statusValue><statusString>Unauthorized</statusString><lockStatus>unlock</lockStatus><unlockTime>0</unlockTime><retryLoginTime>{expected_left}</retryLoginTime></userCheck>"
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
    let url = format!("{}{}", t.base_url(), paths::DEVICE_INFO);
    for _ in 0..5 {
        let response = client
            .get(&url)
            .send_digest_auth((USER, "wrong"))
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(t.failed_logins(), 5);
    assert!(t.is_locked());

    let response = client
        .get(&url)
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
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
    let response = client
        .get(&url)
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
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
    let url = format!("{}{}", t.base_url(), paths::DEVICE_INFO);
    for _ in 0..2 {
        client()
            .get(&url)
            .send_digest_auth((USER, "wrong"))
            .await
            .expect("request");
    }
    assert!(t.is_locked());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = client()
        .get(&url)
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
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
    let url = format!("{}{}", t.base_url(), paths::DEVICE_INFO);
    let challenge = challenge_of(&client.get(&url).send().await.expect("request"));
    tokio::time::sleep(Duration::from_millis(400)).await;

    let header = authorization(&challenge, "GET", paths::DEVICE_INFO, PASS, None);
    let response = client
        .get(&url)
        .header("Authorization", header)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let fresh = challenge_of(&response);
    assert!(fresh.ends_with("stale=\"TRUE\""), "{fresh}");
    assert_eq!(t.failed_logins(), 0);

    // The fresh nonce of the stale reply works straight away.
    let header = authorization(&fresh, "GET", paths::DEVICE_INFO, PASS, None);
    let response = client
        .get(&url)
        .header("Authorization", header)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn sha256_digest_is_accepted() {
    let t = start_default().await;
    let client = client();
    let url = format!("{}{}", t.base_url(), paths::DEVICE_INFO);
    let challenge = challenge_of(&client.get(&url).send().await.expect("request"));
    let header = authorization(
        &challenge,
        "GET",
        paths::DEVICE_INFO,
        PASS,
        Some(digest_auth::AlgorithmType::SHA2_256),
    );
    assert!(header.contains("algorithm=SHA-256"), "{header}");
    let response = client
        .get(&url)
        .header("Authorization", header)
        .send()
        .await
        .expect("request");
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
    for seed in [1u8, 2] {
        let body = multipart(
            &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "100"}),
            "img",
            &jpeg(seed, 150 * 1024),
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

// ---------------------------------------------------------------------------------------------
// persons

#[tokio::test]
async fn adding_a_person_twice_answers_employee_no_already_exist() {
    let t = start_default().await;
    let (status, body) = json_of(post(&t, paths::USER_RECORD, user_body("42")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"})
    );
    assert_eq!(t.person("42").expect("stored").name, "Person 42");

    let (status, body) = json_of(post(&t, paths::USER_RECORD, user_body("42")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoAlreadyExist");
    assert_eq!(body["errorCode"], 1_610_637_344u64);
    assert_eq!(body["errorMsg"], "checkUser");
    assert_eq!(body["statusString"], "Invalid Content");
    assert_eq!(
        body["requestURL"],
        "/ISAPI/AccessControl/UserInfo/Record?format=json"
    );
    let status: ResponseStatus = serde_json::from_value(body).expect("wire ResponseStatus");
    assert!(!status.is_ok());
}

#[tokio::test]
async fn bad_person_bodies_are_refused_like_a_terminal() {
    let t = start_default().await;
    let long = "x".repeat(33);
    for (body, status_code, sub, msg) in [
        (user_body(&long), 6, "badParameters", "employeeNo"),
        (user_body(""), 6, "badParameters", "employeeNo"),
        (
            json!({"UserInfo": {"name": "x"}}),
            6,
            "MessageParametersLack",
            "employeeNo",
        ),
        (json!({}), 6, "MessageParametersLack", "UserInfo"),
    ] {
        let (status, reply) = json_of(post(&t, paths::USER_RECORD, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_failure(&reply, status_code, sub);
        assert_eq!(reply["errorMsg"], msg);
    }
    let response = client()
        .post(isapi_url(&t, paths::USER_RECORD))
        .header("Content-Type", "application/json")
        .body("{\"UserInfo\": {")
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    let (status, reply) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 5, "badJsonFormat");
    assert_eq!(reply["errorCode"], 0x5000_0002u64);
    assert!(t.persons().is_empty());
}

#[tokio::test]
async fn modify_needs_the_person_and_setup_adds_or_edits() {
    let t = start_default().await;
    let (status, body) = json_of(put(&t, paths::USER_MODIFY, user_body("7")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoNotExist");

    let (status, _) = json_of(put(&t, paths::USER_SETUP, user_body("7")).await).await;
    assert_eq!(status, StatusCode::OK);
    let mut edited = user_body("7");
    edited["UserInfo"]["name"] = json!("Renamed");
    let (status, _) = json_of(put(&t, paths::USER_MODIFY, edited.clone()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.person("7").expect("person").name, "Renamed");
    edited["UserInfo"]["name"] = json!("Again");
    let (status, _) = json_of(put(&t, paths::USER_SETUP, edited).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.person("7").expect("person").name, "Again");
    assert_eq!(t.persons().len(), 1);
}

#[tokio::test]
async fn user_search_pages_filters_and_counts_faces() {
    let t = start_default().await;
    for no in ["1", "2", "3"] {
        t.add_person(person(no));
    }
    t.set_face("2", jpeg(9, 100));
    let search = |cond: Value| {
        let t = &t;
        async move {
            let (status, body) =
                json_of(post(t, paths::USER_SEARCH, json!({"UserInfoSearchCond": cond})).await)
                    .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_value::<UserInfoSearchReplyEnvelope>(body)
                .expect("UserInfoSearch")
                .search
        }
    };
    let page = search(json!({"searchID": "s1", "searchResultPosition": 0, "maxResults": 2})).await;
    assert_eq!(page.search_id, "s1");
    assert_eq!(page.response_status_strg, "MORE");
    assert_eq!((page.num_of_matches, page.total_matches), (2, 3));
    let page = search(json!({"searchID": "s1", "searchResultPosition": 2, "maxResults": 2})).await;
    assert_eq!(page.response_status_strg, "OK");
    assert_eq!(page.user_info[0].employee_no, "3");

    let page = search(
        json!({"searchID": "s2", "searchResultPosition": 0, "maxResults": 30,
        "EmployeeNoList": [{"employeeNo": "2"}]}),
    )
    .await;
    assert_eq!(page.response_status_strg, "OK");
    assert_eq!(page.user_info.len(), 1);
    assert_eq!(page.user_info[0].num_of_face, Some(1));

    let page = search(
        json!({"searchID": "s3", "searchResultPosition": 0, "maxResults": 30,
        "EmployeeNoList": [{"employeeNo": "nobody"}]}),
    )
    .await;
    assert_eq!(page.response_status_strg, "NO MATCH");
    assert_eq!(page.total_matches, 0);
}

#[tokio::test]
async fn user_search_returns_at_most_thirty() {
    let t = start_default().await;
    for no in 0..40 {
        t.add_person(person(&format!("{no:03}")));
    }
    let (_, body) = json_of(
        post(
            &t,
            paths::USER_SEARCH,
            json!({"UserInfoSearchCond": {"searchID": "a", "searchResultPosition": 0, "maxResults": 100}}),
        )
        .await,
    )
    .await;
    assert_eq!(body["UserInfoSearch"]["numOfMatches"], 30);
    assert_eq!(body["UserInfoSearch"]["totalMatches"], 40);
    assert_eq!(body["UserInfoSearch"]["responseStatusStrg"], "MORE");
}

// ---------------------------------------------------------------------------------------------
// faces

#[tokio::test]
async fn face_for_an_unknown_person_is_employee_no_not_exist() {
    let t = start_default().await;
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), jpeg(1, 2000))])).await;
    let (status, body) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("ghost", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoNotExist");
    assert!(t.face("ghost").is_none());
}

#[tokio::test]
async fn face_by_url_stores_exactly_the_downloaded_bytes() {
    let t = start_default().await;
    t.add_person(person("5"));
    let picture = jpeg(3, 20_000);
    let pictures = PictureServer::start(HashMap::from([("5.jpg".into(), picture.clone())])).await;
    let url = pictures.url("5.jpg");
    let (status, body) = json_of(post(&t, paths::FACE_RECORD, face_body("5", &url)).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ok(&body);
    assert_eq!(body["FPID"], "5");
    let face = t.face("5").expect("face stored");
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    assert_eq!(face.source, format!("url:{url}"));
    assert_eq!(face.updates, 1);
}

#[tokio::test]
async fn second_face_data_record_is_device_user_already_exist_face() {
    let t = start_default().await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([
        ("a.jpg".into(), jpeg(1, 3000)),
        ("b.jpg".into(), jpeg(2, 3000)),
    ]))
    .await;
    let (status, _) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("5", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("5", &pictures.url("b.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "deviceUserAlreadyExistFace");
    assert_eq!(
        t.face("5").expect("face").bytes.as_ref(),
        jpeg(1, 3000).as_slice()
    );
}

#[tokio::test]
async fn fdmodify_replaces_an_existing_face() {
    let t = start_default().await;
    t.add_person(person("5"));
    t.set_face("5", jpeg(1, 1000));
    let new_picture = jpeg(2, 4000);
    let pictures =
        PictureServer::start(HashMap::from([("new.jpg".into(), new_picture.clone())])).await;
    let mut body = face_body("5", &pictures.url("new.jpg"));
    body["faceID"] = json!("1");
    let (status, reply) = json_of(put(&t, paths::FACE_MODIFY, body).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let face = t.face("5").expect("face");
    assert_eq!(face.bytes.as_ref(), new_picture.as_slice());
    assert_eq!(face.updates, 2);

    // Multipart works for FDModify too.
    let newer = jpeg(3, 5000);
    let body = multipart(
        &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "5", "faceID": "1"}),
        "img",
        &newer,
    );
    let (status, _) =
        json_of(send_multipart(&client(), &t, Method::PUT, paths::FACE_MODIFY, body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.face("5").expect("face").bytes.as_ref(), newer.as_slice());
}

#[tokio::test]
async fn fdmodify_without_a_face_is_face_not_exist() {
    let t = start_default().await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), jpeg(1, 900))])).await;
    let (status, body) = json_of(
        put(
            &t,
            paths::FACE_MODIFY,
            face_body("5", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "faceNotExist");
    assert_eq!(body["errorMsg"], "FPID");

    let (status, body) = json_of(
        put(
            &t,
            paths::FACE_MODIFY,
            face_body("nobody", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "employeeNoNotExist");
}

#[tokio::test]
async fn fdsetup_adds_then_replaces() {
    let t = start_default().await;
    t.add_person(person("8"));
    let pictures = PictureServer::start(HashMap::from([
        ("a.jpg".into(), jpeg(1, 900)),
        ("b.jpg".into(), jpeg(2, 900)),
    ]))
    .await;
    for name in ["a.jpg", "b.jpg"] {
        let (status, body) =
            json_of(put(&t, paths::FACE_SETUP, face_body("8", &pictures.url(name))).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let face = t.face("8").expect("face");
    assert_eq!(face.bytes.as_ref(), jpeg(2, 900).as_slice());
    assert_eq!(face.updates, 2);
}

#[tokio::test]
async fn multipart_face_data_record_stores_the_bytes() {
    let t = start_default().await;
    t.add_person(person("9"));
    t.add_person(person("10"));
    let picture = jpeg(4, 60_000);
    let body = multipart(
        &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "9"}),
        "img",
        &picture,
    );
    let (status, reply) =
        json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["FPID"], "9");
    let face = t.face("9").expect("face");
    assert_eq!(face.bytes.as_ref(), picture.as_slice());
    assert_eq!(face.source, "multipart");

    // The other accepted part name.
    let other = jpeg(5, 1000);
    let body = multipart(
        &json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "10"}),
        "FaceImage",
        &other,
    );
    let (status, _) =
        json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.face("10").expect("face").bytes.as_ref(), other.as_slice());
}

#[tokio::test]
async fn multipart_pictures_get_the_same_checks() {
    let t = start_default().await;
    t.add_person(person("9"));
    let record = json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "9"});
    for (image, status_code, sub) in [
        (b"GIF89a not a face".to_vec(), 4, "faceDetectFailed"),
        (jpeg(1, 200 * 1024 + 1), 3, "pictureSizeExceedLimit"),
        (Vec::new(), 6, "badParameters"),
    ] {
        let body = multipart(&record, "img", &image);
        let (status, reply) =
            json_of(send_multipart(&client(), &t, Method::POST, paths::FACE_RECORD, body).await)
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_failure(&reply, status_code, sub);
    }
    assert!(t.face("9").is_none());
}

#[tokio::test]
async fn bad_face_urls_are_rejected_like_a_terminal() {
    let t = start(TerminalConfig {
        download_timeout: Duration::from_millis(300),
        ..TerminalConfig::default()
    })
    .await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([
        ("text.txt".into(), b"hello, not a picture".to_vec()),
        ("big.jpg".into(), jpeg(1, 200 * 1024 + 10)),
        ("exact.jpg".into(), jpeg(2, 200 * 1024)),
        ("empty.jpg".into(), Vec::new()),
    ]))
    .await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let long_url = format!("{}?pad={}", pictures.url("exact.jpg"), "p".repeat(256));
    let cases = [
        (pictures.url("missing.jpg"), 6, "urlDownloadFail"),
        (pictures.url("text.txt"), 4, "faceDetectFailed"),
        (pictures.url("big.jpg"), 3, "pictureSizeExceedLimit"),
        (pictures.url("empty.jpg"), 6, "badParameters"),
        (format!("{}/slow", pictures.base), 6, "urlDownloadFail"),
        (
            format!("http://127.0.0.1:{closed_port}/a.jpg"),
            6,
            "urlDownloadFail",
        ),
        (long_url, 6, "badParameters"),
    ];
    for (url, status_code, sub) in cases {
        let started = Instant::now();
        let (status, body) =
            json_of(post(&t, paths::FACE_RECORD, face_body("5", &url)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_failure(&body, status_code, sub);
        if sub == "pictureSizeExceedLimit" {
            assert_eq!(body["errorCode"], 0x3000_000Cu64);
        }
        if sub == "badParameters" || sub == "urlDownloadFail" {
            assert_eq!(body["errorMsg"], "faceURL", "{url}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{url} took too long"
        );
    }
    assert!(t.face("5").is_none());

    let (status, _) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("5", &pictures.url("exact.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "exactly 200 KB is accepted");
}

#[tokio::test]
async fn same_picture_under_another_person_is_already_exist_this_face() {
    let t = start_default().await;
    t.add_person(person("1"));
    t.add_person(person("2"));
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), jpeg(1, 800))])).await;
    let (status, _) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("1", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("2", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 4, "alreadyExistThisFace");
    // Re-sending one's own picture is fine.
    let (status, _) = json_of(
        put(
            &t,
            paths::FACE_SETUP,
            face_body("1", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_face_library_is_library_not_exist() {
    let t = start_default().await;
    t.add_person(person("1"));
    let mut body = face_body("1", "http://127.0.0.1:1/a.jpg");
    body["FDID"] = json!("2");
    let (status, reply) = json_of(post(&t, paths::FACE_RECORD, body).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&reply, 4, "libraryNotExist");
    assert_eq!(reply["errorCode"], 0x4000_10C6u64);

    let mut body = face_body("1", "http://127.0.0.1:1/a.jpg");
    body["faceLibType"] = json!("staticFD");
    let (_, reply) = json_of(post(&t, paths::FACE_RECORD, body).await).await;
    assert_failure(&reply, 4, "libraryNotExist");

    let (_, reply) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "1"}),
        )
        .await,
    )
    .await;
    assert_failure(&reply, 6, "MessageParametersLack");
    assert_eq!(reply["errorMsg"], "faceURL");
}

#[tokio::test]
async fn fdsearch_returns_the_face_and_its_url_serves_the_bytes() {
    let t = start_default().await;
    t.add_person(person("5"));
    let picture = jpeg(6, 1234);
    t.set_face("5", picture.clone());
    let cond = json!({"searchResultPosition": 0, "maxResults": 30, "faceLibType": "blackFD", "FDID": "1", "FPID": "5"});
    let (status, body) = json_of(post(&t, paths::FACE_SEARCH, cond).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply: FaceSearchReply = serde_json::from_value(body).expect("FDSearch reply");
    assert_eq!(reply.response_status_strg, "OK");
    assert_eq!((reply.num_of_matches, reply.total_matches), (1, 1));
    assert_eq!(reply.match_list[0].fpid, "5");
    let face_url = reply.match_list[0].face_url.clone().expect("faceURL");
    assert_eq!(face_url, format!("{}/_sim/faces/5", t.base_url()));
    let served = client().get(&face_url).send().await.expect("face download");
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(
        served.bytes().await.expect("bytes").as_ref(),
        picture.as_slice()
    );

    let cond = json!({"searchResultPosition": 0, "maxResults": 30, "faceLibType": "blackFD", "FDID": "1", "FPID": "6"});
    let (_, body) = json_of(post(&t, paths::FACE_SEARCH, cond).await).await;
    assert_eq!(body["responseStatusStrg"], "NO MATCHES");
    assert_eq!(body["totalMatches"], 0);
}

// ---------------------------------------------------------------------------------------------
// device info and unknown calls

#[tokio::test]
async fn device_info_is_hikvision_xml() {
    let t = start(TerminalConfig {
        name: "Front door".into(),
        serial: "SER123".into(),
        ..TerminalConfig::default()
    })
    .await;
    let response = client()
        .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/xml");
    let body = response.text().await.expect("body");
    assert!(
        body.contains(
            "<DeviceInfo version=\"2.0\" xmlns=\"http://www.hikvision.com/ver20/XMLSchema\">"
        ),
        "{body}"
    );
    let info: DeviceInfo = quick_xml::de::from_str(&body).expect("DeviceInfo XML");
    assert_eq!(
        info,
        DeviceInfo {
            device_name: "Front door".into(),
            model: "DS-K1T341AM".into(),
            serial_number: "SER123".into(),
            firmware_version: "V3.2.30".into(),
            device_type: "ACS".into(),
        }
    );
}

#[tokio::test]
async fn unknown_isapi_call_needs_auth_then_answers_not_support() {
    let t = start_default().await;
    let url = format!(
        "{}/ISAPI/AccessControl/UserInfo/Nope?format=json",
        t.base_url()
    );
    let unauthenticated = client().get(&url).send().await.expect("request");
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let response = client()
        .get(&url)
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_failure(&body, 4, "notSupport");
    assert_eq!(body["errorCode"], 0x4000_0001u64);

    let response = client()
        .get(isapi_url(&t, paths::USER_RECORD))
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_failure(&body, 4, "methodNotAllowed");
}

// ---------------------------------------------------------------------------------------------
// faults

#[tokio::test]
async fn latency_fault_delays_every_reply() {
    let t = start(TerminalConfig {
        faults: Faults {
            latency_ms: 150,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let started = Instant::now();
    let response = client()
        .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    // Two requests (challenge, then the answer), each delayed.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn hang_fault_never_answers_so_the_client_times_out() {
    let t = start(TerminalConfig {
        faults: Faults {
            hang: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(400))
        .build()
        .expect("client");
    let err = client
        .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(t.request_log()[0].status, None);
    // Shutting down releases the held request instead of waiting for it.
    tokio::time::timeout(Duration::from_secs(2), t.shutdown())
        .await
        .expect("shutdown does not wait for hanging requests");
}

#[tokio::test]
async fn turning_hang_off_cuts_the_held_requests() {
    let t = start(TerminalConfig {
        faults: Faults {
            hang: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let url = format!("{}{}", t.base_url(), paths::DEVICE_INFO);
    let held = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    t.set_faults(Faults::default());
    let err = held.await.expect("task").expect_err("cut without a reply");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // New requests are answered again.
    let response = client()
        .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
        .send_digest_auth((USER, PASS))
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn reset_fault_cuts_the_connection_without_a_reply() {
    let t = start(TerminalConfig {
        faults: Faults {
            reset: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let result = client()
        .post(isapi_url(&t, paths::USER_RECORD))
        .json(&user_body("1"))
        .send_digest_auth((USER, PASS))
        .await;
    let err = result.expect_err("a connection error, not an HTTP status");
    let diqwest::error::Error::Reqwest(err) = err else {
        panic!("expected a transport error, got {err:?}");
    };
    assert!(err.status().is_none(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert!(t.persons().is_empty());
}

#[tokio::test]
async fn http_500_fault_returns_an_html_error_page() {
    let t = start(TerminalConfig {
        faults: Faults {
            http_500: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let response = post(&t, paths::USER_RECORD, user_body("1")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    assert!(response.text().await.expect("body").contains("<html>"));
}

#[tokio::test]
async fn xml_only_fault_answers_response_status_in_xml() {
    let t = start(TerminalConfig {
        faults: Faults {
            xml_only: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let ok = post(&t, paths::USER_RECORD, user_body("1")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["content-type"], "application/xml");
    let ok: ResponseStatus =
        quick_xml::de::from_str(&ok.text().await.expect("body")).expect("XML ResponseStatus");
    assert!(ok.is_ok());

    let dup = post(&t, paths::USER_RECORD, user_body("1")).await;
    assert_eq!(dup.status(), StatusCode::BAD_REQUEST);
    let body = dup.text().await.expect("body");
    assert!(
        body.contains(
            "<ResponseStatus version=\"2.0\" xmlns=\"http://www.std-cgi.org/ver20/XMLSchema\">"
        ),
        "{body}"
    );
    let status: ResponseStatus = quick_xml::de::from_str(&body).expect("XML ResponseStatus");
    assert_eq!(status.status_code, 6);
    assert_eq!(status.sub_status_code.as_str(), "employeeNoAlreadyExist");
    assert_eq!(
        status.request_url.as_deref(),
        Some("/ISAPI/AccessControl/UserInfo/Record?format=json")
    );
}

#[tokio::test]
async fn fdmodify_unsupported_fault_answers_not_support() {
    let t = start(TerminalConfig {
        faults: Faults {
            fdmodify_unsupported: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    t.add_person(person("5"));
    t.set_face("5", jpeg(1, 100));
    let (status, body) = json_of(
        put(
            &t,
            paths::FACE_MODIFY,
            face_body("5", "http://127.0.0.1:1/a.jpg"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_failure(&body, 4, "notSupport");
    assert_eq!(body["errorCode"], 0x4000_0001u64);
    assert_eq!(t.face("5").expect("face").updates, 1);
}

#[tokio::test]
async fn device_busy_fault_refuses_writes_with_http_200() {
    let t = start(TerminalConfig {
        faults: Faults {
            device_busy: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    let (status, body) = json_of(post(&t, paths::USER_RECORD, user_body("1")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_failure(&body, 2, "deviceBusy");
    assert_eq!(body["errorCode"], 0x2000_0004u64);
    assert!(t.persons().is_empty());
    // Reads still answer.
    let (status, body) = json_of(
        post(
            &t,
            paths::USER_SEARCH,
            json!({"UserInfoSearchCond": {"searchID": "1", "searchResultPosition": 0, "maxResults": 10}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["UserInfoSearch"]["responseStatusStrg"], "NO MATCH");
}

#[tokio::test]
async fn face_download_fail_fault_fails_without_downloading() {
    let t = start(TerminalConfig {
        faults: Faults {
            face_download_fail: true,
            ..Faults::default()
        },
        ..TerminalConfig::default()
    })
    .await;
    t.add_person(person("5"));
    let pictures = PictureServer::start(HashMap::from([("a.jpg".into(), jpeg(1, 900))])).await;
    let (status, body) = json_of(
        post(
            &t,
            paths::FACE_RECORD,
            face_body("5", &pictures.url("a.jpg")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_failure(&body, 6, "urlDownloadFail");
}

#[tokio::test]
async fn control_endpoint_changes_faults_at_runtime() {
    let t = start_default().await;
    let client = client();
    let faults_url = format!("{}/_sim/faults", t.base_url());
    let set: Faults = client
        .put(&faults_url)
        .json(&json!({"device_busy": true}))
        .send()
        .await
        .expect("PUT faults")
        .json()
        .await
        .expect("faults JSON");
    assert!(set.device_busy);
    assert_eq!(t.faults(), set);
    let (_, body) = json_of(post(&t, paths::USER_RECORD, user_body("1")).await).await;
    assert_eq!(body["subStatusCode"], "deviceBusy");

    let off: Faults = client
        .put(&faults_url)
        .json(&json!({}))
        .send()
        .await
        .expect("PUT faults")
        .json()
        .await
        .expect("faults JSON");
    assert_eq!(off, Faults::default());
    assert_eq!(
        sim_get::<Faults>(&t, "/_sim/faults").await,
        Faults::default()
    );
    let (status, _) = json_of(post(&t, paths::USER_RECORD, user_body("1")).await).await;
    assert_eq!(status, StatusCode::OK);

    let typo = client
        .put(&faults_url)
        .json(&json!({"hangg": true}))
        .send()
        .await
        .expect("PUT faults");
    assert_eq!(typo.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad = client
        .put(&faults_url)
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("PUT faults");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // In-process API and the control endpoint see the same knobs.
    t.set_faults(Faults {
        latency_ms: 5,
        ..Faults::default()
    });
    assert_eq!(sim_get::<Faults>(&t, "/_sim/faults").await.latency_ms, 5);
}

#[tokio::test]
async fn state_endpoint_shows_persons_faces_and_failed_logins() {
    let t = start_default().await;
    t.add_person(person("5"));
    let picture = jpeg(7, 321);
    t.set_face("5", picture.clone());
    client()
        .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
        .send_digest_auth((USER, "nope"))
        .await
        .expect("request");
    let state: StateSnapshot = sim_get(&t, "/_sim/state").await;
    assert_eq!(state.persons.len(), 1);
    assert_eq!(state.faces.len(), 1);
    assert_eq!(state.faces[0].fpid, "5");
    assert_eq!(state.faces[0].size, 321);
    assert_eq!(state.faces[0].source, "seeded");
    assert_eq!(state.faces[0].sha256.len(), 64);
    assert_eq!(state.failed_logins, 1);
    assert!(!state.locked);
    assert_eq!(state, t.state());
}

// ---------------------------------------------------------------------------------------------
// lifecycle

#[tokio::test]
async fn run_many_starts_terminals_on_consecutive_ports() {
    // Find three free consecutive ports; retry elsewhere if another test got there first.
    let mut attempt = 0u16;
    let terminals = loop {
        let base = 20_000 + (std::process::id() as u16 % 20_000) + attempt * 97;
        match run_many(3, base, TerminalConfig::default()).await {
            Ok(terminals) => break terminals,
            Err(_) if attempt < 20 => attempt += 1,
            Err(err) => panic!("no free ports: {err}"),
        }
    };
    let base = terminals[0].addr().port();
    for (i, t) in terminals.iter().enumerate() {
        assert_eq!(t.addr().port(), base + i as u16);
        let response = client()
            .get(format!("{}{}", t.base_url(), paths::DEVICE_INFO))
            .send_digest_auth((USER, PASS))
            .await
            .expect("request");
        let info: DeviceInfo =
            quick_xml::de::from_str(&response.text().await.expect("body")).expect("XML");
        assert_eq!(info.device_name, format!("Simulated Terminal {}", i + 1));
    }
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let t = start_default().await;
    let addr = t.addr();
    // Leave a kept-alive connection open: shutdown must not wait for it.
    let client = client();
    client
        .get(format!("http://{addr}/_sim/state"))
        .send()
        .await
        .expect("request");
    tokio::time::timeout(Duration::from_secs(2), t.shutdown())
        .await
        .expect("shutdown completes");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let t = start_default().await;
    let addr = t.addr();
    drop(t);
    let mut closed = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "dropping the terminal stops its listener");
}
