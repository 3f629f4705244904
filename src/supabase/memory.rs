//! An in-memory directory: the embedded demo's data (and the tests'), served through the same trait
//! as Supabase. It forgets everything on restart.

use std::sync::{PoisonError, RwLock};

use futures::future::BoxFuture;
use uuid::Uuid;

use super::{Directory, DirectoryError};
use crate::models::{DeviceEntry, Employee};

/// Employees and terminals held in memory; writable, so tests and the demo can change them.
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    angajati: RwLock<Vec<Employee>>,
    devices: RwLock<Vec<DeviceEntry>>,
}

impl MemoryDirectory {
    /// A directory holding `angajati` and the active `devices`, in order.
    pub fn new(angajati: Vec<Employee>, devices: Vec<DeviceEntry>) -> Self {
        Self {
            angajati: RwLock::new(angajati),
            devices: RwLock::new(devices),
        }
    }

    /// Adds the employee, or replaces the one with the same id.
    pub fn upsert_angajat(&self, angajat: Employee) {
        let mut all = self
            .angajati
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        all.retain(|a| a.id != angajat.id);
        all.push(angajat);
    }

    /// Deletes the employee (as a deleted angajati row).
    pub fn remove_angajat(&self, id: Uuid) {
        self.angajati
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|a| a.id != id);
    }

    /// Replaces the active terminals.
    pub fn set_devices(&self, devices: Vec<DeviceEntry>) {
        *self.devices.write().unwrap_or_else(PoisonError::into_inner) = devices;
    }
}

impl Directory for MemoryDirectory {
    fn get_angajat_with_biometrie(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Employee, DirectoryError>> {
        let found = self
            .angajati
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|a| a.id == id)
            .cloned();
        Box::pin(async move { found.ok_or(DirectoryError::NotFound(id)) })
    }

    fn list_angajati(&self) -> BoxFuture<'_, Result<Vec<Employee>, DirectoryError>> {
        let all = self
            .angajati
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move { Ok(all) })
    }

    fn get_active_devices(&self) -> BoxFuture<'_, Result<Vec<DeviceEntry>, DirectoryError>> {
        let devices = self
            .devices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move { Ok(devices) })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async { Ok(()) })
    }
}
