//! The HTTP face of a terminal: the route table and the gate every `/ISAPI/*` request passes
//! (faults, then Digest auth, then the buffered body).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use hikvision_isapi::wire::{UserCheck, paths};

use super::acs;
use super::auth::{Denial, authorize, challenge};
use super::control;
use super::deletion;
use super::faces;
use super::inventory;
use super::net::ConnHandle;
use super::persons;
use super::reply::{Failure, device_info_xml, internal_error_page, render, unauthorized};
use super::request::{BodyRead, MAX_BODY_BYTES, read_body};
use super::terminal::Terminal;

/// Every route of a terminal.
pub(crate) fn router(terminal: Arc<Terminal>) -> Router {
    let isapi = Router::new()
        .route(paths::USER_RECORD, post(persons::record))
        .route(paths::USER_MODIFY, put(persons::modify))
        .route(paths::USER_SETUP, put(persons::setup))
        .route(paths::USER_SEARCH, post(persons::search))
        .route(paths::USER_DELETE, put(deletion::persons))
        .route(paths::USER_COUNT, get(persons::count))
        .route(paths::FACE_RECORD, post(faces::record))
        .route(paths::FACE_MODIFY, put(faces::modify))
        .route(paths::FACE_SETUP, put(faces::setup))
        .route(paths::FACE_SEARCH, post(faces::search))
        .route(paths::FACE_DELETE, put(deletion::faces))
        .route(paths::DEVICE_INFO, get(device_info))
        .route(paths::FACE_CAPABILITIES, get(face_capabilities))
        .route(paths::ACS_EVENT, post(acs::search))
        .route(paths::ACS_EVENT_TOTAL, post(acs::total))
        .route(paths::HTTP_HOSTS, get(acs::hosts))
        .route(&format!("{}/{{id}}", paths::HTTP_HOSTS), put(acs::put_host))
        .route(paths::SYSTEM_TIME, get(acs::time).put(acs::set_time))
        .route(inventory::CAPABILITIES, get(inventory::capabilities))
        .route(inventory::FACE_COUNT, get(inventory::face_count))
        .route(inventory::CARD_COUNT, get(inventory::card_count))
        .route(inventory::DETAIL_DELETE, put(inventory::detail_delete))
        .route(
            inventory::DETAIL_DELETE_PROCESS,
            get(inventory::delete_process),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found);
    isapi
        .merge(control::routes())
        .layer(middleware::from_fn_with_state(Arc::clone(&terminal), gate))
        .with_state(terminal)
}

/// Face-library capabilities: `put` (FDModify) is missing on old firmware.
async fn face_capabilities(State(t): State<Arc<Terminal>>) -> Response {
    let faults = t.faults();
    let functions = match (faults.fdmodify_unsupported, faults.setup_unsupported) {
        (false, false) => "post,delete,put,get,setUp",
        (true, false) => "post,delete,get,setUp",
        (false, true) => "post,delete,put,get",
        (true, true) => "post,delete,get",
    };
    // The 2020 guide's shape: flat, lists as comma-separated strings (`docs/isapi.md`).
    axum::Json(serde_json::json!({
        "requestURL": paths::FACE_CAPABILITIES,
        "statusCode": 1,
        "statusString": "OK",
        "subStatusCode": "ok",
        "FDRecordDataMaxNum": t.config.face_capacity,
        "supportFDFunction": functions,
        "faceLibType": "blackFD"
    }))
    .into_response()
}

fn is_isapi(path: &str) -> bool {
    path == "/ISAPI" || path.starts_with("/ISAPI/")
}

async fn device_info(State(t): State<Arc<Terminal>>) -> Response {
    device_info_xml(&t.device_info())
}

async fn method_not_allowed(State(t): State<Arc<Terminal>>, req: Request) -> Response {
    let url = request_url(&req);
    render(
        Err(Failure::method_not_allowed()),
        &url,
        t.faults().xml_only,
    )
}

async fn not_found(State(t): State<Arc<Terminal>>, req: Request) -> Response {
    if !is_isapi(req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let url = request_url(&req);
    render(Err(Failure::not_support()), &url, t.faults().xml_only)
}

fn request_url(req: &Request) -> String {
    req.uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |pq| pq.as_str().to_owned())
}

/// Faults first (`reset`, `hang`, `http_500`, in that order), then Digest auth, then the body is
/// buffered, `latency_ms` is waited (the terminal at work) and the handler runs. Requests outside
/// `/ISAPI` pass untouched.
async fn gate(State(t): State<Arc<Terminal>>, req: Request, next: Next) -> Response {
    if !is_isapi(req.uri().path()) {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let faults = t.faults();
    let conn = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|info| info.0.clone());

    if faults.reset || faults.hang {
        t.log(&method, &path, None);
        if faults.hang {
            // Held until the terminal stops or the knob is turned off; then the connection
            // is cut, still without a reply.
            t.hang().await;
        }
        return drop_connection(conn.as_ref());
    }
    // The terminal's work on a call takes `latency_ms`; the Digest challenge is answered at
    // once (the web server does no work for it), so only answered calls wait.
    let work = Duration::from_millis(faults.latency_ms);

    let url = request_url(&req);
    let (parts, body) = req.into_parts();
    let response = if faults.http_500 {
        read_body(body, 0).await;
        if !work.is_zero() && !t.sleep(work).await {
            t.log(&method, &path, None);
            return drop_connection(conn.as_ref());
        }
        internal_error_page()
    } else {
        let decision = {
            let mut store = t.store();
            authorize(
                &t.config,
                &t.nonces,
                &mut store.login,
                &parts.method,
                &parts.uri,
                &parts.headers,
            )
        };
        match decision {
            Err(denial) => {
                // Clients send the body with the unauthenticated first request too: read it
                // all, or the next request on this kept-alive connection starts mid-body.
                read_body(body, 0).await;
                denial_response(&t, denial)
            }
            Ok(()) => match read_body(body, MAX_BODY_BYTES).await {
                BodyRead::Complete(bytes) => {
                    if !work.is_zero() && !t.sleep(work).await {
                        t.log(&method, &path, None);
                        return drop_connection(conn.as_ref());
                    }
                    next.run(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
                BodyRead::TooLarge => {
                    render(Err(Failure::bad_json_format()), &url, faults.xml_only)
                }
                BodyRead::Broken => StatusCode::BAD_REQUEST.into_response(),
            },
        }
    };
    t.log(&method, &path, Some(response.status().as_u16()));
    response
}

/// Cuts the connection the request came on; the returned response is never sent. Without a
/// connection handle (an in-process call) there is nothing to cut, so it answers 503.
fn drop_connection(conn: Option<&ConnHandle>) -> Response {
    if let Some(conn) = conn {
        conn.kill();
    }
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

fn denial_response(t: &Terminal, denial: Denial) -> Response {
    let (stale, lock_status, unlock_time, retry_left) = match denial {
        Denial::BadRequest => return StatusCode::BAD_REQUEST.into_response(),
        Denial::Challenge { stale } => {
            let retry_left = t.store().login.retry_left(t.config.lockout_after);
            (stale, "unlock", 0, retry_left)
        }
        Denial::Failed { retry_left } => (false, "unlock", 0, retry_left),
        Denial::Locked { unlock_in } => (false, "locked", unlock_in, 0),
    };
    let check = UserCheck {
        status_value: 401,
        status_string: "Unauthorized".into(),
        lock_status: lock_status.into(),
        retry_login_time: Some(retry_left),
        unlock_time: Some(unlock_time),
    };
    let header = challenge(&t.config.model, &t.nonces.issue(), stale);
    unauthorized(&header, &check)
}
