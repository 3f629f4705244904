//! A `multipart/form-data` body built in memory.
//!
//! reqwest's own `multipart::Form` is a stream, and a streamed body cannot be replayed for the second,
//! authenticated leg of Digest auth (the Digest answer sends the request again). A face upload is at most
//! 200 KB, so building the bytes once is cheap and makes the request replayable.

use bytes::{BufMut, Bytes, BytesMut};
use rand::Rng;

/// A ready-to-send multipart body and its content type.
#[derive(Debug, Clone)]
pub struct MultipartBody {
    /// `multipart/form-data; boundary=...`.
    pub content_type: String,
    /// The encoded parts.
    pub bytes: Bytes,
}

/// One part of the form.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// Form field name.
    pub name: &'a str,
    /// File name, for file parts.
    pub filename: Option<&'a str>,
    /// Part content type.
    pub content_type: &'a str,
    /// Part body.
    pub body: &'a [u8],
}

/// Encodes parts with a random boundary that does not occur in any part's body.
pub fn encode(parts: &[Part<'_>]) -> MultipartBody {
    let boundary = loop {
        let candidate = format!("hikvision-sync-{:032x}", rand::rng().random::<u128>());
        // A vectorised search: a byte-by-byte window compare cost more than the rest of a
        // 1,000-terminal fan-out's request building (BENCHMARKS.md, issue 19).
        let finder = memchr::memmem::Finder::new(candidate.as_bytes());
        if !parts.iter().any(|p| finder.find(p.body).is_some()) {
            break candidate;
        }
    };
    let size: usize = parts.iter().map(|p| p.body.len() + 200).sum();
    let mut out = BytesMut::with_capacity(size + boundary.len() + 8);
    for part in parts {
        out.put_slice(format!("--{boundary}\r\n").as_bytes());
        match part.filename {
            Some(file) => out.put_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{file}\"\r\n",
                    part.name
                )
                .as_bytes(),
            ),
            None => out.put_slice(
                format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name).as_bytes(),
            ),
        }
        out.put_slice(format!("Content-Type: {}\r\n\r\n", part.content_type).as_bytes());
        out.put_slice(part.body);
        out.put_slice(b"\r\n");
    }
    out.put_slice(format!("--{boundary}--\r\n").as_bytes());
    MultipartBody {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes: out.freeze(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_parts_in_order_with_a_closing_boundary() {
        let body = encode(&[
            Part {
                name: "FaceDataRecord",
                filename: None,
                content_type: "application/json",
                body: b"{\"FPID\":\"1\"}",
            },
            Part {
                name: "img",
                filename: Some("face.jpg"),
                content_type: "image/jpeg",
                body: &[0xFF, 0xD8, 0xFF, 0x00],
            },
        ]);
        let boundary = body
            .content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap_or_default()
            .to_string();
        let text = String::from_utf8_lossy(&body.bytes);
        assert!(text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"FaceDataRecord\"\r\nContent-Type: application/json\r\n\r\n{{\"FPID\":\"1\"}}\r\n")));
        assert!(text.contains("name=\"img\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }
}
