//! Supabase Database Webhooks (`{"type", "table", "schema", "record", "old_record"}`), read into
//! what they ask of the terminals. Pure: the rows are re-read before anything is removed.

use hikvision_isapi::EmployeeNo;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::config::Tables;

/// The webhook's body. Fields not listed here are ignored.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "UPDATE", "table": "biometrie", "schema": "public",
    "record": {"angajat_id": "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01", "employee_no": "1001", "foto_fata_url": "angajati/ion-popescu.jpg"},
    "old_record": {"angajat_id": "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01", "employee_no": "1001", "foto_fata_url": "angajati/ion-old.jpg"}}))]
pub struct WebhookEvent {
    /// `INSERT`, `UPDATE` or `DELETE`.
    #[serde(rename = "type")]
    #[schema(example = "UPDATE")]
    pub kind: String,
    /// The table.
    pub table: String,
    /// The schema.
    #[serde(default)]
    pub schema: Option<String>,
    /// The row after the change (`null` for a delete).
    #[serde(default)]
    pub record: Option<Value>,
    /// The row before the change (`null` for an insert).
    #[serde(default)]
    pub old_record: Option<Value>,
}

/// What an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The employee's photo changed: the update flow on every active terminal.
    PhotoChanged {
        /// The employee.
        angajat_id: Uuid,
    },
    /// The employee's number changed: remove `old` everywhere, enrol the new one.
    NumberChanged {
        /// The employee.
        angajat_id: Uuid,
        /// The number that must leave the terminals (`None`: the old value was not one a
        /// terminal takes, so no terminal holds it).
        old: Option<EmployeeNo>,
    },
    /// A new biometrie row (enrolled only with `WEBHOOK_ENROL_NEW`).
    NewBiometrie {
        /// The employee.
        angajat_id: Uuid,
    },
    /// A biometrie or angajati row was deleted: remove, if it does not exist again.
    Deleted {
        /// The employee.
        angajat_id: Uuid,
        /// The number the terminals hold, when the deleted row names one a terminal takes.
        employee_no: Option<EmployeeNo>,
    },
    /// The employee's validity window changed (`EMPLOYEE_VALID_FROM_COLUMN` /
    /// `EMPLOYEE_VALID_UNTIL_COLUMN`): the person is edited on the terminals that hold them.
    ValidityChanged {
        /// The employee.
        angajat_id: Uuid,
    },
    /// A new or reactivated terminal (recorded for the bulk resync).
    DeviceActivated {
        /// The device row id.
        device_id: String,
    },
    /// Nothing for the terminals.
    Ignore(&'static str),
}

fn text(row: Option<&Value>, field: &str) -> Option<String> {
    match row?.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The row's number, parsed here at the edge; a value no terminal takes was never given to one.
fn number(row: Option<&Value>, field: &str) -> Option<EmployeeNo> {
    text(row, field).and_then(|s| s.parse().ok())
}

fn uuid(row: Option<&Value>, field: &str) -> Option<Uuid> {
    text(row, field).and_then(|s| Uuid::parse_str(&s).ok())
}

/// What `event` asks for, given the table names in use.
pub fn interpret(event: &WebhookEvent, tables: &Tables) -> Action {
    let (new, old) = (event.record.as_ref(), event.old_record.as_ref());
    let kind = event.kind.to_ascii_uppercase();
    if event.table == tables.biometrie {
        let Some(angajat_id) = uuid(new, "angajat_id").or_else(|| uuid(old, "angajat_id")) else {
            return Action::Ignore("the biometrie row has no angajat_id");
        };
        return match kind.as_str() {
            "INSERT" => Action::NewBiometrie { angajat_id },
            "UPDATE" => {
                let (old_no, new_no) = (text(old, "employee_no"), text(new, "employee_no"));
                match old_no {
                    Some(old) if Some(&old) != new_no.as_ref() => Action::NumberChanged {
                        angajat_id,
                        old: old.parse().ok(),
                    },
                    _ if text(old, "foto_fata_url") != text(new, "foto_fata_url") => {
                        Action::PhotoChanged { angajat_id }
                    }
                    None if new_no.is_some() => Action::NewBiometrie { angajat_id },
                    _ => Action::Ignore("neither employee_no nor foto_fata_url changed"),
                }
            }
            "DELETE" => Action::Deleted {
                angajat_id,
                employee_no: number(old, "employee_no"),
            },
            _ => Action::Ignore("unknown event type"),
        };
    }
    if event.table == tables.angajati {
        let validity_changed = [&tables.valid_from, &tables.valid_until]
            .into_iter()
            .flatten()
            .any(|column| {
                let value = |row: Option<&Value>| row.and_then(|r| r.get(column)).cloned();
                value(old) != value(new)
            });
        return match (kind.as_str(), uuid(old, "id"), uuid(new, "id")) {
            ("DELETE", Some(angajat_id), _) => Action::Deleted {
                angajat_id,
                employee_no: None,
            },
            ("UPDATE", _, Some(angajat_id)) if validity_changed => {
                Action::ValidityChanged { angajat_id }
            }
            _ => Action::Ignore(
                "only deleted angajati rows and changed validity dates matter to the terminals",
            ),
        };
    }
    if event.table == tables.devices {
        let active = |row: Option<&Value>| {
            row.and_then(|r| r.get("is_active"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let Some(device_id) = text(new, "id") else {
            return Action::Ignore("the devices row has no id");
        };
        return match kind.as_str() {
            "INSERT" if active(new) => Action::DeviceActivated { device_id },
            "UPDATE" if active(new) && !active(old) => Action::DeviceActivated { device_id },
            _ => Action::Ignore("no terminal became active"),
        };
    }
    Action::Ignore("not a table this service watches")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, table: &str, record: Value, old: Value) -> WebhookEvent {
        serde_json::from_value(json!({
            "type": kind, "table": table, "schema": "public", "record": record, "old_record": old
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    const ID: &str = "6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01";

    #[test]
    fn biometrie_changes_are_read_by_what_changed() {
        let t = Tables::default();
        let id = Uuid::parse_str(ID).ok();
        let photo = event(
            "UPDATE",
            "biometrie",
            json!({"angajat_id": ID, "employee_no": "7", "foto_fata_url": "b.jpg"}),
            json!({"angajat_id": ID, "employee_no": "7", "foto_fata_url": "a.jpg"}),
        );
        assert_eq!(
            Some(interpret(&photo, &t)),
            id.map(|angajat_id| Action::PhotoChanged { angajat_id })
        );
        let number = event(
            "UPDATE",
            "biometrie",
            json!({"angajat_id": ID, "employee_no": "8", "foto_fata_url": "b.jpg"}),
            json!({"angajat_id": ID, "employee_no": "7", "foto_fata_url": "a.jpg"}),
        );
        assert_eq!(
            Some(interpret(&number, &t)),
            id.map(|angajat_id| Action::NumberChanged {
                angajat_id,
                old: "7".parse().ok()
            })
        );
        let deleted = event(
            "DELETE",
            "biometrie",
            Value::Null,
            json!({"angajat_id": ID, "employee_no": "7"}),
        );
        assert_eq!(
            Some(interpret(&deleted, &t)),
            id.map(|angajat_id| Action::Deleted {
                angajat_id,
                employee_no: "7".parse().ok()
            })
        );
        let same = event(
            "UPDATE",
            "biometrie",
            json!({"angajat_id": ID, "employee_no": "7", "foto_fata_url": "a.jpg"}),
            json!({"angajat_id": ID, "employee_no": "7", "foto_fata_url": "a.jpg"}),
        );
        assert!(matches!(interpret(&same, &t), Action::Ignore(_)));
    }

    #[test]
    fn a_changed_validity_date_is_read_only_when_its_column_is_set() {
        let update = |old_until: &str, new_until: &str| {
            event(
                "UPDATE",
                "angajati",
                json!({"id": ID, "nume": "P", "valid_until": new_until}),
                json!({"id": ID, "nume": "P", "valid_until": old_until}),
            )
        };
        let changed = update("2026-12-31", "2026-06-30");
        assert!(matches!(
            interpret(&changed, &Tables::default()),
            Action::Ignore(_)
        ));
        let t = Tables {
            valid_until: Some("valid_until".into()),
            ..Tables::default()
        };
        assert_eq!(
            Some(interpret(&changed, &t)),
            Uuid::parse_str(ID)
                .ok()
                .map(|angajat_id| Action::ValidityChanged { angajat_id })
        );
        let renamed = update("2026-12-31", "2026-12-31");
        assert!(matches!(interpret(&renamed, &t), Action::Ignore(_)));
    }

    #[test]
    fn devices_matter_when_they_become_active() {
        let t = Tables::default();
        let on = event(
            "UPDATE",
            "hikvision_devices",
            json!({"id": "d1", "is_active": true}),
            json!({"id": "d1", "is_active": false}),
        );
        assert_eq!(
            interpret(&on, &t),
            Action::DeviceActivated {
                device_id: "d1".into()
            }
        );
        let renamed = event(
            "UPDATE",
            "hikvision_devices",
            json!({"id": "d1", "is_active": true}),
            json!({"id": "d1", "is_active": true}),
        );
        assert!(matches!(interpret(&renamed, &t), Action::Ignore(_)));
    }
}
