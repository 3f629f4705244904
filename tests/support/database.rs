//! A database of one test's own on the stack's PostgreSQL, with the project's migrations applied:
//! the durable store and the job engine of a test never see another test's rows or jobs.

use uuid::Uuid;

use super::{Rest, Store};

/// Creates `hs_<id>` with every file of `supabase/migrations/` applied; returns its URL.
/// `None` (the test skips) when the stack is not running, like [`super::Rest::isolated`].
pub async fn fresh_database() -> Option<String> {
    let Ok(admin) = std::env::var("HS_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("HS_TEST_REQUIRE_STACK").is_none(),
            "HS_TEST_DATABASE_URL is not set: start the stack with scripts/test-stack.sh start"
        );
        eprintln!(
            "SKIPPED: the PostgreSQL test stack is not running (scripts/test-stack.sh start)"
        );
        return None;
    };
    let name = format!("hs_{}", &Uuid::new_v4().simple().to_string()[..12]);
    execute(&admin, &format!("create database {name}")).await;
    let mut url = url::Url::parse(&admin).expect("HS_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    let url = url.to_string();
    apply_migrations(&url).await;
    Some(url)
}

/// Applies every file of `supabase/migrations/`, in order, to the database at `url`.
pub async fn apply_migrations(url: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/supabase/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("supabase/migrations is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file).expect("a migration is readable");
        execute(url, &format!("begin;\n{sql}\ncommit;")).await;
    }
}

/// Runs `sql` on the database at `url`.
pub async fn execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connects to the test PostgreSQL");
    let driver = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("SQL failed: {e}"));
    drop(client);
    let _ = driver.await;
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
