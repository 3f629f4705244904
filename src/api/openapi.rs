//! The OpenAPI 3 document, generated from the handlers' annotations and the request and response
//! types, served at `GET /api/openapi.json` so the React app can generate its client. Every error
//! response of every endpoint is added here from [`ApiCode`] (the one code-to-status table), with
//! an example per code; so are the security schemes and the `x-request-id` header.

use std::collections::BTreeMap;

use axum::Json;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::REQUEST_ID;
use super::error::{ApiCode, ErrorBody};
use super::health::{Health, Ready};
use super::request::{DebugDevice, DebugRequest, RemoveRequest, RestoreRequest, SyncRequest};
use super::response::{PerDevice, SyncResponse};
use super::webhook::WebhookAccepted;
use crate::delivery::webhook::WebhookEvent;
use crate::models::{ErrorCode, Summary, SyncStatus, SyncStep};

/// Credentials refused or uncheckable.
const AUTH: &[ApiCode] = &[
    ApiCode::Unauthorized,
    ApiCode::Forbidden,
    ApiCode::AuthUnavailable,
];
/// A JSON body that cannot be read into the request type.
const BODY: &[ApiCode] = &[
    ApiCode::InvalidJson,
    ApiCode::EmptyBody,
    ApiCode::BodyTimeout,
    ApiCode::PayloadTooLarge,
    ApiCode::MissingField,
    ApiCode::InvalidField,
];
/// Any request.
const ALWAYS: &[ApiCode] = &[ApiCode::InternalError, ApiCode::RequestTimeout];
/// Supabase reads.
const DIRECTORY: &[ApiCode] = &[
    ApiCode::SupabaseError,
    ApiCode::SupabaseNotConfigured,
    ApiCode::SupabaseUnavailable,
    ApiCode::SupabaseAuthFailed,
];
/// The sync endpoints' own.
const SYNC: &[ApiCode] = &[
    ApiCode::InvalidUuid,
    ApiCode::AngajatNotFound,
    ApiCode::DeliveryUnavailable,
];

/// Every error of every `/api/*` operation, by path.
const ERRORS: &[(&str, &[&[ApiCode]])] = &[
    (
        "/api/hikvision/update-angajat-photo",
        &[AUTH, BODY, ALWAYS, DIRECTORY, SYNC],
    ),
    (
        "/api/hikvision/sync-angajat-photo-only",
        &[AUTH, BODY, ALWAYS, DIRECTORY, SYNC],
    ),
    (
        "/api/hikvision/sync-angajat",
        &[AUTH, BODY, ALWAYS, DIRECTORY, SYNC],
    ),
    (
        "/api/hikvision/remove-angajat",
        &[
            AUTH,
            BODY,
            ALWAYS,
            DIRECTORY,
            &[
                ApiCode::InvalidUuid,
                ApiCode::NoEmployeeNo,
                ApiCode::DeliveryUnavailable,
            ],
        ],
    ),
    (
        "/api/hikvision/restore-angajat",
        &[AUTH, BODY, ALWAYS, DIRECTORY, SYNC],
    ),
    (
        "/api/hikvision/angajat/{angajat_id}/status",
        &[
            AUTH,
            ALWAYS,
            DIRECTORY,
            &[ApiCode::InvalidUuid, ApiCode::DeliveryUnavailable],
        ],
    ),
    (
        "/api/hikvision/devices/status",
        &[
            AUTH,
            ALWAYS,
            DIRECTORY,
            &[ApiCode::DeliveryUnavailable, ApiCode::EventsUnavailable],
        ],
    ),
    (
        "/api/hikvision/webhooks/supabase",
        &[&[ApiCode::Unauthorized, ApiCode::NotEnabled], BODY, ALWAYS],
    ),
    (
        "/api/hikvision/devices/{device_id}/resync",
        &[
            AUTH,
            BODY,
            ALWAYS,
            DIRECTORY,
            &[
                ApiCode::DeviceNotFound,
                ApiCode::CapacityExceeded,
                ApiCode::DeliveryUnavailable,
            ],
        ],
    ),
    (
        "/api/hikvision/devices/{device_id}/reconcile",
        &[
            AUTH,
            BODY,
            ALWAYS,
            DIRECTORY,
            &[ApiCode::DeviceNotFound, ApiCode::DeliveryUnavailable],
        ],
    ),
    (
        "/api/hikvision/devices/{device_id}/reconcile/{reconcile_id}",
        &[
            AUTH,
            ALWAYS,
            &[ApiCode::InvalidUuid, ApiCode::ReconcileNotFound],
        ],
    ),
    (
        "/api/hikvision/devices/{device_id}/audit",
        &[AUTH, ALWAYS, &[ApiCode::DeliveryUnavailable]],
    ),
    (
        "/api/hikvision/devices/{device_id}/reconcile/{reconcile_id}/fix",
        &[
            AUTH,
            BODY,
            ALWAYS,
            DIRECTORY,
            &[
                ApiCode::InvalidUuid,
                ApiCode::ReconcileNotFound,
                ApiCode::ReconcileNotDone,
                ApiCode::NotInReport,
                ApiCode::ReportExpired,
                ApiCode::DeliveryUnavailable,
            ],
        ],
    ),
    (
        "/api/hikvision/devices/{device_id}/time",
        &[
            AUTH,
            BODY,
            ALWAYS,
            DIRECTORY,
            &[
                ApiCode::DeviceNotFound,
                ApiCode::TerminalFailed,
                ApiCode::DeliveryUnavailable,
            ],
        ],
    ),
    (
        "/api/hikvision/events",
        &[
            AUTH,
            ALWAYS,
            &[
                ApiCode::InvalidField,
                ApiCode::InvalidUuid,
                ApiCode::EventsUnavailable,
            ],
        ],
    ),
    (
        "/api/hikvision/events/push/{device_id}",
        &[
            &[
                ApiCode::Unauthorized,
                ApiCode::InvalidJson,
                ApiCode::BodyTimeout,
                ApiCode::PayloadTooLarge,
                ApiCode::EventsUnavailable,
            ],
            ALWAYS,
        ],
    ),
    (
        "/api/test-isapi/update-face-image",
        &[
            AUTH,
            BODY,
            ALWAYS,
            &[
                ApiCode::AddressNotAllowed,
                ApiCode::DebugEndpointDisabled,
                ApiCode::UnknownHost,
            ],
        ],
    ),
];

/// The request types: they ignore fields they do not know, and the document says so.
const OPEN_REQUESTS: &[&str] = &[
    "SyncRequest",
    "RemoveRequest",
    "RestoreRequest",
    "DebugRequest",
    "DebugDevice",
    "WebhookEvent",
];

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hikvision-sync",
        description = "Keeps employees' face photos in Supabase in step with HikVision terminals. \
            Authenticate /api/* with a Supabase user access token (Authorization: Bearer) or the \
            x-api-key header. Request bodies are JSON objects of at most 64 KiB; fields not \
            documented are ignored. Every response carries an x-request-id header."
    ),
    paths(
        super::sync::update_angajat_photo,
        super::sync::sync_angajat_photo_only,
        super::sync::sync_angajat,
        super::debug::update_face_image,
        super::delivery::remove_angajat,
        super::delivery::restore_angajat,
        super::delivery::angajat_status,
        super::delivery::devices_status,
        super::terminals::resync,
        super::terminals::start_reconcile,
        super::terminals::reconcile_status,
        super::terminals::reconcile_fix,
        super::audit::device_audit,
        super::events::list_events,
        super::events::push_event,
        super::events::set_time,
        super::webhook::supabase_webhook,
        super::health::health,
        super::health::ready,
        super::health::metrics,
        openapi_json,
    ),
    components(schemas(
        SyncRequest,
        RemoveRequest,
        RestoreRequest,
        SyncResponse,
        PerDevice,
        Summary,
        SyncStatus,
        SyncStep,
        ErrorCode,
        ErrorBody,
        ApiCode,
        DebugRequest,
        DebugDevice,
        Health,
        Ready,
        WebhookEvent,
        WebhookAccepted,
        super::delivery::AngajatStatus,
        super::delivery::PairStatus,
        super::delivery::DevicesStatus,
        super::delivery::DeviceStatus,
        crate::delivery::PairState,
        crate::delivery::ShouldHold,
        crate::delivery::Revocation,
        crate::delivery::RevocationReason,
        super::terminals::ResyncAccepted,
        super::terminals::ReconcileStarted,
        crate::delivery::reconcile::ReconcileView,
        crate::delivery::reconcile::ReconcileState,
        crate::delivery::reconcile::ReconcileProgress,
        crate::delivery::reconcile::ReconcileReport,
        crate::delivery::reconcile::UnknownPerson,
        crate::delivery::reconcile::ValidityDiff,
        crate::delivery::reconcile::WindowView,
        crate::delivery::reconcile::FixOutcome,
        super::audit::DeviceAudit,
        crate::delivery::audit::AuditEntry,
        super::events::EventPage,
        super::events::PushAccepted,
        crate::events::model::StoredEvent,
        crate::events::PushState,
        crate::events::clock::ClockSet
    )),
    modifiers(&Edge),
    tags(
        (name = "sync", description = "Put an employee's face on every active terminal"),
        (name = "delivery", description = "Durable delivery: removal, status, the Supabase webhook"),
        (name = "terminals", description = "Whole terminals: bulk resync and reconcile"),
        (name = "events", description = "Access events from the terminals: reading them, and the terminals' push"),
        (name = "debug", description = "One terminal named in the request (off unless DEBUG_ENDPOINT=true)"),
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "This OpenAPI document", body = serde_json::Value)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Adds what the annotations cannot say once for all: security schemes, error responses,
/// the request id header.
struct Edge;

impl Modify for Edge {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The signed-in user's Supabase access token (ES256/RS256 from the project's JWKS, or HS256 with SUPABASE_JWT_SECRET)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "webhook_secret",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-webhook-secret",
                "WEBHOOK_SECRET, sent by the Supabase Database Webhook",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "The static API_KEY (servers, curl)",
            ))),
        );
        for name in OPEN_REQUESTS {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
            }
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                let codes = ERRORS
                    .iter()
                    .filter(|(p, _)| p == path)
                    .flat_map(|(_, groups)| groups.iter().copied().flatten());
                add_errors(responses, codes.copied());
                for response in responses.values_mut() {
                    if let RefOr::T(response) = response {
                        response
                            .headers
                            .insert(REQUEST_ID.as_str().to_string(), request_id_header());
                    }
                }
            }
        }
    }
}

/// One response per status, with an example per code.
fn add_errors(
    responses: &mut BTreeMap<String, RefOr<utoipa::openapi::Response>>,
    codes: impl Iterator<Item = ApiCode>,
) {
    let mut by_status: BTreeMap<u16, Vec<ApiCode>> = BTreeMap::new();
    for code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(code);
    }
    for (status, codes) in by_status {
        let description = codes
            .iter()
            .map(|c| format!("`{c}`: {}", c.meaning()))
            .collect::<Vec<_>>()
            .join(" ");
        let examples = codes.iter().map(|c| {
            let body =
                serde_json::json!({"status": "error", "code": c.as_str(), "message": c.meaning()});
            (c.as_str(), ExampleBuilder::new().value(Some(body)).build())
        });
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .examples_from_iter(examples)
            .build();
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build();
        responses.insert(status.to_string(), response.into());
    }
}

fn request_id_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(
            "The request's id: the client's own x-request-id, or a new UUID; the service's log lines of the request carry it too",
        ))
        .build()
}
