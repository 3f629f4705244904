//! An employee's number on the terminals (`employeeNo`, and the `FPID` of their face), checked
//! once where it enters (a request body, a Supabase row, the job store, a terminal's reply) and
//! carried as [`EmployeeNo`] after that.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::IsapiError;
use crate::wire::MAX_EMPLOYEE_NO_BYTES;

/// A number a terminal takes as `employeeNo`: 1 to [`MAX_EMPLOYEE_NO_BYTES`] bytes, without
/// surrounding whitespace (a terminal keeps spaces, so `" 1042"` and `"1042"` would be two
/// persons). Never truncated: two cut numbers could name the same person.
///
/// ```
/// use hikvision_isapi::EmployeeNo;
/// let no: EmployeeNo = "1042".parse().unwrap();
/// assert_eq!(no.as_ref(), "1042");
/// assert!("".parse::<EmployeeNo>().is_err());
/// assert!(" 1042".parse::<EmployeeNo>().is_err());
/// assert!("9".repeat(33).parse::<EmployeeNo>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmployeeNo(String);

/// Why a value is not an [`EmployeeNo`]; the message quotes the value (numbers are no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmployeeNo {
    /// Nothing, or only whitespace.
    #[error("the employee_no is empty")]
    Empty,
    /// Longer than a terminal takes.
    #[error(
        "the employee_no '{0}' is {len} bytes long; terminals accept at most {MAX_EMPLOYEE_NO_BYTES}",
        len = .0.len()
    )]
    TooLong(String),
    /// Whitespace before or after the number.
    #[error("the employee_no '{0}' has surrounding spaces")]
    SurroundingSpaces(String),
}

impl EmployeeNo {
    /// The number as the terminals see it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmployeeNo {
    type Error = InvalidEmployeeNo;

    fn try_from(value: String) -> Result<Self, InvalidEmployeeNo> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(InvalidEmployeeNo::Empty);
        }
        if trimmed.len() > MAX_EMPLOYEE_NO_BYTES {
            return Err(InvalidEmployeeNo::TooLong(trimmed.to_string()));
        }
        if trimmed.len() != value.len() {
            return Err(InvalidEmployeeNo::SurroundingSpaces(value));
        }
        Ok(Self(value))
    }
}

impl TryFrom<&str> for EmployeeNo {
    type Error = InvalidEmployeeNo;

    fn try_from(value: &str) -> Result<Self, InvalidEmployeeNo> {
        Self::try_from(value.to_string())
    }
}

impl FromStr for EmployeeNo {
    type Err = InvalidEmployeeNo;

    fn from_str(s: &str) -> Result<Self, InvalidEmployeeNo> {
        Self::try_from(s)
    }
}

impl From<EmployeeNo> for String {
    fn from(no: EmployeeNo) -> Self {
        no.0
    }
}

impl AsRef<str> for EmployeeNo {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmployeeNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for EmployeeNo {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EmployeeNo {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl From<InvalidEmployeeNo> for IsapiError {
    fn from(e: InvalidEmployeeNo) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminals_rules_hold_and_the_messages_say_which() {
        assert_eq!(
            "1042".parse::<EmployeeNo>().map(|n| n.to_string()),
            Ok("1042".to_string())
        );
        assert!("9".repeat(32).parse::<EmployeeNo>().is_ok());
        assert_eq!(
            " ".parse::<EmployeeNo>().map_err(|e| e.to_string()),
            Err("the employee_no is empty".to_string())
        );
        assert_eq!(
            "9".repeat(33)
                .parse::<EmployeeNo>()
                .map_err(|e| e.to_string()),
            Err(format!(
                "the employee_no '{}' is 33 bytes long; terminals accept at most 32",
                "9".repeat(33)
            ))
        );
        assert_eq!(
            "7 ".parse::<EmployeeNo>().map_err(|e| e.to_string()),
            Err("the employee_no '7 ' has surrounding spaces".to_string())
        );
    }

    #[test]
    fn serde_reads_and_writes_the_bare_string_and_checks_it() {
        let no: Result<EmployeeNo, _> = serde_json::from_str("\"1042\"");
        assert_eq!(
            no.ok().and_then(|n| serde_json::to_string(&n).ok()),
            Some("\"1042\"".to_string())
        );
        assert!(serde_json::from_str::<EmployeeNo>("\"\"").is_err());
    }
}
