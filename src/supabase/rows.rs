//! PostgREST rows as they come off the wire, decoded leniently into domain models.
//!
//! Rows are read as JSON values so one odd row (a port stored as text, a numeric id, an embedded
//! biometrie as object, array or null) is either understood or reported, never a failed request.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::DirectoryError;
use crate::config::{DeviceDefaults, Tables};
use crate::models::{
    BiometricRecord, Bound, BoundValue, Device, DeviceEntry, Employee, InvalidDevice, Validity,
};

/// Decodes an `angajati` row with its embedded `biometrie` (object, one-element array, or null)
/// and, when `tables` names them, its validity columns.
pub fn angajat_from_row(row: &Value, tables: &Tables) -> Result<Employee, DirectoryError> {
    let biometrie_key = tables.biometrie.as_str();
    let map = row
        .as_object()
        .ok_or_else(|| DirectoryError::InvalidData("the angajat row is not an object".into()))?;
    let id = text(map, "id")
        .and_then(|s| Uuid::parse_str(&s).ok())
        .ok_or_else(|| DirectoryError::InvalidData("the angajat row has no uuid id".into()))?;
    let biometrie = match map.get(biometrie_key) {
        Some(Value::Object(b)) => Some(biometrie_from(b)),
        Some(Value::Array(items)) => items.iter().find_map(Value::as_object).map(biometrie_from),
        _ => None,
    };
    let validity = Validity {
        from: bound(
            map,
            tables.valid_from.as_deref(),
            "EMPLOYEE_VALID_FROM_COLUMN",
        )?,
        until: bound(
            map,
            tables.valid_until.as_deref(),
            "EMPLOYEE_VALID_UNTIL_COLUMN",
        )?,
    };
    Ok(Employee {
        id,
        last_name: text(map, "nume").unwrap_or_default(),
        first_name: text(map, "prenume").unwrap_or_default(),
        biometrics: biometrie,
        validity,
    })
}

/// One validity bound of a row. A configured column the row lacks, or a value that is neither a
/// date nor a timestamp, is reported: read as "no end date", it would open doors for good.
fn bound(
    map: &Map<String, Value>,
    column: Option<&str>,
    setting: &str,
) -> Result<Option<Bound>, DirectoryError> {
    let Some(column) = column else {
        return Ok(None);
    };
    let value = match map.get(column) {
        None => {
            return Err(DirectoryError::InvalidData(format!(
                "the employees row has no column '{column}' ({setting}): check the setting"
            )));
        }
        Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    match value.as_str().and_then(Bound::parse) {
        Some(BoundValue::Bound(b)) => Ok(Some(b)),
        Some(BoundValue::Open) => Ok(None),
        None => Err(DirectoryError::InvalidData(format!(
            "the employees column '{column}' ({setting}) holds {value}, not a date or timestamptz"
        ))),
    }
}

fn biometrie_from(b: &Map<String, Value>) -> BiometricRecord {
    BiometricRecord::from_row(text(b, "employee_no").as_deref(), text(b, "foto_fata_url"))
}

/// A terminal's fields as a devices row or a request names them, before defaults and checks.
#[derive(Debug, Default)]
pub struct DeviceFields {
    /// Row id (empty when there is no row).
    pub id: String,
    /// Human name.
    pub name: String,
    /// IP address or host name.
    pub ip: String,
    /// The port as given; `None` (absent or null) is port 80.
    pub port: Option<String>,
    /// Login name; `None` or blank takes `HIKVISION_USERNAME`.
    pub username: Option<String>,
    /// Password; `None` or empty takes `HIKVISION_PASSWORD`.
    pub password: Option<SecretString>,
}

/// Decodes a `hikvision_devices` row, applying default credentials; bad rows become `Err`.
pub fn device_from_row(row: &Value, defaults: &DeviceDefaults) -> DeviceEntry {
    let Some(map) = row.as_object() else {
        return Err(InvalidDevice {
            id: String::new(),
            name: String::new(),
            ip: String::new(),
            reason: "the device row is not an object".into(),
        });
    };
    let port = match map.get("port") {
        None | Some(Value::Null) => None,
        Some(v) => Some(text_of(v).unwrap_or_else(|| v.to_string())),
    };
    let fields = DeviceFields {
        id: text(map, "id").unwrap_or_default(),
        name: text(map, "name").unwrap_or_default(),
        ip: text(map, "ip").unwrap_or_default(),
        port,
        username: text(map, "username"),
        password: text(map, "password").map(SecretString::from),
    };
    device_from_fields(fields, defaults)
}

/// The one place a [`Device`] is made (devices rows and the debugging endpoint): the port
/// defaults to 80, missing credentials to `defaults`, and an unusable terminal becomes `Err`.
pub fn device_from_fields(fields: DeviceFields, defaults: &DeviceDefaults) -> DeviceEntry {
    let DeviceFields {
        id,
        name,
        ip,
        port,
        username,
        password,
    } = fields;
    let ip = ip.trim().to_string();
    let invalid = |reason: String| InvalidDevice {
        id: id.clone(),
        name: name.clone(),
        ip: ip.clone(),
        reason,
    };
    if ip.is_empty() {
        return Err(invalid("the device has no ip address".into()));
    }
    let port = match &port {
        None => Some(80),
        Some(p) => p.trim().parse::<u16>().ok().filter(|p| *p > 0),
    }
    .ok_or_else(|| {
        invalid(format!(
            "the device port {} is not a port number (1-65535)",
            port.as_deref().unwrap_or_default()
        ))
    })?;
    let username = username
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| defaults.username.clone());
    let password = match password.filter(|p| !p.expose_secret().is_empty()) {
        Some(p) => p,
        None => match &defaults.password {
            Some(p) => p.clone(),
            None => {
                return Err(invalid(
                    "the device has no password and HIKVISION_PASSWORD is not set".into(),
                ));
            }
        },
    };
    Ok(Device {
        id,
        name,
        ip,
        port,
        username,
        password,
    })
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(text_of)
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::json;

    use crate::models::Enrolled;

    use super::*;

    fn defaults(pw: Option<&str>) -> DeviceDefaults {
        DeviceDefaults {
            username: "admin".into(),
            password: pw.map(SecretString::from),
        }
    }

    #[test]
    fn embedded_biometrie_as_object_array_or_null() {
        let id = "5f0c6a43-6c1f-4a3e-9d7a-2f8e0c1b2a3d";
        for (embedded, expected) in [
            (
                json!({"employee_no": "7", "foto_fata_url": "a.jpg"}),
                Some("7"),
            ),
            (json!([{"employee_no": "8"}]), Some("8")),
            (json!([]), None),
            (Value::Null, None),
        ] {
            let row = json!({"id": id, "nume": "P", "prenume": "I", "biometrie": embedded});
            let a = angajat_from_row(&row, &Tables::default()).expect("decodes");
            assert_eq!(a.employee_no().map(|n| n.as_str()), expected);
        }
    }

    #[test]
    fn validity_columns_are_read_when_configured() {
        let tables = Tables {
            valid_from: Some("angajat_de_la".into()),
            valid_until: Some("angajat_pana_la".into()),
            ..Tables::default()
        };
        let id = "5f0c6a43-6c1f-4a3e-9d7a-2f8e0c1b2a3d";
        let row = json!({"id": id, "angajat_de_la": "2026-01-01",
            "angajat_pana_la": "2026-12-31T16:00:00+00:00"});
        let a = angajat_from_row(&row, &tables).expect("decodes");
        assert!(matches!(a.validity.from, Some(Bound::Date(_))));
        assert!(matches!(a.validity.until, Some(Bound::Instant(_))));
        // Null and infinity: no bound. Unset settings: the columns are not looked at.
        let open = json!({"id": id, "angajat_de_la": null, "angajat_pana_la": "infinity"});
        let a = angajat_from_row(&open, &tables).expect("decodes");
        assert!(a.validity.is_unbounded());
        let a = angajat_from_row(&row, &Tables::default()).expect("decodes");
        assert!(a.validity.is_unbounded());
        // A missing column or a value that is no date is reported, never read as "no end".
        let missing = json!({"id": id, "angajat_de_la": null});
        let err = angajat_from_row(&missing, &tables).expect_err("reported");
        assert!(
            err.to_string().contains("EMPLOYEE_VALID_UNTIL_COLUMN"),
            "{err}"
        );
        let text = json!({"id": id, "angajat_de_la": null, "angajat_pana_la": "next week"});
        assert!(angajat_from_row(&text, &tables).is_err());
    }

    #[test]
    fn numeric_employee_numbers_are_read_as_text() {
        let row = json!({"id": "5f0c6a43-6c1f-4a3e-9d7a-2f8e0c1b2a3d", "biometrie": {"employee_no": 1001}});
        assert_eq!(
            angajat_from_row(&row, &Tables::default())
                .ok()
                .and_then(|a| a.employee_no().map(ToString::to_string)),
            Some("1001".into())
        );
    }

    #[test]
    fn device_rows_default_port_and_credentials() {
        let d = device_from_row(
            &json!({"id": 3, "name": "Door", "ip": "10.0.0.9", "port": null}),
            &defaults(Some("pw")),
        )
        .expect("valid");
        assert_eq!(
            (d.id.as_str(), d.port, d.username.as_str()),
            ("3", 80, "admin")
        );
        assert_eq!(d.password.expose_secret(), "pw");
    }

    #[test]
    fn bad_device_rows_are_reported_not_dropped() {
        let bad_port = device_from_row(
            &json!({"id": "x", "ip": "10.0.0.9", "port": 70000, "password": "p"}),
            &defaults(None),
        );
        assert!(bad_port.is_err_and(|e| e.reason.contains("port")));
        let no_ip = device_from_row(&json!({"id": "y", "password": "p"}), &defaults(None));
        assert!(no_ip.is_err_and(|e| e.reason.contains("ip")));
        let no_pw = device_from_row(&json!({"id": "z", "ip": "10.0.0.1"}), &defaults(None));
        assert!(no_pw.is_err_and(|e| e.reason.contains("HIKVISION_PASSWORD")));
    }
}

/// Property tests (proptest) of the row decoding. The test suite runs 256 cases per property; the
/// long run is `PROPTEST_CASES=100000 cargo test --release --lib fuzz_` (see the README).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use secrecy::ExposeSecret;
    use serde_json::{Map, Value};

    use super::*;

    fn any_json() -> impl Strategy<Value = Value> {
        hikvision_isapi::fuzz::json_with(
            prop_oneof![
                (-2i64..70_000).prop_map(Value::from),
                " {0,2}[0-9]{1,6} {0,2}".prop_map(Value::String),
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                    .prop_map(Value::String),
                ".{0,24}".prop_map(Value::String),
            ]
            .boxed(),
            5,
        )
    }

    /// Objects made mostly of the given column names, with any values.
    fn row(columns: &'static [&'static str]) -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            5 => prop::sample::select(columns).prop_map(String::from),
            1 => ".{0,10}",
        ];
        prop::collection::vec((key, any_json()), 0..10)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
    }

    const ANGAJAT: &[&str] = &["id", "nume", "prenume", "biometrie", "employee_no"];
    const DEVICE: &[&str] = &[
        "id",
        "name",
        "ip",
        "port",
        "username",
        "password",
        "is_active",
    ];

    proptest! {
        #[test]
        fn fuzz_rows_angajat_never_panics(
            value in prop_oneof![row(ANGAJAT), any_json()],
            biometrie in prop_oneof![row(&["employee_no", "foto_fata_url", "angajat_id"]), any_json()],
            as_array in any::<bool>(),
        ) {
            let mut value = value;
            if let Value::Object(map) = &mut value {
                let embedded = if as_array { Value::Array(vec![biometrie]) } else { biometrie };
                map.insert("biometrie".into(), embedded);
            }
            match angajat_from_row(&value, &Tables::default()) {
                Ok(a) => {
                    let id = value.get("id").and_then(text_of);
                    prop_assert_eq!(id.and_then(|s| Uuid::parse_str(&s).ok()), Some(a.id));
                }
                Err(e) => prop_assert!(matches!(e, DirectoryError::InvalidData(_)), "{e:?}"),
            }
        }

        #[test]
        fn fuzz_rows_device_never_panics_nor_leaks_the_password(
            value in prop_oneof![4 => row(DEVICE), 1 => any_json()],
            password in proptest::option::of("Pw[0-9a-f]{10}"),
            default_password in proptest::option::of("Dflt[0-9a-f]{10}"),
        ) {
            let mut value = value;
            if let (Value::Object(map), Some(pw)) = (&mut value, &password) {
                map.insert("password".into(), Value::String(pw.clone()));
            }
            let defaults = DeviceDefaults {
                username: "admin".into(),
                password: default_password.clone().map(SecretString::from),
            };
            match device_from_row(&value, &defaults) {
                Ok(d) => {
                    prop_assert!(d.port > 0);
                    prop_assert!(!d.ip.is_empty());
                    prop_assert_eq!(d.ip.trim(), d.ip.as_str());
                    prop_assert!(!d.username.trim().is_empty());
                    let pw = d.password.expose_secret();
                    // The row's own password, else HIKVISION_PASSWORD; never empty.
                    let own = value.get("password").and_then(text_of).filter(|p| !p.is_empty());
                    prop_assert_eq!(Some(pw), own.as_deref().or(default_password.as_deref()));
                    prop_assert!(!pw.is_empty());
                    // (Only for the generated, recognisable passwords: "2" may well be the ip.)
                    if password.is_some() || default_password.is_some() {
                        prop_assert!(!format!("{d:?}").contains(pw), "Debug shows the password");
                    }
                }
                Err(e) => {
                    prop_assert!(!e.reason.is_empty());
                    let shown = format!("{e:?} {}", e.reason);
                    for secret in password.iter().chain(default_password.iter()) {
                        prop_assert!(!shown.contains(secret.as_str()), "{}", shown);
                    }
                }
            }
        }
    }
}
