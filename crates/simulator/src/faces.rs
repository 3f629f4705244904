//! `/ISAPI/Intelligent/FDLib/*`: enrolling, replacing and finding faces.
//!
//! Order of checks for every face write (cheapest and most specific first, so the reply is
//! the one a client can act on): device busy -> body shape -> library (`FDID` "1",
//! `faceLibType` "blackFD") -> `FPID` / `faceURL` syntax -> the person exists -> the face
//! exists or not, per call -> the picture (download, size, format) -> the same picture under
//! another person. The face checks are repeated under the lock when the face is stored, so two
//! concurrent uploads cannot both win.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::Response;

use hikvision_isapi::wire::{
    FACE_LIB_TYPE, FDID, FaceMatch, FaceRecord, FaceSearchCond, FaceSearchReply,
};

use super::persons::{MAX_SEARCH_RESULTS, check_employee_no, count};
use super::picture::{check_face_url, check_picture, download};
use super::reply::{Failure, Outcome, Success, render};
use super::request::{IsapiRequest, Picture, face_upload, parse_json};
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
    let outcome = write(&t, &req, Write::AddOrReplace).await;
    render(outcome, &req.url, t.faults().xml_only)
}

/// `POST /ISAPI/Intelligent/FDLib/FDSearch`.
pub(crate) async fn search(State(t): State<Arc<Terminal>>, req: IsapiRequest) -> Response {
    let outcome = find(&t, &req);
    render(outcome, &req.url, t.faults().xml_only)
}

fn check_library(record_lib: &str, record_fdid: &str) -> Result<(), Failure> {
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
    let upload = face_upload(req).await?;
    let FaceRecord {
        face_lib_type,
        fdid,
        fpid,
        ..
    } = &upload.record;
    check_library(face_lib_type, fdid)?;
    check_employee_no(fpid, "FPID")?;
    if let Picture::Url(url) = &upload.picture {
        check_face_url(url)?;
    }
    {
        let store = t.store();
        if !store.persons.contains_key(fpid) {
            return Err(Failure::employee_no_not_exist("FPID"));
        }
        check_face_state(kind, store.faces.contains_key(fpid))?;
    }

    let (bytes, source, field) = match upload.picture {
        Picture::Inline(bytes) => (bytes, "multipart".to_owned(), "img"),
        Picture::Url(url) => {
            if t.faults().face_download_fail {
                return Err(Failure::url_download_fail());
            }
            let bytes = t
                .unless_shutdown(download(&url, t.config.download_timeout))
                .await
                .ok_or_else(Failure::url_download_fail)??;
            (bytes, format!("url:{url}"), "faceURL")
        }
    };
    check_picture(&bytes, field)?;

    let sha256 = super::state::sha256_hex(&bytes);
    let mut store = t.store();
    // The download took time: look again now that the store is locked for the write.
    if !store.persons.contains_key(fpid) {
        return Err(Failure::employee_no_not_exist("FPID"));
    }
    check_face_state(kind, store.faces.contains_key(fpid))?;
    if store.face_owner_of(&sha256, fpid).is_some() {
        return Err(Failure::already_exist_this_face());
    }
    store.put_face(fpid, bytes, source);
    Ok(Success::Ack {
        fpid: Some(fpid.clone()),
    })
}

fn find(t: &Terminal, req: &IsapiRequest) -> Outcome {
    let cond: FaceSearchCond = parse_json(&req.body, "FDSearch")?;
    check_library(&cond.face_lib_type, &cond.fdid)?;
    if cond.max_results == 0 {
        return Err(Failure::bad_parameters("maxResults"));
    }
    let page_size = cond.max_results.min(MAX_SEARCH_RESULTS) as usize;
    let base = faces_base_url(t, req);
    let store = t.store();
    let matching: Vec<&String> = store
        .faces
        .keys()
        .filter(|fpid| cond.fpid.as_ref().is_none_or(|wanted| wanted == *fpid))
        .collect();
    let total = matching.len();
    let start = (cond.search_result_position as usize).min(total);
    let page: Vec<FaceMatch> = matching[start..]
        .iter()
        .take(page_size)
        .map(|fpid| FaceMatch {
            fpid: (*fpid).clone(),
            face_url: face_url(base.as_ref(), fpid),
        })
        .collect();
    let status = if page.is_empty() {
        "NO MATCHES"
    } else if start + page.len() < total {
        "MORE"
    } else {
        "OK"
    };
    let reply = FaceSearchReply {
        response_status_strg: status.into(),
        num_of_matches: count(page.len()),
        total_matches: count(total),
        match_list: page,
    };
    let value = serde_json::to_value(reply).map_err(|_| Failure::bad_parameters("FDSearch"))?;
    Ok(Success::Json(value))
}

/// `http://<host the client used>/`, falling back to the bound address.
fn faces_base_url(t: &Terminal, req: &IsapiRequest) -> Option<url::Url> {
    req.headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|host| url::Url::parse(&format!("http://{host}/")).ok())
        .or_else(|| url::Url::parse(&format!("http://{}/", t.addr)).ok())
}

/// `<base>_sim/faces/<fpid>`, with the FPID percent-encoded as one path segment.
fn face_url(base: Option<&url::Url>, fpid: &str) -> Option<String> {
    let mut url = base?.clone();
    url.path_segments_mut()
        .ok()?
        .clear()
        .extend(["_sim", "faces", fpid]);
    Some(url.into())
}
