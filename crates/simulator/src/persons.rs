//! `/ISAPI/AccessControl/UserInfo/*`: adding, editing and finding persons.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;

use hikvision_isapi::wire::{
    MAX_EMPLOYEE_NO_BYTES, UserInfo, UserInfoEnvelope, UserInfoSearchEnvelope, UserInfoSearchReply,
    UserInfoSearchReplyEnvelope,
};

use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, parse_json};
use super::terminal::Terminal;

/// Most results one search page returns, whatever `maxResults` asks for.
pub(crate) const MAX_SEARCH_RESULTS: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// `POST Record`: the person must not exist.
    Add,
    /// `PUT Modify`: the person must exist.
    Edit,
    /// `PUT SetUp`: either.
    AddOrEdit,
}

/// `POST /ISAPI/AccessControl/UserInfo/Record`.
pub(crate) async fn record(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = write(&t, &req, Write::Add);
    render(outcome, &req.url, t.faults().xml_only)
}

/// `PUT /ISAPI/AccessControl/UserInfo/Modify`.
pub(crate) async fn modify(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = write(&t, &req, Write::Edit);
    render(outcome, &req.url, t.faults().xml_only)
}

/// `PUT /ISAPI/AccessControl/UserInfo/SetUp`.
pub(crate) async fn setup(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = write(&t, &req, Write::AddOrEdit);
    render(outcome, &req.url, t.faults().xml_only)
}

/// `POST /ISAPI/AccessControl/UserInfo/Search`.
pub(crate) async fn search(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = find(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

/// Checks an employeeNo the way the terminal does.
pub(crate) fn check_employee_no(employee_no: &str, field: &str) -> Result<(), Failure> {
    if employee_no.is_empty() || employee_no.len() > MAX_EMPLOYEE_NO_BYTES {
        return Err(Failure::bad_parameters(field));
    }
    Ok(())
}

fn write(t: &Terminal, req: &IsapiRequest, kind: Write) -> Outcome {
    if t.faults().device_busy {
        return Err(Failure::device_busy());
    }
    let UserInfoEnvelope { mut user_info } = parse_json(&req.body, "UserInfo")?;
    check_employee_no(&user_info.employee_no, "employeeNo")?;
    // The face count is the terminal's to report, not the client's to set.
    user_info.num_of_face = None;
    let mut store = t.store();
    let exists = store.persons.contains_key(&user_info.employee_no);
    match (kind, exists) {
        (Write::Add, true) => return Err(Failure::employee_no_already_exist()),
        (Write::Edit, false) => return Err(Failure::employee_no_not_exist("employeeNo")),
        _ => {}
    }
    store
        .persons
        .insert(user_info.employee_no.clone(), user_info);
    Ok(Success::Ack { fpid: None })
}

fn find(t: &Terminal, req: &IsapiRequest) -> Outcome {
    let UserInfoSearchEnvelope { cond } = parse_json(&req.body, "UserInfoSearchCond")?;
    if cond.max_results == 0 {
        return Err(Failure::bad_parameters("maxResults"));
    }
    let page_size = cond.max_results.min(MAX_SEARCH_RESULTS) as usize;
    let store = t.store();
    let matching: Vec<&UserInfo> = if cond.employee_no_list.is_empty() {
        store.persons.values().collect()
    } else {
        store
            .persons
            .values()
            .filter(|p| {
                cond.employee_no_list
                    .iter()
                    .any(|e| e.employee_no == p.employee_no)
            })
            .collect()
    };
    let total = matching.len();
    let start = (cond.search_result_position as usize).min(total);
    let page: Vec<UserInfo> = matching[start..]
        .iter()
        .take(page_size)
        .map(|person| {
            let mut person = (*person).clone();
            person.num_of_face = Some(u32::from(store.faces.contains_key(&person.employee_no)));
            person
        })
        .collect();
    let status = if page.is_empty() {
        "NO MATCH"
    } else if start + page.len() < total {
        "MORE"
    } else {
        "OK"
    };
    let reply = UserInfoSearchReplyEnvelope {
        search: UserInfoSearchReply {
            search_id: cond.search_id,
            response_status_strg: status.into(),
            num_of_matches: count(page.len()),
            total_matches: count(total),
            user_info: page,
        },
    };
    let value = serde_json::to_value(reply).map_err(|_| Failure::bad_parameters("UserInfo"))?;
    Ok(Success::Json(value))
}

/// Counts in replies are `u32` on the wire; a terminal never holds more.
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
