//! The Supabase project's token signing keys (`{SUPABASE_URL}/auth/v1/.well-known/jwks.json`),
//! fetched on first use, cached, and fetched again when a token names a key id (`kid`) the cache
//! does not know (key rotation) or the cache is older than [`MAX_AGE`]. Downloads are single-flight
//! and at most one per `min_refresh`, so a stream of tokens with a made-up `kid` cannot turn the
//! service into a JWKS hammer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// Keys older than this are re-read before use (a stale copy still serves if the refresh fails).
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// Connect timeout of a JWKS download.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Total timeout of a JWKS download.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS larger than this is not a JWKS.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// One verification key of the set.
pub struct JwkKey {
    /// The key.
    pub key: DecodingKey,
    /// The only algorithm it verifies.
    pub alg: Algorithm,
}

/// What the cache knows about a `kid`.
pub enum Lookup {
    /// The key.
    Found(Arc<JwkKey>),
    /// The project does not publish such a key (after a refresh, or within the refresh interval).
    Unknown,
    /// The keys could not be downloaded; the reason, for the logs and the 503.
    Unavailable(String),
}

#[derive(Default)]
struct Snapshot {
    keys: HashMap<String, Arc<JwkKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

/// The cached key set of one project.
pub struct JwksCache {
    url: Url,
    http: reqwest::Client,
    min_refresh: Duration,
    snapshot: RwLock<Snapshot>,
    fetch: Mutex<()>,
}

impl JwksCache {
    /// A cache for `url`, downloading at most once per `min_refresh` for unknown key ids.
    pub fn new(url: Url, min_refresh: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self {
            url,
            http,
            min_refresh,
            snapshot: RwLock::default(),
            fetch: Mutex::new(()),
        })
    }

    /// Where the keys come from.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The key `kid`, downloading the set when it is unknown or old and the interval allows.
    pub async fn key(&self, kid: &str) -> Lookup {
        if let Some(found) = fresh_key(&*self.snapshot.read().await, kid) {
            return Lookup::Found(found);
        }
        // One download at a time; whoever waited re-checks what the previous one brought.
        let _single_flight = self.fetch.lock().await;
        let may_fetch = {
            let snap = self.snapshot.read().await;
            if let Some(found) = fresh_key(&snap, kid) {
                return Lookup::Found(found);
            }
            snap.last_attempt
                .is_none_or(|t| t.elapsed() >= self.min_refresh)
        };
        if may_fetch {
            let result = self.download().await;
            let mut snap = self.snapshot.write().await;
            snap.last_attempt = Some(Instant::now());
            match result {
                Ok(keys) => {
                    tracing::debug!(url = %self.url, keys = keys.len(), "JWKS downloaded");
                    snap.keys = keys;
                    snap.fetched_at = Some(Instant::now());
                    snap.last_error = None;
                }
                Err(reason) => {
                    tracing::warn!(url = %self.url, %reason, "cannot download the project's token signing keys (JWKS)");
                    snap.last_error = Some(reason);
                }
            }
        }
        // A stale key is better than none while the project cannot be reached.
        let snap = self.snapshot.read().await;
        match (snap.keys.get(kid), &snap.last_error) {
            (Some(key), _) => Lookup::Found(key.clone()),
            (None, Some(reason)) => Lookup::Unavailable(reason.clone()),
            (None, None) => Lookup::Unknown,
        }
    }

    async fn download(&self) -> Result<HashMap<String, Arc<JwkKey>>, String> {
        let mut response = self
            .http
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("no answer within {} s", FETCH_TIMEOUT.as_secs())
                } else if e.is_connect() {
                    "cannot connect".to_string()
                } else {
                    "request failed".to_string()
                }
            })?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| "the reply was cut off".to_string())?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!("the reply is larger than {MAX_BODY_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

fn fresh_key(snap: &Snapshot, kid: &str) -> Option<Arc<JwkKey>> {
    let fresh = snap.fetched_at.is_some_and(|t| t.elapsed() < MAX_AGE);
    fresh.then(|| snap.keys.get(kid).cloned()).flatten()
}

/// The usable signing keys of a JWKS document: ES256 (P-256) and RS256 keys with a `kid`, meant for
/// signatures. Others (encryption keys, other curves, keys without id) are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<JwkKey>>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| "the reply is not JSON".to_string())?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the reply has no 'keys' list".to_string())?;
    Ok(keys
        .iter()
        .filter_map(|k| {
            let kid = k.get("kid")?.as_str()?.to_string();
            let key = parse_key(k)?;
            Some((kid, Arc::new(key)))
        })
        .collect())
}

fn parse_key(k: &Value) -> Option<JwkKey> {
    let text = |name: &str| k.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = k.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|o| o.as_str() == Some("verify"))
    {
        return None;
    }
    let alg = text("alg");
    match text("kty")? {
        "EC" if text("crv")? == "P-256" && alg.is_none_or(|a| a == "ES256") => Some(JwkKey {
            key: DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
            alg: Algorithm::ES256,
        }),
        "RSA" if alg.is_none_or(|a| a == "RS256") => Some(JwkKey {
            key: DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
            alg: Algorithm::RS256,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_es256_and_rs256_signing_keys_only() {
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "ec", "use": "sig",
             "key_ops": ["verify"], "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "RSA", "kid": "rsa", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
            "not an object"
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).expect("parses");
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ec", "rsa"]);
        assert_eq!(keys["ec"].alg, Algorithm::ES256);
        assert_eq!(keys["rsa"].alg, Algorithm::RS256);
    }

    #[test]
    fn a_reply_that_is_not_a_key_set_is_an_error() {
        assert!(parse_jwks(b"<html>").is_err());
        assert!(parse_jwks(b"{\"keys\": 3}").is_err());
        assert!(parse_jwks(b"{\"keys\": []}").is_ok_and(|k| k.is_empty()));
    }
}
