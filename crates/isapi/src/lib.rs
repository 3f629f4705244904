//! A client for HikVision access-control face terminals over ISAPI (HTTP + Digest auth).
//!
//! What is here: the wire types ([`wire`]), the terminal's `subStatusCode` as an enum
//! ([`SubStatus`]), every call by name ([`TerminalCall`]), the employee number checked once
//! ([`EmployeeNo`]), one typed error with one
//! classification ([`IsapiError`], [`ErrorClass`]), payload builders, multipart uploads and the
//! client itself ([`IsapiClient`]): writes, deletes that cannot name nobody
//! ([`wire::EmployeeNoList`]), counts, and listings paged to the terminal's end marker. What is
//! not: business decisions (what a failure means for an employee's sync is the service's), photo
//! URLs, metrics back-ends (calls are reported to a [`CallObserver`]). Device facts this crate
//! relies on, with sources: `docs/isapi.md`.

mod call;
mod client;
mod deletion;
mod digest;
mod employee_no;
mod error;
mod events;
#[cfg(any(test, feature = "fuzz-support"))]
pub mod fuzz;
mod listing;
mod multipart;
mod observer;
mod payload;
mod reply;
mod sub_status;
mod terminal;
mod upload;
pub mod wire;

pub use call::TerminalCall;
pub use client::{ClientOptions, FaceCall, FacePicture, IsapiClient};
pub use employee_no::{EmployeeNo, InvalidEmployeeNo};
pub use error::{ErrorClass, IsapiError, Rejection};
pub use observer::{CallObserver, CallOutcome};
pub use payload::{build_face_image_payload, build_face_image_update_payload, build_person};
pub use reply::{RawReply, parse_json, parse_status, parse_xml};
pub use sub_status::{Meaning, SubStatus};
pub use terminal::Terminal;
pub use upload::PushedJpeg;
