//! The HikVision terminal client: Digest auth, payload builders, reply parsing, typed errors.
//! No business decisions here; the orchestration decides what a reply means for a sync.

mod client;
mod error;
mod face_url;
mod multipart;
mod payload;
mod reply;
mod terminal;
pub mod wire;

pub use client::{ClientOptions, FaceCall, FacePicture, IsapiClient};
pub use error::{IsapiError, Rejection};
pub use face_url::{FaceUrlError, FaceUrlPolicy, FaceUrlScheme};
pub use payload::{
    build_face_image_payload, build_face_image_update_payload, build_person, check_employee_no,
};
pub use reply::{RawReply, parse_status};
pub use terminal::Terminal;
