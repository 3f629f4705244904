//! Persons: the UserInfo bodies (add, edit, search, count, delete).

use serde::{Deserialize, Serialize};

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
    /// Where the terminal serves the person's face (search replies only, for a person with a
    /// face).
    #[serde(rename = "faceURL", default, skip_serializing_if = "Option::is_none")]
    pub face_url: Option<String>,
}

fn default_user_type() -> String {
    "normal".into()
}

/// Validity window of a person. Read leniently: firmware that leaves a field out (or reports a
/// disabled window as `1970-01-01T00:00:00`) must not fail a whole person listing; the service
/// normalises what it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Valid {
    /// Whether the window applies.
    #[serde(default)]
    pub enable: bool,
    /// `YYYY-MM-DDThh:mm:ss`, terminal local time.
    #[serde(default)]
    pub begin_time: String,
    /// `YYYY-MM-DDThh:mm:ss`, terminal local time.
    #[serde(default)]
    pub end_time: String,
    /// "local".
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Page size (terminals return at most [`super::MAX_SEARCH_RESULTS`]).
    pub max_results: u32,
    /// Persons to look for; absent means all.
    #[serde(
        rename = "EmployeeNoList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub employee_no_list: Vec<EmployeeNoEntry>,
}

/// `{"employeeNo": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeNoEntry {
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
    /// The persons found (absent from a `NO MATCH` reply).
    #[serde(rename = "UserInfo", default, skip_serializing_if = "Vec::is_empty")]
    pub user_info: Vec<UserInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_person_with_a_partial_valid_still_reads() {
        let person: UserInfo = serde_json::from_value(serde_json::json!({
            "employeeNo": "7", "Valid": {"beginTime": "1970-01-01T00:00:00"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let valid = person.valid.unwrap_or_else(|| panic!("Valid read"));
        assert!(!valid.enable);
        assert_eq!(valid.end_time, "");
    }
}
