//! Access control for `/api/*` (`/health` and `/ready` stay open).
//!
//! Two kinds of caller are let in:
//! - users of the React app, with their Supabase access token in `Authorization: Bearer <jwt>`,
//!   verified locally: ES256/RS256 tokens against the project's JWKS
//!   (`{SUPABASE_URL}/auth/v1/.well-known/jwks.json`, see [`super::jwks`]), HS256 tokens against the
//!   legacy `SUPABASE_JWT_SECRET`. Every token must be unexpired (with [`LEEWAY_SECS`] of clock
//!   skew), carry `aud` = `authenticated`, `iss` = `{SUPABASE_URL}/auth/v1` (or
//!   `SUPABASE_JWT_ISSUER`) and a `sub`; anonymous sign-ins are refused; when `AUTH_REQUIRED_ROLE`
//!   is set the token must carry that role in `role`, `app_metadata.role` or `app_metadata.roles`
//!   (never `user_metadata`, which users can edit themselves);
//! - servers and curl, with the static `API_KEY` in `x-api-key` (a request that sends `x-api-key` is
//!   judged by it alone; the key is trusted with every route, whatever `AUTH_REQUIRED_ROLE` says).
//!
//! With none of `API_KEY`, `SUPABASE_URL` and `SUPABASE_JWT_SECRET` configured the API is open (the
//! embedded demo), and [`super::router`] says so loudly at start. Failures are 401 (missing,
//! malformed, expired or foreign credentials), 403 (a valid token without the required role) or 503
//! (the signing keys cannot be downloaded), always with the JSON error body. Tokens and keys are
//! never logged nor echoed.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use super::jwks::{JwksCache, Lookup};
use crate::config::Settings;

/// The audience of a signed-in Supabase user's access token.
pub const AUDIENCE: &str = "authenticated";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Who is calling, as established by [`require_auth`] (a request extension for the handlers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Authentication is off.
    Anonymous,
    /// The static API key.
    ApiKey,
    /// A signed-in Supabase user.
    User {
        /// The token's `sub`: the user's id.
        id: String,
        /// The token carries `AUTH_ADMIN_ROLE` (without it: `AUTH_ALL_USERS_ADMIN`).
        admin: bool,
    },
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("anonymous (authentication off)"),
            Self::ApiKey => f.write_str("api key"),
            Self::User { id, .. } => write!(f, "user {id}"),
        }
    }
}

/// The authenticator could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the JWKS client: {0}")]
pub struct AuthSetupError(String);

/// Checks the credentials of `/api/*` requests.
pub struct Authenticator {
    api_key: Option<SecretString>,
    hs256: Option<DecodingKey>,
    jwks: Option<JwksCache>,
    issuer: String,
    required_role: Option<String>,
    admin_role: Option<String>,
    all_users_admin: bool,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("methods", &self.describe())
            .finish()
    }
}

/// The claims this service looks at; read leniently so an odd claim gives a clear 401, not a parse
/// error.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Value,
    #[serde(default)]
    role: Value,
    #[serde(default)]
    app_metadata: Value,
    #[serde(default)]
    is_anonymous: Value,
}

impl Claims {
    fn has_role(&self, role: &str) -> bool {
        let is = |v: &Value| v.as_str() == Some(role);
        is(&self.role)
            || is(&self.app_metadata["role"])
            || self.app_metadata["roles"]
                .as_array()
                .is_some_and(|roles| roles.iter().any(is))
    }
}

impl Authenticator {
    /// The methods configured in `settings`.
    pub fn from_settings(settings: &Settings) -> Result<Self, AuthSetupError> {
        let auth = &settings.auth;
        let jwks = match &auth.jwks_url {
            Some(url) => Some(
                JwksCache::new(url.clone(), auth.jwks_min_refresh)
                    .map_err(|e| AuthSetupError(e.to_string()))?,
            ),
            None => None,
        };
        Ok(Self {
            api_key: settings.api_key.clone(),
            hs256: auth
                .jwt_secret
                .as_ref()
                .map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes())),
            jwks,
            issuer: auth.issuer.clone().unwrap_or_default(),
            required_role: auth.required_role.clone(),
            admin_role: auth.admin_role.clone(),
            all_users_admin: auth.all_users_admin,
        })
    }

    /// No method configured: every request is let in.
    pub fn is_open(&self) -> bool {
        self.api_key.is_none() && !self.accepts_tokens()
    }

    fn accepts_tokens(&self) -> bool {
        self.hs256.is_some() || self.jwks.is_some()
    }

    /// The methods in force, for the start-up log (no secrets).
    pub fn describe(&self) -> String {
        let mut methods = Vec::new();
        if let Some(jwks) = &self.jwks {
            methods.push(format!(
                "ES256/RS256 user tokens (keys from {})",
                jwks.url()
            ));
        }
        if self.hs256.is_some() {
            methods.push("HS256 user tokens (SUPABASE_JWT_SECRET)".to_string());
        }
        if self.accepts_tokens() {
            methods.push(format!("issuer {}", self.issuer));
        }
        if let Some(role) = &self.required_role {
            methods.push(format!("required role {role}"));
        }
        if let Some(role) = &self.admin_role {
            methods.push(format!("admin role {role}"));
        }
        if self.api_key.is_some() {
            methods.push("API key (x-api-key)".to_string());
        }
        if methods.is_empty() {
            "none".to_string()
        } else {
            methods.join(", ")
        }
    }

    /// Who sent `headers`, or why they are turned away.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.is_open() {
            return Ok(Caller::Anonymous);
        }
        if let Some(presented) = headers.get("x-api-key") {
            let Some(expected) = &self.api_key else {
                return Err(ApiError::Unauthorized(
                    "This service does not accept API keys (API_KEY is not set): sign in and send 'Authorization: Bearer <Supabase access token>'".into(),
                ));
            };
            return if constant_time_eq(presented.as_bytes(), expected.expose_secret().as_bytes()) {
                Ok(Caller::ApiKey)
            } else {
                Err(ApiError::Unauthorized(
                    "The API key in x-api-key is not valid".into(),
                ))
            };
        }
        let Some(authorization) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::Unauthorized(self.missing_message().into()));
        };
        if !self.accepts_tokens() {
            return Err(ApiError::Unauthorized(
                "This service does not accept bearer tokens (neither SUPABASE_URL nor SUPABASE_JWT_SECRET is set): send the API key in the x-api-key header".into(),
            ));
        }
        let token = bearer_token(authorization.as_bytes()).ok_or_else(|| {
            ApiError::Unauthorized(
                "The Authorization header must be 'Bearer <Supabase access token>'".into(),
            )
        })?;
        self.verify(token).await
    }

    fn missing_message(&self) -> &'static str {
        match (self.accepts_tokens(), self.api_key.is_some()) {
            (true, true) => {
                "Missing credentials: sign in and send the Supabase access token as 'Authorization: Bearer <token>', or send the API key in the x-api-key header"
            }
            (true, false) => {
                "Missing credentials: sign in and send the Supabase access token as 'Authorization: Bearer <token>'"
            }
            _ => "Missing credentials: send the API key in the x-api-key header",
        }
    }

    async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::Json(_) => ApiError::Unauthorized(
                "The token's header is not one this service accepts: Supabase access tokens are JWTs signed with ES256, RS256 or HS256".into(),
            ),
            _ => ApiError::Unauthorized(
                "The bearer token is not a well-formed JWT: send the session's access_token".into(),
            ),
        })?;
        let jwks_key;
        let key = match header.alg {
            Algorithm::HS256 => self.hs256.as_ref().ok_or_else(|| {
                ApiError::Unauthorized(
                    "HS256 tokens are not accepted (SUPABASE_JWT_SECRET is not set): the project signs with asymmetric keys, so send a token it issued".into(),
                )
            })?,
            Algorithm::ES256 | Algorithm::RS256 => {
                let Some(jwks) = &self.jwks else {
                    return Err(ApiError::Unauthorized(
                        "ES256/RS256 tokens are not accepted (SUPABASE_URL is not set, so the project's signing keys are unknown)".into(),
                    ));
                };
                let Some(kid) = header.kid.as_deref() else {
                    return Err(ApiError::Unauthorized(
                        "The token names no signing key (no 'kid' in its header): send a Supabase access token".into(),
                    ));
                };
                jwks_key = match jwks.key(kid).await {
                    Lookup::Found(key) if key.alg == header.alg => key,
                    Lookup::Found(_) => {
                        return Err(ApiError::Unauthorized(
                            "The token's algorithm does not match its signing key".into(),
                        ));
                    }
                    Lookup::Unknown => {
                        return Err(ApiError::Unauthorized(
                            "The token is signed with a key this project does not publish (revoked, or from another project): sign in again".into(),
                        ));
                    }
                    Lookup::Unavailable(reason) => {
                        return Err(ApiError::AuthUnavailable(format!(
                            "Cannot verify the access token: the project's signing keys could not be downloaded ({reason}); retry shortly"
                        )));
                    }
                };
                &jwks_key.key
            }
            other => {
                return Err(ApiError::Unauthorized(format!(
                    "Tokens signed with {other:?} are not accepted; Supabase access tokens use ES256, RS256 or HS256"
                )));
            }
        };
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation(header.alg))
            .map_err(|e| ApiError::Unauthorized(self.rejection(e.kind())))?
            .claims;
        if claims.is_anonymous == Value::Bool(true) {
            return Err(ApiError::Forbidden(
                "Anonymous sessions cannot use this service: sign in with an account".into(),
            ));
        }
        if let Some(role) = &self.required_role
            && !claims.has_role(role)
        {
            return Err(ApiError::Forbidden(format!(
                "Your account lacks the role '{role}' this service requires: ask an administrator to set app_metadata.role = '{role}' on your user, then sign in again"
            )));
        }
        // Without AUTH_ADMIN_ROLE nobody signed in is an admin unless AUTH_ALL_USERS_ADMIN says
        // so (`serve` refuses to start in that state without the opt-in).
        let admin = self
            .admin_role
            .as_ref()
            .map_or(self.all_users_admin, |r| claims.has_role(r));
        let id = match claims.sub {
            Value::String(s) if !s.is_empty() => s,
            _ => {
                return Err(ApiError::Unauthorized(
                    "The token has no subject ('sub'): send a signed-in user's access token".into(),
                ));
            }
        };
        Ok(Caller::User { id, admin })
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECS;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_audience(&[AUDIENCE]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        v
    }

    fn rejection(&self, kind: &ErrorKind) -> String {
        match kind {
            ErrorKind::ExpiredSignature => {
                "The access token has expired: refresh the Supabase session and retry".into()
            }
            ErrorKind::ImmatureSignature => {
                "The access token is not valid yet (nbf): check the clocks".into()
            }
            ErrorKind::InvalidAudience => format!(
                "The token's audience is not '{AUDIENCE}': send a signed-in user's access token, not the anon or service key"
            ),
            ErrorKind::InvalidIssuer => format!(
                "The token was not issued by this project's auth server (expected issuer {})",
                self.issuer
            ),
            // Which one jsonwebtoken reports first varies (a hash set), so name them all.
            ErrorKind::MissingRequiredClaim(_) => {
                "The token lacks a required claim (exp, aud, iss and sub): send a signed-in user's Supabase access token".into()
            }
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidAlgorithm => {
                "The token's signature is not valid for this project".into()
            }
            _ => {
                "The bearer token is not a well-formed JWT: send the session's access_token".into()
            }
        }
    }
}

/// `Bearer <token>` (scheme case-insensitive) to the token.
fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Lets the request through with its [`Caller`] attached, or answers 401/403/503.
pub async fn require_auth(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match state.auth.authenticate(request.headers()).await {
        Ok(caller) => {
            if caller != Caller::Anonymous {
                tracing::info!(caller = %caller, "authenticated");
            }
            request.extensions_mut().insert(caller);
            Ok(next.run(request).await)
        }
        Err(e) => {
            tracing::info!(reason = %e, "request refused");
            Err(e)
        }
    }
}

/// Compares in time independent of where the bytes differ (`subtle`); only the length shows.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token(b"Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token(b"bearer   abc "), Some("abc"));
        assert_eq!(bearer_token(b"Basic YWRtaW46cGFzcw=="), None);
        assert_eq!(bearer_token(b"Bearer "), None);
        assert_eq!(bearer_token(b"Bearer"), None);
        assert_eq!(bearer_token(&[0xff, 0xfe]), None);
    }

    #[test]
    fn roles_come_from_the_role_claim_or_app_metadata_only() {
        let claims = |v: Value| -> Claims { serde_json::from_value(v).expect("claims") };
        assert!(claims(serde_json::json!({"role": "hr_admin"})).has_role("hr_admin"));
        assert!(
            claims(serde_json::json!({"app_metadata": {"role": "hr_admin"}})).has_role("hr_admin")
        );
        assert!(
            claims(serde_json::json!({"app_metadata": {"roles": ["x", "hr_admin"]}}))
                .has_role("hr_admin")
        );
        assert!(
            !claims(
                serde_json::json!({"user_metadata": {"role": "hr_admin"}, "role": "authenticated"})
            )
            .has_role("hr_admin")
        );
        assert!(!claims(serde_json::json!({"app_metadata": "hr_admin"})).has_role("hr_admin"));
    }

    #[test]
    fn the_api_key_comparison_is_exact() {
        assert!(constant_time_eq(b"key", b"key"));
        assert!(!constant_time_eq(b"key", b"kez"));
        assert!(!constant_time_eq(b"key", b"key2"));
    }
}
