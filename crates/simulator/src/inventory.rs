//! What a terminal says about itself and the wipe it offers: `AccessControl/capabilities`,
//! `FDLib/Count`, `CardInfo/Count`, and `UserInfoDetail/Delete` (a real terminal's "delete every
//! person", with its `DeleteProcess`; the service never sends it, the simulator has it so tests
//! can wipe a terminal the way an installer does).
//!
//! `UserInfoDetail/Delete` takes `{"UserInfoDetail": {"mode": "all"}}` (every person and face,
//! counted in `mass_deletions`) or `{"mode": "byEmployeeNo", "EmployeeNoList": [{"employeeNo"}]}`;
//! another mode is `badParameters` naming `mode`. The deletion is done at once, so
//! `DeleteProcess` always answers `success`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use hikvision_isapi::wire::EmployeeNoEntry;

use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, parse_json};
use super::terminal::Terminal;

/// `GET`: the access-control capabilities.
pub(crate) const CAPABILITIES: &str = "/ISAPI/AccessControl/capabilities";
/// `GET`: faces per library.
pub(crate) const FACE_COUNT: &str = "/ISAPI/Intelligent/FDLib/Count";
/// `GET`: cards (the simulator stores none).
pub(crate) const CARD_COUNT: &str = "/ISAPI/AccessControl/CardInfo/Count";
/// `PUT`: delete every person (or those named).
pub(crate) const DETAIL_DELETE: &str = "/ISAPI/AccessControl/UserInfoDetail/Delete";
/// `GET`: how the last `UserInfoDetail/Delete` went.
pub(crate) const DETAIL_DELETE_PROCESS: &str = "/ISAPI/AccessControl/UserInfoDetail/DeleteProcess";

/// `GET /ISAPI/AccessControl/capabilities`.
pub(crate) async fn capabilities(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let events = !t.faults().acs_event_unsupported;
    let body = json!({"AccessControl": {
        "isSupportUserInfo": true,
        "isSupportFDLib": true,
        "isSupportCardInfo": true,
        "isSupportAcsEvent": events,
        "isSupportAcsEventTotalNum": events,
        "isSupportUserInfoDetailDelete": true,
    }});
    render(Ok(Success::Json(body)), &req.url, t.faults().xml_only)
}

/// `GET /ISAPI/Intelligent/FDLib/Count`.
pub(crate) async fn face_count(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let faces = t.store().faces.len();
    let body = json!({
        "requestURL": FACE_COUNT, "statusCode": 1, "statusString": "OK", "subStatusCode": "ok",
        "FDRecordDataInfo": [{"FDID": "1", "faceLibType": "blackFD", "name": "", "recordDataNumber": faces}]
    });
    render(Ok(Success::Json(body)), &req.url, t.faults().xml_only)
}

/// `GET /ISAPI/AccessControl/CardInfo/Count`.
pub(crate) async fn card_count(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let body = json!({"CardInfoCount": {"cardNumber": 0}});
    render(Ok(Success::Json(body)), &req.url, t.faults().xml_only)
}

#[derive(Deserialize)]
struct DetailEnvelope {
    #[serde(rename = "UserInfoDetail")]
    detail: Detail,
}

#[derive(Deserialize)]
struct Detail {
    mode: String,
    #[serde(rename = "EmployeeNoList", default)]
    employee_no_list: Vec<EmployeeNoEntry>,
}

/// `PUT /ISAPI/AccessControl/UserInfoDetail/Delete`.
pub(crate) async fn detail_delete(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = wipe(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

fn wipe(t: &Terminal, req: &IsapiRequest) -> Outcome {
    let DetailEnvelope { detail } = parse_json(&req.body, "UserInfoDetail")?;
    let mut store = t.store();
    match detail.mode.as_str() {
        "all" => {
            store.persons.clear();
            store.faces.clear();
            store.mass_deletions += 1;
        }
        "byEmployeeNo" => {
            for e in &detail.employee_no_list {
                store.persons.remove(&e.employee_no);
                store.faces.remove(&e.employee_no);
            }
        }
        _ => return Err(Failure::bad_parameters("mode")),
    }
    Ok(Success::Ack { fpid: None })
}

/// `GET /ISAPI/AccessControl/UserInfoDetail/DeleteProcess`.
pub(crate) async fn delete_process(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let body = json!({"UserInfoDetailDeleteProcess": {"status": "success"}});
    render(Ok(Success::Json(body)), &req.url, t.faults().xml_only)
}
