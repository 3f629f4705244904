//! The benches' runtime: a multi-threaded tokio runtime whose result becomes the exit status.

use std::future::Future;
use std::process::ExitCode;

/// The error type of the benches: any error, with a message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a bench's `run` on a multi-threaded runtime and turns its result into the exit status.
/// Background tasks (a job engine, a claims heartbeat) are not waited for.
pub fn block_on_bench(run: impl Future<Output = Result<(), BoxError>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run);
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
