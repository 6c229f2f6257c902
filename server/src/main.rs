use clap::Parser;
use server::config::Cli;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long work still going on when the server has stopped may hold up the exit. Dropping a
/// runtime waits, without end, for every blocking task that has started; one stuck in a system
/// call would keep a stopped server alive until the service manager kills it.
const EXIT_WAIT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::config::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("autopilot: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(server::run(cli));
    let stopping = Instant::now();
    runtime.shutdown_timeout(EXIT_WAIT);
    if stopping.elapsed() >= EXIT_WAIT {
        tracing::warn!(
            "blocking work was still going on {} s after the server stopped; exiting anyway",
            EXIT_WAIT.as_secs()
        );
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("autopilot: {err:#}");
            ExitCode::FAILURE
        }
    }
}
