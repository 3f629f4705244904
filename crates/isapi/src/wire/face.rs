//! Faces: the FDSearch bodies.

use serde::{Deserialize, Serialize};

/// FDSearch request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceSearchCond {
    /// Offset of the first result.
    pub search_result_position: u32,
    /// Page size (terminals return at most [`super::MAX_SEARCH_RESULTS`]).
    pub max_results: u32,
    /// Always [`super::FACE_LIB_TYPE`].
    pub face_lib_type: String,
    /// Always [`super::FDID`].
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
    /// The faces found (absent from a `NO MATCHES` reply).
    #[serde(rename = "MatchList", default, skip_serializing_if = "Vec::is_empty")]
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
    /// The person's name, when the terminal sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
