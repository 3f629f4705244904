//! Errors of the directory reads.

use uuid::Uuid;

/// Why employees or terminals could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    /// No Supabase settings.
    #[error(
        "Supabase is not configured: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or run the demo)"
    )]
    NotConfigured,
    /// No employee with that id.
    #[error("No angajat with id {0}")]
    NotFound(Uuid),
    /// Could not connect or the connection broke.
    #[error("Supabase is unreachable ({0}); check SUPABASE_URL and the network")]
    Unreachable(String),
    /// No answer in time.
    #[error("Supabase did not answer within {0} ms")]
    Timeout(u64),
    /// 401/403: the key is wrong or lacks rights.
    #[error(
        "Supabase rejected the service key (HTTP {status}{}); check SUPABASE_SERVICE_ROLE_KEY",
        code_hint(.code)
    )]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// PostgREST error code, if any.
        code: Option<String>,
    },
    /// A PostgREST error reply (`{code, message, details, hint}`).
    #[error("Supabase answered HTTP {status}{}: {message}{}", code_hint(.code), hint_suffix(.hint))]
    Postgrest {
        /// HTTP status.
        status: u16,
        /// PostgREST/PostgreSQL error code (e.g. PGRST205, 42P01).
        code: Option<String>,
        /// Its message.
        message: String,
        /// Its hint.
        hint: Option<String>,
    },
    /// A reply that could not be decoded.
    #[error("Supabase returned data this service cannot read: {0}")]
    InvalidData(String),
}

fn code_hint(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(", code {c}"))
        .unwrap_or_default()
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_deref()
        .filter(|h| !h.is_empty())
        .map(|h| format!(" (hint: {h})"))
        .unwrap_or_default()
}
