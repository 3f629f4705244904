//! A pushed face picture and the multipart bodies made of it. A body is built once per face call
//! and employee number and shared by every clone, so a fan-out to 1,000 terminals holds one copy
//! of a 200 KB picture instead of one per terminal in flight (BENCHMARKS.md, issue 19).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::client::FaceCall;
use crate::employee_no::EmployeeNo;
use crate::error::IsapiError;
use crate::multipart::{self, MultipartBody, Part};

/// Bodies kept per picture: a face call, its fallbacks, and a second number at most.
const KEPT: usize = 6;

/// JPEG bytes pushed by the service, with the upload bodies already built from them.
#[derive(Debug, Clone)]
pub struct PushedJpeg {
    bytes: Bytes,
    bodies: Arc<Mutex<Vec<Encoded>>>,
}

#[derive(Debug)]
struct Encoded {
    call: FaceCall,
    employee_no: EmployeeNo,
    body: MultipartBody,
}

impl PushedJpeg {
    /// The picture `bytes` (a JPEG the terminals accept).
    pub fn new(bytes: Bytes) -> Self {
        Self {
            bytes,
            bodies: Arc::default(),
        }
    }

    /// The picture's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The multipart body of `call` for `employee_no` (the JSON part `record`, then `img`),
    /// built on first use and shared after.
    pub(crate) fn body(
        &self,
        call: FaceCall,
        employee_no: &EmployeeNo,
        record: impl FnOnce() -> Result<Vec<u8>, IsapiError>,
    ) -> Result<MultipartBody, IsapiError> {
        let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = bodies
            .iter()
            .find(|e| e.call == call && e.employee_no == *employee_no)
        {
            return Ok(found.body.clone());
        }
        let record = record()?;
        let body = multipart::encode(&[
            Part {
                name: "FaceDataRecord",
                filename: None,
                content_type: "application/json",
                body: &record,
            },
            Part {
                name: "img",
                filename: Some("face.jpg"),
                content_type: "image/jpeg",
                body: &self.bytes,
            },
        ]);
        if bodies.len() >= KEPT {
            bodies.remove(0);
        }
        bodies.push(Encoded {
            call,
            employee_no: employee_no.clone(),
            body: body.clone(),
        });
        Ok(body)
    }
}

impl From<Bytes> for PushedJpeg {
    fn from(bytes: Bytes) -> Self {
        Self::new(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_body_per_call_and_number_is_shared_by_every_clone() {
        let jpeg = PushedJpeg::new(Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xD9]));
        let copy = jpeg.clone();
        let record = || Ok(b"{\"FPID\":\"7\"}".to_vec());
        let seven: EmployeeNo = "7".parse().unwrap();
        let first = jpeg.body(FaceCall::Modify, &seven, record).unwrap();
        let again = copy
            .body(FaceCall::Modify, &seven, || panic!("built twice"))
            .unwrap();
        assert_eq!(
            first.bytes.as_ptr(),
            again.bytes.as_ptr(),
            "the same bytes, not a copy"
        );
        let other = copy.body(FaceCall::SetUp, &seven, record).unwrap();
        assert_ne!(first.bytes.as_ptr(), other.bytes.as_ptr());
        let text = String::from_utf8_lossy(&first.bytes);
        assert!(text.contains("name=\"FaceDataRecord\"") && text.contains("filename=\"face.jpg\""));
    }
}
