//! `/ISAPI/AccessControl/AcsEvent*`, `/ISAPI/Event/notification/httpHosts` and
//! `/ISAPI/System/time`: reading the event log, registering listeners, the clock.
//!
//! The search filters by major/minor (0: all) and by serial number (`beginSerialNo`,
//! `endSerialNo`, inclusive; either alone is taken), oldest first unless `timeReverseOrder`,
//! and pages like the other searches (at most 30, `MORE`/`OK`/`NO MATCH`). Time filters are
//! not applied (own choice: clients of this service page by serial number). With the
//! `acs_event_unsupported` fault both event calls answer `notSupport`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;

use hikvision_isapi::wire::{
    AcsEventInfo, AcsEventReply, AcsEventReplyEnvelope, AcsEventSearchEnvelope,
    AcsEventTotalNumCondEnvelope, DeviceTime, HttpHostNotification, HttpHostNotificationList,
    paths,
};

use super::paging;
use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, parse_json};
use super::terminal::Terminal;

/// `POST /ISAPI/AccessControl/AcsEvent`.
pub(crate) async fn search(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = find(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

fn find(t: &Terminal, req: &IsapiRequest) -> Outcome {
    if t.faults().acs_event_unsupported {
        return Err(Failure::not_support());
    }
    let AcsEventSearchEnvelope { cond } = parse_json(&req.body, "AcsEventCond")?;
    let search = paging::Request {
        path: paths::ACS_EVENT,
        search_id: Some(&cond.search_id),
        position: cond.search_result_position,
        max_results: cond.max_results,
        no_match: "NO MATCH",
    };
    search.log(&mut t.store());
    let begin = cond.begin_serial_no.unwrap_or(1);
    let end = cond.end_serial_no.unwrap_or(i64::MAX);
    let mut matching: Vec<AcsEventInfo> = t
        .events()
        .events
        .iter()
        .map(|e| &e.info)
        .filter(|e| cond.major == 0 || e.major == cond.major)
        .filter(|e| cond.minor == 0 || e.minor == cond.minor)
        .filter(|e| (begin..=end).contains(&e.serial_no))
        .cloned()
        .collect();
    if cond.time_reverse_order == Some(true) {
        matching.reverse();
    }
    let page = search.page(matching)?;
    let reply = AcsEventReplyEnvelope {
        acs_event: AcsEventReply {
            search_id: cond.search_id.clone(),
            response_status_strg: page.status.to_owned(),
            num_of_matches: page.num_of_matches,
            total_matches: page.total_matches,
            info_list: page.items,
        },
    };
    serde_json::to_value(reply)
        .map(Success::Json)
        .map_err(|_| Failure::bad_json_format())
}

/// `POST /ISAPI/AccessControl/AcsEventTotalNum`.
pub(crate) async fn total(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = count(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

fn count(t: &Terminal, req: &IsapiRequest) -> Outcome {
    if t.faults().acs_event_unsupported {
        return Err(Failure::not_support());
    }
    let AcsEventTotalNumCondEnvelope { cond } = parse_json(&req.body, "AcsEventTotalNumCond")?;
    let n = t
        .events()
        .events
        .iter()
        .filter(|e| cond.major == 0 || e.info.major == cond.major)
        .filter(|e| cond.minor == 0 || e.info.minor == cond.minor)
        .count();
    Ok(Success::Json(
        serde_json::json!({"AcsEventTotalNum": {"totalNum": n}}),
    ))
}

/// `GET /ISAPI/Event/notification/httpHosts` (XML).
pub(crate) async fn hosts(State(t): State<Arc<Terminal>>) -> Response {
    let list = HttpHostNotificationList {
        hosts: t.events().slots.iter().map(|s| s.host.clone()).collect(),
    };
    xml(StatusCode::OK, quick_xml::se::to_string(&list).ok())
}

/// `PUT /ISAPI/Event/notification/httpHosts/{id}` (XML): writes one slot; the pushes to it
/// start with the next event.
pub(crate) async fn put_host(
    State(t): State<Arc<Terminal>>,
    Path(id): Path<String>,
    req: IsapiRequest,
) -> Response {
    let xml_only = t.faults().xml_only;
    let parsed = std::str::from_utf8(&req.body)
        .ok()
        .and_then(|text| quick_xml::de::from_str::<HttpHostNotification>(text).ok());
    let Some(mut host) = parsed else {
        return render(
            Err(Failure::bad_parameters("HttpHostNotification")),
            &req.url,
            xml_only,
        );
    };
    host.id = id.clone();
    let mut log = t.events();
    let next = log.next_serial;
    let Some(slot) = log.slots.iter_mut().find(|s| s.host.id == id) else {
        drop(log);
        return render(Err(Failure::bad_parameters("id")), &req.url, xml_only);
    };
    slot.host = host;
    slot.next_serial = next;
    drop(log);
    t.push_wanted();
    render(Ok(Success::Ack { fpid: None }), &req.url, xml_only)
}

/// `GET /ISAPI/System/time` (XML).
pub(crate) async fn time(State(t): State<Arc<Terminal>>) -> Response {
    let log = t.events();
    let now = DeviceTime {
        time_mode: "manual".into(),
        local_time: log.stamp(),
        time_zone: posix_zone(log.offset.local_minus_utc()),
    };
    drop(log);
    xml(StatusCode::OK, quick_xml::se::to_string(&now).ok())
}

/// `PUT /ISAPI/System/time` (XML): sets the clock from `localTime` (with its offset).
pub(crate) async fn set_time(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let xml_only = t.faults().xml_only;
    let moment = std::str::from_utf8(&req.body)
        .ok()
        .and_then(|text| quick_xml::de::from_str::<DeviceTime>(text).ok())
        .and_then(|time| DateTime::parse_from_rfc3339(time.local_time.trim()).ok());
    let Some(moment) = moment else {
        return render(
            Err(Failure::bad_parameters("localTime")),
            &req.url,
            xml_only,
        );
    };
    t.events().clock_skew = moment.with_timezone(&chrono::Utc) - chrono::Utc::now();
    render(Ok(Success::Ack { fpid: None }), &req.url, xml_only)
}

/// A POSIX-style zone, sign inverted as firmware writes it: UTC+2 is `CST-2:00:00`.
fn posix_zone(offset_secs: i32) -> String {
    let sign = if offset_secs > 0 { '-' } else { '+' };
    let abs = offset_secs.unsigned_abs();
    format!("CST{sign}{}:{:02}:00", abs / 3600, (abs % 3600) / 60)
}

fn xml(status: StatusCode, body: Option<String>) -> Response {
    let Some(body) = body else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (
        status,
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}
