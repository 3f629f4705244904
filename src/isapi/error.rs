//! The one typed error of every terminal call, with messages an HR admin can act on.

use super::face_url::FaceUrlError;

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
    pub sub_status_code: String,
    /// ISAPI `errorCode`, if sent.
    pub error_code: Option<u64>,
    /// ISAPI `errorMsg`, if sent (often the offending field).
    pub error_msg: Option<String>,
}

/// What a sub-status code means, and whether it is about the picture.
struct Meaning {
    picture: bool,
    text: &'static str,
}

fn meaning(sub_status: &str) -> Option<Meaning> {
    let (picture, text) = match sub_status {
        "deviceBusy" => (false, "the terminal is busy; try again in a moment"),
        "pictureSizeExceedLimit" => (true, "the picture is too large (at most 200 KB)"),
        "notSupport" => (
            false,
            "this call is not supported by the terminal's firmware",
        ),
        "lowPrivilege" | "badAuthorization" => (
            false,
            "the terminal account lacks the rights for this; use an administrator account",
        ),
        "methodNotAllowed" | "invalidOperation" => {
            (false, "the terminal does not allow this operation")
        }
        "faceDetectFailed" | "pictureModelingFailed" | "SubpicAnalysisModelingError" => {
            (true, "no usable face found in the picture")
        }
        "picturePixelsTooLarge" => (true, "the picture's resolution is too high"),
        "picturePixelsTooSmall" => (true, "the picture's resolution is too low"),
        "libraryNotExist" => (false, "the face library (FDID 1, blackFD) does not exist"),
        "alreadyExistThisFace" => (
            true,
            "the same face is already enrolled on this terminal under another person",
        ),
        "deviceUserAlreadyExistFace" => (false, "this person already has a face on the terminal"),
        "deviceUserAlreadyExist" | "employeeNoAlreadyExist" => {
            (false, "this person already exists on the terminal")
        }
        "employeeNoNotExist" | "deviceUserNotExist" => {
            (false, "this person does not exist on the terminal")
        }
        "faceNotExist" | "FPIDNotExist" => (false, "this person has no face on the terminal yet"),
        "urlDownloadFail" => (
            true,
            "the terminal could not download the picture from its URL (check that the terminal can reach it)",
        ),
        "badJsonFormat" => (false, "the terminal could not read the request (bad JSON)"),
        "badParameters" | "badJsonContent" | "MessageParametersLack" => {
            (false, "the terminal rejected a field of the request")
        }
        _ => return None,
    };
    Some(Meaning { picture, text })
}

impl Rejection {
    /// True when the terminal says the person (employeeNo) is not enrolled.
    pub fn person_missing(&self) -> bool {
        matches!(
            self.sub_status_code.as_str(),
            "employeeNoNotExist" | "deviceUserNotExist"
        )
    }

    /// True when the terminal says the person is already enrolled.
    pub fn person_exists(&self) -> bool {
        matches!(
            self.sub_status_code.as_str(),
            "employeeNoAlreadyExist" | "deviceUserAlreadyExist"
        ) || (self.status_code == 6 && self.error_msg.as_deref() == Some("checkUser"))
    }

    /// True for a busy terminal: safe to retry later.
    pub fn busy(&self) -> bool {
        self.status_code == 2 || self.sub_status_code == "deviceBusy"
    }

    /// True when the picture itself was refused (retrying with the same picture cannot help).
    pub fn picture_rejected(&self) -> bool {
        meaning(&self.sub_status_code).is_some_and(|m| m.picture)
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = &self.sub_status_code;
        match meaning(code) {
            Some(m) if m.picture => write!(f, "Terminal rejected the photo: {} ({code}", m.text)?,
            Some(m) => write!(f, "Terminal refused the request: {} ({code}", m.text)?,
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
    /// The stored photo URL cannot be sent.
    #[error("Cannot send the photo: {0}")]
    FaceUrl(#[from] FaceUrlError),
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

    /// Authentication failures: never retry these (terminals lock the account).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Self::WrongCredentials { .. } | Self::Locked { .. })
    }

    /// Transient failures where a later retry of an idempotent call may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rejected(r) => r.busy(),
            Self::Timeout { .. } | Self::Unreachable { .. } | Self::ConnectionLost { .. } => true,
            _ => false,
        }
    }

    /// Short machine-readable kind, for metrics and logs.
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
            Self::FaceUrl(_) => "face_url",
            Self::InvalidRequest(_) => "invalid_request",
        }
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
            sub_status_code: sub.into(),
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
        assert!(e.is_auth_failure() && !e.is_transient());
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
        assert!(rejection("deviceBusy", None).busy());
        assert!(rejection("pictureSizeExceedLimit", None).picture_rejected());
        assert!(!rejection("notSupport", None).picture_rejected());
    }
}
