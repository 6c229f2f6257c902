use clap::Parser;
use server::config::{Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    server::config::init_tracing();
    let result = match cli.command {
        Some(Command::Serve(args)) => server::serve(args).await,
        None => server::serve(cli.serve).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("autopilot: {err:#}");
            ExitCode::FAILURE
        }
    }
}
