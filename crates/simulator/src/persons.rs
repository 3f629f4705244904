//! `/ISAPI/AccessControl/UserInfo/*`: adding, editing, finding and counting persons (deleting
//! them is in `deletion`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use hikvision_isapi::wire::{
    UserInfo, UserInfoCount, UserInfoCountEnvelope, UserInfoEnvelope, UserInfoSearchEnvelope,
    UserInfoSearchReply, UserInfoSearchReplyEnvelope, paths,
};

use super::access::valid_is_readable;
use super::faces::{face_url, faces_base_url};
use super::paging;
use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, check_employee_no, parse_json};
use super::terminal::Terminal;

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
    let outcome = if t.faults().user_modify_unsupported {
        Err(Failure::not_support())
    } else {
        write(&t, &req, Write::Edit)
    };
    render(outcome, &req.url, t.faults().xml_only)
}

/// `PUT /ISAPI/AccessControl/UserInfo/SetUp`.
pub(crate) async fn setup(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = if t.faults().setup_unsupported {
        Err(Failure::not_support())
    } else {
        write(&t, &req, Write::AddOrEdit)
    };
    render(outcome, &req.url, t.faults().xml_only)
}

/// `POST /ISAPI/AccessControl/UserInfo/Search`.
pub(crate) async fn search(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = find(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

fn write(t: &Terminal, req: &IsapiRequest, kind: Write) -> Outcome {
    if t.faults().device_busy {
        return Err(Failure::device_busy());
    }
    let UserInfoEnvelope { mut user_info } = parse_json(&req.body, "UserInfo")?;
    let employee_no = user_info.employee_no.clone();
    let _call = t.in_flight.enter([employee_no.as_str()]);
    check_employee_no(&employee_no, "employeeNo")?;
    if user_info
        .valid
        .as_ref()
        .is_some_and(|v| !valid_is_readable(v))
    {
        return Err(Failure::bad_parameters("Valid"));
    }
    // The face count and URL are the terminal's to report, not the client's to set.
    user_info.num_of_face = None;
    user_info.face_url = None;
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
    let search = paging::Request {
        path: paths::USER_SEARCH,
        search_id: Some(&cond.search_id),
        position: cond.search_result_position,
        max_results: cond.max_results,
        no_match: "NO MATCH",
    };
    let base = faces_base_url(t, req);
    let mut store = t.store();
    search.log(&mut store);
    let matching: Vec<&UserInfo> = store
        .persons
        .values()
        .filter(|p| {
            cond.employee_no_list.is_empty()
                || cond
                    .employee_no_list
                    .iter()
                    .any(|e| e.employee_no == p.employee_no)
        })
        .collect();
    let page = search.page(matching)?;
    let user_info = page
        .items
        .into_iter()
        .map(|person| {
            let mut person = person.clone();
            let has_face = store.faces.contains_key(&person.employee_no);
            person.num_of_face = Some(u32::from(has_face));
            person.face_url = has_face
                .then(|| face_url(base.as_ref(), &person.employee_no))
                .flatten();
            person
        })
        .collect();
    let reply = UserInfoSearchReplyEnvelope {
        search: UserInfoSearchReply {
            search_id: cond.search_id.clone(),
            response_status_strg: page.status.into(),
            num_of_matches: page.num_of_matches,
            total_matches: page.total_matches,
            user_info,
        },
    };
    let value = serde_json::to_value(reply).map_err(|_| Failure::bad_parameters("UserInfo"))?;
    Ok(Success::Json(value))
}

/// `GET /ISAPI/AccessControl/UserInfo/Count`: persons, persons with a face, persons with a card
/// (the simulator stores no cards).
pub(crate) async fn count(State(t): State<Arc<Terminal>>) -> Response {
    let store = t.store();
    let with_face = store
        .persons
        .keys()
        .filter(|no| store.faces.contains_key(*no))
        .count();
    let reply = UserInfoCountEnvelope {
        count: UserInfoCount {
            user_number: store.persons.len() as u64,
            bind_face_user_number: with_face as u64,
            bind_card_user_number: 0,
        },
    };
    drop(store);
    axum::Json(reply).into_response()
}
