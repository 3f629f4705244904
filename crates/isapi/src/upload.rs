//! A pushed face picture and the multipart bodies made of it. A body is built once per JSON part
//! (the face call's record: its kind and the employee number) and shared by every clone, so a fan-out to 1,000 terminals holds one copy
//! of a 200 KB picture instead of one per terminal in flight (BENCHMARKS.md, issue 19).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

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
    record: Vec<u8>,
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

    /// The multipart body with the JSON part `record` (the face call's `FaceDataRecord`), then
    /// the picture as `img`: built on first use and shared after.
    pub(crate) fn body(&self, record: &[u8]) -> MultipartBody {
        let mut bodies = self.bodies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = bodies.iter().find(|e| e.record == record) {
            return found.body.clone();
        }
        let body = multipart::encode(&[
            Part {
                name: "FaceDataRecord",
                filename: None,
                content_type: "application/json",
                body: record,
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
            record: record.to_vec(),
            body: body.clone(),
        });
        body
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
    fn one_body_per_record_is_shared_by_every_clone() {
        let jpeg = PushedJpeg::new(Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xD9]));
        let copy = jpeg.clone();
        let first = jpeg.body(b"{\"FPID\":\"7\"}");
        let again = copy.body(b"{\"FPID\":\"7\"}");
        assert_eq!(
            first.bytes.as_ptr(),
            again.bytes.as_ptr(),
            "the same bytes, not a copy"
        );
        let other = copy.body(b"{\"FPID\":\"8\"}");
        assert_ne!(first.bytes.as_ptr(), other.bytes.as_ptr());
        let text = String::from_utf8_lossy(&first.bytes);
        assert!(text.contains("name=\"FaceDataRecord\"") && text.contains("filename=\"face.jpg\""));
        assert!(text.contains("{\"FPID\":\"7\"}"));
    }
}
