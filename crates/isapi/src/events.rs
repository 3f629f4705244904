//! Reading a terminal's access events and registering as its HTTP listener: the event search
//! by serial number, the event count, the listener slots (`httpHosts`, XML) and the clock.

use crate::call::TerminalCall;
use crate::client::{Body, IsapiClient, json};
use crate::error::IsapiError;
use crate::reply::{parse_json, parse_status, parse_xml};
use crate::terminal::Terminal;
use crate::wire::{
    AcsEventCond, AcsEventReply, AcsEventReplyEnvelope, AcsEventSearchEnvelope,
    AcsEventTotalNumCond, AcsEventTotalNumCondEnvelope, AcsEventTotalNumEnvelope, DeviceTime,
    HttpHostNotification, HttpHostNotificationList, MAX_SEARCH_RESULTS, MAX_SERIAL_NO,
};

impl IsapiClient {
    /// POST AcsEvent: one page of every event from serial number `begin` on, oldest first.
    /// `endSerialNo` is always sent (some firmware refuses `beginSerialNo` alone). Keep
    /// `search_id` the same across the pages of one search.
    pub async fn search_events_page(
        &self,
        t: &Terminal,
        search_id: &str,
        position: u32,
        begin: i64,
    ) -> Result<AcsEventReply, IsapiError> {
        let cond = AcsEventCond {
            search_id: search_id.to_owned(),
            search_result_position: position,
            max_results: MAX_SEARCH_RESULTS,
            begin_serial_no: Some(begin.max(1)),
            end_serial_no: Some(MAX_SERIAL_NO),
            time_reverse_order: Some(false),
            pic_enable: Some(false),
            ..AcsEventCond::default()
        };
        let body = json(&AcsEventSearchEnvelope { cond })?;
        let reply = self.call(t, TerminalCall::AcsEvent, body).await?;
        Ok(parse_json::<AcsEventReplyEnvelope>(&reply)?.acs_event)
    }

    /// POST AcsEventTotalNum: how many events the terminal holds.
    pub async fn event_total(&self, t: &Terminal) -> Result<u64, IsapiError> {
        let body = json(&AcsEventTotalNumCondEnvelope {
            cond: AcsEventTotalNumCond::default(),
        })?;
        let reply = self.call(t, TerminalCall::AcsEventTotalNum, body).await?;
        Ok(parse_json::<AcsEventTotalNumEnvelope>(&reply)?
            .total
            .total_num)
    }

    /// GET httpHosts: the listener slots.
    pub async fn http_hosts(&self, t: &Terminal) -> Result<Vec<HttpHostNotification>, IsapiError> {
        let reply = self.call(t, TerminalCall::HttpHosts, Body::Empty).await?;
        Ok(parse_xml::<HttpHostNotificationList>(&reply)?.hosts)
    }

    /// PUT httpHosts/{id}: writes one listener slot.
    pub async fn set_http_host(
        &self,
        t: &Terminal,
        host: &HttpHostNotification,
    ) -> Result<(), IsapiError> {
        let xml = quick_xml::se::to_string(host)
            .map_err(|e| IsapiError::InvalidRequest(e.to_string()))?;
        let reply = self
            .call_at(
                t,
                TerminalCall::HttpHostSet,
                Some(&host.id),
                Body::Xml(xml.into_bytes()),
            )
            .await?;
        parse_status(&reply).map(|_| ())
    }

    /// GET System/time: the terminal's clock.
    pub async fn device_time(&self, t: &Terminal) -> Result<DeviceTime, IsapiError> {
        let reply = self.call(t, TerminalCall::SystemTime, Body::Empty).await?;
        parse_xml(&reply)
    }

    /// PUT System/time: sets the terminal's clock.
    pub async fn set_device_time(&self, t: &Terminal, time: &DeviceTime) -> Result<(), IsapiError> {
        let xml = quick_xml::se::to_string(time)
            .map_err(|e| IsapiError::InvalidRequest(e.to_string()))?;
        let reply = self
            .call(t, TerminalCall::SystemTimeSet, Body::Xml(xml.into_bytes()))
            .await?;
        parse_status(&reply).map(|_| ())
    }
}
