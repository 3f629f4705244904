//! The request bodies of the API, with what each checks beyond its types (`RequestBody`), as the
//! OpenAPI document states it.

use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::body::RequestBody;
use super::error::{ApiCode, ApiError};
use super::host::is_host;

/// The demo's first employee (`config/demo.json`), the documented example id.
pub const EXAMPLE_ANGAJAT_ID: &str = "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01";

/// Body of the sync endpoints. Fields not listed here are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"angajat_id": EXAMPLE_ANGAJAT_ID}))]
pub struct SyncRequest {
    /// The angajat (employee) to sync: `angajati.id`.
    #[schema(format = Uuid, example = json!(EXAMPLE_ANGAJAT_ID))]
    pub angajat_id: Uuid,
    /// Enrol the person on terminals that do not know them (grants door access). Default false.
    #[serde(default)]
    #[schema(default = false)]
    pub create_missing_person: Option<bool>,
}

impl RequestBody for SyncRequest {
    fn invalid_code(path: &str) -> ApiCode {
        if path == "angajat_id" {
            ApiCode::InvalidUuid
        } else {
            ApiCode::InvalidField
        }
    }
}

/// Body of `POST /api/hikvision/remove-angajat`. Fields not listed here are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"angajat_id": EXAMPLE_ANGAJAT_ID}))]
pub struct RemoveRequest {
    /// The angajat (employee) whose person and face leave every terminal.
    #[schema(format = Uuid, example = json!(EXAMPLE_ANGAJAT_ID))]
    pub angajat_id: Uuid,
}

impl RequestBody for RemoveRequest {
    fn invalid_code(path: &str) -> ApiCode {
        SyncRequest::invalid_code(path)
    }
}

/// Body of `POST /api/hikvision/restore-angajat`. Fields not listed here are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"angajat_id": EXAMPLE_ANGAJAT_ID}))]
pub struct RestoreRequest {
    /// The angajat (employee) whose revoked door access is given back on every active terminal.
    #[schema(format = Uuid, example = json!(EXAMPLE_ANGAJAT_ID))]
    pub angajat_id: Uuid,
}

impl RequestBody for RestoreRequest {
    fn invalid_code(path: &str) -> ApiCode {
        SyncRequest::invalid_code(path)
    }
}

/// The terminal in the debugging endpoint's body. Fields not listed here are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DebugDevice {
    /// IP address or host name; every address it resolves to must be inside
    /// `DEBUG_ALLOWED_NETS`.
    #[schema(schema_with = host_schema)]
    pub ip: String,
    /// HTTP port (default 80).
    #[schema(minimum = 1, maximum = 65535, example = 80)]
    pub port: Option<u16>,
    /// Login. Required: the debugging endpoint never uses `HIKVISION_USERNAME`.
    #[schema(min_length = 1, example = "admin")]
    pub username: String,
    /// Password. Required: the debugging endpoint never uses `HIKVISION_PASSWORD`. Never echoed
    /// or logged.
    #[schema(value_type = String, format = Password, min_length = 1)]
    pub password: SecretString,
}

/// Body of `POST /api/test-isapi/update-face-image`. Fields not listed here are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DebugRequest {
    /// The terminal.
    pub device: DebugDevice,
    /// The person's employeeNo (FPID) on the terminal (at most 32 bytes).
    #[schema(min_length = 1, max_length = 32, example = "1001")]
    pub employee_no: String,
    /// The photo: an absolute URL, or a Supabase Storage path (the service fetches it only from
    /// where `PHOTO_ALLOWED_*` allow, like every other photo).
    #[schema(min_length = 1, example = "angajati/ion-popescu.jpg")]
    pub face_url: String,
    /// The name shown on the terminal (unused: the endpoint never enrols).
    #[schema(example = "Ion Popescu")]
    pub name: Option<String>,
    /// Must be false or absent: the debugging endpoint never enrols a person (that grants door
    /// access; use sync-angajat). A request asking for it is refused, not silently ignored.
    #[serde(default)]
    #[schema(schema_with = false_only_schema)]
    pub create_missing_person: Option<bool>,
}

impl RequestBody for DebugRequest {
    fn is_secret(path: &str) -> bool {
        path == "device.password"
    }

    fn validate(&self) -> Result<(), ApiError> {
        use secrecy::ExposeSecret;
        let too_long = |max: usize, s: &str| s.chars().count() > max;
        let problem = if !is_host(&self.device.ip) {
            Some("'device.ip' must be an IP address or a host name, like 192.168.1.100")
        } else if self.device.port == Some(0) {
            Some("'device.port' must be 1-65535")
        } else if self.device.username.is_empty() || self.device.password.expose_secret().is_empty()
        {
            Some(
                "'device.username' and 'device.password' must not be empty: the debugging endpoint uses only the credentials it is given",
            )
        } else if self.employee_no.is_empty() || too_long(32, &self.employee_no) {
            Some("'employee_no' must be 1 to 32 characters")
        } else if self.face_url.is_empty() {
            Some("'face_url' must not be empty")
        } else if self.create_missing_person == Some(true) {
            Some(
                "'create_missing_person' must be false: the debugging endpoint never enrols a person (enrolling grants door access; an administrator uses /api/hikvision/sync-angajat)",
            )
        } else {
            None
        };
        match problem {
            Some(message) => Err(ApiError::invalid(ApiCode::InvalidField, message)),
            None => Ok(()),
        }
    }
}

/// `create_missing_person`: false or null only.
fn false_only_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
    let schema = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
        .enum_values(Some([
            serde_json::Value::Bool(false),
            serde_json::Value::Null,
        ]))
        .default(Some(serde_json::Value::Bool(false)))
        .description(Some(
            "Must be false or absent: the debugging endpoint never enrols a person",
        ))
        .build();
    Schema::Object(schema)
}

/// `device.ip`: an IPv4 or IPv6 address, or a host name.
fn host_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string = |format: KnownFormat| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
            .max_length(Some(253))
    };
    AnyOfBuilder::new()
        .item(string(KnownFormat::Ipv4))
        .item(string(KnownFormat::Ipv6))
        .item(string(KnownFormat::Hostname))
        .description(Some(
            "IP address or host name; every address it resolves to must be inside DEBUG_ALLOWED_NETS",
        ))
        .examples([serde_json::json!("127.0.0.1")])
        .into()
}
