//! A database of one test's own on the stack's PostgreSQL, with the project's migrations applied
//! (`hikvision_testkit::database`): the durable store and the job engine of a test never see
//! another test's rows or jobs.

use hikvision_testkit::Stack;

use super::{Rest, Store};

/// A fresh `hs_<id>` with every file of `supabase/migrations/` applied; returns its URL.
/// `None` (the test skips) when the stack is not running, like [`super::Rest::isolated`].
pub async fn fresh_database() -> Option<String> {
    let stack = Stack::from_env()?;
    let database = hikvision_testkit::fresh_database(&stack.database_url, "hs")
        .await
        .expect("a fresh database on the test stack");
    Some(database.url)
}

/// Runs `sql` on the database at `url`.
pub async fn execute(url: &str, sql: &str) {
    hikvision_testkit::execute(url, sql)
        .await
        .unwrap_or_else(|e| panic!("SQL failed: {e}"));
}

/// A REST store on tables of its own (also as its `Rest`) and a database of its own, for `serve`
/// processes; `None` (the test skips) when the stack is not running.
pub async fn rest_and_database() -> Option<(Store, Rest, String)> {
    let (Some(store), Some(database)) = (Store::rest().await, fresh_database().await) else {
        return None;
    };
    let Store::Rest(rest) = &store else {
        unreachable!("Store::rest() makes a REST store")
    };
    let rest = rest.clone();
    Some((store, rest, database))
}
