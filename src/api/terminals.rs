//! Whole-terminal operations: the bulk resync of one terminal (admin), and reconcile (read the
//! terminal, compare with Supabase; its fix is admin).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::admin::Admin;
use super::error::{ApiCode, ApiError, ErrorBody};
use crate::delivery::reconcile::{FixError, FixOutcome, ReconcileView};
use crate::delivery::resync::ResyncError;

impl From<ResyncError> for ApiError {
    fn from(e: ResyncError) -> Self {
        match e {
            ResyncError::UnknownDevice(_) => Self::Missing {
                code: ApiCode::DeviceNotFound,
                message: e.to_string(),
            },
            ResyncError::CapacityExceeded {
                capacity,
                on_terminal,
                to_add,
            } => Self::CapacityExceeded {
                capacity,
                on_terminal,
                to_add,
                message: e.to_string(),
            },
            ResyncError::Delivery(d) => Self::Delivery(d),
        }
    }
}

impl From<FixError> for ApiError {
    fn from(e: FixError) -> Self {
        match e {
            FixError::NotFound(_) => Self::Missing {
                code: ApiCode::ReconcileNotFound,
                message: e.to_string(),
            },
            FixError::NotDone => Self::invalid(ApiCode::ReconcileNotDone, e.to_string()),
            FixError::NotInReport(_) | FixError::NowEmployees(_) => {
                Self::invalid(ApiCode::NotInReport, e.to_string())
            }
            FixError::Expired { .. } => Self::invalid(ApiCode::ReportExpired, e.to_string()),
            FixError::Delivery(d) => Self::Delivery(d),
        }
    }
}

/// The terminal and reconcile run of a path, with our JSON error for a run id that is no UUID.
fn run_path(path: Result<Path<(String, Uuid)>, PathRejection>) -> Result<(String, Uuid), ApiError> {
    path.map(|Path(ids)| ids).map_err(|e| {
        ApiError::invalid(
            ApiCode::InvalidUuid,
            format!("'reconcile_id' in the path must be the UUID the reconcile answered ({e})"),
        )
    })
}

/// An optional JSON object body: empty, or `{...}`.
pub(super) fn optional_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::invalid(
            ApiCode::InvalidJson,
            "The request body must be empty or a JSON object",
        )),
    }
}

/// `POST /api/hikvision/devices/{device_id}/resync`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResyncAccepted {
    /// The terminal.
    pub device_id: String,
    /// Employees the resync covers (every employee with an employee_no, less standing
    /// removals).
    pub scheduled: usize,
    /// Changes made now (the rest were already queued, or delivered by the resync that runs).
    pub added: usize,
    /// `FDRecordDataMaxNum`, when the terminal said.
    pub capacity: Option<u64>,
    /// Faces on the terminal before the resync, when it answered.
    pub on_terminal: Option<u64>,
    /// Why the capacity was not checked, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_note: Option<String>,
}

/// Schedules every employee with an employee_no onto one terminal (the person, then the face),
/// durably and paced by the terminal's queue. Progress: `GET /api/hikvision/devices/status`.
#[utoipa::path(post, path = "/api/hikvision/devices/{device_id}/resync", tag = "terminals",
    params(("device_id" = String, Path, description = "The device row id")),
    responses((status = 202, body = ResyncAccepted), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody,
            description = "capacity_exceeded, with capacity, on_terminal and to_add")))]
pub async fn resync(
    State(state): State<AppState>,
    admin: Admin,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ResyncAccepted>), ApiError> {
    optional_object(&body)?;
    let r = state.delivery.resync(&device_id, &admin.actor).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResyncAccepted {
            device_id: r.device_id,
            scheduled: r.scheduled,
            added: r.added,
            capacity: r.capacity.and_then(|c| c.capacity),
            on_terminal: r.capacity.map(|c| c.on_terminal),
            capacity_note: r.capacity_note,
        }),
    ))
}

/// `POST /api/hikvision/devices/{device_id}/reconcile`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileStarted {
    /// Poll `GET .../reconcile/{reconcile_id}`.
    pub reconcile_id: Uuid,
}

/// Starts reading the terminal to compare it with Supabase (changes nothing). One run per
/// terminal at a time: asking again while one runs returns its id.
#[utoipa::path(post, path = "/api/hikvision/devices/{device_id}/reconcile", tag = "terminals",
    params(("device_id" = String, Path, description = "The device row id")),
    responses((status = 202, body = ReconcileStarted), (status = 404, body = ErrorBody)))]
pub async fn start_reconcile(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<ReconcileStarted>), ApiError> {
    optional_object(&body)?;
    let reconcile_id = state.delivery.start_reconcile(&device_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReconcileStarted { reconcile_id }),
    ))
}

/// Where a reconcile stands, and its report once done. Runs live in the memory of the process
/// that started them: a restart forgets them.
#[utoipa::path(get, path = "/api/hikvision/devices/{device_id}/reconcile/{reconcile_id}",
    tag = "terminals",
    params(("device_id" = String, Path, description = "The device row id"),
        ("reconcile_id" = Uuid, Path, description = "The run")),
    responses((status = 200, body = ReconcileView), (status = 404, body = ErrorBody)))]
pub async fn reconcile_status(
    State(state): State<AppState>,
    path: Result<Path<(String, Uuid)>, PathRejection>,
) -> Result<Json<ReconcileView>, ApiError> {
    let (device_id, reconcile_id) = run_path(path)?;
    state
        .delivery
        .reconcile_view(&device_id, reconcile_id)
        .map(Json)
        .ok_or_else(|| FixError::NotFound(reconcile_id).into())
}

/// `{"schedule_missing": true, "remove": ["<employee_no>", ...]}`: schedules the missing
/// employees and removes exactly the named persons, each of which must be in the report's
/// `unknown_on_terminal` (otherwise 422 and nothing is done).
#[utoipa::path(post, path = "/api/hikvision/devices/{device_id}/reconcile/{reconcile_id}/fix",
    tag = "terminals",
    params(("device_id" = String, Path, description = "The device row id"),
        ("reconcile_id" = Uuid, Path, description = "The run")),
    responses((status = 202, body = FixOutcome), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reconcile_fix(
    State(state): State<AppState>,
    admin: Admin,
    path: Result<Path<(String, Uuid)>, PathRejection>,
    body: Bytes,
) -> Result<(StatusCode, Json<FixOutcome>), ApiError> {
    let (device_id, reconcile_id) = run_path(path)?;
    let body = optional_object(&body)?;
    let schedule_missing = match body.get("schedule_missing") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid(
                ApiCode::InvalidField,
                "schedule_missing must be true or false",
            ));
        }
    };
    let remove: Vec<String> = match body.get("remove") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                ApiError::invalid(
                    ApiCode::InvalidField,
                    "remove must be a list of employee numbers (strings)",
                )
            })?,
        Some(_) => {
            return Err(ApiError::invalid(
                ApiCode::InvalidField,
                "remove must be a list of employee numbers (strings)",
            ));
        }
    };
    let outcome = state
        .delivery
        .reconcile_fix(
            &device_id,
            reconcile_id,
            schedule_missing,
            &remove,
            &admin.actor,
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}
