//! The wrong-password block across replicas: a terminal that refused a set of credentials is not
//! called with them again (by any replica, request or background) until the device row's
//! credentials change. Only a keyed fingerprint of the credentials is stored.

use std::collections::HashMap;

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
        Ok(self.blocked_all(&[device]).await?.remove(&device.id))
    }

    /// [`Self::blocked`] for many terminals in one read: the result of each one not to call.
    pub(super) async fn blocked_all(
        &self,
        devices: &[&Device],
    ) -> Result<HashMap<String, SyncResult>, DeliveryError> {
        // A terminal this process blocks itself is left to it, with the terminal's own figures
        // in the message.
        let ids: Vec<String> = devices
            .iter()
            .filter(|d| !self.orchestrator.knows_refused(d))
            .map(|d| d.id.clone())
            .collect();
        let blocks = self.store.credential_blocks(&ids).await?;
        let mut blocked = HashMap::new();
        let mut changed = Vec::new();
        for device in devices {
            let Some(block) = blocks.get(&device.id) else {
                continue;
            };
            if block.fingerprint != self.fingerprint(device) {
                // The credentials changed: calls resume at once.
                changed.push(device.id.clone());
                continue;
            }
            blocked.insert(device.id.clone(), blocked_result(block));
        }
        self.store.clear_credential_blocks(&changed).await?;
        Ok(blocked)
    }

    /// Blocks the credentials after a refusal; lifts the block after any answer that logged in
    /// (all of `results`' lifts in one write).
    pub(super) async fn note_credentials(
        &self,
        results: &[(&Device, &SyncResult)],
    ) -> Result<(), DeliveryError> {
        let mut lifted = Vec::new();
        for (device, result) in results {
            match (result.status, result.class) {
                (_, Some(ErrorClass::Credentials)) => {
                    let block = CredentialBlock {
                        fingerprint: self.fingerprint(device),
                        message: result.message.clone(),
                        at: Utc::now(),
                    };
                    self.store
                        .set_credential_block(&device.id, Some(block))
                        .await?;
                }
                (SyncStatus::Success, _) => lifted.push(device.id.clone()),
                _ => {}
            }
        }
        self.store.clear_credential_blocks(&lifted).await
    }
}

/// Events share this replica's view of refused credentials (the store's blocks, every replica's).
impl crate::events::SharedCredentials for super::Delivery {
    fn refused<'a>(&'a self, device: &'a Device) -> futures::future::BoxFuture<'a, bool> {
        use futures::FutureExt;
        // Unreadable (the database is down): the per-process guard still applies.
        async move { self.blocked(device).await.ok().flatten().is_some() }.boxed()
    }

    fn note_refused<'a>(
        &'a self,
        device: &'a Device,
        message: String,
    ) -> futures::future::BoxFuture<'a, ()> {
        use futures::FutureExt;
        async move {
            let block = CredentialBlock {
                fingerprint: self.fingerprint(device),
                message,
                at: Utc::now(),
            };
            if let Err(e) = self.store.set_credential_block(&device.id, Some(block)).await {
                tracing::debug!(error = %e, device_id = %device.id, "could not share a credentials refusal");
            }
        }
        .boxed()
    }
}

/// What a terminal whose credentials are blocked reports.
fn blocked_result(block: &CredentialBlock) -> SyncResult {
    let ago = (Utc::now() - block.at).num_seconds().max(0);
    SyncResult::new(
        SyncStatus::Partial,
        SyncStep::Device,
        format!(
            "Not called: this terminal refused this username and password {ago} s ago ({}). Fix the credentials in the devices table (or HIKVISION_PASSWORD); calls resume as soon as they change",
            block.message
        ),
    )
    .with_code(ServiceCode::CredentialsBlocked)
}
