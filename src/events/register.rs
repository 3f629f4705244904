//! The push registration: the service claims one `httpHosts` slot on each terminal, one that is
//! free or already its own (its URL is this service's push path for that terminal), never
//! another system's, for access events only. Checked every `EVENTS_REGISTRATION_CHECK_MS`, and
//! at once when the terminal comes back (some firmware forgets listeners after a reboot).

use std::sync::Arc;
use std::time::Instant;

use hikvision_isapi::wire::{EventList, HttpHostNotification, SubscribeEvent, SubscribedEvent};
use hikvision_isapi::{ErrorClass, IsapiError};

use super::service::{Events, PushState, lock};
use crate::models::Device;

/// The path terminals push to, before the device id.
pub const PUSH_PATH: &str = "/api/hikvision/events/push/";
/// Heartbeat interval asked of the terminals, in seconds.
const HEARTBEAT_SECS: u32 = 30;

impl Events {
    /// Registers the service on `device` when push is on and the check is due (or `force`).
    pub async fn check_registration(self: &Arc<Self>, device: &Device, force: bool) -> PushState {
        let Some(desired) = self.desired_host(&device.id) else {
            return PushState::Off;
        };
        let slot = self.slot(&device.id);
        let due = lock(&slot.registered_at)
            .is_none_or(|at| at.elapsed() >= self.settings.registration_check);
        let current = lock(&slot.status).push;
        if !force && !due && current == PushState::Registered {
            return current;
        }
        let state = match self.register(device, desired).await {
            Ok(state) => {
                self.update(&device.id, |s| {
                    if state == PushState::Refused {
                        s.last_error = Some("every listener slot of the terminal belongs to another system; free one to receive pushed events".into());
                    }
                });
                state
            }
            Err(e) if e.class() == ErrorClass::Unsupported => PushState::Refused,
            Err(e) => {
                tracing::debug!(device_id = %device.id, error = e.class().name(), "events: registration check failed");
                PushState::NotRegistered
            }
        };
        if state == PushState::Registered {
            *lock(&slot.registered_at) = Some(Instant::now());
        }
        if state != current {
            tracing::info!(device_id = %device.id, push = ?state, "events: push registration");
        }
        self.update(&device.id, |s| s.push = state);
        state
    }

    async fn register(
        &self,
        device: &Device,
        mut desired: HttpHostNotification,
    ) -> Result<PushState, IsapiError> {
        let terminal = device.terminal()?;
        let hosts = self
            .on_terminal(device, self.client.http_hosts(&terminal))
            .await?;
        // Ours: this service's push path, under whatever prefix EVENTS_PUBLIC_URL has (or had).
        let ours = hosts.iter().find(|h| h.url.contains(PUSH_PATH));
        let target = ours.or_else(|| hosts.iter().find(|h| h.is_free()));
        let Some(target) = target else {
            return Ok(PushState::Refused);
        };
        desired.id = target.id.clone();
        if same_registration(target, &desired) {
            return Ok(PushState::Registered);
        }
        self.on_terminal(device, self.client.set_http_host(&terminal, &desired))
            .await?;
        Ok(PushState::Registered)
    }

    /// The slot this service wants on `device_id`'s terminal; `None` when push is off.
    fn desired_host(&self, device_id: &str) -> Option<HttpHostNotification> {
        let public = self.settings.public_url.as_ref()?;
        let host = public.host_str()?.to_owned();
        let is_ip = host.parse::<std::net::IpAddr>().is_ok()
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok();
        let prefix = public.path().trim_end_matches('/');
        let url = format!(
            "{prefix}{PUSH_PATH}{}?token={}",
            url::form_urlencoded::byte_serialize(device_id.as_bytes()).collect::<String>(),
            self.key.token(device_id)
        );
        Some(HttpHostNotification {
            id: String::new(),
            url,
            protocol_type: if public.scheme() == "https" {
                "HTTPS".into()
            } else {
                "HTTP".into()
            },
            parameter_format_type: "json".into(),
            addressing_format_type: if is_ip { "ipaddress" } else { "hostname" }.into(),
            ip_address: is_ip.then(|| host.clone()),
            host_name: (!is_ip).then_some(host),
            port_no: public.port_or_known_default().unwrap_or(80),
            http_authentication_method: "none".into(),
            subscribe_event: Some(SubscribeEvent {
                heartbeat: HEARTBEAT_SECS,
                event_mode: "list".into(),
                event_list: Some(EventList {
                    events: vec![SubscribedEvent {
                        kind: "AccessControllerEvent".into(),
                        picture_url_type: "binary".into(),
                    }],
                }),
            }),
        })
    }
}

/// True when the terminal's slot already says what the service wants (the terminal may leave
/// out fields it does not echo).
fn same_registration(have: &HttpHostNotification, want: &HttpHostNotification) -> bool {
    have.url == want.url
        && have.port_no == want.port_no
        && have.ip_address.as_deref().unwrap_or_default()
            == want.ip_address.as_deref().unwrap_or_default()
        && have.host_name.as_deref().unwrap_or_default()
            == want.host_name.as_deref().unwrap_or_default()
        && have.protocol_type.eq_ignore_ascii_case(&want.protocol_type)
}
