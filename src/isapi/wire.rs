//! ISAPI wire types: the JSON and XML bodies HikVision terminals send and receive.
//!
//! Shared by the client (`crate::isapi`) and the terminal simulator (`crate::simulator`), and by
//! nothing else: the orchestration works with `crate::models`.

use serde::{Deserialize, Serialize};

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
    /// GET: device model and firmware (XML).
    pub const DEVICE_INFO: &str = "/ISAPI/System/deviceInfo";
    /// GET: face library capabilities (JSON; `supportFDFunction` lists the face calls).
    pub const FACE_CAPABILITIES: &str = "/ISAPI/Intelligent/FDLib/capabilities";
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
    pub sub_status_code: String,
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
            sub_status_code: "ok".into(),
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

/// `{"UserInfo": {...}}`, the body of UserInfo/Record and UserInfo/SetUp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoEnvelope {
    /// The person.
    #[serde(rename = "UserInfo")]
    pub user_info: UserInfo,
}

/// A person on the terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// The person's id on the terminal (at most 32 bytes).
    pub employee_no: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// "normal", "visitor", "blackList".
    #[serde(default = "default_user_type")]
    pub user_type: String,
    /// Validity window.
    #[serde(rename = "Valid", default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<Valid>,
    /// Doors the person may open, e.g. "1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_right: Option<String>,
    /// Schedule per door.
    #[serde(rename = "RightPlan", default, skip_serializing_if = "Vec::is_empty")]
    pub right_plan: Vec<RightPlan>,
    /// Number of faces attached (search replies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_of_face: Option<u32>,
}

fn default_user_type() -> String {
    "normal".into()
}

/// Validity window of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Valid {
    /// Whether the window applies.
    pub enable: bool,
    /// `YYYY-MM-DDThh:mm:ss`, terminal local time.
    pub begin_time: String,
    /// `YYYY-MM-DDThh:mm:ss`, terminal local time.
    pub end_time: String,
    /// "local".
    #[serde(default)]
    pub time_type: Option<String>,
}

/// Door schedule entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RightPlan {
    /// Door number.
    pub door_no: u32,
    /// Schedule template ("1" = all day).
    pub plan_template_no: String,
}

/// `{"UserInfoSearchCond": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoSearchEnvelope {
    /// The search condition.
    #[serde(rename = "UserInfoSearchCond")]
    pub cond: UserInfoSearchCond,
}

/// Person search condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoSearchCond {
    /// Any id; the terminal echoes it.
    #[serde(rename = "searchID")]
    pub search_id: String,
    /// Offset of the first result.
    pub search_result_position: u32,
    /// Page size (keep it <= 30).
    pub max_results: u32,
    /// Persons to look for; absent means all.
    #[serde(
        rename = "EmployeeNoList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub employee_no_list: Vec<EmployeeNo>,
}

/// `{"employeeNo": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeNo {
    /// The person's id.
    pub employee_no: String,
}

/// `{"UserInfoSearch": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoSearchReplyEnvelope {
    /// The search result.
    #[serde(rename = "UserInfoSearch")]
    pub search: UserInfoSearchReply,
}

/// Person search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoSearchReply {
    /// Echo of the request's id.
    #[serde(rename = "searchID", default)]
    pub search_id: String,
    /// "OK", "NO MATCH" or "MORE".
    pub response_status_strg: String,
    /// Results in this page.
    pub num_of_matches: u32,
    /// Results in all pages.
    pub total_matches: u32,
    /// The persons found.
    #[serde(rename = "UserInfo", default)]
    pub user_info: Vec<UserInfo>,
}

/// FDSearch request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceSearchCond {
    /// Offset of the first result.
    pub search_result_position: u32,
    /// Page size.
    pub max_results: u32,
    /// Always [`FACE_LIB_TYPE`].
    pub face_lib_type: String,
    /// Always [`FDID`].
    #[serde(rename = "FDID")]
    pub fdid: String,
    /// The face to look for; absent means all.
    #[serde(rename = "FPID", default, skip_serializing_if = "Option::is_none")]
    pub fpid: Option<String>,
}

/// FDSearch reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceSearchReply {
    /// "OK", "NO MATCHES" or "MORE".
    pub response_status_strg: String,
    /// Results in this page.
    #[serde(default)]
    pub num_of_matches: u32,
    /// Results in all pages.
    #[serde(default)]
    pub total_matches: u32,
    /// The faces found.
    #[serde(rename = "MatchList", default)]
    pub match_list: Vec<FaceMatch>,
}

/// One face in an FDSearch reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceMatch {
    /// The person's employeeNo.
    #[serde(rename = "FPID")]
    pub fpid: String,
    /// Where the terminal serves the stored picture.
    #[serde(rename = "faceURL", default)]
    pub face_url: Option<String>,
}

/// `GET /ISAPI/System/deviceInfo` (XML `<DeviceInfo>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename = "DeviceInfo", rename_all = "camelCase")]
pub struct DeviceInfo {
    /// User-given name.
    #[serde(default)]
    pub device_name: String,
    /// Model, e.g. DS-K1T341AM.
    #[serde(default)]
    pub model: String,
    /// Serial number.
    #[serde(default)]
    pub serial_number: String,
    /// Firmware version, e.g. V3.2.30.
    #[serde(default)]
    pub firmware_version: String,
    /// "ACS" for access-control terminals.
    #[serde(default)]
    pub device_type: String,
}

/// Body of a 401 reply (`<userCheck>`), telling how many logins are left before lockout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename = "userCheck", rename_all = "camelCase")]
pub struct UserCheck {
    /// 401.
    #[serde(default)]
    pub status_value: u16,
    /// "Unauthorized".
    #[serde(default)]
    pub status_string: String,
    /// "unlock" or "locked".
    #[serde(default)]
    pub lock_status: String,
    /// Failed logins left before the account locks.
    #[serde(default)]
    pub retry_login_time: Option<u32>,
    /// Seconds until the lock lifts.
    #[serde(default)]
    pub unlock_time: Option<u64>,
}

/// Namespace of the old-firmware XML `ResponseStatus`.
pub const XML_NAMESPACE: &str = "http://www.std-cgi.org/ver20/XMLSchema";
