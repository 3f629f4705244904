//! Every call the client makes, by name: the `method` the service reports, the label its metrics
//! use, and the HTTP method and path a terminal serves it at.

use reqwest::Method;
use serde::{Serialize, Serializer};

use crate::wire::{FACE_LIB_TYPE, FDID, paths};

/// One ISAPI call. Its name is the path below the ISAPI area (`FDModify`, `UserInfo/Record`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminalCall {
    /// PUT FDModify: replace a face (the owner's plan; newer firmware).
    FdModify,
    /// POST FaceDataRecord: add a face (create-only on some firmware).
    FaceDataRecord,
    /// PUT FDSetUp: add or replace a face.
    FdSetUp,
    /// POST FDSearch: find faces.
    FdSearch,
    /// PUT FDSearch/Delete: delete faces by FPID.
    FdDelete,
    /// POST UserInfo/Record: add a person (create-only).
    UserRecord,
    /// PUT UserInfo/Modify: edit a person.
    UserModify,
    /// PUT UserInfo/SetUp: add or edit a person.
    UserSetUp,
    /// POST UserInfo/Search: find persons.
    UserSearch,
    /// PUT UserInfo/Delete: delete persons by employeeNo.
    UserDelete,
    /// GET UserInfo/Count: how many persons and faces the terminal holds.
    UserCount,
    /// GET System/deviceInfo: model, serial number, firmware.
    DeviceInfo,
    /// GET FDLib/capabilities: the face calls the firmware offers, face capacity.
    FaceCapabilities,
    /// POST AcsEvent: search access events.
    AcsEvent,
    /// POST AcsEventTotalNum: count access events.
    AcsEventTotalNum,
    /// GET httpHosts: the HTTP listener slots (XML).
    HttpHosts,
    /// PUT httpHosts/{id}: write one listener slot (XML).
    HttpHostSet,
    /// GET System/time: the terminal's clock (XML).
    SystemTime,
    /// PUT System/time: set the terminal's clock (XML).
    SystemTimeSet,
}

impl TerminalCall {
    /// Every call, for documentation and exhaustive tests.
    pub const ALL: &'static [TerminalCall] = &[
        Self::FdModify,
        Self::FaceDataRecord,
        Self::FdSetUp,
        Self::FdSearch,
        Self::FdDelete,
        Self::UserRecord,
        Self::UserModify,
        Self::UserSetUp,
        Self::UserSearch,
        Self::UserDelete,
        Self::UserCount,
        Self::DeviceInfo,
        Self::FaceCapabilities,
        Self::AcsEvent,
        Self::AcsEventTotalNum,
        Self::HttpHosts,
        Self::HttpHostSet,
        Self::SystemTime,
        Self::SystemTimeSet,
    ];

    /// The call's name, as API responses, logs and metrics show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::FdModify => "FDModify",
            Self::FaceDataRecord => "FaceDataRecord",
            Self::FdSetUp => "FDSetUp",
            Self::FdSearch => "FDSearch",
            Self::FdDelete => "FDSearch/Delete",
            Self::UserRecord => "UserInfo/Record",
            Self::UserModify => "UserInfo/Modify",
            Self::UserSetUp => "UserInfo/SetUp",
            Self::UserSearch => "UserInfo/Search",
            Self::UserDelete => "UserInfo/Delete",
            Self::UserCount => "UserInfo/Count",
            Self::DeviceInfo => "deviceInfo",
            Self::FaceCapabilities => "FDLib/capabilities",
            Self::AcsEvent => "AcsEvent",
            Self::AcsEventTotalNum => "AcsEventTotalNum",
            Self::HttpHosts => "httpHosts",
            Self::HttpHostSet => "httpHosts/set",
            Self::SystemTime => "System/time",
            Self::SystemTimeSet => "System/time/set",
        }
    }

    /// The HTTP method and path of the call.
    pub fn route(self) -> (Method, &'static str) {
        match self {
            Self::FdModify => (Method::PUT, paths::FACE_MODIFY),
            Self::FaceDataRecord => (Method::POST, paths::FACE_RECORD),
            Self::FdSetUp => (Method::PUT, paths::FACE_SETUP),
            Self::FdSearch => (Method::POST, paths::FACE_SEARCH),
            Self::FdDelete => (Method::PUT, paths::FACE_DELETE),
            Self::UserRecord => (Method::POST, paths::USER_RECORD),
            Self::UserModify => (Method::PUT, paths::USER_MODIFY),
            Self::UserSetUp => (Method::PUT, paths::USER_SETUP),
            Self::UserSearch => (Method::POST, paths::USER_SEARCH),
            Self::UserDelete => (Method::PUT, paths::USER_DELETE),
            Self::UserCount => (Method::GET, paths::USER_COUNT),
            Self::DeviceInfo => (Method::GET, paths::DEVICE_INFO),
            Self::FaceCapabilities => (Method::GET, paths::FACE_CAPABILITIES),
            Self::AcsEvent => (Method::POST, paths::ACS_EVENT),
            Self::AcsEventTotalNum => (Method::POST, paths::ACS_EVENT_TOTAL),
            Self::HttpHosts => (Method::GET, paths::HTTP_HOSTS),
            Self::HttpHostSet => (Method::PUT, paths::HTTP_HOSTS),
            Self::SystemTime => (Method::GET, paths::SYSTEM_TIME),
            Self::SystemTimeSet => (Method::PUT, paths::SYSTEM_TIME),
        }
    }

    /// Query pairs the call always carries after `format=json`: the face library of a face
    /// delete (`docs/isapi.md`, "Calls"); none for the other calls.
    pub fn query(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::FdDelete => &[("FDID", FDID), ("faceLibType", FACE_LIB_TYPE)],
            _ => &[],
        }
    }

    /// True when repeating the call changes nothing (replaces, searches, deletes, reads).
    /// FaceDataRecord and UserInfo/Record are create-only: a repeat gets "already exists".
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::FaceDataRecord | Self::UserRecord)
    }
}

impl std::fmt::Display for TerminalCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TerminalCall {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_face_calls_keep_their_response_names() {
        let mut names: Vec<_> = TerminalCall::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TerminalCall::ALL.len());
        assert_eq!(TerminalCall::FdModify.name(), "FDModify");
        assert_eq!(TerminalCall::FaceDataRecord.name(), "FaceDataRecord");
        assert_eq!(TerminalCall::FdSetUp.name(), "FDSetUp");
    }

    #[test]
    fn only_the_create_only_calls_are_not_idempotent() {
        let not: Vec<_> = TerminalCall::ALL
            .iter()
            .filter(|c| !c.is_idempotent())
            .collect();
        assert_eq!(
            not,
            [&TerminalCall::FaceDataRecord, &TerminalCall::UserRecord]
        );
    }
}
