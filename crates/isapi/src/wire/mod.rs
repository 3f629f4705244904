//! ISAPI wire types: the JSON and XML bodies HikVision terminals send and receive.
//!
//! Shared by this client and the terminal simulator (`hikvision-simulator`); the service's own
//! domain types are separate. Literal examples of each body: `docs/isapi.md` (golden tests
//! parse and produce them).

use serde::{Deserialize, Serialize};

use crate::SubStatus;

/// Face library type used for employee faces ("blacklist" library in HikVision terms, the default one).
pub const FACE_LIB_TYPE: &str = "blackFD";
/// Face library id used for employee faces.
pub const FDID: &str = "1";
/// The owner's plan sends `faceID: "1"` with FDModify.
pub const DEFAULT_FACE_ID: &str = "1";
/// Longest `faceURL` a terminal accepts, in bytes.
pub const MAX_FACE_URL_BYTES: usize = 256;
/// Longest `employeeNo` a terminal accepts, in bytes.
pub const MAX_EMPLOYEE_NO_BYTES: usize = 32;
/// Largest picture a terminal accepts, in bytes (200 KB).
pub const MAX_PICTURE_BYTES: usize = 200 * 1024;
/// Most results one search page returns (`maxResults` above it is clamped or refused).
pub const MAX_SEARCH_RESULTS: u32 = 30;

/// ISAPI paths this service calls.
pub mod paths {
    /// POST: add a person.
    pub const USER_RECORD: &str = "/ISAPI/AccessControl/UserInfo/Record";
    /// PUT: edit an existing person.
    pub const USER_MODIFY: &str = "/ISAPI/AccessControl/UserInfo/Modify";
    /// PUT: add or edit a person.
    pub const USER_SETUP: &str = "/ISAPI/AccessControl/UserInfo/SetUp";
    /// POST: search persons.
    pub const USER_SEARCH: &str = "/ISAPI/AccessControl/UserInfo/Search";
    /// POST: add a face.
    pub const FACE_RECORD: &str = "/ISAPI/Intelligent/FDLib/FaceDataRecord";
    /// PUT: edit an existing face (newer firmware).
    pub const FACE_MODIFY: &str = "/ISAPI/Intelligent/FDLib/FDModify";
    /// PUT: add or replace a face.
    pub const FACE_SETUP: &str = "/ISAPI/Intelligent/FDLib/FDSetUp";
    /// POST: search faces.
    pub const FACE_SEARCH: &str = "/ISAPI/Intelligent/FDLib/FDSearch";
    /// PUT: delete faces (`?FDID=1&faceLibType=blackFD` in the query).
    pub const FACE_DELETE: &str = "/ISAPI/Intelligent/FDLib/FDSearch/Delete";
    /// PUT: delete persons. An empty or absent list deletes EVERY person.
    pub const USER_DELETE: &str = "/ISAPI/AccessControl/UserInfo/Delete";
    /// GET: person and face counts.
    pub const USER_COUNT: &str = "/ISAPI/AccessControl/UserInfo/Count";
    /// GET: device model and firmware (XML).
    pub const DEVICE_INFO: &str = "/ISAPI/System/deviceInfo";
    /// GET: face library capabilities (JSON; `supportFDFunction` lists the face calls).
    pub const FACE_CAPABILITIES: &str = "/ISAPI/Intelligent/FDLib/capabilities";
    /// POST: search access events by serial number or time.
    pub const ACS_EVENT: &str = "/ISAPI/AccessControl/AcsEvent";
    /// POST: count access events.
    pub const ACS_EVENT_TOTAL: &str = "/ISAPI/AccessControl/AcsEventTotalNum";
    /// GET: the HTTP listener slots (XML); PUT `.../{id}`: one slot.
    pub const HTTP_HOSTS: &str = "/ISAPI/Event/notification/httpHosts";
    /// GET/PUT: the terminal's clock (XML).
    pub const SYSTEM_TIME: &str = "/ISAPI/System/time";
}

/// The status reply of every ISAPI write call (JSON form).
///
/// Success is `{"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"}`; failures add
/// `errorCode` and `errorMsg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseStatus {
    /// The request path the terminal answers for.
    #[serde(
        rename = "requestURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_url: Option<String>,
    /// 1 OK, 2 busy, 3 device error, 4 invalid operation, 5 bad format, 6 bad content, 7 reboot.
    pub status_code: i64,
    /// "OK", "Invalid Operation", ...
    pub status_string: String,
    /// Machine-readable reason, e.g. `notSupport`, `deviceUserAlreadyExistFace`.
    pub sub_status_code: SubStatus,
    /// Numeric error code (e.g. 0x40000001 as a decimal number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u64>,
    /// Extra detail, often the offending field name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    /// FaceDataRecord replies may echo the face's FPID.
    #[serde(rename = "FPID", default, skip_serializing_if = "Option::is_none")]
    pub fpid: Option<String>,
}

impl ResponseStatus {
    /// The success reply.
    pub fn ok() -> Self {
        Self {
            request_url: None,
            status_code: 1,
            status_string: "OK".into(),
            sub_status_code: SubStatus::Ok,
            error_code: None,
            error_msg: None,
            fpid: None,
        }
    }

    /// True for `statusCode: 1`.
    pub fn is_ok(&self) -> bool {
        self.status_code == 1
    }
}

/// Body of FaceDataRecord (POST), FDSetUp (PUT) and FDModify (PUT).
///
/// With `face_url` it is the flat JSON form; without it, it is the JSON part of a multipart upload
/// whose image part carries the picture bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceRecord {
    /// Always [`FACE_LIB_TYPE`].
    #[serde(rename = "faceLibType")]
    pub face_lib_type: String,
    /// Always [`FDID`].
    #[serde(rename = "FDID")]
    pub fdid: String,
    /// The person's `employeeNo`.
    #[serde(rename = "FPID")]
    pub fpid: String,
    /// Sent by FDModify only (the owner's payload).
    #[serde(rename = "faceID", default, skip_serializing_if = "Option::is_none")]
    pub face_id: Option<String>,
    /// URL the terminal downloads the picture from.
    #[serde(rename = "faceURL", default, skip_serializing_if = "Option::is_none")]
    pub face_url: Option<String>,
}

mod delete;
mod device;
mod event;
mod face;
mod person;

pub use delete::{
    EmployeeNoList, EmptyList, FaceDeleteBody, FpidValue, UserInfoDelCond, UserInfoDelEnvelope,
};
pub use device::*;
pub use event::*;
pub use face::*;
pub use person::*;
