//! `/ISAPI/Intelligent/FDLib/*`: enrolling, replacing and finding faces.
//!
//! Order of checks for every face write (cheapest and most specific first, so the reply is
//! the one a client can act on): device busy -> body shape -> library (`FDID` "1",
//! `faceLibType` "blackFD") -> `FPID` / `faceURL` syntax -> the person exists -> the face
//! exists or not, per call -> a new face fits in the library (`face_capacity`) -> the picture
//! (download, size, decoding, resolution) -> the same picture under another person. The face
//! checks are repeated under the lock when the face is stored, so two concurrent uploads cannot
//! both win.
//! With `ack_without_storing` a write that passes every check answers OK and stores nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::Response;

use hikvision_isapi::wire::{
    FACE_LIB_TYPE, FDID, FaceMatch, FaceRecord, FaceSearchCond, FaceSearchReply, ResponseStatus,
    paths,
};
use serde_json::Value;

use super::decode::Envelope;
use super::paging;
use super::picture::{check_face_url, check_picture, download};
use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, Picture, check_employee_no, face_upload, parse_json};
use super::state::Store;
use super::terminal::Terminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// `POST FaceDataRecord`: the person must have no face yet.
    Add,
    /// `PUT FDModify`: the person must already have a face.
    Replace,
    /// `PUT FDSetUp`: either.
    AddOrReplace,
}

impl Write {
    /// Accepted names of the JSON part of a multipart body.
    fn record_parts(self) -> &'static [&'static str] {
        match self {
            Self::Replace => &["FaceDataRecord", "FaceDataModify"],
            Self::Add | Self::AddOrReplace => &["FaceDataRecord"],
        }
    }
}

/// `POST /ISAPI/Intelligent/FDLib/FaceDataRecord`.
pub(crate) async fn record(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = write(&t, &req, Write::Add).await;
    render(outcome, &req.url, t.faults().xml_only)
}

/// `PUT /ISAPI/Intelligent/FDLib/FDModify`.
pub(crate) async fn modify(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = if t.faults().fdmodify_unsupported {
        // Old firmware has no such URL: the same reply as any unknown ISAPI path.
        Err(Failure::not_support())
    } else {
        write(&t, &req, Write::Replace).await
    };
    render(outcome, &req.url, t.faults().xml_only)
}

/// `PUT /ISAPI/Intelligent/FDLib/FDSetUp`.
pub(crate) async fn setup(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = if t.faults().setup_unsupported {
        Err(Failure::not_support())
    } else {
        write(&t, &req, Write::AddOrReplace).await
    };
    render(outcome, &req.url, t.faults().xml_only)
}

/// `POST /ISAPI/Intelligent/FDLib/FDSearch`.
pub(crate) async fn search(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = find(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

pub(crate) fn check_library(record_lib: &str, record_fdid: &str) -> Result<(), Failure> {
    if record_lib != FACE_LIB_TYPE {
        return Err(Failure::library_not_exist("faceLibType"));
    }
    if record_fdid != FDID {
        return Err(Failure::library_not_exist("FDID"));
    }
    Ok(())
}

/// The face-state rule of each call.
fn check_face_state(kind: Write, has_face: bool) -> Result<(), Failure> {
    match (kind, has_face) {
        (Write::Add, true) => Err(Failure::user_already_has_face()),
        (Write::Replace, false) => Err(Failure::face_not_exist()),
        _ => Ok(()),
    }
}

async fn write(t: &Terminal, req: &IsapiRequest, kind: Write) -> Outcome {
    if t.faults().device_busy {
        return Err(Failure::device_busy());
    }
    let upload = face_upload(req, kind.record_parts()).await?;
    let FaceRecord {
        face_lib_type,
        fdid,
        fpid,
        ..
    } = &upload.record;
    let _call = t.in_flight.enter([fpid.as_str()]);
    check_library(face_lib_type, fdid)?;
    check_employee_no(fpid, "FPID")?;
    if let Picture::Url(url) = &upload.picture {
        check_face_url(url)?;
    }
    check_can_store(t, &t.store(), kind, fpid)?;

    let (bytes, source, field) = match upload.picture {
        Picture::Inline(bytes) => (bytes, "multipart".to_owned(), "img"),
        Picture::Url(url) => {
            let faults = t.faults();
            if faults.face_download_fail || faults.closed_lan {
                return Err(Failure::url_download_fail());
            }
            let bytes = t
                .unless_shutdown(download(&url, t.config.download_timeout))
                .await
                .ok_or_else(Failure::url_download_fail)??;
            (bytes, format!("url:{url}"), "faceURL")
        }
    };
    let size = check_picture(bytes.clone(), field, Envelope::of(&t.config)).await?;

    let sha256 = super::state::sha256_hex(&bytes);
    let mut store = t.store();
    // The download took time: look again now that the store is locked for the write.
    check_can_store(t, &store, kind, fpid)?;
    if store.face_owner_of(&sha256, fpid).is_some() {
        return Err(Failure::already_exist_this_face());
    }
    if !t.faults().ack_without_storing {
        store.put_face(fpid, bytes, source, size);
    }
    Ok(Success::Ack {
        fpid: Some(fpid.clone()),
    })
}

/// The person exists, the face state suits the call, and a new face fits in the library.
fn check_can_store(t: &Terminal, store: &Store, kind: Write, fpid: &str) -> Result<(), Failure> {
    if !store.persons.contains_key(fpid) {
        return Err(Failure::employee_no_not_exist("FPID"));
    }
    let has_face = store.faces.contains_key(fpid);
    check_face_state(kind, has_face)?;
    if !has_face && store.faces.len() >= t.config.face_capacity {
        return Err(Failure::exceed_max_face_number());
    }
    Ok(())
}

fn find(t: &Terminal, req: &IsapiRequest) -> Outcome {
    let cond: FaceSearchCond = parse_json(&req.body, "FDSearch")?;
    check_library(&cond.face_lib_type, &cond.fdid)?;
    // [G] has no searchID in FDSearch; some clients send one anyway.
    let search_id = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|body| body.get("searchID")?.as_str().map(str::to_owned));
    let search = paging::Request {
        path: paths::FACE_SEARCH,
        search_id: search_id.as_deref(),
        position: cond.search_result_position,
        max_results: cond.max_results,
        no_match: "NO MATCHES",
    };
    let base = faces_base_url(t, req);
    let mut store = t.store();
    search.log(&mut store);
    let matching: Vec<&String> = store
        .faces
        .keys()
        .filter(|fpid| cond.fpid.as_ref().is_none_or(|wanted| wanted == *fpid))
        .collect();
    let page = search.page(matching)?;
    let match_list = page
        .items
        .into_iter()
        .map(|fpid| FaceMatch {
            fpid: fpid.clone(),
            face_url: face_url(base.as_ref(), fpid),
            name: store.persons.get(fpid).map(|p| p.name.clone()),
        })
        .collect();
    let found = FaceSearchReply {
        response_status_strg: page.status.into(),
        num_of_matches: page.num_of_matches,
        total_matches: page.total_matches,
        match_list,
    };
    // Flat, with the `ResponseStatus` fields alongside (`docs/isapi.md`, fd-search-reply).
    let mut status = ResponseStatus::ok();
    status.request_url = Some(req.url.clone());
    let fail = |_| Failure::bad_parameters("FDSearch");
    let mut reply = serde_json::to_value(status).map_err(fail)?;
    if let (Value::Object(reply), Value::Object(found)) =
        (&mut reply, serde_json::to_value(found).map_err(fail)?)
    {
        reply.extend(found);
        reply.insert(
            "searchResultPosition".into(),
            cond.search_result_position.into(),
        );
    }
    Ok(Success::Json(reply))
}

/// `http://<host the client used>/`, falling back to the bound address.
pub(crate) fn faces_base_url(t: &Terminal, req: &IsapiRequest) -> Option<url::Url> {
    req.headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|host| url::Url::parse(&format!("http://{host}/")).ok())
        .or_else(|| url::Url::parse(&format!("http://{}/", t.addr)).ok())
}

/// `<base>_sim/faces/<fpid>`, with the FPID percent-encoded as one path segment.
pub(crate) fn face_url(base: Option<&url::Url>, fpid: &str) -> Option<String> {
    let mut url = base?.clone();
    url.path_segments_mut()
        .ok()?
        .clear()
        .extend(["_sim", "faces", fpid]);
    Some(url.into())
}
