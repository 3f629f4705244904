//! A test that must own its process (it measures the process's memory, which every test running
//! beside it in this binary would add to) runs again in a child process of this binary, with
//! `--exact` on its name: the child runs it and nothing else.

use std::process::Command;

/// Set in the child to the name of the test it runs alone.
const ALONE: &str = "HS_TEST_ALONE";

/// Whether this process is the child running test `name` (its path in this binary, e.g.
/// `chaos::memory_stays_flat`) alone. When it is not, runs that child, waits for it and fails
/// when the test failed there: the caller then returns without running the test's body.
pub fn in_own_process(name: &str) -> bool {
    if std::env::var(ALONE).is_ok_and(|n| n == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE, name)
        .output()
        .expect("the test binary runs again");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name}, alone in its process:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "{name} did not run alone:\n{text}"
    );
    eprint!("{text}");
    false
}
