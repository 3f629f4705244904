//! The Supabase directory: two typed PostgREST reads over the service's own reqwest 0.13 client.
//!
//! Why not the `postgrest` crate: its last release (1.6, 2023) pins reqwest 0.11, which would
//! bring a second HTTP/TLS stack and cannot take our client, timeouts or error mapping. The two
//! queries below are all this service needs.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use super::rows::{angajat_from_row, device_from_row};
use super::{Directory, DirectoryError};
use crate::config::DeviceDefaults;
use crate::config::{SupabaseSettings, Tables};
use crate::models::{DeviceEntry, Employee};

/// Largest PostgREST reply read (the device list is the big one).
const MAX_REPLY_BYTES: usize = 8 * 1024 * 1024;

/// Reads employees and terminals from Supabase's PostgREST.
#[derive(Debug, Clone)]
pub struct PostgrestDirectory {
    http: reqwest::Client,
    rest_url: Url,
    tables: Tables,
    defaults: DeviceDefaults,
    timeout: Duration,
}

impl PostgrestDirectory {
    /// A directory for the given project; every call times out after `timeout`.
    pub fn new(
        settings: &SupabaseSettings,
        tables: Tables,
        defaults: DeviceDefaults,
        timeout: Duration,
    ) -> Result<Self, DirectoryError> {
        let key = settings.service_key.expose_secret();
        let mut headers = HeaderMap::new();
        let secret_header = |value: String| {
            HeaderValue::from_str(&value)
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
                .map_err(|_| {
                    DirectoryError::InvalidData(
                        "SUPABASE_SERVICE_ROLE_KEY contains characters not allowed in a header"
                            .into(),
                    )
                })
        };
        headers.insert("apikey", secret_header(key.to_string())?);
        // Legacy keys are JWTs and also go in Authorization; new `sb_secret_` keys must not.
        if key.starts_with("eyJ") {
            headers.insert(AUTHORIZATION, secret_header(format!("Bearer {key}"))?);
        }
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("hikvision-sync/", env!("CARGO_PKG_VERSION")))
            // reqwest keeps custom headers across hosts: a redirect would hand `apikey` (the
            // service key) to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DirectoryError::InvalidData(format!("cannot build HTTP client: {e}")))?;
        let mut rest_url = settings.rest_url.clone();
        if !rest_url.path().ends_with('/') {
            let p = format!("{}/", rest_url.path());
            rest_url.set_path(&p);
        }
        Ok(Self {
            http,
            rest_url,
            tables,
            defaults,
            timeout,
        })
    }

    async fn get_rows(
        &self,
        table: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, DirectoryError> {
        let mut url = self
            .rest_url
            .join(table)
            .map_err(|e| DirectoryError::InvalidData(format!("bad table name {table}: {e}")))?;
        url.query_pairs_mut().extend_pairs(query);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.map_error(&e))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(DirectoryError::Postgrest {
                status,
                code: None,
                message: "a redirect, which the service does not follow; check that SUPABASE_URL and SUPABASE_REST_URL are the exact https:// addresses".into(),
                hint: None,
            });
        }
        let body = read_capped(response)
            .await
            .map_err(|e| self.map_error(&e))?;
        if (200..300).contains(&status) {
            return match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(rows)) => Ok(rows),
                Ok(_) => Err(DirectoryError::InvalidData(format!(
                    "expected a list of rows from {table}"
                ))),
                Err(e) => Err(DirectoryError::InvalidData(format!(
                    "{table} reply is not JSON: {e}"
                ))),
            };
        }
        Err(postgrest_error(status, &body))
    }

    fn map_error(&self, e: &reqwest::Error) -> DirectoryError {
        if e.is_timeout() {
            DirectoryError::Timeout(self.timeout.as_millis() as u64)
        } else if e.is_connect() {
            DirectoryError::Unreachable("cannot connect".into())
        } else {
            DirectoryError::Unreachable("the connection broke".into())
        }
    }
}

/// Rows per page when listing every employee (well under the reply cap).
const LIST_PAGE_ROWS: usize = 500;
const LIST_PAGE: &str = "500";

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_REPLY_BYTES {
            break;
        }
    }
    Ok(buf)
}

/// PostgREST's `{code, message, details, hint}` error body, or whatever came instead.
fn postgrest_error(status: u16, body: &[u8]) -> DirectoryError {
    let parsed: Option<serde_json::Map<String, Value>> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let code = field("code");
    if status == 401 || status == 403 {
        return DirectoryError::Unauthorized { status, code };
    }
    DirectoryError::Postgrest {
        status,
        message: field("message").unwrap_or_else(|| "no error message".into()),
        hint: field("hint"),
        code,
    }
}

impl Directory for PostgrestDirectory {
    fn get_angajat_with_biometrie(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Employee, DirectoryError>> {
        Box::pin(async move {
            let select = format!("*,{}(*)", self.tables.biometrie);
            let id_filter = format!("eq.{id}");
            let rows = self
                .get_rows(
                    &self.tables.angajati,
                    &[("select", &select), ("id", &id_filter), ("limit", "1")],
                )
                .await?;
            match rows.first() {
                Some(row) => angajat_from_row(row, &self.tables),
                None => Err(DirectoryError::NotFound(id)),
            }
        })
    }

    fn list_angajati(&self) -> BoxFuture<'_, Result<Vec<Employee>, DirectoryError>> {
        Box::pin(async move {
            let select = format!("*,{}(*)", self.tables.biometrie);
            let mut all = Vec::new();
            loop {
                let offset = all.len().to_string();
                let page = self
                    .get_rows(
                        &self.tables.angajati,
                        &[
                            ("select", &select),
                            ("order", "id.asc"),
                            ("limit", LIST_PAGE),
                            ("offset", &offset),
                        ],
                    )
                    .await?;
                let done = page.len() < LIST_PAGE_ROWS;
                for row in &page {
                    all.push(angajat_from_row(row, &self.tables)?);
                }
                if done {
                    return Ok(all);
                }
            }
        })
    }

    fn get_active_devices(&self) -> BoxFuture<'_, Result<Vec<DeviceEntry>, DirectoryError>> {
        Box::pin(async move {
            let rows = self
                .get_rows(
                    &self.tables.devices,
                    &[
                        ("select", "*"),
                        ("is_active", "is.true"),
                        ("order", "name.asc,id.asc"),
                    ],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| device_from_row(row, &self.defaults))
                .collect())
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            self.get_rows(&self.tables.devices, &[("select", "id"), ("limit", "1")])
                .await
                .map(drop)
        })
    }
}
