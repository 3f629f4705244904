//! `PUT UserInfo/Delete` and `PUT FDSearch/Delete`, read as leniently as real terminals read
//! them, because a careless client's body must have the effect it would have on hardware.
//!
//! - Persons: a list of employeeNos deletes those persons and their faces. An absent, `null`
//!   or empty `EmployeeNoList` deletes EVERY person and face, as [G §6.1.145] documents, and
//!   counts as a mass deletion (`mass_deletions`).
//! - Faces: `{"FPID": [{"value": ...}]}` deletes those faces, keeping the persons. What an
//!   absent or empty list does on hardware is undocumented (`docs/isapi.md`, "Deletion
//!   danger"), so it is refused with `badParameters` and counted (`mass_face_deletions`).
//! - Names the terminal does not have: the documents are silent, so the simulator answers OK
//!   and deletes the rest, unless the `delete_unknown_refused` fault asks for the stricter
//!   firmware (the whole call refused, nothing deleted).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::faces::check_library;
use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, parse_json};
use super::terminal::Terminal;

/// `PUT /ISAPI/AccessControl/UserInfo/Delete`.
pub(crate) async fn persons(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = delete_persons(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

/// `PUT /ISAPI/Intelligent/FDLib/FDSearch/Delete?FDID=1&faceLibType=blackFD`.
pub(crate) async fn faces(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = delete_faces(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

fn delete_persons(t: &Terminal, req: &IsapiRequest) -> Outcome {
    if t.faults().device_busy {
        return Err(Failure::device_busy());
    }
    let body: Value = parse_json(&req.body, "UserInfoDelCond")?;
    let cond = body
        .get("UserInfoDelCond")
        .filter(|cond| cond.is_object())
        .ok_or_else(|| Failure::parameters_lack("UserInfoDelCond"))?;
    let named = names(cond.get("EmployeeNoList"), "EmployeeNoList", "employeeNo")?;
    let _call = t.in_flight.enter(named.iter().map(String::as_str));
    let mut store = t.store();
    if named.is_empty() {
        store.persons.clear();
        store.faces.clear();
        store.mass_deletions += 1;
        tracing::warn!(addr = %t.addr, "simulator: UserInfo/Delete named nobody; every person deleted");
        return Ok(Success::Ack { fpid: None });
    }
    let unknown = named.iter().any(|no| !store.persons.contains_key(no));
    if unknown && t.faults().delete_unknown_refused {
        return Err(Failure::employee_no_not_exist("employeeNo"));
    }
    for employee_no in &named {
        store.persons.remove(employee_no);
        store.faces.remove(employee_no);
    }
    Ok(Success::Ack { fpid: None })
}

fn delete_faces(t: &Terminal, req: &IsapiRequest) -> Outcome {
    if t.faults().device_busy {
        return Err(Failure::device_busy());
    }
    check_query_library(&req.url)?;
    // [P] sends no body at all: that names no face either.
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        parse_json(&req.body, "FPID")?
    };
    let named = names(body.get("FPID"), "FPID", "value")?;
    let _call = t.in_flight.enter(named.iter().map(String::as_str));
    let mut store = t.store();
    if named.is_empty() {
        store.mass_face_deletions += 1;
        return Err(Failure::bad_parameters("FPID"));
    }
    let unknown = named.iter().any(|no| !store.faces.contains_key(no));
    if unknown && t.faults().delete_unknown_refused {
        return Err(Failure::face_not_exist());
    }
    for fpid in &named {
        store.faces.remove(fpid);
    }
    Ok(Success::Ack { fpid: None })
}

/// The names in `list` (`[{item_key: "..."}, ...]`); absent, `null` and `[]` name nobody.
fn names(list: Option<&Value>, list_key: &str, item_key: &str) -> Result<Vec<String>, Failure> {
    match list {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.get(item_key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| Failure::bad_parameters(item_key))
            })
            .collect(),
        Some(_) => Err(Failure::bad_parameters(list_key)),
    }
}

/// The face library named in the query string (`FDID`, `faceLibType`) must be the employees'.
fn check_query_library(url: &str) -> Result<(), Failure> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let pairs: HashMap<_, _> = url::form_urlencoded::parse(query.as_bytes()).collect();
    let face_lib_type = pairs
        .get("faceLibType")
        .ok_or_else(|| Failure::parameters_lack("faceLibType"))?;
    let fdid = pairs
        .get("FDID")
        .ok_or_else(|| Failure::parameters_lack("FDID"))?;
    check_library(face_lib_type, fdid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_null_and_empty_lists_name_nobody() {
        for body in [json!({}), json!({"L": null}), json!({"L": []})] {
            assert_eq!(names(body.get("L"), "L", "k"), Ok(Vec::new()));
        }
        let body = json!({"L": [{"k": "1"}, {"k": "2"}]});
        assert_eq!(
            names(body.get("L"), "L", "k"),
            Ok(vec!["1".to_owned(), "2".to_owned()])
        );
        let body = json!({"L": [{"k": 1}]});
        assert_eq!(
            names(body.get("L"), "L", "k"),
            Err(Failure::bad_parameters("k"))
        );
        let body = json!({"L": "1"});
        assert_eq!(
            names(body.get("L"), "L", "k"),
            Err(Failure::bad_parameters("L"))
        );
    }

    #[test]
    fn the_face_library_comes_from_the_query() {
        assert!(check_query_library("/x?format=json&FDID=1&faceLibType=blackFD").is_ok());
        assert_eq!(
            check_query_library("/x?format=json&faceLibType=blackFD"),
            Err(Failure::parameters_lack("FDID"))
        );
        assert_eq!(
            check_query_library("/x?FDID=2&faceLibType=blackFD"),
            Err(Failure::library_not_exist("FDID"))
        );
    }
}
