//! The project's own Postgres, shared by durable delivery and the event store: whether a failed
//! call is an outage to ride through (the database does not answer) or an error it answered with.

/// A failed database call, classed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbFailure {
    /// The database does not answer (stopped, restarting, unreachable, no connection in time).
    Unavailable(String),
    /// The database answered with an error.
    Failed(String),
}

impl From<tokio_postgres::Error> for DbFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        // The driver's Display carries no credentials; the URL never reaches here.
        if lost_connection(&e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Failed(e.to_string())
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbFailure {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(format!("no database connection: {e}"))
    }
}

/// A broken or refused connection, or the server shutting down (SQLSTATE classes 08 and 57P).
fn lost_connection(e: &tokio_postgres::Error) -> bool {
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    let shutting_down = e.code().is_some_and(|c| is_outage_sqlstate(c.code()));
    e.is_closed() || io || shutting_down
}

/// Whether an error with this SQLSTATE means the database did not answer: the classes of
/// connection failures (08) and of shutdowns (57P).
pub fn is_outage_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P")
}
