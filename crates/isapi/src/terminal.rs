//! Where a terminal is and how to log in to it.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::IsapiError;

/// One terminal's address and credentials, ready for the client.
#[derive(Clone)]
pub struct Terminal {
    base: Url,
    username: String,
    password: SecretString,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("base", &self.base.as_str())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Terminal {
    /// A terminal at `host` (IP address or DNS name) and `port`, reached over plain HTTP as terminals
    /// on a LAN usually are.
    pub fn new(
        host: &str,
        port: u16,
        username: &str,
        password: SecretString,
    ) -> Result<Self, IsapiError> {
        let host = host.trim();
        if host.is_empty() {
            return Err(IsapiError::InvalidRequest(
                "the terminal has no IP address".into(),
            ));
        }
        let mut base = Url::parse("http://127.0.0.1/")
            .map_err(|e| IsapiError::InvalidRequest(e.to_string()))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => base
                .set_ip_host(ip)
                .map_err(|()| IsapiError::InvalidRequest(format!("bad address '{host}'")))?,
            Err(_) => base.set_host(Some(host)).map_err(|e| {
                IsapiError::InvalidRequest(format!("'{host}' is not a valid address: {e}"))
            })?,
        }
        base.set_port(Some(port))
            .map_err(|()| IsapiError::InvalidRequest(format!("bad port {port}")))?;
        Ok(Self {
            base,
            username: username.to_string(),
            password,
        })
    }

    /// The URL of an ISAPI path on this terminal, with `?format=json` when `json`.
    pub fn url(&self, path: &str, json: bool) -> Result<Url, IsapiError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| IsapiError::InvalidRequest(format!("bad path {path}: {e}")))?;
        if json {
            url.query_pairs_mut().append_pair("format", "json");
        }
        Ok(url)
    }

    /// `host:port`, for messages and logs.
    pub fn address(&self) -> String {
        match (self.base.host_str(), self.base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => self.base.to_string(),
        }
    }

    /// The login name.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: u16) -> Result<Terminal, IsapiError> {
        Terminal::new(host, port, "admin", SecretString::from("pw"))
    }

    #[test]
    fn builds_urls_for_ipv4_ipv6_and_names() {
        let url = t("192.168.1.100", 80)
            .and_then(|t| t.url("/ISAPI/Intelligent/FDLib/FDModify", true))
            .map(|u| u.to_string());
        assert_eq!(
            url.ok().as_deref(),
            Some("http://192.168.1.100/ISAPI/Intelligent/FDLib/FDModify?format=json")
        );
        assert_eq!(
            t("::1", 8101).map(|t| t.address()).ok().as_deref(),
            Some("[::1]:8101")
        );
        assert_eq!(
            t("door-1.local", 8080).map(|t| t.address()).ok().as_deref(),
            Some("door-1.local:8080")
        );
    }

    #[test]
    fn rejects_empty_and_malformed_hosts() {
        assert!(t("", 80).is_err());
        assert!(t("bad host/x", 80).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let dbg = format!("{:?}", t("10.0.0.1", 80).ok());
        assert!(!dbg.contains("pw\""), "{dbg}");
    }
}
