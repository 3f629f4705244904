//! The endpoints that grant or revoke door access (bulk resync, remove-angajat, the reconcile
//! fix) take an [`Admin`]: the API key, or a user token carrying `AUTH_ADMIN_ROLE` when it is set.
//! Its `actor` is what the audit records: the token's `sub`, "api-key", or "anonymous" when
//! authentication is off (the embedded demo).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::auth::Caller;
use super::error::ApiError;

/// A caller allowed to grant or revoke door access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Who asked, as the audit records it.
    pub actor: String,
}

/// Who asked, as the audit and revocations record it: the token's `sub`, "api-key", or
/// "anonymous" (authentication off, or no caller known).
pub fn actor_of(caller: Option<&Caller>) -> String {
    match caller {
        Some(Caller::ApiKey) => "api-key".to_string(),
        Some(Caller::User { id, .. }) => id.clone(),
        Some(Caller::Anonymous) | None => "anonymous".to_string(),
    }
}

impl Admin {
    /// The admin `caller` is, or why not.
    pub fn of(caller: Option<&Caller>) -> Result<Self, ApiError> {
        let actor = match caller {
            Some(Caller::ApiKey | Caller::Anonymous | Caller::User { admin: true, .. }) => {
                actor_of(caller)
            }
            Some(Caller::User { admin: false, .. }) => {
                return Err(ApiError::Forbidden(
                    "Enrolling, restoring and removing people grants and revokes door access: this needs the administrator role (AUTH_ADMIN_ROLE) on your account, or the API key. Ask an administrator to set it in app_metadata, then sign in again".into(),
                ));
            }
            None => {
                return Err(ApiError::Unauthorized(
                    "Missing credentials: this endpoint needs an administrator's token or the API key".into(),
                ));
            }
        };
        Ok(Self { actor })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::of(parts.extensions.get::<Caller>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_and_the_key_pass_and_each_is_named() {
        let user = |admin| Caller::User {
            id: "u-1".into(),
            admin,
        };
        assert_eq!(
            Admin::of(Some(&Caller::ApiKey)).map(|a| a.actor).ok(),
            Some("api-key".into())
        );
        assert_eq!(
            Admin::of(Some(&user(true))).map(|a| a.actor).ok(),
            Some("u-1".into())
        );
        assert!(matches!(
            Admin::of(Some(&user(false))),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(Admin::of(None), Err(ApiError::Unauthorized(_))));
    }
}
