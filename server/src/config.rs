//! Command line and environment. Every setting is a flag with an environment variable behind it.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    Serve(Box<ServeArgs>),
    /// Manage people: add, change password, disable, enable, list.
    #[command(subcommand)]
    User(crate::cli::UserCommand),
    /// Manage bearer tokens for scripts.
    #[command(subcommand)]
    Token(crate::cli::TokenCommand),
    /// Invite links: create (prints the link), list, revoke.
    #[command(subcommand)]
    Invite(crate::cli::InviteCommand),
    /// Database tasks: copy a whole board into another database.
    #[command(subcommand)]
    Db(crate::cli::DbCommand),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: expose it through a TLS proxy.
    #[arg(long, env = "AUTOPILOT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub pool: PoolArgs,
    /// The built site (wasm, JS, CSS, public files), as laid out by `cargo leptos build`.
    /// Default: `site/` next to the binary, else `../site` (where cargo-leptos puts it), so
    /// the server runs the same from any directory.
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// The URL people use to reach the board, e.g. `https://board.example.com`. With https,
    /// cookies are marked `Secure`; it is also the only origin allowed to post with a session.
    #[arg(long, env = "AUTOPILOT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Sign people out after this many minutes without a request.
    #[arg(long, env = "AUTOPILOT_SESSION_IDLE_MINUTES", default_value_t = 480,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_idle_minutes: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed, as a comma list of addresses or
    /// networks (`10.0.0.1,192.168.0.0/16`). Without it the client address is the peer's.
    #[arg(long, env = "AUTOPILOT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sites allowed to embed the feedback widget (CORS on the feedback route only), as a comma
    /// list of origins (`https://shop.example`). `*` allows any site, only when written out.
    #[arg(long, env = "AUTOPILOT_FEEDBACK_ORIGINS", value_delimiter = ',')]
    pub feedback_origins: Vec<String>,
    /// Feedback the public may file in one day (UTC), from everyone together, on top of the
    /// per-minute limits: the widget cannot fill the board overnight.
    #[arg(long, env = "AUTOPILOT_FEEDBACK_PER_DAY", default_value_t = FEEDBACK_PER_DAY,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub feedback_per_day: u32,
    /// File a `bug` issue when a request panics or fails with a 5xx (`1` to turn on).
    #[arg(long, env = "AUTOPILOT_SELF_HEAL", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub self_heal: bool,
    /// Models an issue may ask for instead of the runner's default, as a comma list
    /// (`claude-opus-4-1,claude-sonnet-4-5`).
    #[arg(long, env = "AUTOPILOT_MODELS", value_delimiter = ',')]
    pub models: Vec<String>,
    /// A client must send its request headers within this many seconds (slow clients and idle
    /// kept-alive connections are closed).
    #[arg(long, env = "AUTOPILOT_HEADER_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout_seconds: u64,
    /// A request, its body included, must be answered within this many seconds (408 past it;
    /// live streams are not cut).
    #[arg(long, env = "AUTOPILOT_REQUEST_TIMEOUT_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_seconds: u64,
    /// Most connections open at once; more wait to be accepted.
    #[arg(long, env = "AUTOPILOT_MAX_CONNECTIONS", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(16..))]
    pub max_connections: u32,
    /// Most requests handled at once, live streams aside (those are capped per person below);
    /// more wait a few seconds for a turn, then get a 503.
    #[arg(long, env = "AUTOPILOT_MAX_REQUESTS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests: u32,
    /// Most live streams (open boards, followed run logs) one person or token keeps open at
    /// once; more get a 429.
    #[arg(long, env = "AUTOPILOT_MAX_STREAMS_PER_PERSON", default_value_t = STREAMS_PER_PERSON,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_person: u32,
    /// Who may read `/metrics`: `admin` (an admin: bearer token or session), `open` (anyone who can reach
    /// the server: only behind a private network) or `off`.
    #[arg(long, env = "AUTOPILOT_METRICS", value_enum, default_value_t = MetricsAccess::Admin)]
    pub metrics: MetricsAccess,
    /// Sign people out this many hours after they signed in, however active.
    #[arg(long, env = "AUTOPILOT_SESSION_MAX_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub session_max_hours: u32,
    #[command(flatten)]
    pub sign_in: SignInArgs,
    #[command(flatten)]
    pub runner: RunnerArgs,
}

/// Single sign-on with an OpenID Connect provider, and who may still use a password. See the
/// README's "Single sign-on".
#[derive(Debug, Clone, Default, Args)]
pub struct SignInArgs {
    /// The provider's issuer URL, e.g. `https://accounts.google.com`. Needs
    /// AUTOPILOT_PUBLIC_URL (the redirect URI is `<public URL>/auth/oidc/callback`).
    #[arg(long, env = "AUTOPILOT_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "AUTOPILOT_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// Better: AUTOPILOT_OIDC_CLIENT_SECRET_FILE (kept out of the environment).
    #[arg(long, env = "AUTOPILOT_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    #[arg(long, env = "AUTOPILOT_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The button says "Sign in with <label>".
    #[arg(long, env = "AUTOPILOT_OIDC_LABEL", default_value = "single sign-on")]
    pub oidc_label: String,
    /// Email domains whose people may come in on their first sign-in (comma list).
    #[arg(long, env = "AUTOPILOT_OIDC_ALLOWED_DOMAINS", value_delimiter = ',')]
    pub oidc_allowed_domains: Vec<String>,
    /// Groups (in the groups claim) whose members may come in (comma list).
    #[arg(long, env = "AUTOPILOT_OIDC_ALLOWED_GROUPS", value_delimiter = ',')]
    pub oidc_allowed_groups: Vec<String>,
    /// Groups whose members come in as admins (comma list).
    #[arg(long, env = "AUTOPILOT_OIDC_ADMIN_GROUPS", value_delimiter = ',')]
    pub oidc_admin_groups: Vec<String>,
    /// The ID token claim that lists a person's groups.
    #[arg(long, env = "AUTOPILOT_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,
    /// Who may sign in with a password: `on` (everyone), `admins` (the break-glass way in),
    /// or `off`.
    #[arg(long, env = "AUTOPILOT_PASSWORD_SIGNIN", default_value = "on")]
    pub password_signin: app::api::PasswordSignIn,
}

impl SignInArgs {
    /// The provider's settings, or `None` when no issuer is set. Refuses half a setup.
    pub fn oidc(
        &self,
        public_url: Option<&str>,
    ) -> anyhow::Result<Option<crate::oidc::OidcSettings>> {
        let Some(issuer) = self
            .oidc_issuer
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
        else {
            if self.password_signin == app::api::PasswordSignIn::Off {
                anyhow::bail!(
                    "AUTOPILOT_PASSWORD_SIGNIN=off needs single sign-on (AUTOPILOT_OIDC_ISSUER): \
                     nobody could sign in"
                );
            }
            return Ok(None);
        };
        let public = public_url.and_then(origin_of).ok_or_else(|| {
            anyhow::anyhow!(
                "single sign-on (AUTOPILOT_OIDC_ISSUER) needs AUTOPILOT_PUBLIC_URL, the board's \
                 address as people reach it: the provider sends them back to \
                 <AUTOPILOT_PUBLIC_URL>/auth/oidc/callback"
            )
        })?;
        let client_id = self
            .oidc_client_id
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| anyhow::anyhow!("AUTOPILOT_OIDC_CLIENT_ID is missing"))?;
        let client_secret = match (&self.oidc_client_secret, &self.oidc_client_secret_file) {
            (Some(_), Some(_)) => anyhow::bail!(
                "set AUTOPILOT_OIDC_CLIENT_SECRET or AUTOPILOT_OIDC_CLIENT_SECRET_FILE, not both"
            ),
            (Some(secret), None) => Some(secret.trim().to_string()),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "reading AUTOPILOT_OIDC_CLIENT_SECRET_FILE {}: {e}",
                            file.display()
                        )
                    })?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        let list = |items: &[String], lower: bool| -> Vec<String> {
            items
                .iter()
                .map(|i| i.trim().trim_start_matches('@'))
                .filter(|i| !i.is_empty())
                .map(|i| {
                    if lower {
                        i.to_lowercase()
                    } else {
                        i.to_string()
                    }
                })
                .collect()
        };
        Ok(Some(crate::oidc::OidcSettings {
            issuer: issuer.to_string(),
            client_id,
            client_secret,
            redirect_uri: format!("{public}/auth/oidc/callback"),
            label: self.oidc_label.trim().to_string(),
            allowed_domains: list(&self.oidc_allowed_domains, true),
            allowed_groups: list(&self.oidc_allowed_groups, false),
            admin_groups: list(&self.oidc_admin_groups, false),
            groups_claim: self.oidc_groups_claim.trim().to_string(),
        }))
    }
}

/// The agent runner's settings (the original's names, plus a few).
#[derive(Debug, Clone, Args)]
pub struct RunnerArgs {
    /// Run the agent runner in this process (`1`). Off by default: no agent can ever run.
    #[arg(long = "runner", env = "AUTOPILOT_RUNNER", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub enabled: bool,
    /// The git checkout the agent works in (issue worktrees are made from it).
    #[arg(long, env = "AUTOPILOT_WORKDIR", default_value = ".")]
    pub workdir: std::path::PathBuf,
    /// Let the agent work on a checkout of Autopilot itself (`1`). Refused by default: started
    /// from its own checkout (as `scripts/run.sh` is), the default workdir `.` is Autopilot.
    #[arg(long, env = "AUTOPILOT_WORKDIR_IS_AUTOPILOT", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub workdir_is_autopilot: bool,
    /// Where issue worktrees are made (default: `<checkout>.autopilot-worktrees` next to the
    /// checkout). Not inside a `.git` directory: the Claude Code CLI refuses to write there.
    #[arg(long, env = "AUTOPILOT_WORKTREES_DIR")]
    pub worktrees_dir: Option<std::path::PathBuf>,
    /// The Claude Code CLI.
    #[arg(long, env = "AUTOPILOT_CLAUDE_BIN", default_value = "claude")]
    pub claude_bin: String,
    /// The agent that works an issue that asks for none (see `docs/agents/`).
    #[arg(long, env = "AUTOPILOT_AGENT", default_value = crate::agents::CLAUDE)]
    pub agent: String,
    /// The agents the board offers besides the default, as a comma list (`gemini,codex`).
    #[arg(long, env = "AUTOPILOT_AGENTS", value_delimiter = ',')]
    pub agents: Vec<String>,
    /// A TOML file that adds ACP agents (or replaces built-in ones): see `server/src/agents.rs`.
    #[arg(long, env = "AUTOPILOT_AGENTS_FILE")]
    pub agents_file: Option<std::path::PathBuf>,
    /// How often an idle runner looks for ready issues.
    #[arg(long, env = "AUTOPILOT_POLL_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(3..))]
    pub poll_seconds: u64,
    /// Push the branch and open a pull request with `gh` (`1`).
    #[arg(long, env = "AUTOPILOT_PUSH", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub push: bool,
    /// The GitHub CLI, for opening pull requests when pushing.
    #[arg(long, env = "AUTOPILOT_GH_BIN", default_value = "gh")]
    pub gh_bin: String,
    /// How many issues this process works at once, each in its own worktree (1 to 32).
    #[arg(long, env = "AUTOPILOT_RUNNER_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=32))]
    pub concurrency: u32,
    /// This runner's name on the board (default: host-pid; `<name>#1`… with several slots).
    #[arg(long, env = "AUTOPILOT_AGENT_ID")]
    pub agent_id: Option<String>,
    #[arg(long, env = "AUTOPILOT_COMMIT_NAME", default_value = "Autopilot")]
    pub commit_name: String,
    #[arg(
        long,
        env = "AUTOPILOT_COMMIT_EMAIL",
        default_value = "autopilot@localhost"
    )]
    pub commit_email: String,
    /// Branch that issue branches are cut from (default: the checkout's current branch).
    #[arg(long, env = "AUTOPILOT_BASE_BRANCH")]
    pub base_branch: Option<String>,
    /// Stop the agent after this long.
    #[arg(long, env = "AUTOPILOT_TIMEOUT_SECONDS", default_value_t = 1200,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_seconds: u64,
    /// Passed to the agent as `--model` when the issue names none (unset: the CLI's default).
    #[arg(long, env = "AUTOPILOT_MODEL")]
    pub model: Option<String>,
    /// Passed to the agent as `--max-turns` (unset: the CLI's own limit).
    #[arg(long, env = "AUTOPILOT_MAX_TURNS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_turns: Option<u32>,
    /// The most one run may spend, in dollars (passed to the CLI as `--max-budget-usd`); a run
    /// that reaches it is stopped, blocked with what it spent, and nothing is committed.
    #[arg(long, env = "AUTOPILOT_MAX_RUN_USD", value_parser = dollars)]
    pub max_run_usd: Option<f64>,
    /// How long a claim lasts without a heartbeat before the issue goes back to ready.
    #[arg(long, env = "AUTOPILOT_LEASE_SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(3..))]
    pub lease_seconds: u64,
    /// More paths the agent may not change, besides the built-in ones (comma list; `dir/` or
    /// a file name, at any depth).
    #[arg(long, env = "AUTOPILOT_PROTECTED_PATHS", value_delimiter = ',')]
    pub protected_paths: Vec<String>,
    /// Replaces the built-in protected paths (`DEFAULT_PROTECTED_PATHS`: git's files, CI
    /// configuration, agent instructions) with this list; said loudly at start-up.
    #[arg(long, env = "AUTOPILOT_PROTECTED_PATHS_REPLACE", value_delimiter = ',')]
    pub protected_paths_replace: Option<Vec<String>>,
    /// Environment variables the agent may see besides what the CLI needs (comma list of
    /// names). The agent never inherits the rest of the server's environment.
    #[arg(long, env = "AUTOPILOT_AGENT_ENV", value_delimiter = ',')]
    pub agent_env: Vec<String>,
    /// The bubblewrap program every agent runs inside (see the README's threat model).
    #[arg(long, env = "AUTOPILOT_BWRAP_BIN", default_value = "bwrap")]
    pub bwrap_bin: String,
    /// Whether the agent may use the network (`on`: it needs its vendor's API; `off`: for an
    /// agent that talks to nothing, or to a model on a socket made writable below).
    #[arg(long, env = "AUTOPILOT_AGENT_NETWORK", default_value = "on", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub agent_network: bool,
    /// More paths hidden from the agent, besides the built-in ones (comma list).
    #[arg(long, env = "AUTOPILOT_SANDBOX_HIDE", value_delimiter = ',')]
    pub sandbox_hide: Vec<std::path::PathBuf>,
    /// Paths shown to the agent read-only even though they lie under a hidden one, e.g. a
    /// toolchain under the runner's HOME (comma list).
    #[arg(long, env = "AUTOPILOT_SANDBOX_READ", value_delimiter = ',')]
    pub sandbox_read: Vec<std::path::PathBuf>,
    /// Paths the agent may write besides its worktree, e.g. a shared build cache (comma list).
    #[arg(long, env = "AUTOPILOT_SANDBOX_WRITABLE", value_delimiter = ',')]
    pub sandbox_writable: Vec<std::path::PathBuf>,
    /// The most files one run may change; a run over it is blocked, nothing committed.
    #[arg(long, env = "AUTOPILOT_MAX_CHANGED_FILES", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_changed_files: u32,
    /// The most bytes (in MiB) the files one run changes may hold; over it the run is blocked,
    /// nothing committed. Also the largest file the agent can write at all.
    #[arg(long, env = "AUTOPILOT_MAX_CHANGE_MIB", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_change_mib: u32,
    /// With push on: how many times a pull request's failing checks are sent back to the agent
    /// (each a run that fixes them); after that the issue is blocked for a person. 0: never.
    #[arg(long, env = "AUTOPILOT_CI_FIX_ATTEMPTS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=20))]
    pub ci_fix_attempts: u32,
    /// With push on: how often (seconds) the pull requests of issues in review are read (a
    /// few calls to GitHub each).
    #[arg(long, env = "AUTOPILOT_PR_POLL_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub pr_poll_seconds: u64,
    /// The server's own places the agent must not see (its data directory and database file),
    /// filled in by the server before the runner starts.
    #[arg(skip)]
    pub server_paths: Vec<std::path::PathBuf>,
}

/// What the agent may never change, whatever an issue asks: git's own files, CI of every kind
/// (a pushed branch runs it, secrets and all, before anyone reviews), and the instructions and
/// tool settings of coding agents (a later run on the branch would obey them).
pub const DEFAULT_PROTECTED_PATHS: &[&str] = &[
    // git
    ".git/",
    ".gitattributes",
    ".gitmodules",
    // CI and hooks that run on push or checkout
    ".github/",
    ".ci/",
    ".gitlab-ci.yml",
    ".circleci/",
    "Jenkinsfile",
    ".buildkite/",
    ".travis.yml",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    ".drone.yml",
    ".woodpecker/",
    ".woodpecker.yml",
    ".husky/",
    ".pre-commit-config.yaml",
    ".envrc",
    // coding agents' instructions and tools
    "CLAUDE.md",
    "CLAUDE.local.md",
    "AGENTS.md",
    "AGENT.md",
    "GEMINI.md",
    ".mcp.json",
    ".claude.json",
    ".claude/",
    ".codex/",
    ".gemini/",
    ".opencode/",
    "opencode.json",
    ".cursor/",
    ".cursorrules",
    ".windsurfrules",
];

impl RunnerArgs {
    /// The agents the board offers (the default first), from the catalogue.
    pub fn offered_agents(&self) -> anyhow::Result<Vec<crate::agents::AgentSpec>> {
        let catalogue = crate::agents::catalogue(&self.claude_bin, self.agents_file.as_deref())?;
        crate::agents::offered(&catalogue, &self.agent, &self.agents)
    }

    /// The protected paths in force: the built-in ones plus `AUTOPILOT_PROTECTED_PATHS`, or
    /// only `AUTOPILOT_PROTECTED_PATHS_REPLACE` when that is set.
    pub fn protected_paths(&self) -> Vec<String> {
        let named = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        };
        let mut paths = match &self.protected_paths_replace {
            Some(only) => named(only),
            None => DEFAULT_PROTECTED_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect(),
        };
        for extra in named(&self.protected_paths) {
            if !paths.contains(&extra) {
                paths.push(extra);
            }
        }
        paths
    }
}

/// Public feedback taken in a day, unless set otherwise.
const FEEDBACK_PER_DAY: u32 = 1000;

/// How issues arrive without a person at the board.
#[derive(Debug, Clone)]
pub struct Intake {
    /// Sites allowed to post feedback from their pages (checked with [`feedback_origins`]).
    pub feedback_origins: Vec<String>,
    /// Feedback taken in a day (AUTOPILOT_FEEDBACK_PER_DAY).
    pub feedback_per_day: u32,
    /// File a bug when a request fails.
    pub self_heal: bool,
    /// Models an issue may name (AUTOPILOT_MODELS).
    pub models: Vec<String>,
    /// Agents an issue may name, the default first (AUTOPILOT_AGENT, AUTOPILOT_AGENTS).
    pub agents: Vec<String>,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            feedback_origins: Vec::new(),
            feedback_per_day: FEEDBACK_PER_DAY,
            self_heal: false,
            models: Vec::new(),
            agents: vec![crate::agents::CLAUDE.to_string()],
        }
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsAccess {
    #[default]
    Admin,
    Open,
    Off,
}

/// Live streams one person may keep open, unless set otherwise.
const STREAMS_PER_PERSON: u32 = 16;

/// What a server lets each caller hold, and who reads its figures.
#[derive(Debug, Clone, Copy)]
pub struct Serving {
    pub max_streams_per_person: usize,
    pub metrics: MetricsAccess,
}

impl Default for Serving {
    fn default() -> Self {
        Serving {
            max_streams_per_person: STREAMS_PER_PERSON as usize,
            metrics: MetricsAccess::default(),
        }
    }
}

/// The feedback origins, checked: each `scheme://host[:port]` exactly, or `*`.
pub fn feedback_origins(raw: &[String]) -> anyhow::Result<Vec<String>> {
    raw.iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| match (o, origin_of(o)) {
            ("*", _) => Ok("*".to_string()),
            (o, Some(origin)) if origin == o.to_ascii_lowercase() => Ok(origin),
            (o, _) => Err(anyhow::anyhow!(
                "AUTOPILOT_FEEDBACK_ORIGINS: '{o}' is not an origin like https://shop.example"
            )),
        })
        .collect()
}

/// An amount of dollars above zero (`0.50`, `5`).
fn dollars(text: &str) -> Result<f64, String> {
    match text.trim().trim_start_matches('$').parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd > 0.0 => Ok(usd),
        _ => Err(format!(
            "'{text}' is not an amount of dollars above zero, like 2.50"
        )),
    }
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_net(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("'{text}' is not an IP address or network"))
}

/// The database connection pool of a server or runner.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most database connections this process keeps open (on PostgreSQL, count them against
    /// the server's `max_connections` across every process).
    #[arg(long, env = "AUTOPILOT_DB_MAX_CONNECTIONS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(2..))]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it fails with a 503 (the
    /// database is away or overloaded) instead of hanging.
    #[arg(long, env = "AUTOPILOT_DB_ACQUIRE_TIMEOUT_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_acquire_timeout_seconds: u64,
    /// SQLite only: how long a write waits for another process's write (the CLI, a backup)
    /// to finish before it fails with a 503.
    #[arg(long, env = "AUTOPILOT_DB_BUSY_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub db_busy_timeout_seconds: u64,
}

impl PoolArgs {
    pub fn open_options(&self) -> app::store::OpenOptions {
        app::store::OpenOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.db_acquire_timeout_seconds),
            busy_timeout: std::time::Duration::from_secs(self.db_busy_timeout_seconds),
            create_if_missing: true,
        }
    }
}

/// Where the board's data lives: the same two settings for the server and every command.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// The database: `sqlite:///path/to/autopilot.db` or `postgres://user@host/db`.
    /// Default: `autopilot.db` in the data directory (the server creates it if missing).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The directory of the default database. Default: `$STATE_DIRECTORY` (what systemd's
    /// `StateDirectory=` sets), else the working directory.
    #[arg(long, env = "AUTOPILOT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DatabaseArgs {
    /// Where the server keeps what no agent may read: the data directory (the working
    /// directory by default) and the SQLite database's directory.
    pub fn private_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
            .or_else(|| std::env::current_dir().ok())
            .into_iter()
            .collect();
        let url = self.url();
        if let Some(file) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let file = PathBuf::from(file.split('?').next().unwrap_or(file));
            if let Some(dir) = std::path::absolute(&file)
                .ok()
                .and_then(|f| f.parent().map(PathBuf::from))
            {
                paths.push(dir);
            }
        }
        paths
    }

    /// The database URL in force, a default SQLite file named by its absolute path (so the
    /// log says exactly where the data is).
    pub fn url(&self) -> String {
        if let Some(url) = &self.database_url {
            return url.clone();
        }
        let dir = self
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        let file = dir.join("autopilot.db");
        let file = std::path::absolute(&file).unwrap_or(file);
        format!("sqlite://{}", file.display())
    }
}

/// A database URL fit for a log line or an error: any password replaced by `***`.
pub fn shown_url(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => database_url.to_string(),
    }
}

/// How sign-in behaves, from the flags above.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub policy: app::auth::SessionPolicy,
    /// `scheme://host[:port]` of `--public-url`, when given.
    pub public_origin: Option<String>,
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl ServeArgs {
    /// The built site: `--site-root` as given (made absolute), else `site/` beside the binary
    /// (an installed copy), else `../site` (cargo-leptos' `target/site` for
    /// `target/<profile>/autopilot`).
    pub fn site_root(&self) -> PathBuf {
        if let Some(root) = &self.site_root {
            return std::path::absolute(root).unwrap_or_else(|_| root.clone());
        }
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(PathBuf::from))
            .unwrap_or_default();
        let beside = exe_dir.join("site");
        if beside.is_dir() {
            return beside;
        }
        exe_dir.parent().map(|p| p.join("site")).unwrap_or(beside)
    }

    pub fn http_limits(&self) -> crate::http::Limits {
        crate::http::Limits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_seconds),
            request_timeout: std::time::Duration::from_secs(self.request_timeout_seconds),
            max_connections: self.max_connections as usize,
            max_requests: self.max_requests as usize,
            queue_timeout: crate::http::QUEUE_TIMEOUT,
        }
    }

    pub fn serving(&self) -> Serving {
        Serving {
            max_streams_per_person: self.max_streams_per_person as usize,
            metrics: self.metrics,
        }
    }

    pub fn auth_settings(&self) -> anyhow::Result<AuthSettings> {
        let public_origin = match &self.public_url {
            None => None,
            Some(url) => Some(origin_of(url).ok_or_else(|| {
                anyhow::anyhow!(
                    "AUTOPILOT_PUBLIC_URL must look like https://host[:port], got '{url}'"
                )
            })?),
        };
        Ok(AuthSettings {
            policy: app::auth::SessionPolicy {
                idle_ms: i64::from(self.session_idle_minutes) * 60_000,
                max_lifetime_ms: i64::from(self.session_max_hours) * 3_600_000,
            },
            secure_cookies: public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://")),
            public_origin,
            trusted_proxies: self.trusted_proxies.clone(),
        })
    }
}

/// `https://Board.Example.com:8443/some/path` → `https://board.example.com:8443`.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if host.is_empty() || host.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

/// Whether the operator asked for the agent runner (`AUTOPILOT_RUNNER=1`).
/// Logs to stderr, one line per event; `RUST_LOG` picks the level (default `info`).
/// Logs to stderr: readable lines, or with `AUTOPILOT_LOG_FORMAT=json` one JSON object per
/// line for log shippers.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // The MCP SDK logs a warning for every error it answers: any token holder could fill the
    // log with them. Only errors, unless RUST_LOG says otherwise for it.
    let asked = std::env::var("RUST_LOG").unwrap_or_default();
    if !asked.contains("rmcp") {
        if let Ok(quiet) = "rmcp=error".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let format = std::env::var("AUTOPILOT_LOG_FORMAT").unwrap_or_default();
    let _ = match format.trim() {
        "json" => logs.json().try_init(),
        "" | "text" => logs.try_init(),
        other => {
            let done = logs.try_init();
            tracing::warn!(
                "AUTOPILOT_LOG_FORMAT: '{other}' is neither text nor json; writing text"
            );
            done
        }
    };
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    fn protected(flags: &[&str]) -> Vec<String> {
        use clap::Parser;
        let cli = super::Cli::try_parse_from(["autopilot"].iter().chain(flags)).unwrap();
        cli.serve.runner.protected_paths()
    }

    #[test]
    fn protected_paths_add_to_the_built_in_ones_unless_replaced() {
        let built_in = super::DEFAULT_PROTECTED_PATHS;
        assert_eq!(protected(&[]), built_in);
        for named in [
            ".git/",
            ".gitmodules",
            "AGENTS.md",
            ".mcp.json",
            ".gitlab-ci.yml",
            ".circleci/",
        ] {
            assert!(built_in.contains(&named), "{named}");
        }
        let more = protected(&["--protected-paths", "secrets/, .env,.git/"]);
        assert_eq!(more[..built_in.len()], *built_in);
        assert_eq!(more[built_in.len()..], ["secrets/", ".env"]);
        let only = protected(&["--protected-paths-replace", "vendor/"]);
        assert_eq!(only, ["vendor/"]);
    }

    #[test]
    fn feedback_origins_must_be_origins() {
        let ok = super::feedback_origins(&["https://Shop.example".into(), " * ".into()]).unwrap();
        assert_eq!(ok, ["https://shop.example", "*"]);
        assert!(super::feedback_origins(&["https://shop.example/page".into()]).is_err());
        assert!(super::feedback_origins(&["shop.example".into()]).is_err());
    }

    #[test]
    fn origins_are_scheme_and_authority_only() {
        assert_eq!(
            origin_of("https://Board.Example.com:8443/x?y").as_deref(),
            Some("https://board.example.com:8443")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("https://user@evil"), None);
        assert_eq!(origin_of("board.example.com"), None);
    }
}
