//! Access events: the event search (`AcsEvent`), its count, the push body a terminal sends to
//! its HTTP listeners, the listener registration (`httpHosts`, XML) and the clock (XML).
//! Device facts: `ISAPI-FACTS.md`, "Access events".

use serde::{Deserialize, Serialize};

/// Highest serial number a search may name (the capabilities' range is 1..3e9).
pub const MAX_SERIAL_NO: i64 = 3_000_000_000;

/// `POST /ISAPI/AccessControl/AcsEvent?format=json` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsEventSearchEnvelope {
    /// The condition.
    #[serde(rename = "AcsEventCond")]
    pub cond: AcsEventCond,
}

/// What an event search asks for. `major`/`minor` 0 mean all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AcsEventCond {
    /// Kept the same across the pages of one search.
    #[serde(rename = "searchID")]
    pub search_id: String,
    /// Index of the first result of the page.
    pub search_result_position: u32,
    /// Page size (at most 30).
    pub max_results: u32,
    /// Major type, 0 for all.
    #[serde(default)]
    pub major: i32,
    /// Minor type, 0 for all.
    #[serde(default)]
    pub minor: i32,
    /// Not before (terminal local time with offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Not after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// From this serial number (some firmware needs `endSerialNo` with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_serial_no: Option<i64>,
    /// Up to this serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_serial_no: Option<i64>,
    /// Newest first when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_reverse_order: Option<bool>,
    /// Whether pictures' URLs are wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pic_enable: Option<bool>,
}

/// The reply of an event search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsEventReplyEnvelope {
    /// The page.
    #[serde(rename = "AcsEvent")]
    pub acs_event: AcsEventReply,
}

/// One page of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AcsEventReply {
    /// The request's `searchID`.
    #[serde(rename = "searchID", default)]
    pub search_id: String,
    /// `OK` (last page), `MORE`, `NO MATCH`.
    #[serde(rename = "responseStatusStrg", default)]
    pub response_status_strg: String,
    /// Events on this page.
    #[serde(default)]
    pub num_of_matches: u32,
    /// Events matching in all.
    #[serde(default)]
    pub total_matches: u32,
    /// The events, oldest first unless `timeReverseOrder`.
    #[serde(rename = "InfoList", default)]
    pub info_list: Vec<AcsEventInfo>,
}

/// One event as the search returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AcsEventInfo {
    /// Major type (5: access).
    pub major: i32,
    /// Minor type (75: face verified, access granted).
    pub minor: i32,
    /// Terminal local time with its UTC offset, e.g. `2026-12-06T10:00:00+02:00`.
    #[serde(default)]
    pub time: String,
    /// The terminal's serial number of the event.
    #[serde(default)]
    pub serial_no: i64,
    /// The person's employee number, when the event names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_no_string: Option<String>,
    /// The person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_no: Option<String>,
    /// Door number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_no: Option<i32>,
    /// Verify mode (`face`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_verify_mode: Option<String>,
    /// Attendance status, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendance_status: Option<String>,
    /// Picture URL, when pictures were asked for.
    #[serde(
        rename = "pictureURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub picture_url: Option<String>,
}

/// `POST /ISAPI/AccessControl/AcsEventTotalNum?format=json` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AcsEventTotalNumCondEnvelope {
    /// The condition (major/minor 0 for all).
    #[serde(rename = "AcsEventTotalNumCond")]
    pub cond: AcsEventTotalNumCond,
}

/// What an event count asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AcsEventTotalNumCond {
    /// Major type, 0 for all.
    #[serde(default)]
    pub major: i32,
    /// Minor type, 0 for all.
    #[serde(default)]
    pub minor: i32,
}

/// The reply of an event count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AcsEventTotalNumEnvelope {
    /// The count.
    #[serde(rename = "AcsEventTotalNum")]
    pub total: AcsEventTotalNum,
}

/// How many events the terminal holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AcsEventTotalNum {
    /// The number.
    pub total_num: u64,
}

/// The body a terminal pushes to a listener (the JSON part `event_log` or
/// `AccessControllerEvent` of a multipart body, or the whole body without pictures). A heartbeat
/// has no `AccessControllerEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EventNotification {
    /// The terminal's address.
    #[serde(default)]
    pub ip_address: String,
    /// Terminal local time with offset.
    #[serde(default)]
    pub date_time: String,
    /// `AccessControllerEvent`, or `heartBeat`.
    #[serde(default)]
    pub event_type: String,
    /// The event (absent in heartbeats).
    #[serde(
        rename = "AccessControllerEvent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_controller_event: Option<AccessControllerEvent>,
}

/// A pushed access event (note `majorEventType`/`subEventType` here vs `major`/`minor` in the
/// search).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccessControllerEvent {
    /// The terminal's name.
    #[serde(default)]
    pub device_name: String,
    /// Major type.
    pub major_event_type: i32,
    /// Minor type.
    pub sub_event_type: i32,
    /// Serial number of this event.
    pub serial_no: i64,
    /// Serial number of the previous event: a mismatch with the last one stored means lost events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_serial_no: Option<i64>,
    /// False for a replay of the stored log.
    #[serde(default)]
    pub current_event: bool,
    /// The person's employee number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_no_string: Option<String>,
    /// The person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Door number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_no: Option<i32>,
    /// Verify mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_verify_mode: Option<String>,
    /// Attendance status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendance_status: Option<String>,
}

/// `GET /ISAPI/Event/notification/httpHosts` (XML): the listener slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename = "HttpHostNotificationList")]
pub struct HttpHostNotificationList {
    /// The slots.
    #[serde(rename = "HttpHostNotification", default)]
    pub hosts: Vec<HttpHostNotification>,
}

/// One listener slot (`PUT /ISAPI/Event/notification/httpHosts/{id}`, XML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename = "HttpHostNotification", rename_all = "camelCase")]
pub struct HttpHostNotification {
    /// Slot id (`1`, `2`, ...).
    pub id: String,
    /// Path (and query) the terminal posts to, e.g. `/api/hikvision/events/push/t1?token=...`.
    #[serde(default)]
    pub url: String,
    /// `HTTP` or `HTTPS`.
    #[serde(default)]
    pub protocol_type: String,
    /// `json`.
    #[serde(default)]
    pub parameter_format_type: String,
    /// `ipaddress` or `hostname`.
    #[serde(default)]
    pub addressing_format_type: String,
    /// The listener's address (`0.0.0.0` in a free slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// The listener's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// The listener's port.
    #[serde(default)]
    pub port_no: u16,
    /// `none`.
    #[serde(default)]
    pub http_authentication_method: String,
    /// What is pushed.
    #[serde(
        rename = "SubscribeEvent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_event: Option<SubscribeEvent>,
}

impl HttpHostNotification {
    /// True when the slot points nowhere (no address, or `0.0.0.0`, or no URL).
    pub fn is_free(&self) -> bool {
        let host = self
            .host_name
            .as_deref()
            .or(self.ip_address.as_deref())
            .unwrap_or_default()
            .trim();
        host.is_empty() || host == "0.0.0.0" || self.url.trim().is_empty()
    }
}

/// What a listener is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeEvent {
    /// Heartbeat interval in seconds.
    #[serde(default)]
    pub heartbeat: u32,
    /// `all` or `list`.
    #[serde(default)]
    pub event_mode: String,
    /// The events, with `list`.
    #[serde(rename = "EventList", default, skip_serializing_if = "Option::is_none")]
    pub event_list: Option<EventList>,
}

/// The subscribed event types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EventList {
    /// One per type.
    #[serde(rename = "Event", default)]
    pub events: Vec<SubscribedEvent>,
}

/// One subscribed event type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedEvent {
    /// `AccessControllerEvent`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `binary`.
    #[serde(rename = "pictureURLType", default)]
    pub picture_url_type: String,
}

/// `GET/PUT /ISAPI/System/time` (XML `<Time>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename = "Time", rename_all = "camelCase")]
pub struct DeviceTime {
    /// `NTP` or `manual`.
    #[serde(default)]
    pub time_mode: String,
    /// Local time with its offset, e.g. `2026-12-06T10:00:00+02:00`.
    #[serde(default)]
    pub local_time: String,
    /// POSIX-style zone, sign inverted (`CST-2:00:00` is UTC+2).
    #[serde(default)]
    pub time_zone: String,
}
