//! Request bodies for the face and person calls (`docs/owner-plan.md`'s `_build_face_image_payload` and
//! `_build_face_image_update_payload`).

use crate::employee_no::EmployeeNo;
use crate::wire::{DEFAULT_FACE_ID, FACE_LIB_TYPE, FDID, FaceRecord, RightPlan, UserInfo, Valid};

/// FaceDataRecord (POST) body: `{faceLibType, FDID, FPID, faceURL}`; without a URL it is the JSON
/// part of a multipart upload.
pub fn build_face_image_payload(employee_no: &EmployeeNo, face_url: Option<&str>) -> FaceRecord {
    FaceRecord {
        face_lib_type: FACE_LIB_TYPE.into(),
        fdid: FDID.into(),
        fpid: employee_no.to_string(),
        face_id: None,
        face_url: face_url.map(Into::into),
    }
}

/// FDModify (PUT) body, the owner's payload: the FaceDataRecord fields plus `faceID: "1"`.
pub fn build_face_image_update_payload(
    employee_no: &EmployeeNo,
    face_url: Option<&str>,
) -> FaceRecord {
    let mut record = build_face_image_payload(employee_no, face_url);
    record.face_id = Some(DEFAULT_FACE_ID.into());
    record
}

/// A normal person with access to door 1 on the all-day schedule, valid for ten years from 2020.
pub fn build_person(employee_no: &EmployeeNo, name: &str) -> UserInfo {
    // Terminals cap the name at 32 bytes in many firmware versions; cut on a char boundary.
    let mut short = String::new();
    for c in name.trim().chars() {
        if short.len() + c.len_utf8() > 32 {
            break;
        }
        short.push(c);
    }
    UserInfo {
        employee_no: employee_no.to_string(),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no(text: &str) -> EmployeeNo {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn update_payload_is_the_owners_shape() {
        let p = build_face_image_update_payload(&no("42"), Some("http://h/a.jpg"));
        let json = serde_json::to_value(p).ok();
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
        let p = build_face_image_payload(&no("42"), None);
        let json = serde_json::to_value(p).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({"faceLibType": "blackFD", "FDID": "1", "FPID": "42"}))
        );
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let p = build_person(&no("1"), &"Ș".repeat(40));
        assert_eq!(p.name.len(), 32);
    }
}
