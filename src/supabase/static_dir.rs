//! An in-memory directory: the embedded demo's data, served through the same trait as Supabase.

use futures::future::BoxFuture;
use uuid::Uuid;

use super::{Directory, DirectoryError};
use crate::models::{Angajat, DeviceEntry};

/// Employees and terminals held in memory.
#[derive(Debug, Clone, Default)]
pub struct StaticDirectory {
    /// The employees.
    pub angajati: Vec<Angajat>,
    /// The active terminals, in order.
    pub devices: Vec<DeviceEntry>,
}

impl Directory for StaticDirectory {
    fn get_angajat_with_biometrie(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Angajat, DirectoryError>> {
        let found = self.angajati.iter().find(|a| a.id == id).cloned();
        Box::pin(async move { found.ok_or(DirectoryError::NotFound(id)) })
    }

    fn get_active_devices(&self) -> BoxFuture<'_, Result<Vec<DeviceEntry>, DirectoryError>> {
        let devices = self.devices.clone();
        Box::pin(async move { Ok(devices) })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async { Ok(()) })
    }
}
