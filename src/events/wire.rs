//! What terminals send and what the service stores: the push body (multipart with the JSON part
//! `event_log` or `AccessControllerEvent` and an optional picture part, or plain JSON) and the
//! search's events, turned into [`IncomingEvent`]s.

use hikvision_isapi::wire::{AccessControllerEvent, AcsEventInfo, EventNotification};

use super::model::IncomingEvent;

/// Names of the JSON part of a multipart push, as firmware spells them.
const JSON_PARTS: [&str; 2] = ["event_log", "AccessControllerEvent"];

/// A push, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// A heartbeat (or another event type): nothing to store.
    Heartbeat,
    /// An access event, and the serial number of the event before it, when sent.
    Event(IncomingEvent, Option<i64>),
}

/// Why a push body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushBodyError {
    /// Multipart without a JSON part the firmware uses.
    #[error("the multipart body has no event_log or AccessControllerEvent part")]
    NoJsonPart,
    /// Not the terminal's JSON.
    #[error("the event is not the terminal's JSON: {0}")]
    BadJson(String),
}

/// Reads a push body of `content_type`.
pub fn read_push(content_type: &str, body: &[u8]) -> Result<Pushed, PushBodyError> {
    let json = match boundary(content_type) {
        Some(boundary) => json_part(body, &boundary).ok_or(PushBodyError::NoJsonPart)?,
        None => body,
    };
    let note: EventNotification =
        serde_json::from_slice(json).map_err(|e| PushBodyError::BadJson(e.to_string()))?;
    Ok(match note.access_controller_event {
        Some(event) if event.serial_no > 0 => {
            let front = event.front_serial_no;
            Pushed::Event(from_push(&note.date_time, event), front)
        }
        _ => Pushed::Heartbeat,
    })
}

fn from_push(date_time: &str, e: AccessControllerEvent) -> IncomingEvent {
    IncomingEvent {
        serial_no: e.serial_no,
        terminal_time: non_blank(Some(date_time.to_owned())),
        major: e.major_event_type,
        minor: e.sub_event_type,
        employee_no: non_blank(e.employee_no_string),
        door_no: e.door_no,
        verify_mode: non_blank(e.current_verify_mode),
        attendance_status: non_blank(e.attendance_status),
        live: e.current_event,
    }
}

/// An event read by the catch-up: never live.
pub fn from_search(e: AcsEventInfo) -> IncomingEvent {
    IncomingEvent {
        serial_no: e.serial_no,
        terminal_time: non_blank(Some(e.time)),
        major: e.major,
        minor: e.minor,
        employee_no: non_blank(e.employee_no_string),
        door_no: e.door_no,
        verify_mode: non_blank(e.current_verify_mode),
        attendance_status: non_blank(e.attendance_status),
        live: false,
    }
}

fn non_blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The boundary of a `multipart/*` content type.
fn boundary(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.trim_start().starts_with("multipart/") {
        return None;
    }
    content_type.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The body of the first part named one of [`JSON_PARTS`].
fn json_part<'a>(body: &'a [u8], boundary: &str) -> Option<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        let end = find(rest, delimiter.as_bytes()).unwrap_or(rest.len());
        let part = &rest[..end];
        let split = find(part, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&part[..split]);
        let content = trim_crlf(&part[split + 4..]);
        if JSON_PARTS
            .iter()
            .any(|name| headers.contains(&format!("name=\"{name}\"")))
        {
            return Some(content);
        }
    }
    None
}

fn trim_crlf(mut bytes: &[u8]) -> &[u8] {
    while let Some((&last, head)) = bytes.split_last() {
        if last == b'\n' || last == b'\r' {
            bytes = head;
        } else {
            break;
        }
    }
    bytes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"ipAddress":"10.0.0.9","dateTime":"2026-12-06T10:00:00+02:00","eventType":"AccessControllerEvent","AccessControllerEvent":{"deviceName":"Main","majorEventType":5,"subEventType":75,"serialNo":12,"frontSerialNo":11,"currentEvent":true,"employeeNoString":"7","doorNo":1,"currentVerifyMode":"face"}}"#;

    #[test]
    fn reads_both_multipart_part_names_with_a_picture_and_plain_json() {
        for name in JSON_PARTS {
            let body = format!(
                "--b1\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: application/json\r\n\r\n{EVENT}\r\n--b1\r\nContent-Disposition: form-data; name=\"Picture\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\u{ff}\u{d8}\r\n--b1--\r\n"
            );
            let Pushed::Event(e, front) =
                read_push("multipart/form-data; boundary=b1", body.as_bytes()).unwrap()
            else {
                panic!("an event")
            };
            assert_eq!((e.serial_no, e.minor, front), (12, 75, Some(11)));
            assert!(e.live);
            assert_eq!(
                e.terminal_time.as_deref(),
                Some("2026-12-06T10:00:00+02:00")
            );
        }
        assert!(matches!(
            read_push("application/json", EVENT.as_bytes()),
            Ok(Pushed::Event(..))
        ));
    }

    #[test]
    fn heartbeats_are_not_events_and_junk_is_refused() {
        let beat = r#"{"ipAddress":"10.0.0.9","dateTime":"2026-12-06T10:00:00+02:00","eventType":"heartBeat"}"#;
        assert_eq!(
            read_push("application/json", beat.as_bytes()),
            Ok(Pushed::Heartbeat)
        );
        assert!(read_push("application/json", b"nope").is_err());
        assert_eq!(
            read_push("multipart/form-data; boundary=x", b"--x\r\n\r\n{}\r\n--x--"),
            Err(PushBodyError::NoJsonPart)
        );
    }
}
