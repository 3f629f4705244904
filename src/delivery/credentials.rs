//! The wrong-password block across replicas: a terminal that refused a set of credentials is not
//! called with them again (by any replica, request or background) until the device row's
//! credentials change. Only a keyed fingerprint of the credentials is stored.

use chrono::Utc;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::store::CredentialBlock;
use super::{Delivery, DeliveryError};
use crate::models::{Device, ServiceCode, SyncResult, SyncStatus, SyncStep};
use hikvision_isapi::ErrorClass;

impl Delivery {
    /// A fingerprint of the device's credentials, the same on every replica.
    pub(super) fn fingerprint(&self, device: &Device) -> String {
        let mut h = Sha256::new();
        h.update(&self.options.fingerprint_key);
        for part in [
            device.id.as_str(),
            device.username.as_str(),
            device.password.expose_secret(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    }

    /// The result to report without calling, when these credentials were refused before.
    pub(super) async fn blocked(
        &self,
        device: &Device,
    ) -> Result<Option<SyncResult>, DeliveryError> {
        if self.orchestrator.knows_refused(device) {
            // This process blocks it itself, with the terminal's own figures in the message.
            return Ok(None);
        }
        let Some(block) = self.store.credential_block(&device.id).await? else {
            return Ok(None);
        };
        if block.fingerprint != self.fingerprint(device) {
            // The credentials changed: calls resume at once.
            self.store.set_credential_block(&device.id, None).await?;
            return Ok(None);
        }
        let ago = (Utc::now() - block.at).num_seconds().max(0);
        Ok(Some(
            SyncResult::new(
                SyncStatus::Partial,
                SyncStep::Device,
                format!(
                    "Not called: this terminal refused this username and password {ago} s ago ({}). Fix the credentials in the devices table (or HIKVISION_PASSWORD); calls resume as soon as they change",
                    block.message
                ),
            )
            .with_code(ServiceCode::CredentialsBlocked),
        ))
    }

    /// Blocks the credentials after a refusal; lifts the block after any answer that logged in.
    pub(super) async fn note_credentials(
        &self,
        device: &Device,
        result: &SyncResult,
    ) -> Result<(), DeliveryError> {
        match (result.status, result.class) {
            (_, Some(ErrorClass::Credentials)) => {
                let block = CredentialBlock {
                    fingerprint: self.fingerprint(device),
                    message: result.message.clone(),
                    at: Utc::now(),
                };
                self.store
                    .set_credential_block(&device.id, Some(block))
                    .await
            }
            (SyncStatus::Success, _) => self.store.set_credential_block(&device.id, None).await,
            _ => Ok(()),
        }
    }
}
