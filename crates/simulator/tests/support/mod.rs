//! What every simulator test shares: a terminal on a random port, a client that speaks Digest
//! auth (reqwest + diqwest), request bodies and pictures, reply checks, and a picture server
//! standing in for Supabase Storage.
#![allow(dead_code)]

#[path = "../picture_kit/mod.rs"]
mod picture_kit;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use axum::routing::get;
use diqwest::WithDigestAuth;
use hikvision_isapi::wire::{UserInfo, paths};
use hikvision_simulator::{Faults, SimulatedTerminal, TerminalConfig, spawn};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

pub use picture_kit::*;

/// The terminal's account.
pub const USER: &str = "admin";
/// Its password.
pub const PASS: &str = TerminalConfig::DEMO_PASSWORD;

/// A simulated terminal with `config` on a random loopback port.
pub async fn start(config: TerminalConfig) -> SimulatedTerminal {
    spawn(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts")
}

/// A simulated terminal with the default configuration.
pub async fn start_default() -> SimulatedTerminal {
    start(TerminalConfig::default()).await
}

/// A simulated terminal whose faults are the defaults changed by `set`.
pub async fn start_with_faults(set: impl FnOnce(&mut Faults)) -> SimulatedTerminal {
    let mut faults = Faults::default();
    set(&mut faults);
    start(TerminalConfig {
        faults,
        ..TerminalConfig::default()
    })
    .await
}

/// A client without proxies and with a 15 s timeout.
pub fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

/// `path` on `t`, with `?format=json`.
pub fn isapi_url(t: &SimulatedTerminal, path: &str) -> String {
    format!("{}{path}?format=json", t.base_url())
}

/// `GET /ISAPI/System/deviceInfo` of `t` (XML: no `format`).
pub fn device_info_url(t: &SimulatedTerminal) -> String {
    format!("{}{}", t.base_url(), paths::DEVICE_INFO)
}

/// A GET of `url` with Digest auth as the terminal's account with `password`.
pub async fn get_as(client: &Client, url: &str, password: &str) -> Response {
    client
        .get(url)
        .send_digest_auth((USER, password))
        .await
        .expect("request completes")
}

/// A JSON request with Digest auth as `creds`.
pub async fn call(
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

/// A JSON POST with the right credentials.
pub async fn post(t: &SimulatedTerminal, path: &str, body: Value) -> Response {
    call(&client(), t, Method::POST, path, &body, (USER, PASS)).await
}

/// A JSON PUT with the right credentials.
pub async fn put(t: &SimulatedTerminal, path: &str, body: Value) -> Response {
    call(&client(), t, Method::PUT, path, &body, (USER, PASS)).await
}

/// The status and JSON body of `response`.
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

/// A `UserInfo/Record` body for `employee_no`.
pub fn user_body(employee_no: &str) -> Value {
    json!({"UserInfo": {
        "employeeNo": employee_no,
        "name": format!("Person {employee_no}"),
        "userType": "normal",
        "Valid": {"enable": true, "beginTime": "2024-01-01T00:00:00", "endTime": "2034-12-31T23:59:59", "timeType": "local"},
        "doorRight": "1",
        "RightPlan": [{"doorNo": 1, "planTemplateNo": "1"}]
    }})
}

/// The person of `user_body(employee_no)`, for seeding a terminal.
pub fn person(employee_no: &str) -> UserInfo {
    serde_json::from_value(user_body(employee_no)["UserInfo"].clone()).expect("UserInfo")
}

/// A FaceDataRecord / FDModify / FDSetUp body with a `faceURL`.
pub fn face_body(fpid: &str, face_url: &str) -> Value {
    json!({"faceLibType": "blackFD", "FDID": "1", "FPID": fpid, "faceURL": face_url})
}

/// A face call with the `faceURL` body of [`face_body`], with the right credentials: its status
/// and JSON reply. FaceDataRecord is a POST; FDModify and FDSetUp are PUTs.
pub async fn send_face(
    t: &SimulatedTerminal,
    path: &str,
    fpid: &str,
    face_url: &str,
) -> (StatusCode, Value) {
    let method = if path == paths::FACE_RECORD {
        Method::POST
    } else {
        Method::PUT
    };
    let body = face_body(fpid, face_url);
    json_of(call(&client(), t, method, path, &body, (USER, PASS)).await).await
}

/// `body` is a complete failure `ResponseStatus` with these codes.
pub fn assert_failure(body: &Value, status_code: i64, sub_status: &str) {
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

/// `body` is the success `ResponseStatus`.
pub fn assert_ok(body: &Value) {
    assert_eq!(body["statusCode"], 1, "body: {body}");
    assert_eq!(body["statusString"], "OK", "body: {body}");
    assert_eq!(body["subStatusCode"], "ok", "body: {body}");
}

/// A `multipart/form-data` body and its content type.
pub struct MultipartBody {
    /// `multipart/form-data; boundary=...`.
    pub content_type: String,
    /// The whole body.
    pub bytes: Vec<u8>,
}

/// The `FaceDataRecord` JSON part, then the picture in part `image_part`.
pub fn multipart(record: &Value, image_part: &str, image: &[u8]) -> MultipartBody {
    multipart_parts(&[
        Part::Json("FaceDataRecord", record),
        Part::Picture(image_part, image),
    ])
}

/// One part of a multipart face upload.
pub enum Part<'a> {
    /// A JSON part with this name (no filename).
    Json(&'a str, &'a Value),
    /// A picture part with this name (filename `face.jpg`, `image/jpeg`).
    Picture(&'a str, &'a [u8]),
}

/// A multipart body of `parts`, in this order.
pub fn multipart_parts(parts: &[Part<'_>]) -> MultipartBody {
    let boundary = "----simtestboundary7MA4YWxkTrZu0gW";
    let mut bytes = Vec::new();
    for part in parts {
        let (head, content) = match part {
            Part::Json(name, value) => (
                format!("name=\"{name}\"\r\nContent-Type: application/json"),
                value.to_string().into_bytes(),
            ),
            Part::Picture(name, image) => (
                format!("name=\"{name}\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg"),
                image.to_vec(),
            ),
        };
        bytes.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; {head}\r\n\r\n").as_bytes(),
        );
        bytes.extend_from_slice(&content);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    MultipartBody {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
    }
}

/// Sends a multipart body with the right credentials.
pub async fn send_multipart(
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
pub struct PictureServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl PictureServer {
    /// Serves `pictures` under `/pictures/{name}`, and `/slow` that answers after 5 s.
    pub async fn start(pictures: HashMap<String, Vec<u8>>) -> Self {
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

    /// The URL of picture `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/pictures/{name}", self.base)
    }
}

impl Drop for PictureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// GET of a `/_sim/*` control endpoint (no auth), as JSON.
pub async fn sim_get<T: serde::de::DeserializeOwned>(t: &SimulatedTerminal, path: &str) -> T {
    client()
        .get(format!("{}{path}", t.base_url()))
        .send()
        .await
        .expect("control request")
        .json()
        .await
        .expect("control JSON")
}
