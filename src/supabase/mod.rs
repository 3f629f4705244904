//! Where employees and terminals come from: Supabase over PostgREST, or an in-memory directory for
//! the embedded demo. Both implement [`Directory`].

mod error;
mod memory;
mod postgrest;
mod rows;

use futures::future::BoxFuture;
use uuid::Uuid;

use crate::models::{DeviceEntry, Employee};

pub use error::DirectoryError;
pub use memory::MemoryDirectory;
pub use postgrest::PostgrestDirectory;
pub use rows::{DeviceFields, angajat_from_row, device_from_fields, device_from_row};

/// The two reads every sync needs.
pub trait Directory: Send + Sync {
    /// The employee with their biometric record; `NotFound` when no such id.
    fn get_angajat_with_biometrie(
        &self,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Employee, DirectoryError>>;

    /// Every employee with their biometric record (for the sweep).
    fn list_angajati(&self) -> BoxFuture<'_, Result<Vec<Employee>, DirectoryError>>;

    /// Every active terminal, in a stable order; unusable rows come back as `Err` entries.
    fn get_active_devices(&self) -> BoxFuture<'_, Result<Vec<DeviceEntry>, DirectoryError>>;

    /// Cheap reachability check for `/ready`.
    fn ping(&self) -> BoxFuture<'_, Result<(), DirectoryError>>;
}
