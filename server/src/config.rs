//! Command line and environment. Every setting is a flag with an environment variable behind it.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    name = "autopilot",
    version,
    about = "An issue board that a coding agent works from"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `autopilot` alone means `autopilot serve`, with the same flags.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the board and the API (the default).
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: expose it through a TLS proxy.
    #[arg(long, env = "AUTOPILOT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where the data lives. Default: a SQLite file in the working directory, created if missing.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://autopilot.db")]
    pub database_url: String,
    /// The built site (wasm, JS, CSS, public files), as laid out by `cargo leptos build`.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

/// Whether the operator asked for the agent runner (`AUTOPILOT_RUNNER=1`).
pub fn runner_flag_set() -> bool {
    std::env::var("AUTOPILOT_RUNNER").is_ok_and(|v| v.trim() == "1")
}

/// Logs to stderr, one line per event; `RUST_LOG` picks the level (default `info`).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
