//! Pushing events to the registered listeners, as the terminal does: each new event is posted
//! to every registered slot in order, as `multipart/form-data` with the JSON part `event_log`
//! (the envelope `{ipAddress, dateTime, eventType, AccessControllerEvent}`); a listener that
//! does not answer 2xx gets the same event again after `push_retry`, and nothing after it
//! until it does. `currentEvent` is true for an event younger than [`CURRENT_FOR`], false for
//! a backlog. The `push_paused` fault holds every push back.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use hikvision_isapi::wire::{AccessControllerEvent, EventNotification, HttpHostNotification};

use super::terminal::Terminal;

/// How old an event may be and still be pushed as current.
const CURRENT_FOR: chrono::Duration = chrono::Duration::seconds(30);
/// How long one push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// The multipart boundary (firmware uses a fixed one too).
const BOUNDARY: &str = "MIME_boundary";

/// Runs until the terminal shuts down.
pub(crate) async fn run(t: Arc<Terminal>) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(PUSH_TIMEOUT)
        .connect_timeout(Duration::from_secs(1))
        .build()
    else {
        tracing::error!("the simulated terminal cannot build its push client");
        return;
    };
    loop {
        tokio::select! {
            () = t.push_requested() => {}
            () = tokio::time::sleep(t.config.push_retry) => {}
            () = t.shutting_down() => return,
        }
        if t.faults().push_paused {
            continue;
        }
        let ids: Vec<String> = t
            .events()
            .slots
            .iter()
            .filter(|s| !s.host.is_free())
            .map(|s| s.host.id.clone())
            .collect();
        let rounds = ids.into_iter().map(|id| deliver(&t, &client, id));
        futures::future::join_all(rounds).await;
    }
}

/// Pushes the slot's pending events in order until one fails or none is left.
async fn deliver(t: &Terminal, client: &reqwest::Client, id: String) {
    while !t.faults().push_paused {
        let Some((host, body, serial_no)) = next(t, &id) else {
            return;
        };
        let Some(url) = target(&host) else { return };
        let sent = client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await;
        if !sent.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        let mut log = t.events();
        if let Some(slot) = log.slots.iter_mut().find(|s| s.host.id == id)
            && slot.host == host
        {
            slot.next_serial = slot.next_serial.max(serial_no + 1);
        }
    }
}

/// The slot's registration, the body of its next event and that event's serial number.
fn next(t: &Terminal, id: &str) -> Option<(HttpHostNotification, Vec<u8>, i64)> {
    let log = t.events();
    let slot = log.slots.iter().find(|s| s.host.id == id)?;
    let event = log.at_or_after(slot.next_serial)?;
    let info = &event.info;
    let envelope = EventNotification {
        ip_address: t.addr.ip().to_string(),
        date_time: info.time.clone(),
        event_type: "AccessControllerEvent".into(),
        access_controller_event: Some(AccessControllerEvent {
            device_name: t.config.name.clone(),
            major_event_type: info.major,
            sub_event_type: info.minor,
            serial_no: info.serial_no,
            front_serial_no: log.front_serial(info.serial_no),
            current_event: Utc::now() - event.at < CURRENT_FOR,
            employee_no_string: info.employee_no_string.clone(),
            name: None,
            door_no: info.door_no,
            current_verify_mode: info.current_verify_mode.clone(),
            attendance_status: info.attendance_status.clone(),
        }),
    };
    let json = serde_json::to_string(&envelope).ok()?;
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"event_log\"\r\nContent-Type: application/json\r\n\r\n{json}\r\n--{BOUNDARY}--\r\n"
    );
    Some((slot.host.clone(), body.into_bytes(), info.serial_no))
}

/// Where a slot's pushes go.
fn target(host: &HttpHostNotification) -> Option<String> {
    let address = host.host_name.as_deref().or(host.ip_address.as_deref())?;
    let scheme = if host.protocol_type.eq_ignore_ascii_case("HTTPS") {
        "https"
    } else {
        "http"
    };
    let path = if host.url.starts_with('/') {
        host.url.clone()
    } else {
        format!("/{}", host.url)
    };
    Some(format!("{scheme}://{address}:{}{path}", host.port_no))
}
