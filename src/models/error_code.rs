//! `error_code` of a per-terminal result: the service's own snake_case codes, or the terminal's
//! `subStatusCode` verbatim. Serialized as the plain string the React app has always seen.

use hikvision_isapi::{IsapiError, SubStatus};
use serde::{Serialize, Serializer};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};

macro_rules! service_codes {
    ($($variant:ident => $code:literal: $doc:literal;)*) => {
        /// The service's own failure codes (snake_case).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ServiceCode {
            $(
                #[doc = $doc]
                $variant,
            )*
        }

        impl ServiceCode {
            /// Every code, for the OpenAPI document.
            pub const ALL: &'static [ServiceCode] = &[$(ServiceCode::$variant),*];

            /// The code as it appears in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

service_codes! {
    WrongCredentials => "wrong_credentials": "The terminal refused the username or password.";
    Locked => "locked": "The terminal locked the account after too many failed logins.";
    CredentialsBlocked => "credentials_blocked": "Not called: this password was refused recently (cool-down).";
    Timeout => "timeout": "The terminal accepted the connection but did not answer in time.";
    Unreachable => "unreachable": "No connection to the terminal could be made.";
    ConnectionLost => "connection_lost": "The connection broke during the exchange.";
    UnexpectedReply => "unexpected_reply": "The reply was not ISAPI (HTML page, garbage, wrong port).";
    ReplyTooLarge => "reply_too_large": "The reply exceeded the size cap.";
    InvalidRequest => "invalid_request": "The request could not be built (bad device address or field).";
    DeadlineExceeded => "deadline_exceeded": "No result within the request deadline.";
    MissingEmployeeNo => "missing_employee_no": "biometrie.employee_no is missing.";
    InvalidEmployeeNo => "invalid_employee_no": "biometrie.employee_no cannot be sent to a terminal.";
    MissingFotoFataUrl => "missing_foto_fata_url": "biometrie.foto_fata_url is missing.";
    InvalidPhotoUrl => "invalid_photo_url": "biometrie.foto_fata_url cannot become a faceURL.";
    InvalidPhoto => "invalid_photo": "The photo cannot be used (not a picture, corrupt, too small): upload another.";
    NotConfirmed => "not_confirmed": "The terminal acknowledged the face but a search does not find it.";
    Revoked => "revoked": "Not sent: the employee's door access (or this number) was revoked; only an admin's restore-angajat gives it back.";
}

/// A per-terminal failure code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// One of the service's own codes.
    Service(ServiceCode),
    /// The terminal's `subStatusCode`, verbatim.
    Terminal(SubStatus),
}

impl ErrorCode {
    /// The code of a terminal-call error: the terminal's own reason when it gave one.
    pub fn of(error: &IsapiError) -> Self {
        let code = match error {
            IsapiError::Rejected(r) => return Self::Terminal(r.sub_status_code.clone()),
            IsapiError::WrongCredentials { .. } => ServiceCode::WrongCredentials,
            IsapiError::Locked { .. } => ServiceCode::Locked,
            IsapiError::Timeout { .. } => ServiceCode::Timeout,
            IsapiError::Unreachable { .. } => ServiceCode::Unreachable,
            IsapiError::ConnectionLost { .. } => ServiceCode::ConnectionLost,
            IsapiError::UnexpectedReply { .. } => ServiceCode::UnexpectedReply,
            IsapiError::ReplyTooLarge { .. } => ServiceCode::ReplyTooLarge,
            IsapiError::InvalidRequest(_) => ServiceCode::InvalidRequest,
        };
        Self::Service(code)
    }

    /// The code stored or sent as `code`: one of the service's own, else the terminal's verbatim.
    pub fn parse(code: &str) -> Self {
        ServiceCode::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .map_or_else(
                || Self::Terminal(SubStatus::parse(code)),
                |c| Self::Service(*c),
            )
    }

    /// The code as it appears in JSON.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Service(code) => code.as_str(),
            Self::Terminal(sub) => sub.as_str(),
        }
    }
}

impl From<ServiceCode> for ErrorCode {
    fn from(code: ServiceCode) -> Self {
        Self::Service(code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn string_enum(description: &str, values: Vec<&str>) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .enum_values(Some(values))
            .build(),
    )
}

impl utoipa::PartialSchema for ErrorCode {
    /// Any string: the known service codes, the known terminal codes, or a terminal code this
    /// version does not know yet (passed through verbatim).
    fn schema() -> RefOr<Schema> {
        let service = ServiceCode::ALL.iter().map(|c| c.as_str()).collect();
        let terminal = SubStatus::KNOWN.iter().map(SubStatus::as_str).collect();
        let other = Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(None::<SchemaFormat>)
                .description(Some("a terminal subStatusCode not listed above, verbatim"))
                .build(),
        );
        AnyOfBuilder::new()
            .item(string_enum("the service's own code", service))
            .item(string_enum("the terminal's subStatusCode", terminal))
            .item(other)
            .description(Some("Machine-readable failure reason"))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_plain_code() {
        let service = serde_json::to_string(&ErrorCode::from(ServiceCode::DeadlineExceeded)).ok();
        assert_eq!(service.as_deref(), Some("\"deadline_exceeded\""));
        let terminal = serde_json::to_string(&ErrorCode::Terminal(SubStatus::NotSupport)).ok();
        assert_eq!(terminal.as_deref(), Some("\"notSupport\""));
        let unknown = ErrorCode::Terminal(SubStatus::parse("brandNew"));
        assert_eq!(unknown.to_string(), "brandNew");
        for code in [
            ErrorCode::from(ServiceCode::Revoked),
            ErrorCode::Terminal(SubStatus::NotSupport),
            unknown,
        ] {
            assert_eq!(
                ErrorCode::parse(code.as_str()),
                code,
                "stored and read back"
            );
        }
    }

    #[test]
    fn transport_errors_keep_their_historic_codes() {
        let e = IsapiError::WrongCredentials {
            attempts_left: None,
        };
        assert_eq!(ErrorCode::of(&e).as_str(), "wrong_credentials");
        let e = IsapiError::Timeout { timeout_ms: 1 };
        assert_eq!(ErrorCode::of(&e).as_str(), e.kind());
    }
}
