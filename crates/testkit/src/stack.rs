//! The test stack of `scripts/test-stack.sh` (PostgreSQL + a PostgREST-compatible server), as its
//! `stack.env` describes it to the tests.

/// Set by `./scripts/test` (and so CI): a missing stack fails the run instead of skipping the
/// tests that need it.
const REQUIRE_STACK: &str = "HS_TEST_REQUIRE_STACK";

/// Where the running test stack is.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The PostgREST-compatible server (`HS_TEST_REST_URL`).
    pub rest_url: String,
    /// Its service-role key (`HS_TEST_SERVICE_KEY`).
    pub service_key: String,
    /// The PostgreSQL superuser URL (`HS_TEST_DATABASE_URL`).
    pub database_url: String,
}

impl Stack {
    /// The stack from the environment; `None` (the caller skips, after a message) when it is not
    /// running. Panics instead when `HS_TEST_REQUIRE_STACK` is set: then a skip would hide tests.
    pub fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok();
        let found = (
            var("HS_TEST_REST_URL"),
            var("HS_TEST_SERVICE_KEY"),
            var("HS_TEST_DATABASE_URL"),
        );
        if let (Some(rest_url), Some(service_key), Some(database_url)) = found {
            return Some(Self {
                rest_url,
                service_key,
                database_url,
            });
        }
        let message = "the PostgreSQL + PostgREST test stack is not running (HS_TEST_REST_URL, \
             HS_TEST_SERVICE_KEY, HS_TEST_DATABASE_URL unset): start it with \
             `scripts/test-stack.sh start` and `set -a; source <(scripts/test-stack.sh env)`, or \
             run ./scripts/test";
        assert!(std::env::var_os(REQUIRE_STACK).is_none(), "{message}");
        eprintln!("SKIPPED: {message}");
        None
    }
}
