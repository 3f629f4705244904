//! Where a test's employees and terminals live: the service's in-memory directory, or tables of
//! the test's own on the PostgREST-compatible stack.

use std::sync::Arc;
use std::time::Duration;

use hikvision_sync::config::{Settings, Tables};
use hikvision_sync::models::{BiometricRecord, Bound, BoundValue, Employee, Validity};
use hikvision_sync::supabase::{Directory, MemoryDirectory, device_from_row};
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

/// Where a test's employees and terminals live: in memory (most tests, no database), or in
/// PostgreSQL behind the PostgREST-compatible server (the contract tests), on tables of its own.
#[derive(Clone)]
// One or two per test, moved around rarely: boxing the REST side would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Store {
    /// The service's in-memory directory; device rows go through the same row decoding as
    /// PostgREST rows.
    Memory(Arc<MemoryDirectory>),
    /// Per-test tables on the stack of `scripts/test-stack.sh`.
    Rest(Rest),
}

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Self {
        Self::Memory(Arc::default())
    }

    /// Fresh tables of this test's own on the PostgREST stack; `None` (the test skips, with a
    /// message) when the stack is not running and `HS_TEST_REQUIRE_STACK` is not set.
    pub async fn rest() -> Option<Self> {
        Rest::isolated().await.map(Self::Rest)
    }

    /// Inserts an angajat and (when any field is given) their biometrie; returns the id.
    pub async fn insert_angajat(&self, employee_no: Option<&str>, foto: Option<&str>) -> Uuid {
        match self {
            Self::Memory(dir) => {
                let id = Uuid::new_v4();
                let biometrie = (employee_no.is_some() || foto.is_some())
                    .then(|| BiometricRecord::from_row(employee_no, foto.map(Into::into)));
                dir.upsert_angajat(Employee {
                    id,
                    last_name: "Popescu".into(),
                    first_name: "Ion".into(),
                    biometrics: biometrie,
                    validity: Default::default(),
                });
                id
            }
            Self::Rest(rest) => rest.insert_angajat(employee_no, foto).await,
        }
    }

    /// Changes the employee's photo (and, when given, number) in place, as an HR edit would.
    pub async fn set_biometrie(&self, id: Uuid, employee_no: Option<&str>, foto: Option<&str>) {
        match self {
            Self::Memory(dir) => {
                // The employees row itself (its validity) stays as it is.
                let validity = dir
                    .get_angajat_with_biometrie(id)
                    .await
                    .map(|a| a.validity)
                    .unwrap_or_default();
                dir.upsert_angajat(Employee {
                    id,
                    last_name: "Popescu".into(),
                    first_name: "Ion".into(),
                    biometrics: Some(BiometricRecord::from_row(employee_no, foto.map(Into::into))),
                    validity,
                })
            }
            Self::Rest(rest) => rest.set_biometrie(id, employee_no, foto).await,
        }
    }

    /// Sets the employee's validity columns (`valid_from` a date, `valid_until` a timestamptz,
    /// as Postgres would send them), as an HR edit would.
    pub async fn set_validity(&self, id: Uuid, from: Option<&str>, until: Option<&str>) {
        match self {
            Self::Memory(dir) => {
                let mut a = dir.get_angajat_with_biometrie(id).await.expect("exists");
                let read = |v: Option<&str>| match v.and_then(Bound::parse) {
                    Some(BoundValue::Bound(b)) => Some(b),
                    _ => None,
                };
                a.validity = Validity {
                    from: read(from),
                    until: read(until),
                };
                dir.upsert_angajat(a);
            }
            Self::Rest(rest) => rest.set_validity(id, from, until).await,
        }
    }

    /// Deletes the employee (their biometrie goes with them).
    pub async fn delete_angajat(&self, id: Uuid) {
        match self {
            Self::Memory(dir) => dir.remove_angajat(id),
            Self::Rest(rest) => rest.delete_angajat(id).await,
        }
    }

    /// Replaces every device row with `rows` (JSON rows as the devices table holds them).
    pub async fn set_devices(&self, rows: Vec<Value>) {
        match self {
            Self::Memory(dir) => {
                // What the PostgREST read does: active rows only, ordered by name, then id.
                let defaults = Settings::default().device_defaults;
                let mut rows: Vec<Value> = rows
                    .into_iter()
                    .enumerate()
                    .filter(|(_, row)| row["is_active"] == json!(true))
                    .map(|(i, mut row)| {
                        row["id"] = json!(format!("device-{i:04}"));
                        row
                    })
                    .collect();
                rows.sort_by_key(|row| (row["name"].to_string(), row["id"].to_string()));
                let devices = rows
                    .iter()
                    .map(|row| device_from_row(row, &defaults))
                    .collect();
                dir.set_devices(devices);
            }
            Self::Rest(rest) => rest.set_devices(rows).await,
        }
    }
}

/// The PostgREST-compatible server of `scripts/test-stack.sh`, with tables of one test's own.
#[derive(Clone)]
pub struct Rest {
    pub url: Url,
    pub key: String,
    pub tables: Tables,
    http: reqwest::Client,
}

impl Rest {
    /// Creates `angajati_<id>`, `biometrie_<id>` and `hikvision_devices_<id>` like the migration's
    /// tables (same columns, checks, foreign key, RLS and grants), has the server reload its schema
    /// (`NOTIFY pgrst`), and waits until it serves them. Tests never share a table, so they need
    /// no lock.
    pub async fn isolated() -> Option<Self> {
        let stack = hikvision_testkit::Stack::from_env()?;
        let (url, key, db) = (stack.rest_url, stack.service_key, stack.database_url);
        let suffix = Uuid::new_v4().simple().to_string()[..10].to_string();
        let tables = Tables {
            angajati: format!("angajati_{suffix}"),
            biometrie: format!("biometrie_{suffix}"),
            devices: format!("hikvision_devices_{suffix}"),
            ..Tables::default()
        };
        create_tables(&db, &tables).await;
        let rest = Self {
            url: Url::parse(&url).expect("HS_TEST_REST_URL is a URL"),
            key,
            tables,
            http: reqwest::Client::new(),
        };
        rest.wait_for_tables().await;
        Some(rest)
    }

    fn table(&self, table: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("/{table}"));
        url
    }

    async fn wait_for_tables(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut url = self.table(&self.tables.devices);
            url.query_pairs_mut().append_pair("limit", "0");
            let ok = self
                .http
                .get(url)
                .header("apikey", &self.key)
                .bearer_auth(&self.key)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the PostgREST server did not pick up the test's tables within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Value {
        let response = rb
            .header("apikey", &self.key)
            .bearer_auth(&self.key)
            .header("Prefer", "return=representation")
            .send()
            .await
            .expect("PostgREST answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "PostgREST said {status}: {body}");
        body
    }

    /// Inserts an angajat and (when any field is given) their biometrie; returns the id.
    pub async fn insert_angajat(&self, employee_no: Option<&str>, foto: Option<&str>) -> Uuid {
        let id = Uuid::new_v4();
        self.send(
            self.http
                .post(self.table(&self.tables.angajati))
                .json(&json!({
                    "id": id, "nume": "Popescu", "prenume": "Ion"
                })),
        )
        .await;
        if employee_no.is_some() || foto.is_some() {
            self.send(
                self.http
                    .post(self.table(&self.tables.biometrie))
                    .json(&json!({
                        "angajat_id": id, "employee_no": employee_no, "foto_fata_url": foto
                    })),
            )
            .await;
        }
        id
    }

    /// Updates the employee's biometrie row.
    pub async fn set_biometrie(&self, id: Uuid, employee_no: Option<&str>, foto: Option<&str>) {
        let mut url = self.table(&self.tables.biometrie);
        url.query_pairs_mut()
            .append_pair("angajat_id", &format!("eq.{id}"));
        self.send(self.http.patch(url).json(&json!({
            "employee_no": employee_no, "foto_fata_url": foto
        })))
        .await;
    }

    /// Updates the employee's validity columns.
    pub async fn set_validity(&self, id: Uuid, from: Option<&str>, until: Option<&str>) {
        let mut url = self.table(&self.tables.angajati);
        url.query_pairs_mut().append_pair("id", &format!("eq.{id}"));
        self.send(self.http.patch(url).json(&json!({
            "valid_from": from, "valid_until": until
        })))
        .await;
    }

    /// Deletes the employee's row (and, by the foreign key, their biometrie).
    pub async fn delete_angajat(&self, id: Uuid) {
        let mut url = self.table(&self.tables.angajati);
        url.query_pairs_mut().append_pair("id", &format!("eq.{id}"));
        self.send(self.http.delete(url)).await;
    }

    /// Replaces every device row with `rows`.
    pub async fn set_devices(&self, rows: Vec<Value>) {
        let mut url = self.table(&self.tables.devices);
        url.query_pairs_mut().append_pair("id", "not.is.null");
        self.send(self.http.delete(url)).await;
        // One by one: PostgREST bulk inserts need identical keys in every object.
        for row in rows {
            self.send(self.http.post(self.table(&self.tables.devices)).json(&row))
                .await;
        }
    }
}

/// The migration's three tables again under `tables`' names, then a schema reload.
async fn create_tables(database_url: &str, tables: &Tables) {
    let Tables {
        angajati,
        biometrie,
        devices,
        ..
    } = tables;
    let sql = format!(
        "create table public.{angajati} (like public.angajati including all);
         -- Validity columns of both kinds, for EMPLOYEE_VALID_FROM/UNTIL_COLUMN.
         alter table public.{angajati} add column valid_from date, add column valid_until timestamptz;
         create table public.{biometrie} (like public.biometrie including all);
         alter table public.{biometrie} add foreign key (angajat_id)
             references public.{angajati} (id) on delete cascade;
         create table public.{devices} (like public.hikvision_devices including all);
         alter table public.{angajati} enable row level security;
         alter table public.{biometrie} enable row level security;
         alter table public.{devices} enable row level security;
         revoke all on public.{angajati}, public.{biometrie}, public.{devices} from anon, authenticated;
         grant select, insert, update, delete on public.{angajati}, public.{biometrie}, public.{devices}
             to service_role;
         notify pgrst, 'reload schema';"
    );
    super::database::execute(database_url, &sql).await;
}
