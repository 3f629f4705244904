//! A HikVision access-control face terminal, simulated well enough that an ISAPI client
//! cannot tell the difference: real HTTP, real Digest auth with HikVision's challenge shape
//! and lockout, the person and face calls, `faceURL` downloaded for real, and fault knobs.
//!
//! It shares the client's wire types and codes ([`hikvision_isapi::wire`],
//! [`hikvision_isapi::SubStatus`]) and follows the device facts in `docs/isapi.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hikvision_simulator::{TerminalConfig, spawn};
//! let terminal = spawn(TerminalConfig::default(), ([127, 0, 0, 1], 0).into()).await?;
//! println!("ISAPI at {}", terminal.base_url());
//! terminal.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Replies
//! Success is HTTP 200 `{"statusCode":1,"statusString":"OK","subStatusCode":"ok"}` (face
//! writes add `"FPID"`). Failures carry `requestURL`, `statusCode`, `statusString`,
//! `subStatusCode`, `errorCode` (decimal) and `errorMsg` (usually the offending field), with
//! HTTP 400 unless said otherwise. Choices where the 2020 ISAPI guide is silent:
//!
//! | situation | reply |
//! |---|---|
//! | FDModify for a person without a face | `faceNotExist`, statusCode 6, errorCode 0x60006023 (own choice), errorMsg `FPID` |
//! | FaceDataRecord for a person with a face | `deviceUserAlreadyExistFace`, 6, 0x60007004 |
//! | face call for an unknown person | `employeeNoNotExist`, 6, 0x6000601F, errorMsg `FPID` |
//! | Modify for an unknown person | `employeeNoNotExist`, 6, 0x6000601F, errorMsg `employeeNo` |
//! | person write with an enabled `Valid` whose `beginTime` / `endTime` is not `YYYY-MM-DDTHH:MM:SS` | `badParameters`, 6, 0x60000001, errorMsg `Valid` |
//! | same picture bytes enrolled under another person | `alreadyExistThisFace`, 4, 0x4000A008 |
//! | `faceURL` unreachable, non-2xx, timed out, or the `face_download_fail` / `closed_lan` fault | `urlDownloadFail`, 6, 0x6000006E, errorMsg `faceURL` (multipart pictures still work) |
//! | face write with the `ack_without_storing` fault | OK, nothing stored |
//! | new face when the library holds `face_capacity` faces | `exceedMaxFaceNumber`, 6, 0x60006024 (own choice), errorMsg `FPID` |
//! | UserInfo/Delete naming persons | OK; those persons and their faces are gone |
//! | UserInfo/Delete with an absent, `null` or empty `EmployeeNoList` | OK, and EVERY person and face is deleted, as [G §6.1.145] documents; counted in `mass_deletions` |
//! | UserInfo/Delete naming persons it does not have | OK, the others deleted (the documents are silent); with `delete_unknown_refused`: `employeeNoNotExist`, 6, errorMsg `employeeNo`, nothing deleted |
//! | UserInfo/Delete without `UserInfoDelCond` | `MessageParametersLack`, 6, 0x60000019 |
//! | FDSearch/Delete with an absent or empty `FPID` list, or no body | `badParameters`, 6, errorMsg `FPID` (undocumented on hardware, so refused); counted in `mass_face_deletions` |
//! | FDSearch/Delete naming faces it does not have | OK, the others deleted; with `delete_unknown_refused`: `faceNotExist`, nothing deleted |
//! | FDSearch/Delete without `FDID` / `faceLibType` in the query, or another library | `MessageParametersLack` / `libraryNotExist` |
//! | `faceURL` over 256 bytes or not absolute http(s) | `badParameters`, 6, 0x60000001, errorMsg `faceURL` |
//! | empty picture | `badParameters`, 6, errorMsg `faceURL` / `img` |
//! | picture over 200 KB (checked before decoding) | `pictureSizeExceedLimit`, 3, 0x3000000C |
//! | picture that is not a JPEG (baseline or progressive) or PNG decoding to the end: WebP, GIF, a truncated JPEG, other bytes | `faceDetectFailed`, 4, 0x400010C5 |
//! | picture's long side over `max_side` (default 4096 px; checked from the headers, before decoding) | `picturePixelsTooLarge`, 4, 0x40001105 |
//! | picture's short side under `min_side` (default 80 px) | `picturePixelsTooSmall`, 4, 0x40001106 |
//! | multipart body with the picture part (`img` / `FaceImage`) before the JSON part (`FaceDataRecord`; FDModify also takes `FaceDataModify`) | `badParameters`, 6, 0x60000001, errorMsg the picture part's name (`img`) |
//! | multipart body without the JSON part | `MessageParametersLack`, 6, 0x60000019, errorMsg `FaceDataRecord` |
//! | body over 1 MiB | `badJsonFormat`, 5, 0x50000002 |
//! | `device_busy` fault, on every write (searches and deviceInfo still answer) | `deviceBusy`, 2, 0x20000004, **HTTP 200** |
//! | unknown `/ISAPI/*` path, FDModify with `fdmodify_unsupported`, UserInfo/SetUp or FDSetUp with `setup_unsupported`, UserInfo/Modify with `user_modify_unsupported` | `notSupport`, 4, 0x40000001, **HTTP 404** |
//! | known path, wrong method | `methodNotAllowed`, 4, 0x40000004, HTTP 405 |
//!
//! Error codes follow Hikvision's error-code table (see `docs/isapi.md`); only `faceNotExist`'s
//! and `exceedMaxFaceNumber`'s are the simulator's own.
//!
//! Reads: `UserInfo/Search` and `FDSearch` return at most 30 a page whatever `maxResults` asks
//! (0 is `badParameters`), `responseStatusStrg` `MORE` while more remain, `OK` on the last page,
//! `NO MATCH` (persons) or `NO MATCHES` (faces, as the 2020 guide spells it) when the page is
//! empty. A person with a face carries its `faceURL`. `FDSearch` answers flat, with
//! `requestURL`, `statusCode`, `statusString`, `subStatusCode` and `searchResultPosition`
//! beside the matches. `UserInfo/Count` counts persons and persons with a face
//! (`bindCardUserNumber` is 0: the simulator stores no cards); `FDLib/capabilities` reports
//! `face_capacity` as `FDRecordDataMaxNum`.
//!
//! The door: a face presented at a moment opens it when the person and their face are there
//! and the moment, in the terminal's local time (`utc_offset_secs`), lies inside the person's
//! enabled `Valid` window ([`SimulatedTerminal::face_access`], `GET /_sim/access/{employeeNo}`).
//!
//! Events (`events`, `acs`, `push`): every face presented ([`SimulatedTerminal::present_face`],
//! `POST /_sim/events/face`) and door event is logged with a serial number (the oldest dropped
//! past `event_capacity`; [`SimulatedTerminal::reset_event_log`] numbers from 1 again), served
//! by `AcsEvent` (paged like the other searches) and `AcsEventTotalNum`, and pushed to every
//! listener registered by `PUT /ISAPI/Event/notification/httpHosts/{id}` (XML), as multipart
//! `event_log`, again every `push_retry` while the listener fails. `GET/PUT /ISAPI/System/time`
//! read and set the clock the events are stamped with. `AccessControl/capabilities`,
//! `FDLib/Count`, `CardInfo/Count` and `UserInfoDetail/Delete` are in `inventory`.
//!
//! Per person, the terminal counts the write calls (person and face writes, deletes) it is
//! processing at once and keeps the maximum
//! ([`SimulatedTerminal::max_concurrent_calls_per_person`]).
//! With `xml_only`, every `ResponseStatus` above is sent as XML (`requestURL`, `statusCode`,
//! `statusString`, `subStatusCode` only) with the same HTTP status.
//!
//! # Digest auth
//! See the `auth` module: RFC 2617 MD5 (SHA-256 and `-sess` variants are accepted too) with
//! `qop="auth"`, a fresh nonce per challenge valid for `nonce_ttl`, `stale="TRUE"` for a
//! right password on an expired nonce (not a failed login), and a lockout after
//! `lockout_after` consecutive failures. A wrong password on an expired nonce still counts as
//! a failed login, as RFC 2617 reserves `stale` for valid digests.

mod access;
mod acs;
mod auth;
mod config;
mod control;
mod decode;
mod deletion;
mod events;
mod faces;
mod handle;
mod in_flight;
mod inventory;
mod net;
mod paging;
mod persons;
mod picture;
mod push;
mod recent;
mod reply;
mod request;
mod server;
mod state;
mod terminal;

pub use access::{AccessAnswer, AccessDecision};
pub use config::{Faults, TerminalConfig};
pub use handle::{SimulatedTerminal, run_many, run_many_on, spawn};
pub use state::{
    FaceSummary, REQUEST_LOG_CAPACITY, RequestLogEntry, SearchLogEntry, StateSnapshot, StoredFace,
};
