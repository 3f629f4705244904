//! Every reply body the simulated terminal sends: `ResponseStatus` (JSON, or XML on old
//! firmware), `userCheck` for 401s, `DeviceInfo`, and the catalogue of failures.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;

use hikvision_isapi::SubStatus;
use hikvision_isapi::wire::{DeviceInfo, ResponseStatus, UserCheck, XML_NAMESPACE};

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const JSON: &str = "application/json";
const XML: &str = "application/xml";
/// Namespace of `<userCheck>` (and current firmware's other XML), per docs/isapi.md.
const ISAPI_NAMESPACE: &str = "http://www.isapi.org/ver20/XMLSchema";
/// Namespace of `<DeviceInfo>` on HikVision firmware.
const HIKVISION_NAMESPACE: &str = "http://www.hikvision.com/ver20/XMLSchema";

// Error codes from Hikvision's error-code table (`docs/isapi.md`, "Replies"); `faceNotExist` and
// `exceedMaxFaceNumber` are not in it, so their numbers are the simulator's own, in the
// statusCode 6 range.
const ERR_EMPLOYEE_NO_NOT_EXIST: u64 = 0x6000_601F;
const ERR_USER_ALREADY_HAS_FACE: u64 = 0x6000_7004;
const ERR_FACE_NOT_EXIST: u64 = 0x6000_6023;
const ERR_EXCEED_MAX_FACE_NUMBER: u64 = 0x6000_6024;
const ERR_URL_DOWNLOAD_FAIL: u64 = 0x6000_006E;
const ERR_ALREADY_EXIST_THIS_FACE: u64 = 0x4000_A008;

/// A failed ISAPI call: what the terminal answers instead of `statusCode: 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    http: StatusCode,
    status_code: i64,
    sub_status_code: SubStatus,
    error_code: u64,
    error_msg: String,
}

impl Failure {
    fn new(
        http: StatusCode,
        status_code: i64,
        sub_status_code: SubStatus,
        error_code: u64,
        error_msg: impl Into<String>,
    ) -> Self {
        Self {
            http,
            status_code,
            sub_status_code,
            error_code,
            error_msg: error_msg.into(),
        }
    }

    /// `deviceBusy` (2): answered with HTTP 200, as some firmware does, so a client that only
    /// looks at the HTTP status is caught out.
    pub(crate) fn device_busy() -> Self {
        Self::new(
            StatusCode::OK,
            2,
            SubStatus::DeviceBusy,
            0x2000_0004,
            "deviceBusy",
        )
    }

    /// `pictureSizeExceedLimit` (3): the picture is over 200 KB.
    pub(crate) fn picture_too_large(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            3,
            SubStatus::PictureSizeExceedLimit,
            0x3000_000C,
            field,
        )
    }

    /// `notSupport` (4): an URL this firmware does not have. HTTP 404, the body says why.
    pub(crate) fn not_support() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            4,
            SubStatus::NotSupport,
            0x4000_0001,
            "notSupport",
        )
    }

    /// `methodNotAllowed` (4): a known URL called with the wrong method.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            4,
            SubStatus::MethodNotAllowed,
            0x4000_0004,
            "methodNotAllowed",
        )
    }

    /// `faceDetectFailed` (4): the bytes are not a JPEG or PNG picture that decodes.
    pub(crate) fn face_detect_failed(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            4,
            SubStatus::FaceDetectFailed,
            0x4000_10C5,
            field,
        )
    }

    /// `picturePixelsTooLarge` (4): the picture's long side is over the terminal's `max_side`.
    pub(crate) fn picture_pixels_too_large(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            4,
            SubStatus::PicturePixelsTooLarge,
            0x4000_1105,
            field,
        )
    }

    /// `picturePixelsTooSmall` (4): the picture's short side is under the terminal's `min_side`.
    pub(crate) fn picture_pixels_too_small(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            4,
            SubStatus::PicturePixelsTooSmall,
            0x4000_1106,
            field,
        )
    }

    /// `libraryNotExist` (4): FDID is not "1" or faceLibType is not "blackFD".
    pub(crate) fn library_not_exist(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            4,
            SubStatus::LibraryNotExist,
            0x4000_10C6,
            field,
        )
    }

    /// `alreadyExistThisFace` (4): the same picture is enrolled under another person.
    pub(crate) fn already_exist_this_face() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            4,
            SubStatus::AlreadyExistThisFace,
            ERR_ALREADY_EXIST_THIS_FACE,
            "FPID",
        )
    }

    /// `badJsonFormat` (5): the body is not JSON (or not a readable multipart body).
    pub(crate) fn bad_json_format() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            5,
            SubStatus::BadJsonFormat,
            0x5000_0002,
            "badJsonFormat",
        )
    }

    /// `badParameters` (6): a field has a value the terminal refuses.
    pub(crate) fn bad_parameters(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::BadParameters,
            0x6000_0001,
            field,
        )
    }

    /// `MessageParametersLack` (6): a required field is missing.
    pub(crate) fn parameters_lack(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::MessageParametersLack,
            0x6000_0019,
            field,
        )
    }

    /// `employeeNoAlreadyExist` (6, errorMsg `checkUser`): adding a person that exists.
    pub(crate) fn employee_no_already_exist() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::EmployeeNoAlreadyExist,
            0x6000_6020,
            "checkUser",
        )
    }

    /// `employeeNoNotExist` (6): the person (or the face's FPID) is not on the terminal; with
    /// `delete_unknown_refused`, also a delete naming an unknown person.
    pub(crate) fn employee_no_not_exist(field: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::EmployeeNoNotExist,
            ERR_EMPLOYEE_NO_NOT_EXIST,
            field,
        )
    }

    /// `deviceUserAlreadyExistFace` (6): FaceDataRecord for a person who has a face.
    pub(crate) fn user_already_has_face() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::DeviceUserAlreadyExistFace,
            ERR_USER_ALREADY_HAS_FACE,
            "FPID",
        )
    }

    /// `faceNotExist` (6): FDModify for a person without a face, or (with the
    /// `delete_unknown_refused` fault) a delete naming a face the terminal does not have.
    pub(crate) fn face_not_exist() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::FaceNotExist,
            ERR_FACE_NOT_EXIST,
            "FPID",
        )
    }

    /// `exceedMaxFaceNumber` (6): the face library is full.
    pub(crate) fn exceed_max_face_number() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::ExceedMaxFaceNumber,
            ERR_EXCEED_MAX_FACE_NUMBER,
            "FPID",
        )
    }

    /// `urlDownloadFail` (6): the terminal could not download `faceURL`.
    pub(crate) fn url_download_fail() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            6,
            SubStatus::UrlDownloadFail,
            ERR_URL_DOWNLOAD_FAIL,
            "faceURL",
        )
    }
}

/// The successful outcome of an ISAPI handler.
#[derive(Debug)]
pub(crate) enum Success {
    /// `statusCode: 1`, optionally echoing the face's FPID.
    Ack { fpid: Option<String> },
    /// A search result, serialized as is.
    Json(serde_json::Value),
}

/// What ISAPI handlers return.
pub(crate) type Outcome = Result<Success, Failure>;

fn status_string(status_code: i64) -> &'static str {
    match status_code {
        1 => "OK",
        2 => "Device Busy",
        3 => "Device Error",
        4 => "Invalid Operation",
        5 => "Invalid Format",
        6 => "Invalid Content",
        7 => "Reboot Required",
        _ => "Unknown",
    }
}

/// Turns a handler outcome into the HTTP reply; `xml_only` is the old-firmware fault.
pub(crate) fn render(outcome: Outcome, request_url: &str, xml_only: bool) -> Response {
    match outcome {
        Ok(Success::Json(value)) => json_response(StatusCode::OK, value.to_string()),
        Ok(Success::Ack { fpid }) => {
            let mut status = ResponseStatus::ok();
            status.fpid = fpid;
            status_response(StatusCode::OK, status, request_url, xml_only)
        }
        Err(failure) => {
            let status = ResponseStatus {
                request_url: Some(request_url.to_owned()),
                status_code: failure.status_code,
                status_string: status_string(failure.status_code).into(),
                sub_status_code: failure.sub_status_code,
                error_code: Some(failure.error_code),
                error_msg: Some(failure.error_msg),
                fpid: None,
            };
            status_response(failure.http, status, request_url, xml_only)
        }
    }
}

fn status_response(
    http: StatusCode,
    status: ResponseStatus,
    request_url: &str,
    xml_only: bool,
) -> Response {
    if xml_only {
        let body = format!(
            "{XML_DECLARATION}<ResponseStatus version=\"2.0\" xmlns=\"{XML_NAMESPACE}\"><requestURL>{}</requestURL><statusCode>{}</statusCode><statusString>{}</statusString><subStatusCode>{}</subStatusCode></ResponseStatus>",
            escape(request_url),
            status.status_code,
            escape(status.status_string.as_str()),
            escape(status.sub_status_code.as_str()),
        );
        return xml_response(http, body);
    }
    match serde_json::to_string(&status) {
        Ok(body) => json_response(http, body),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The `<userCheck>` body of a 401, fields in the order HikVision firmware sends them.
pub(crate) fn user_check_xml(check: &UserCheck) -> String {
    format!(
        "{XML_DECLARATION}<userCheck version=\"2.0\" xmlns=\"{ISAPI_NAMESPACE}\"><statusValue>{}</statusValue><statusString>{}</statusString><isDefaultPassword>false</isDefaultPassword><isRiskPassword>false</isRiskPassword><isActivated>true</isActivated><lockStatus>{}</lockStatus><unlockTime>{}</unlockTime><retryLoginTime>{}</retryLoginTime></userCheck>",
        check.status_value,
        escape(check.status_string.as_str()),
        escape(check.lock_status.as_str()),
        check.unlock_time.unwrap_or(0),
        check.retry_login_time.unwrap_or(0),
    )
}

/// A 401 with a fresh challenge and a `<userCheck>` body.
pub(crate) fn unauthorized(www_authenticate: &str, check: &UserCheck) -> Response {
    let mut response = xml_response(StatusCode::UNAUTHORIZED, user_check_xml(check));
    if let Ok(value) = HeaderValue::from_str(www_authenticate) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `GET /ISAPI/System/deviceInfo`.
pub(crate) fn device_info_xml(info: &DeviceInfo) -> Response {
    let body = format!(
        "{XML_DECLARATION}<DeviceInfo version=\"2.0\" xmlns=\"{HIKVISION_NAMESPACE}\"><deviceName>{}</deviceName><model>{}</model><serialNumber>{}</serialNumber><firmwareVersion>{}</firmwareVersion><deviceType>{}</deviceType></DeviceInfo>",
        escape(info.device_name.as_str()),
        escape(info.model.as_str()),
        escape(info.serial_number.as_str()),
        escape(info.firmware_version.as_str()),
        escape(info.device_type.as_str()),
    );
    xml_response(StatusCode::OK, body)
}

/// The `http_500` fault: what an embedded web server's crash page looks like.
pub(crate) fn internal_error_page() -> Response {
    let body = "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>\n";
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn json_response(http: StatusCode, body: String) -> Response {
    (http, [(header::CONTENT_TYPE, JSON)], body).into_response()
}

fn xml_response(http: StatusCode, body: String) -> Response {
    (http, [(header::CONTENT_TYPE, XML)], body).into_response()
}
