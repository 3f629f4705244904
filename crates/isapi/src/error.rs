//! The one typed error of every terminal call, with messages an HR admin can act on.

use crate::sub_status::{Meaning, SubStatus};

/// A terminal's refusal: the fields of its `ResponseStatus` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status of the reply.
    pub http_status: u16,
    /// ISAPI `statusCode` (2 busy, 3 device error, 4 invalid operation, 5 format, 6 content, 7 reboot).
    pub status_code: i64,
    /// ISAPI `statusString`.
    pub status_string: String,
    /// ISAPI `subStatusCode`, the machine-readable reason.
    pub sub_status_code: SubStatus,
    /// ISAPI `errorCode`, if sent.
    pub error_code: Option<u64>,
    /// ISAPI `errorMsg`, if sent (often the offending field).
    pub error_msg: Option<String>,
}

impl Rejection {
    /// What the sub-status says, `None` for a code this client does not know.
    pub fn meaning(&self) -> Option<Meaning> {
        self.sub_status_code.meaning()
    }

    /// True when the terminal says the person (employeeNo) is not enrolled.
    pub fn person_missing(&self) -> bool {
        self.meaning() == Some(Meaning::PersonMissing)
    }

    /// True when the terminal says the person is already enrolled (some firmware says only
    /// `statusCode 6` with `errorMsg "checkUser"`).
    pub fn person_exists(&self) -> bool {
        self.meaning() == Some(Meaning::PersonExists)
            || (self.status_code == 6 && self.error_msg.as_deref() == Some("checkUser"))
    }

    /// True when the terminal says the person already has a face (FaceDataRecord is create-only).
    pub fn face_exists(&self) -> bool {
        self.meaning() == Some(Meaning::FaceExists)
    }

    /// True for a busy terminal (`statusCode 2` or `deviceBusy`).
    fn busy(&self) -> bool {
        self.status_code == 2 || self.meaning() == Some(Meaning::Busy)
    }

    /// The class of this refusal; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        if self.busy() {
            return ErrorClass::Busy;
        }
        match self.meaning() {
            Some(Meaning::Picture) => ErrorClass::PictureRejected,
            Some(Meaning::Unsupported) => ErrorClass::Unsupported,
            _ if is_server_error(self.http_status) => ErrorClass::ServerError,
            _ => ErrorClass::Refused,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.sub_status_code.as_str();
        match self.sub_status_code.text() {
            Some(text) if self.sub_status_code.is_picture_problem() => {
                write!(f, "Terminal rejected the photo: {text} ({code}")?
            }
            Some(text) => write!(f, "Terminal refused the request: {text} ({code}")?,
            None => write!(
                f,
                "Terminal refused the request: {} ({code}",
                if self.status_string.is_empty() {
                    "unknown error"
                } else {
                    &self.status_string
                }
            )?,
        }
        if let Some(msg) = self
            .error_msg
            .as_deref()
            .filter(|m| !m.is_empty() && *m != code)
        {
            write!(f, ", {msg}")?;
        }
        write!(f, ")")
    }
}

/// Everything that can go wrong when talking to a terminal.
#[derive(Debug, thiserror::Error)]
pub enum IsapiError {
    /// The terminal answered with a non-OK `ResponseStatus`.
    #[error("{0}")]
    Rejected(Rejection),
    /// Digest authentication failed: wrong username or password. Never retried.
    #[error("Wrong username or password for this terminal{}", attempts_hint(*.attempts_left))]
    WrongCredentials {
        /// Failed logins left before the terminal locks the account, when it says.
        attempts_left: Option<u32>,
    },
    /// The terminal has locked the account after too many failed logins.
    #[error(
        "The terminal has locked this account after too many failed logins{}; fix the password before retrying",
        unlock_hint(*.unlock_in_secs)
    )]
    Locked {
        /// Seconds until the lock lifts, when the terminal says.
        unlock_in_secs: Option<u64>,
    },
    /// No complete answer within the total timeout.
    #[error("The terminal did not answer within {timeout_ms} ms (offline, overloaded or hung)")]
    Timeout {
        /// The timeout that elapsed.
        timeout_ms: u64,
    },
    /// TCP connection could not be established.
    #[error(
        "Cannot reach the terminal at {address}: {reason}; check that it is powered on and on the network"
    )]
    Unreachable {
        /// host:port tried.
        address: String,
        /// Short cause (connection refused, no route, ...).
        reason: String,
    },
    /// The connection broke during the exchange.
    #[error("The connection to the terminal broke during the request ({reason})")]
    ConnectionLost {
        /// Short cause.
        reason: String,
    },
    /// A reply that is not ISAPI: HTML error page, garbage, empty body.
    #[error("The terminal gave an unexpected reply{}: {detail}", http_hint(*.http_status))]
    UnexpectedReply {
        /// HTTP status; 0 when the reply was not HTTP at all.
        http_status: u16,
        /// What was wrong with it (never the full body).
        detail: String,
    },
    /// The reply exceeded the size cap.
    #[error("The terminal's reply was larger than {limit} bytes and was not read")]
    ReplyTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// Request construction failed (bad device address and the like).
    #[error("Invalid terminal request: {0}")]
    InvalidRequest(String),
}

fn http_hint(status: u16) -> String {
    match status {
        0 => String::new(),
        s => format!(" (HTTP {s})"),
    }
}

fn attempts_hint(left: Option<u32>) -> String {
    match left {
        Some(0) => " (no attempts left before the account locks)".into(),
        Some(1) => " (1 attempt left before the terminal locks the account)".into(),
        Some(n) => format!(" ({n} attempts left before the terminal locks the account)"),
        None => String::new(),
    }
}

fn unlock_hint(secs: Option<u64>) -> String {
    match secs {
        Some(s) if s >= 60 => format!(" (unlocks in about {} min)", s.div_ceil(60)),
        Some(s) => format!(" (unlocks in {s} s)"),
        None => String::new(),
    }
}

impl IsapiError {
    /// The terminal's refusal, if that is what this is.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// The one classification of this error: retry tables, flows, the CLI and metrics all
    /// match on it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Rejected(r) => r.class(),
            Self::WrongCredentials { .. } | Self::Locked { .. } => ErrorClass::Credentials,
            Self::Timeout { .. } => ErrorClass::Timeout,
            Self::Unreachable { .. } => ErrorClass::Unreachable,
            Self::ConnectionLost { .. } => ErrorClass::ConnectionLost,
            Self::UnexpectedReply { http_status, .. } if is_server_error(*http_status) => {
                ErrorClass::ServerError
            }
            Self::UnexpectedReply { .. } | Self::ReplyTooLarge { .. } => ErrorClass::BadReply,
            Self::InvalidRequest(_) => ErrorClass::InvalidRequest,
        }
    }

    /// Short machine-readable name of the error, for logs and the service's error codes
    /// (`wrong_credentials`, `timeout`, ...); a rejection is `rejected` (its sub-status says more).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected(_) => "rejected",
            Self::WrongCredentials { .. } => "wrong_credentials",
            Self::Locked { .. } => "locked",
            Self::Timeout { .. } => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::ConnectionLost { .. } => "connection_lost",
            Self::UnexpectedReply { .. } => "unexpected_reply",
            Self::ReplyTooLarge { .. } => "reply_too_large",
            Self::InvalidRequest(_) => "invalid_request",
        }
    }
}

fn is_server_error(http_status: u16) -> bool {
    matches!(http_status, 408 | 429 | 500..=599)
}

/// What an error means for whoever decides what to do next. Each class says what the terminal
/// did and whether trying again can help; the retry tables (in-request and durable) map classes
/// to decisions, nothing else inspects error variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The terminal said it is busy (`deviceBusy`, statusCode 2): it did nothing; later may work.
    Busy,
    /// HTTP 408, 429 or 5xx without an ISAPI reason: overload or housekeeping; later may work.
    ServerError,
    /// No connection could be made (refused, no route, connect timeout): the terminal did nothing.
    Unreachable,
    /// The connection broke mid-exchange: the terminal may or may not have acted.
    ConnectionLost,
    /// Connected, then no complete answer in time: hung or still working; it may have acted.
    Timeout,
    /// Wrong password or locked account. Never retried: terminals lock after 5 failed logins.
    Credentials,
    /// The picture was refused; the same picture will be refused again.
    PictureRejected,
    /// This call is not the way on this firmware (`notSupport`, `methodNotAllowed`): try another.
    Unsupported,
    /// Any other refusal (unknown person, bad field, full library): the request must change.
    Refused,
    /// A reply that is not ISAPI (HTML page, garbage, too large): the port or device is wrong.
    BadReply,
    /// The request could not be built (bad address, bad employeeNo): the input must change.
    InvalidRequest,
}

impl ErrorClass {
    /// snake_case name, for metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::ServerError => "server_error",
            Self::Unreachable => "unreachable",
            Self::ConnectionLost => "connection_lost",
            Self::Timeout => "timeout",
            Self::Credentials => "credentials",
            Self::PictureRejected => "picture_rejected",
            Self::Unsupported => "unsupported",
            Self::Refused => "refused",
            Self::BadReply => "bad_reply",
            Self::InvalidRequest => "invalid_request",
        }
    }

    /// True when the terminal certainly did not act on the request.
    pub fn terminal_did_nothing(self) -> bool {
        matches!(self, Self::Busy | Self::Unreachable)
    }

    /// True when the terminal is not answering at all: calling it again in the same request only
    /// adds waiting (no fallback call is tried).
    pub fn terminal_is_down(self) -> bool {
        matches!(self, Self::Unreachable | Self::Timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(sub: &str, msg: Option<&str>) -> Rejection {
        Rejection {
            http_status: 400,
            status_code: 4,
            status_string: "Invalid Operation".into(),
            sub_status_code: SubStatus::parse(sub),
            error_code: None,
            error_msg: msg.map(Into::into),
        }
    }

    #[test]
    fn picture_rejections_read_as_photo_problems() {
        assert_eq!(
            rejection("faceDetectFailed", None).to_string(),
            "Terminal rejected the photo: no usable face found in the picture (faceDetectFailed)"
        );
    }

    #[test]
    fn unknown_sub_status_passes_through_verbatim() {
        assert_eq!(
            rejection("weirdNewCode", Some("field x")).to_string(),
            "Terminal refused the request: Invalid Operation (weirdNewCode, field x)"
        );
    }

    #[test]
    fn wrong_credentials_say_how_many_attempts_are_left() {
        let e = IsapiError::WrongCredentials {
            attempts_left: Some(3),
        };
        assert_eq!(
            e.to_string(),
            "Wrong username or password for this terminal (3 attempts left before the terminal locks the account)"
        );
        assert_eq!(e.class(), ErrorClass::Credentials);
    }

    #[test]
    fn lockout_says_when_it_lifts() {
        let e = IsapiError::Locked {
            unlock_in_secs: Some(1800),
        };
        assert!(e.to_string().contains("unlocks in about 30 min"), "{e}");
    }

    #[test]
    fn classification_helpers() {
        assert!(rejection("employeeNoNotExist", None).person_missing());
        let mut dup = rejection("whatever", Some("checkUser"));
        dup.status_code = 6;
        assert!(dup.person_exists());
        assert!(rejection("deviceUserAlreadyExistFace", None).face_exists());
        assert_eq!(rejection("deviceBusy", None).class(), ErrorClass::Busy);
        assert_eq!(
            rejection("pictureSizeExceedLimit", None).class(),
            ErrorClass::PictureRejected
        );
        assert_eq!(
            rejection("notSupport", None).class(),
            ErrorClass::Unsupported
        );
        assert_eq!(
            rejection("badParameters", None).class(),
            ErrorClass::Refused
        );
    }

    #[test]
    fn busy_is_read_from_the_status_code_too() {
        let mut busy = rejection("somethingNew", None);
        busy.status_code = 2;
        assert_eq!(busy.class(), ErrorClass::Busy);
    }

    #[test]
    fn server_errors_without_an_isapi_reason_are_their_own_class() {
        let e = IsapiError::UnexpectedReply {
            http_status: 503,
            detail: "html".into(),
        };
        assert_eq!(e.class(), ErrorClass::ServerError);
        let mut r = rejection("weird", None);
        r.http_status = 500;
        assert_eq!(r.class(), ErrorClass::ServerError);
        let page = IsapiError::UnexpectedReply {
            http_status: 200,
            detail: "html".into(),
        };
        assert_eq!(page.class(), ErrorClass::BadReply);
    }
}
