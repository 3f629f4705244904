//! The HTTP side of the terminal client: one shared reqwest client, Digest auth, timeouts, capped
//! reply bodies, and one async fn per ISAPI operation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header;
use serde::Serialize;
use url::Url;

use crate::call::TerminalCall;
use crate::digest::{self, DigestError};
use crate::employee_no::EmployeeNo;
use crate::error::IsapiError;
use crate::multipart;
use crate::observer::{CallObserver, CallOutcome};
use crate::payload::{build_face_image_payload, build_face_image_update_payload};
use crate::reply::{RawReply, parse_json, parse_status, parse_xml};
use crate::terminal::Terminal;
use crate::upload::PushedJpeg;
use crate::wire::{
    DeviceInfo, FaceRecord, FdLibCapabilities, ResponseStatus, UserInfo, UserInfoEnvelope,
};

/// Timeouts and limits of terminal calls.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Total time for one operation, both Digest legs and the reply body included.
    pub total_timeout: Duration,
    /// Largest reply body read; larger replies are an error.
    pub max_reply_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self::with_total_timeout(Duration::from_secs(10))
    }
}

impl ClientOptions {
    /// Options for a total timeout; the connect timeout is a third of it, between 0.2 and 3 s.
    pub fn with_total_timeout(total_timeout: Duration) -> Self {
        Self {
            connect_timeout: (total_timeout / 3)
                .clamp(Duration::from_millis(200), Duration::from_secs(3)),
            total_timeout,
            max_reply_bytes: 64 * 1024,
        }
    }
}

/// How long a terminal connection is kept after its last reply: longer than the pause between
/// two paced calls of one fan-out (`RATE_LIMIT_DELAY_MS`, 500 ms by default), far shorter than
/// the terminals' own keep-alive.
pub const IDLE_CONNECTION: Duration = Duration::from_millis(1500);

/// Which face call to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceCall {
    /// POST FaceDataRecord: add a face to a person that has none.
    Record,
    /// PUT FDModify: replace an existing face (the owner's plan).
    Modify,
    /// PUT FDSetUp: add or replace.
    SetUp,
}

impl FaceCall {
    /// The terminal call this is.
    pub fn call(self) -> TerminalCall {
        match self {
            Self::Record => TerminalCall::FaceDataRecord,
            Self::Modify => TerminalCall::FdModify,
            Self::SetUp => TerminalCall::FdSetUp,
        }
    }

    fn payload(self, employee_no: &EmployeeNo, url: Option<&str>) -> FaceRecord {
        match self {
            Self::Modify => build_face_image_update_payload(employee_no, url),
            Self::Record | Self::SetUp => build_face_image_payload(employee_no, url),
        }
    }
}

/// The picture to send: a URL the terminal downloads, or bytes pushed in a multipart upload.
#[derive(Debug, Clone)]
pub enum FacePicture {
    /// The terminal downloads it (`faceURL`).
    Url(Url),
    /// JPEG bytes pushed by the service (for terminals that cannot reach the photo's host).
    Jpeg(PushedJpeg),
}

/// What a call sends.
pub(crate) enum Body {
    Empty,
    /// No body, but `?format=json`.
    Query,
    Json(Vec<u8>),
    /// An XML body (no `?format=json`).
    Xml(Vec<u8>),
    Multipart(multipart::MultipartBody),
}

/// The terminal client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct IsapiClient {
    http: reqwest::Client,
    options: ClientOptions,
    observer: Option<Arc<dyn CallObserver>>,
}

impl IsapiClient {
    /// A client with its own connection pool.
    pub fn new(options: ClientOptions) -> Result<Self, IsapiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.total_timeout)
            // One idle connection per terminal, for a moment: the Digest answer goes out on the
            // connection that carried the challenge, and a fan-out's next call to the same
            // terminal (the read-back) finds it open; a pool of idle connections kept longer
            // cost more memory than the whole service at 1,000 terminals (BENCHMARKS.md).
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(IDLE_CONNECTION)
            .user_agent(concat!("hikvision-sync/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            // A redirect would take the request (and the Digest answer) to another address.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| IsapiError::InvalidRequest(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            http,
            options,
            observer: None,
        })
    }

    /// Reports every call to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The options this client was built with.
    pub fn options(&self) -> ClientOptions {
        self.options
    }

    /// POST UserInfo/Record: adds a person.
    pub async fn add_person(&self, t: &Terminal, user: &UserInfo) -> Result<(), IsapiError> {
        self.write_person(t, TerminalCall::UserRecord, user).await
    }

    /// PUT UserInfo/Modify: edits a person the terminal holds.
    pub async fn modify_person(&self, t: &Terminal, user: &UserInfo) -> Result<(), IsapiError> {
        self.write_person(t, TerminalCall::UserModify, user).await
    }

    /// PUT UserInfo/SetUp: adds the person or edits it if it exists.
    pub async fn setup_person(&self, t: &Terminal, user: &UserInfo) -> Result<(), IsapiError> {
        self.write_person(t, TerminalCall::UserSetUp, user).await
    }

    /// A person write. The fields only search replies carry (`numOfFace`, `faceURL`) are the
    /// terminal's to report and are never sent, so a listed person can be written back as is.
    async fn write_person(
        &self,
        t: &Terminal,
        call: TerminalCall,
        user: &UserInfo,
    ) -> Result<(), IsapiError> {
        let mut user_info = user.clone();
        user_info.num_of_face = None;
        user_info.face_url = None;
        let body = json(&UserInfoEnvelope { user_info })?;
        let reply = self.call(t, call, body).await?;
        parse_status(&reply).map(drop)
    }

    /// One face call (FaceDataRecord, FDModify or FDSetUp) with a URL or pushed bytes.
    pub async fn face(
        &self,
        call: FaceCall,
        t: &Terminal,
        employee_no: &EmployeeNo,
        picture: &FacePicture,
    ) -> Result<ResponseStatus, IsapiError> {
        let body = match picture {
            FacePicture::Url(url) => json(&call.payload(employee_no, Some(url.as_str())))?,
            FacePicture::Jpeg(jpeg) => {
                let record = serde_json::to_vec(&call.payload(employee_no, None))
                    .map_err(|e| IsapiError::InvalidRequest(e.to_string()))?;
                Body::Multipart(jpeg.body(&record))
            }
        };
        let reply = self.call(t, call.call(), body).await?;
        parse_status(&reply)
    }

    /// POST FaceDataRecord: adds a face to a person that has none (the plan's existing POST flow).
    pub async fn add_face_image_to_device(
        &self,
        t: &Terminal,
        employee_no: &EmployeeNo,
        picture: &FacePicture,
    ) -> Result<ResponseStatus, IsapiError> {
        self.face(FaceCall::Record, t, employee_no, picture).await
    }

    /// PUT FDModify: replaces the person's face (the plan's new PUT).
    pub async fn update_face_image_to_device(
        &self,
        t: &Terminal,
        employee_no: &EmployeeNo,
        picture: &FacePicture,
    ) -> Result<ResponseStatus, IsapiError> {
        self.face(FaceCall::Modify, t, employee_no, picture).await
    }

    /// PUT FDSetUp: adds or replaces the person's face.
    pub async fn setup_face_image_on_device(
        &self,
        t: &Terminal,
        employee_no: &EmployeeNo,
        picture: &FacePicture,
    ) -> Result<ResponseStatus, IsapiError> {
        self.face(FaceCall::SetUp, t, employee_no, picture).await
    }

    /// GET deviceInfo: model, serial number and firmware (XML).
    pub async fn device_info(&self, t: &Terminal) -> Result<DeviceInfo, IsapiError> {
        let reply = self.call(t, TerminalCall::DeviceInfo, Body::Empty).await?;
        parse_xml(&reply)
    }

    /// GET FDLib capabilities: the face calls the firmware offers, and its face capacity.
    pub async fn face_capabilities(&self, t: &Terminal) -> Result<FdLibCapabilities, IsapiError> {
        let reply = self
            .call(t, TerminalCall::FaceCapabilities, Body::Query)
            .await?;
        parse_json(&reply)
    }

    /// Whether the firmware offers FDModify (`put` in `supportFDFunction`); `None` when the
    /// terminal does not say.
    pub async fn supports_fdmodify(&self, t: &Terminal) -> Result<Option<bool>, IsapiError> {
        Ok(self.face_capabilities(t).await?.offers("put"))
    }

    /// Sends one request with Digest auth and reads the capped reply, all within the total timeout.
    pub(crate) async fn call(
        &self,
        t: &Terminal,
        call: TerminalCall,
        body: Body,
    ) -> Result<RawReply, IsapiError> {
        self.call_at(t, call, None, body).await
    }

    /// [`Self::call`] on the call's path plus `/{item}` (one listener slot).
    pub(crate) async fn call_at(
        &self,
        t: &Terminal,
        call: TerminalCall,
        item: Option<&str>,
        body: Body,
    ) -> Result<RawReply, IsapiError> {
        let (method, path) = call.route();
        let path = match item {
            Some(item) => format!("{path}/{item}"),
            None => path.to_owned(),
        };
        let path = path.as_str();
        let is_json = !matches!(body, Body::Empty | Body::Xml(_));

        let mut url = t.url(path, is_json)?;
        url.query_pairs_mut().extend_pairs(call.query());
        let mut request = self.http.request(method.clone(), url);
        request = match body {
            Body::Empty | Body::Query => request,
            Body::Json(bytes) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes),
            Body::Xml(bytes) => request
                .header(header::CONTENT_TYPE, "application/xml")
                .body(bytes),
            Body::Multipart(m) => request
                .header(header::CONTENT_TYPE, m.content_type)
                .body(m.bytes),
        };
        let started = Instant::now();
        let exchange = async {
            let response = digest::send(&self.http, request, t.username(), t.password())
                .await
                .map_err(|e| self.map_digest_error(e, t))?;
            let status = response.status().as_u16();
            if response.status().is_redirection() {
                // Named by its status only: where it points is the device's business.
                return Err(IsapiError::UnexpectedReply {
                    http_status: status,
                    detail: "a redirect, which the service does not follow; check the device's \
                             address and that its port is the terminal's web (ISAPI) port"
                        .into(),
                });
            }
            let body = self.read_capped(response, t).await?;
            Ok(RawReply { status, body })
        };
        let result = tokio::time::timeout(self.options.total_timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(self.timeout_error()));
        let elapsed = started.elapsed();
        let elapsed_ms = elapsed.as_millis() as u64;
        if let Some(observer) = &self.observer {
            let outcome = match &result {
                Ok(reply) if (200..300).contains(&reply.status) => CallOutcome::Ok,
                Ok(_) => CallOutcome::Refused,
                Err(e) => CallOutcome::Failed(e.class()),
            };
            observer.observe(&t.address(), call, outcome, elapsed);
        }
        match &result {
            Ok(reply) => {
                tracing::debug!(terminal = %t.address(), %method, path, status = reply.status, elapsed_ms, "terminal replied")
            }
            Err(e) => {
                tracing::debug!(terminal = %t.address(), %method, path, error = e.class().name(), elapsed_ms, "terminal call failed")
            }
        }
        result
    }

    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        t: &Terminal,
    ) -> Result<Bytes, IsapiError> {
        let limit = self.options.max_reply_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(IsapiError::ReplyTooLarge { limit });
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_http_error(&e, t))?
        {
            if buf.len() + chunk.len() > limit {
                return Err(IsapiError::ReplyTooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    fn timeout_error(&self) -> IsapiError {
        IsapiError::Timeout {
            timeout_ms: self.options.total_timeout.as_millis() as u64,
        }
    }

    fn map_digest_error(&self, e: DigestError, t: &Terminal) -> IsapiError {
        match e {
            DigestError::Http(e) => self.map_http_error(&e, t),
            DigestError::Challenge(why) => IsapiError::UnexpectedReply {
                http_status: 401,
                detail: format!("the terminal's login challenge could not be answered ({why})"),
            },
        }
    }

    fn map_http_error(&self, e: &reqwest::Error, t: &Terminal) -> IsapiError {
        if e.is_timeout() && e.is_connect() {
            // No TCP connection within the connect timeout: the terminal is off or unreachable.
            return IsapiError::Unreachable {
                address: t.address(),
                reason: format!(
                    "no answer to the connection attempt within {} ms",
                    self.options.connect_timeout.as_millis()
                ),
            };
        }
        if e.is_timeout() {
            return self.timeout_error();
        }
        if let Some(parse) = hyper_parse_error(e) {
            // The peer answered, but not in HTTP (a port of another service, e.g. the SDK port
            // 8000): a reply problem, not a broken connection, and retrying cannot help.
            return IsapiError::UnexpectedReply {
                http_status: 0,
                detail: format!(
                    "the reply is not HTTP ({parse}); check that the device's port is the terminal's web (ISAPI) port, usually 80, not the SDK port 8000"
                ),
            };
        }
        let reason = root_cause(e);
        if e.is_connect() {
            IsapiError::Unreachable {
                address: t.address(),
                reason,
            }
        } else {
            IsapiError::ConnectionLost { reason }
        }
    }
}

/// `value` as a JSON body.
pub(crate) fn json<T: Serialize>(value: &T) -> Result<Body, IsapiError> {
    serde_json::to_vec(value)
        .map(Body::Json)
        .map_err(|e| IsapiError::InvalidRequest(e.to_string()))
}

/// hyper's error when the reply could not be parsed as HTTP (bad status line, headers, ...).
fn hyper_parse_error(e: &reqwest::Error) -> Option<&hyper::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            return h.is_parse().then_some(h);
        }
        source = s.source();
    }
    None
}

/// The innermost cause in plain words (never the URL, which reqwest's own Display includes).
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset by the terminal".into(),
                std::io::ErrorKind::ConnectionAborted => "connection aborted".into(),
                std::io::ErrorKind::HostUnreachable => "host unreachable".into(),
                std::io::ErrorKind::NetworkUnreachable => "network unreachable".into(),
                std::io::ErrorKind::UnexpectedEof => "the terminal closed the connection".into(),
                _ => io.to_string(),
            };
        }
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| "connection error".into())
}
