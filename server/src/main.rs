use clap::Parser;
use server::config::{Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    server::config::init_tracing();
    let result = match cli.command {
        Some(Command::Serve(args)) => server::serve(*args).await,
        Some(Command::User(command)) => server::cli::run_user(command).await,
        Some(Command::Token(command)) => server::cli::run_token(command).await,
        Some(Command::Invite(command)) => server::cli::run_invite(command).await,
        Some(Command::Db(command)) => server::cli::run_db(command).await,
        None => server::serve(cli.serve).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("autopilot: {err:#}");
            ExitCode::FAILURE
        }
    }
}
