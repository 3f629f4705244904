//! Delete bodies. An absent or empty list in `UserInfo/Delete` deletes EVERY person on the terminal
//! (`docs/isapi.md`, "Deleting"), so the list type here cannot be empty: it is built from a first
//! element plus the rest, and reading an empty one is an error.

use serde::{Deserialize, Deserializer, Serialize};

use super::EmployeeNoEntry;
use crate::employee_no::EmployeeNo;

/// A list of at least one employee number.
///
/// Every way to build one names someone first, so a delete that names nobody cannot be
/// written:
///
/// ```
/// use hikvision_isapi::{EmployeeNo, wire::EmployeeNoList};
/// let no = |n: &str| n.parse::<EmployeeNo>().unwrap();
/// let two = EmployeeNoList::new(no("1042"), [no("1043")]);
/// assert_eq!(two.len(), 2);
/// assert!(EmployeeNoList::try_from(Vec::<EmployeeNo>::new()).is_err());
/// ```
///
/// ```compile_fail
/// let nobody = hikvision_isapi::wire::EmployeeNoList::new();
/// ```
///
/// ```compile_fail
/// let nobody = hikvision_isapi::wire::EmployeeNoList::default();
/// ```
///
/// ```compile_fail
/// let nobody = hikvision_isapi::wire::EmployeeNoList(Vec::new());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmployeeNoList(Vec<EmployeeNoEntry>);

/// The list given was empty: nothing would be named, and the terminal would delete everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refusing an empty employee list: on a terminal it would delete every person")]
pub struct EmptyList;

impl EmployeeNoList {
    /// `first` and then `rest`.
    pub fn new(first: EmployeeNo, rest: impl IntoIterator<Item = EmployeeNo>) -> Self {
        let entry = |no: EmployeeNo| EmployeeNoEntry {
            employee_no: no.into(),
        };
        let mut list = vec![entry(first)];
        list.extend(rest.into_iter().map(entry));
        Self(list)
    }

    /// The employee numbers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|e| e.employee_no.as_str())
    }

    /// Each number as a list of its own, in order.
    pub fn singles(&self) -> impl Iterator<Item = EmployeeNoList> + '_ {
        self.0.iter().map(|entry| Self(vec![entry.clone()]))
    }

    /// How many (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false; here because a `len` wants one.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl TryFrom<Vec<EmployeeNo>> for EmployeeNoList {
    type Error = EmptyList;

    fn try_from(list: Vec<EmployeeNo>) -> Result<Self, EmptyList> {
        let mut items = list.into_iter();
        let first = items.next().ok_or(EmptyList)?;
        Ok(Self::new(first, items))
    }
}

impl<'de> Deserialize<'de> for EmployeeNoList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<EmployeeNoEntry>::deserialize(deserializer)?;
        if list.is_empty() {
            return Err(serde::de::Error::custom(EmptyList));
        }
        Ok(Self(list))
    }
}

/// `{"UserInfoDelCond": {...}}`, the body of `PUT UserInfo/Delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoDelEnvelope {
    /// The condition.
    #[serde(rename = "UserInfoDelCond")]
    pub cond: UserInfoDelCond,
}

/// Which persons to delete: always named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoDelCond {
    /// The persons (never empty).
    #[serde(rename = "EmployeeNoList")]
    pub employee_no_list: EmployeeNoList,
}

/// `{"value": "<employeeNo>"}` in a face delete body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FpidValue {
    /// The face's FPID (= employeeNo).
    pub value: String,
}

/// Body of `PUT FDSearch/Delete`: the faces to delete, by FPID (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaceDeleteBody {
    /// The FPIDs.
    #[serde(rename = "FPID")]
    fpid: Vec<FpidValue>,
}

impl FaceDeleteBody {
    /// The faces of `persons`.
    pub fn of(persons: &EmployeeNoList) -> Self {
        Self {
            fpid: persons
                .iter()
                .map(|value| FpidValue {
                    value: value.to_string(),
                })
                .collect(),
        }
    }

    /// The FPIDs, in order.
    pub fn fpids(&self) -> impl Iterator<Item = &str> {
        self.fpid.iter().map(|v| v.value.as_str())
    }
}

impl<'de> Deserialize<'de> for FaceDeleteBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "FPID")]
            fpid: Vec<FpidValue>,
        }
        let raw = Raw::deserialize(deserializer)?;
        if raw.fpid.is_empty() {
            return Err(serde::de::Error::custom(EmptyList));
        }
        Ok(Self { fpid: raw.fpid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(text: &str) -> EmployeeNo {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_empty_list_cannot_be_built_or_read() {
        assert_eq!(EmployeeNoList::try_from(Vec::new()), Err(EmptyList));
        let empty: Result<UserInfoDelEnvelope, _> =
            serde_json::from_str(r#"{"UserInfoDelCond": {"EmployeeNoList": []}}"#);
        assert!(empty.is_err());
        let absent: Result<UserInfoDelEnvelope, _> =
            serde_json::from_str(r#"{"UserInfoDelCond": {}}"#);
        assert!(absent.is_err());
        let no_faces: Result<FaceDeleteBody, _> = serde_json::from_str(r#"{"FPID": []}"#);
        assert!(no_faces.is_err());
    }

    #[test]
    fn a_list_keeps_its_order() {
        let list = EmployeeNoList::new(no("1"), [no("2")]);
        assert_eq!(list.iter().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(
            FaceDeleteBody::of(&list).fpids().collect::<Vec<_>>(),
            ["1", "2"]
        );
    }
}
