//! Request bodies for the face and person calls (`docs/owner-plan.md`'s `_build_face_image_payload` and
//! `_build_face_image_update_payload`).

use crate::error::IsapiError;
use crate::wire::{
    DEFAULT_FACE_ID, FACE_LIB_TYPE, FDID, FaceRecord, MAX_EMPLOYEE_NO_BYTES, RightPlan, UserInfo,
    Valid,
};

/// Checks an employeeNo the way a terminal will: non-empty, at most 32 bytes.
pub fn check_employee_no(employee_no: &str) -> Result<&str, IsapiError> {
    let trimmed = employee_no.trim();
    if trimmed.is_empty() {
        return Err(IsapiError::InvalidRequest(
            "the employee_no is empty".into(),
        ));
    }
    if trimmed.len() > MAX_EMPLOYEE_NO_BYTES {
        return Err(IsapiError::InvalidRequest(format!(
            "the employee_no '{trimmed}' is {} bytes long; terminals accept at most {MAX_EMPLOYEE_NO_BYTES}",
            trimmed.len()
        )));
    }
    Ok(trimmed)
}

/// FaceDataRecord (POST) body: `{faceLibType, FDID, FPID, faceURL}`; without a URL it is the JSON
/// part of a multipart upload.
pub fn build_face_image_payload(
    employee_no: &str,
    face_url: Option<&str>,
) -> Result<FaceRecord, IsapiError> {
    Ok(FaceRecord {
        face_lib_type: FACE_LIB_TYPE.into(),
        fdid: FDID.into(),
        fpid: check_employee_no(employee_no)?.into(),
        face_id: None,
        face_url: face_url.map(Into::into),
    })
}

/// FDModify (PUT) body, the owner's payload: the FaceDataRecord fields plus `faceID: "1"`.
pub fn build_face_image_update_payload(
    employee_no: &str,
    face_url: Option<&str>,
) -> Result<FaceRecord, IsapiError> {
    let mut record = build_face_image_payload(employee_no, face_url)?;
    record.face_id = Some(DEFAULT_FACE_ID.into());
    Ok(record)
}

/// A normal person with access to door 1 on the all-day schedule, valid for ten years from 2020.
pub fn build_person(employee_no: &str, name: &str) -> Result<UserInfo, IsapiError> {
    // Terminals cap the name at 32 bytes in many firmware versions; cut on a char boundary.
    let mut short = String::new();
    for c in name.trim().chars() {
        if short.len() + c.len_utf8() > 32 {
            break;
        }
        short.push(c);
    }
    Ok(UserInfo {
        employee_no: check_employee_no(employee_no)?.into(),
        name: short,
        user_type: "normal".into(),
        valid: Some(Valid {
            enable: true,
            begin_time: "2020-01-01T00:00:00".into(),
            end_time: "2037-12-31T23:59:59".into(),
            time_type: Some("local".into()),
        }),
        door_right: Some("1".into()),
        right_plan: vec![RightPlan {
            door_no: 1,
            plan_template_no: "1".into(),
        }],
        num_of_face: None,
        face_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_payload_is_the_owners_shape() {
        let p = build_face_image_update_payload("42", Some("http://h/a.jpg")).ok();
        let json = p.and_then(|p| serde_json::to_value(p).ok());
        assert_eq!(
            json,
            Some(serde_json::json!({
                "faceLibType": "blackFD", "FDID": "1", "FPID": "42", "faceID": "1",
                "faceURL": "http://h/a.jpg"
            }))
        );
    }

    #[test]
    fn record_payload_has_no_face_id() {
        let p = build_face_image_payload("42", None).ok();
        let json = p.and_then(|p| serde_json::to_value(p).ok());
        assert_eq!(
            json,
            Some(serde_json::json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "42"}))
        );
    }

    #[test]
    fn employee_numbers_are_checked() {
        assert!(build_face_image_payload(" ", None).is_err());
        assert!(build_face_image_payload(&"9".repeat(33), None).is_err());
        assert!(build_face_image_payload(&"9".repeat(32), None).is_ok());
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let p = build_person("1", &"Ș".repeat(40)).ok();
        assert_eq!(p.map(|p| p.name.len()), Some(32));
    }
}
