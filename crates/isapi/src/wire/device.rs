//! The device itself: deviceInfo (XML), the 401 `userCheck` body, capabilities.

use serde::{Deserialize, Serialize};

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

/// `GET /ISAPI/Intelligent/FDLib/capabilities?format=json`, the fields the client reads.
///
/// Lists come as a comma-separated string (the 2020 guide) or as `{"@opt": "..."}` (some
/// firmware); both are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FdLibCapabilities {
    /// The face calls the firmware offers, e.g. `post,delete,put,get,setUp`.
    #[serde(
        rename = "supportFDFunction",
        default,
        deserialize_with = "opt_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub support_fd_function: Option<String>,
    /// How many faces one library holds.
    #[serde(
        rename = "FDRecordDataMaxNum",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fd_record_data_max_num: Option<u64>,
}

impl FdLibCapabilities {
    /// Whether `function` (e.g. `put`) is listed; `None` when the terminal does not say.
    pub fn offers(&self, function: &str) -> Option<bool> {
        self.support_fd_function
            .as_deref()
            .map(|list| list.split(',').any(|f| f.trim() == function))
    }
}

fn opt_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Plain(String),
        Opt {
            #[serde(rename = "@opt")]
            opt: String,
        },
    }
    Ok(Option::<List>::deserialize(d)?.map(|l| match l {
        List::Plain(s) | List::Opt { opt: s } => s,
    }))
}

/// `{"UserInfoCount": {...}}`, the reply of `GET /ISAPI/AccessControl/UserInfo/Count`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoCountEnvelope {
    /// The counts.
    #[serde(rename = "UserInfoCount")]
    pub count: UserInfoCount,
}

/// How many persons (and persons with a face or card) a terminal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoCount {
    /// Persons.
    pub user_number: u64,
    /// Persons with a face.
    #[serde(default)]
    pub bind_face_user_number: u64,
    /// Persons with a card.
    #[serde(default)]
    pub bind_card_user_number: u64,
}
