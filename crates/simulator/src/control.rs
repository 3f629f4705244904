//! `/_sim/*`: the control endpoints of a simulated terminal. No Digest auth and no faults:
//! they must keep working while the terminal plays dead.
//!
//! - `GET /_sim/faults`, `PUT /_sim/faults` (JSON [`Faults`]; omitted knobs are off)
//! - `GET /_sim/state` ([`StateSnapshot`](super::StateSnapshot))
//! - `GET /_sim/requests` (the request log)
//! - `GET /_sim/searches` (the search log: `searchID` and position of each search page)
//! - `POST /_sim/reset-lock` (lifts the lockout and forgets failed logins)
//! - `GET /_sim/faces/{fpid}` (the stored picture; FDSearch's `faceURL` points here)
//! - `GET /_sim/access/{employeeNo}?at=<RFC 3339>` (would a face presented then open the door;
//!   [`AccessAnswer`](super::AccessAnswer); `at` defaults to now)
//! - `GET /_sim/events` (the event log), `POST /_sim/events/face` (`{"employeeNo", "doorNo"}`:
//!   presents a face now), `POST /_sim/events/door` (`{"doorNo", "minor"}`),
//!   `POST /_sim/events/reset` (empties the log, numbering from 1 again)

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post};
use serde_json::json;

use super::config::Faults;
use super::picture::content_type;
use super::terminal::Terminal;

/// The control routes.
pub(crate) fn routes() -> Router<Arc<Terminal>> {
    Router::new()
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/state", get(state))
        .route("/_sim/requests", get(requests))
        .route("/_sim/searches", get(searches))
        .route("/_sim/reset-lock", post(reset_lock))
        .route("/_sim/faces/{fpid}", get(face))
        .route("/_sim/access/{employee_no}", get(access))
        .route("/_sim/events", get(events))
        .route("/_sim/events/face", post(present_face))
        .route("/_sim/events/door", post(door))
        .route("/_sim/events/reset", post(reset_events))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaceAtDoor {
    employee_no: String,
    #[serde(default = "first_door")]
    door_no: i32,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DoorEvent {
    #[serde(default = "first_door")]
    door_no: i32,
    minor: i32,
}

fn first_door() -> i32 {
    1
}

async fn events(State(t): State<Arc<Terminal>>) -> Response {
    let log = t.events();
    let list: Vec<_> = log.events.iter().map(|e| e.info.clone()).collect();
    drop(log);
    Json(json!({ "InfoList": list })).into_response()
}

async fn present_face(
    State(t): State<Arc<Terminal>>,
    body: Result<Json<FaceAtDoor>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(face)) => {
            let (answer, serial_no) = t.present_face(&face.employee_no, face.door_no);
            Json(json!({ "access": answer, "serialNo": serial_no })).into_response()
        }
        Err(rejection) => bad_body(&rejection),
    }
}

async fn door(
    State(t): State<Arc<Terminal>>,
    body: Result<Json<DoorEvent>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(door)) => {
            let serial_no = t.door_event(door.door_no, door.minor);
            Json(json!({ "serialNo": serial_no })).into_response()
        }
        Err(rejection) => bad_body(&rejection),
    }
}

async fn reset_events(State(t): State<Arc<Terminal>>) -> StatusCode {
    t.events().reset();
    StatusCode::NO_CONTENT
}

fn bad_body(rejection: &JsonRejection) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "status": "error", "message": rejection.body_text() })),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct AccessQuery {
    at: Option<String>,
}

async fn access(
    State(t): State<Arc<Terminal>>,
    Path(employee_no): Path<String>,
    Query(query): Query<AccessQuery>,
) -> Response {
    let at = match query
        .at
        .as_deref()
        .map(chrono::DateTime::parse_from_rfc3339)
    {
        None => chrono::Utc::now(),
        Some(Ok(at)) => at.with_timezone(&chrono::Utc),
        Some(Err(e)) => {
            let message = format!("at: not an RFC 3339 time ({e})");
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "status": "error", "message": message })),
            )
                .into_response();
        }
    };
    Json(t.face_access(&employee_no, at)).into_response()
}

async fn get_faults(State(t): State<Arc<Terminal>>) -> Json<Faults> {
    Json(t.faults())
}

async fn put_faults(
    State(t): State<Arc<Terminal>>,
    faults: Result<Json<Faults>, JsonRejection>,
) -> Response {
    match faults {
        Ok(Json(faults)) => {
            t.set_faults(faults.clone());
            Json(faults).into_response()
        }
        Err(rejection) => (
            rejection.status(),
            Json(json!({ "status": "error", "message": rejection.body_text() })),
        )
            .into_response(),
    }
}

async fn state(State(t): State<Arc<Terminal>>) -> Response {
    Json(t.snapshot()).into_response()
}

async fn requests(State(t): State<Arc<Terminal>>) -> Response {
    Json(t.store().request_log()).into_response()
}

async fn searches(State(t): State<Arc<Terminal>>) -> Response {
    Json(t.store().search_log()).into_response()
}

async fn reset_lock(State(t): State<Arc<Terminal>>) -> Response {
    t.store().login.reset();
    Json(t.snapshot()).into_response()
}

async fn face(State(t): State<Arc<Terminal>>, Path(fpid): Path<String>) -> Response {
    let bytes = t.store().faces.get(&fpid).map(|face| face.bytes.clone());
    match bytes {
        Some(bytes) => ([(header::CONTENT_TYPE, content_type(&bytes))], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
