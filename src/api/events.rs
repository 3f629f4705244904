//! Access events over HTTP: `GET /api/hikvision/events` (admin: who came through which door,
//! newest first, keyset-paged) and `POST /api/hikvision/events/push/{device_id}` (the
//! terminals' push, authenticated by the per-device token of the registered URL, not by a user).

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::admin::Admin;
use super::error::{ApiCode, ApiError};
use crate::delivery::audit::AuditEntry;
use crate::events::clock::{ClockError, ClockSet};
use crate::events::ingest::{MAX_PUSH_BYTES, PushError, PushOutcome};
use crate::events::model::{EventQuery, KINDS, Position, StoredEvent};

/// Events one page holds when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// The most events one page holds.
const MAX_LIMIT: usize = 1000;

/// `GET /api/hikvision/events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// The events, newest first.
    pub events: Vec<StoredEvent>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /api/hikvision/events/push/{device_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushAccepted {
    /// Always `ok`: the terminal stops retrying.
    pub status: &'static str,
    /// `stored`, `duplicate` or `heartbeat`.
    pub outcome: &'static str,
}

/// Access events from every terminal, newest first (by the terminal's time in UTC), filtered by
/// employee, terminal, time and kind; `next_cursor` pages on. Admins only.
#[utoipa::path(get, path = "/api/hikvision/events", tag = "events",
    params(
        ("angajat_id" = Option<Uuid>, Query, description = "Only this employee's events"),
        ("device_id" = Option<String>, Query, description = "Only this terminal's events"),
        ("from" = Option<DateTime<Utc>>, Query, description = "Not before this moment (RFC 3339)"),
        ("to" = Option<DateTime<Utc>>, Query, description = "Before this moment (RFC 3339)"),
        ("kind" = Option<String>, Query, description = "face_granted, face_denied, unknown_face, lock_opened, lock_closed, door_opened, door_closed, or major_<n>_minor_<m>",
            pattern = "^(face_granted|face_denied|unknown_face|lock_opened|lock_closed|door_opened|door_closed|major_-?[0-9]{1,9}_minor_-?[0-9]{1,9})$"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor",
            pattern = "^-?[0-9]{1,15}_-?[0-9]{1,9}_[0-9]{1,18}_([0-9a-f]{2})*$"),
        ("limit" = Option<u32>, Query, description = "Events per page, 1 to 1000 (default 100)", minimum = 1, maximum = 1000),
    ),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page of events, newest first", body = EventPage)))]
pub async fn list_events(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    let mut query = parse_query(raw.as_deref().unwrap_or_default())?;
    let limit = query.limit;
    query.limit = limit + 1;
    let mut events = state.events.store().list(&query).await?;
    let more = events.len() > limit;
    events.truncate(limit);
    let next_cursor = more
        .then(|| events.last().map(|e| e.position().encode()))
        .flatten();
    Ok(Json(EventPage {
        events,
        next_cursor,
    }))
}

fn parse_query(raw: &str) -> Result<EventQuery, ApiError> {
    let mut q = EventQuery {
        limit: DEFAULT_LIMIT,
        ..EventQuery::default()
    };
    let bad = |name: &str, what: &str| {
        ApiError::invalid(ApiCode::InvalidField, format!("{name}: {what}"))
    };
    let time = |name: &str, v: &str| {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad(name, "not an RFC 3339 time such as 2026-12-06T08:00:00Z"))
    };
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        // An empty value is a value: `to=` is not a time, `device_id=` names no terminal.
        let v = value.trim();
        match key.as_ref() {
            "angajat_id" => {
                q.angajat_id = Some(Uuid::parse_str(v).map_err(|_| {
                    ApiError::invalid(ApiCode::InvalidUuid, "angajat_id: not a UUID")
                })?);
            }
            "device_id" => q.device_id = Some(v.to_owned()),
            "from" => q.from = Some(time("from", v)?),
            "to" => q.to = Some(time("to", v)?),
            "kind" => {
                let known = KINDS.contains(&v) || is_numbered_kind(v);
                if !known {
                    return Err(bad("kind", "not a known kind"));
                }
                q.kind = Some(v.to_owned());
            }
            "cursor" => {
                q.after = Some(
                    Position::decode(v).ok_or_else(|| bad("cursor", "not a cursor of this API"))?,
                );
            }
            "limit" => {
                q.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad("limit", "a whole number from 1 to 1000"))?;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// `major_<n>_minor_<m>`.
fn is_numbered_kind(v: &str) -> bool {
    v.strip_prefix("major_")
        .and_then(|rest| rest.split_once("_minor_"))
        .is_some_and(|(a, b)| a.parse::<i32>().is_ok() && b.parse::<i32>().is_ok())
}

/// A terminal pushes an access event (or a heartbeat). The URL registered on each terminal
/// carries its token; without it (or with another terminal's) the answer is 401 and nothing is
/// stored. Takes `multipart/form-data` (JSON part `event_log` or `AccessControllerEvent`,
/// optional picture part, ignored) or plain JSON, at most 512 KiB. The event is stored before
/// the 200; a repeat answers 200 too.
#[utoipa::path(post, path = "/api/hikvision/events/push/{device_id}", tag = "events",
    params(
        ("device_id" = String, Path, description = "The device row id"),
        ("token" = String, Query, description = "The terminal's push token (set by the service's registration)"),
    ),
    request_body(content = String, description = "The terminal's event: multipart/form-data or JSON", content_type = "application/json"),
    responses((status = 200, description = "Stored (or a repeat, or a heartbeat)", body = PushAccepted)))]
pub async fn push_event(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PushAccepted>, ApiError> {
    let token = raw.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The token first: a caller without it learns nothing from reading its body.
    if !token
        .as_deref()
        .is_some_and(|t| state.events.verify_token(&device_id, t))
    {
        return Err(unauthorized());
    }
    let body = to_bytes(body, MAX_PUSH_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(MAX_PUSH_BYTES))?;
    let outcome = state
        .events
        .ingest_push(&device_id, token.as_deref(), content_type, &body)
        .await
        .map_err(|e| match e {
            PushError::Unauthorized => unauthorized(),
            PushError::Body(e) => ApiError::invalid(ApiCode::InvalidJson, e.to_string()),
            PushError::Store(e) => e.into(),
        })?;
    Ok(Json(PushAccepted {
        status: "ok",
        outcome: match outcome {
            PushOutcome::Stored => "stored",
            PushOutcome::Duplicate => "duplicate",
            PushOutcome::Heartbeat => "heartbeat",
        },
    }))
}

/// Sets the terminal's clock to the service's time, in the terminal's own UTC offset (its time
/// zone is left as it is). Admins only; audited (`set_time`, with the offset before).
#[utoipa::path(post, path = "/api/hikvision/devices/{device_id}/time", tag = "terminals",
    params(("device_id" = String, Path, description = "The device row id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The clock was set", body = ClockSet)))]
pub async fn set_time(
    State(state): State<AppState>,
    admin: Admin,
    Path(device_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ClockSet>, ApiError> {
    super::terminals::optional_object(&body)?;
    let set = state
        .events
        .set_clock(&device_id)
        .await
        .map_err(|e| match e {
            ClockError::UnknownDevice(_) => ApiError::Missing {
                code: ApiCode::DeviceNotFound,
                message: e.to_string(),
            },
            ClockError::Terminal(_) => ApiError::TerminalFailed(e.to_string()),
        })?;
    let entry = AuditEntry {
        detail: Some(format!(
            "clock was {} ms off; set to {}",
            set.offset_before_ms, set.set_to
        )),
        ..AuditEntry::new(&admin.actor, "set_time", &device_id)
    };
    state.delivery.audit().record(&[entry]).await?;
    Ok(Json(set))
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("missing or wrong device token in the push URL".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::model::{CURSOR_PATTERN, KIND_PATTERN};
    use utoipa::OpenApi;

    #[test]
    fn the_document_states_the_patterns_the_code_reads() {
        let doc = serde_json::to_value(super::super::ApiDoc::openapi()).unwrap();
        let params = &doc["paths"]["/api/hikvision/events"]["get"]["parameters"];
        let pattern = |name: &str| {
            params
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"]["pattern"].clone())
                .unwrap()
        };
        assert_eq!(pattern("cursor"), CURSOR_PATTERN);
        assert_eq!(pattern("kind"), KIND_PATTERN);
    }

    #[test]
    fn the_query_is_checked_field_by_field() {
        let q = parse_query("device_id=t1&kind=face_granted&limit=5").unwrap();
        assert_eq!((q.device_id.as_deref(), q.limit), (Some("t1"), 5));
        assert!(parse_query("kind=major_5_minor_99").is_ok());
        for bad in [
            "limit=0",
            "limit=x",
            "kind=nope",
            "from=yesterday",
            "cursor=zz",
            "angajat_id=1",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
