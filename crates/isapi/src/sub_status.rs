//! `subStatusCode`: the terminal's machine-readable reason, as one enum with an `Other` fallback.
//!
//! The table below is the only place the codes are spelled; the client's messages, the
//! classification ([`crate::ErrorClass`]) and the simulator's replies all read it. Meanings and
//! sources: `docs/isapi.md`, "Replies".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a sub-status says about the request, for the classification and the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Success (`ok`).
    Ok,
    /// The terminal is busy: it did nothing, a later retry may succeed.
    Busy,
    /// The picture was refused: the same picture will be refused again.
    Picture,
    /// This call is not the way on this terminal's firmware (try another call).
    Unsupported,
    /// The account lacks the rights.
    Privilege,
    /// The person (employeeNo) is not enrolled.
    PersonMissing,
    /// The person is already enrolled.
    PersonExists,
    /// The person already has a face (FaceDataRecord is create-only).
    FaceExists,
    /// The person has no face yet.
    FaceMissing,
    /// The request itself was refused (bad field, bad JSON, wrong library).
    Request,
}

macro_rules! sub_statuses {
    ($($variant:ident => $code:literal, $meaning:ident, $text:literal;)*) => {
        /// A `subStatusCode` a terminal sends. Unknown codes are kept verbatim in [`SubStatus::Other`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum SubStatus {
            $(
                #[doc = $text]
                $variant,
            )*
            /// A code this client does not know, verbatim.
            Other(String),
        }

        impl SubStatus {
            /// Every known code, in the table's order.
            pub const KNOWN: &'static [SubStatus] = &[$(SubStatus::$variant),*];

            /// The code as the terminal spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Other(code) => code,
                }
            }

            /// What the code says about the request; `None` for unknown codes.
            pub fn meaning(&self) -> Option<Meaning> {
                match self {
                    $(Self::$variant => Some(Meaning::$meaning),)*
                    Self::Other(_) => None,
                }
            }

            /// A plain-language explanation an HR admin can act on; `None` for unknown codes.
            pub fn text(&self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some($text),)*
                    Self::Other(_) => None,
                }
            }

            /// The code for `s`, [`SubStatus::Other`] when unknown.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($code => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }
    };
}

sub_statuses! {
    Ok => "ok", Ok, "the call succeeded";
    DeviceBusy => "deviceBusy", Busy, "the terminal is busy; try again in a moment";
    PictureSizeExceedLimit => "pictureSizeExceedLimit", Picture, "the picture is too large (at most 200 KB)";
    NotSupport => "notSupport", Unsupported, "this call is not supported by the terminal's firmware";
    LowPrivilege => "lowPrivilege", Privilege, "the terminal account lacks the rights for this; use an administrator account";
    BadAuthorization => "badAuthorization", Privilege, "the terminal account lacks the rights for this; use an administrator account";
    MethodNotAllowed => "methodNotAllowed", Unsupported, "the terminal does not allow this operation";
    InvalidOperation => "invalidOperation", Unsupported, "the terminal does not allow this operation";
    FaceDetectFailed => "faceDetectFailed", Picture, "no usable face found in the picture";
    PictureModelingFailed => "pictureModelingFailed", Picture, "no usable face found in the picture";
    SubpicAnalysisModelingError => "SubpicAnalysisModelingError", Picture, "no usable face found in the picture";
    LowFacePicQuality => "lowFacePicQuality", Picture, "the face in the picture is of too low a quality";
    PicturePixelsTooLarge => "picturePixelsTooLarge", Picture, "the picture's resolution is too high";
    PicturePixelsTooSmall => "picturePixelsTooSmall", Picture, "the picture's resolution is too low";
    LibraryNotExist => "libraryNotExist", Request, "the face library (FDID 1, blackFD) does not exist";
    FaceLibNotExist => "faceLibNotExist", Request, "the face library (FDID 1, blackFD) does not exist";
    AlreadyExistThisFace => "alreadyExistThisFace", Picture, "the same face is already enrolled on this terminal under another person";
    DeviceUserAlreadyExistFace => "deviceUserAlreadyExistFace", FaceExists, "this person already has a face on the terminal";
    DeviceUserAlreadyExist => "deviceUserAlreadyExist", PersonExists, "this person already exists on the terminal";
    EmployeeNoAlreadyExist => "employeeNoAlreadyExist", PersonExists, "this person already exists on the terminal";
    EmployeeNoNotExist => "employeeNoNotExist", PersonMissing, "this person does not exist on the terminal";
    DeviceUserNotExist => "deviceUserNotExist", PersonMissing, "this person does not exist on the terminal";
    FaceNotExist => "faceNotExist", FaceMissing, "this person has no face on the terminal yet";
    FpidNotExist => "FPIDNotExist", FaceMissing, "this person has no face on the terminal yet";
    UrlDownloadFail => "urlDownloadFail", Picture, "the terminal could not download the picture from its URL (check that the terminal can reach it)";
    ExceedMaxFaceNumber => "exceedMaxFaceNumber", Request, "the terminal's face library is full";
    DeviceMemoryLimited => "deviceMemoryLimited", Request, "the terminal is out of storage";
    BadJsonFormat => "badJsonFormat", Request, "the terminal could not read the request (bad JSON)";
    BadParameters => "badParameters", Request, "the terminal rejected a field of the request";
    BadJsonContent => "badJsonContent", Request, "the terminal rejected a field of the request";
    MessageParametersLack => "MessageParametersLack", Request, "the terminal rejected a field of the request";
}

impl SubStatus {
    /// True when the code says the picture itself was refused.
    pub fn is_picture_problem(&self) -> bool {
        self.meaning() == Some(Meaning::Picture)
    }
}

impl fmt::Display for SubStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

impl From<&str> for SubStatus {
    fn from(s: &str) -> Self {
        Self::parse(s)
    }
}

impl Default for SubStatus {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl Serialize for SubStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SubStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_through_its_spelling() {
        for code in SubStatus::KNOWN {
            assert_eq!(&SubStatus::parse(code.as_str()), code);
            assert!(code.text().is_some() && code.meaning().is_some());
        }
    }

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        let code = SubStatus::parse("weirdNewCode");
        assert_eq!(code, SubStatus::Other("weirdNewCode".into()));
        assert_eq!(code.to_string(), "weirdNewCode");
        assert_eq!(code.meaning(), None);
    }

    #[test]
    fn serializes_as_the_terminal_spells_it() {
        let json = serde_json::to_string(&SubStatus::DeviceUserAlreadyExistFace).ok();
        assert_eq!(json.as_deref(), Some("\"deviceUserAlreadyExistFace\""));
        let back: Option<SubStatus> = serde_json::from_str("\"FPIDNotExist\"").ok();
        assert_eq!(back, Some(SubStatus::FpidNotExist));
    }
}
