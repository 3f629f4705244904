//! The per-device push token: terminals cannot sign their pushes, so the URL registered on each
//! terminal carries a token only this service can make (HMAC-SHA256 of the device id with a key
//! of the service), checked in constant time. The token is a secret: it is never logged nor
//! returned by the API.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256's block size, for the HMAC construction (RFC 2104).
const BLOCK: usize = 64;
/// Keeps these tokens apart from any other use of the same key.
const CONTEXT: &[u8] = b"hikvision-sync events push v1\0";

/// Makes and checks push tokens.
#[derive(Clone)]
pub struct PushKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for PushKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushKey(<redacted>)")
    }
}

impl PushKey {
    /// A key derived from the service's secret (the same on every replica).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac(secret, CONTEXT).to_vec(),
        }
    }

    /// The token of `device_id` (64 hex digits).
    pub fn token(&self, device_id: &str) -> String {
        hex::encode(hmac(&self.key, device_id.as_bytes()))
    }

    /// True when `token` is `device_id`'s, compared in constant time.
    pub fn verify(&self, device_id: &str, token: &str) -> bool {
        let expected = self.token(device_id);
        expected.as_bytes().ct_eq(token.as_bytes()).into()
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn each_device_has_its_own_token_and_others_fail() {
        let key = PushKey::new(b"service secret");
        let token = key.token("t1");
        assert!(key.verify("t1", &token));
        assert!(!key.verify("t2", &token));
        assert!(!key.verify("t1", ""));
        assert!(!PushKey::new(b"other").verify("t1", &token));
        assert!(!format!("{key:?}").contains("secret"));
    }
}
