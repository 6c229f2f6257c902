//! The one contract between the runner and a coding agent, whatever speaks behind it: start on
//! a prompt in a worktree (inside the sandbox, `sandbox.rs`), with a model, a budget and a
//! timeout; stream readable log lines; end with an [`AgentReport`]: the outcome the agent
//! reported, its cost and turns, the session it could be resumed from.
//!
//! Two adapters: Claude Code's own stream-json (`claude.rs`), and the Agent Client Protocol
//! (`acp.rs`) for every agent that speaks it. Both start the agent the same way here: in its
//! own process group (so the timeout or a stop ends everything it started), with only the
//! allowed environment, and a cap on the size of any file it writes.

use super::sandbox::Sandbox;
use crate::agents::{AgentSpec, Protocol};
use serde::Deserialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;

/// Longest result text kept from the agent (it becomes a comment and a commit message).
pub const RESULT_MAX_CHARS: usize = 8 * 1024;
/// How long the agent gets to exit after SIGTERM before the group is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// Variables every agent inherits from the runner's environment: what a CLI and ordinary
/// build tools need to run. Anything else (`DATABASE_URL`, `GH_TOKEN`, cloud keys) stays with
/// the server: a model acting on untrusted issue text must not be able to read it. Each agent
/// adds its own CLI's variables (`AgentSpec::env`).
const AGENT_ENV_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "TZ",
    "TMPDIR",
    "NO_COLOR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
];

/// The agent's environment out of the runner's: the allowlist above, the agent's own
/// variables (`NAME`, or `PREFIX_*` for a family), and the names the operator added
/// (`AUTOPILOT_AGENT_ENV`, exact names only).
pub fn agent_environment<I>(
    vars: I,
    agent: &[String],
    extra: &[String],
) -> Vec<(OsString, OsString)>
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    let allowed = |name: &str| {
        AGENT_ENV_NAMES.contains(&name)
            || name.starts_with("LC_")
            || agent.iter().any(|a| match a.strip_suffix('*') {
                Some(prefix) => !prefix.is_empty() && name.starts_with(prefix),
                None => a == name,
            })
            || extra.iter().any(|e| e.trim() == name)
    };
    vars.into_iter()
        .filter(|(name, _)| name.to_str().is_some_and(allowed))
        .collect()
}

/// An agent found on this host: how to start it, the program and version it was found as,
/// and its home files as written for the sandbox (host file, path under HOME).
#[derive(Clone, Debug)]
pub struct Installed {
    pub spec: AgentSpec,
    pub program: PathBuf,
    pub version: String,
    pub home_files: Vec<(PathBuf, String)>,
}

/// Runs the agent on `job` to its end, the timeout, or `stop`; readable log lines go to `log`.
pub async fn run(
    agent: &Installed,
    job: &AgentJob<'_>,
    log: UnboundedSender<String>,
    stop: impl std::future::Future<Output = Stop>,
) -> anyhow::Result<AgentReport> {
    match agent.spec.protocol {
        Protocol::Claude => super::claude::run(agent, job, log, stop).await,
        Protocol::Acp => super::acp::run(agent, job, log, stop).await,
    }
}

/// The sandboxed command that starts the agent for `job`, before the adapter's own arguments:
/// in its own process group, with its environment and home files, pipes on all three
/// streams, and no file bigger than the job allows.
pub fn command(agent: &Installed, job: &AgentJob<'_>) -> Command {
    let spec = &agent.spec;
    let mut env = agent_environment(std::env::vars_os(), &spec.env, job.extra_env);
    env.extend(spec.set_env.iter().map(|(k, v)| (k.into(), v.into())));
    let mut cmd = job.sandbox.command_with_home(
        &agent.program,
        job.dir,
        env,
        &agent.home_files,
        job.session_dirs,
    );
    cmd.args(spec.command.iter().skip(1))
        .current_dir(job.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.process_group(0);
    let max_file = job.max_file_bytes;
    // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            use nix::sys::resource::{setrlimit, Resource};
            setrlimit(Resource::RLIMIT_FSIZE, max_file, max_file).map_err(std::io::Error::from)
        });
    }
    cmd
}

/// One run of an agent: what it works on and within which limits.
pub struct AgentJob<'a> {
    pub prompt: &'a str,
    pub dir: &'a Path,
    pub timeout: Duration,
    /// The most turns (Claude Code's own limit; the tool calls an ACP agent starts).
    pub max_turns: Option<u32>,
    /// The most one run may spend, in dollars.
    pub max_budget_usd: Option<f64>,
    /// The model, when one is named.
    pub model: Option<&'a str>,
    /// Names the agent inherits on top of its allowlist (`AUTOPILOT_AGENT_ENV`).
    pub extra_env: &'a [String],
    pub sandbox: &'a Sandbox,
    /// The largest file the agent may write (RLIMIT_FSIZE): a runaway or hostile agent cannot
    /// fill the disk with one file.
    pub max_file_bytes: u64,
    /// Paths the agent may not change (the runner refuses its requests to).
    pub protected: &'a [String],
    /// A plan run: the agent may read but change nothing (its plan mode where it has one; the
    /// runner refuses every change it asks for, and keeps nothing it made).
    pub read_only: bool,
    /// The session to resume (the agent's own id for it), if the run continues one.
    pub resume: Option<&'a str>,
    /// The session directories, writable in the agent's HOME: (host dir, under HOME).
    pub session_dirs: &'a [(PathBuf, String)],
}

/// Why a run was stopped from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// An admin cancelled it.
    Cancelled(String),
    /// The runner is shutting down.
    Shutdown,
    /// The runner no longer holds the claim.
    LostClaim,
}

/// How the agent said its work ended, in Claude Code's terms (its `result` line); the ACP
/// adapter fills the same fields from the prompt's stop reason and the usage reported.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct AgentResult {
    /// `success`, `error_max_turns`, `error_max_budget_usd`, `error_during_execution`, …
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub is_error: bool,
    /// The agent's last words: a summary, or `BLOCKED: <question>`.
    pub result: Option<String>,
    pub total_cost_usd: Option<f64>,
    pub duration_ms: Option<i64>,
    pub num_turns: Option<i64>,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
    /// Tool calls refused (by the CLI, or by the runner for an ACP agent):
    /// `{"tool_name": …, "tool_input": {…}}`.
    #[serde(default)]
    pub permission_denials: Vec<serde_json::Value>,
    /// The agent's session, to resume it with.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// What a tool call works on (a file, a command, a URL), for one readable line.
pub fn tool_target(input: &serde_json::Value) -> String {
    ["file_path", "path", "command", "pattern", "url"]
        .iter()
        .find_map(|k| input[*k].as_str())
        .unwrap_or_default()
        .to_string()
}

/// What happened when the agent ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentReport {
    /// The process' exit code. An ACP agent that finished its turn is shut down by the runner:
    /// it counts as 0.
    pub exit_code: Option<i32>,
    pub result: Option<AgentResult>,
    pub timed_out: bool,
    pub stopped: Option<Stop>,
    /// The end of what it wrote on stderr, for error messages.
    pub stderr_tail: String,
    pub elapsed_ms: i64,
    /// Whether it resumed the session it was asked to.
    pub resume: Resume,
}

/// What came of resuming a session.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Resume {
    /// None was asked for.
    #[default]
    NotAsked,
    /// The agent carried on in its earlier session.
    Resumed,
    /// It could not (the agent cannot resume, or no longer has the session): the run did no
    /// work, and the runner starts afresh with the whole thread.
    Failed(String),
}

/// Keeps the last few KiB of what the agent writes on stderr.
pub async fn stderr_tail(stderr: Option<tokio::process::ChildStderr>) -> String {
    let mut tail = Vec::new();
    if let Some(mut stderr) = stderr {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&chunk[..n]);
            if tail.len() > 8192 {
                tail.drain(..tail.len() - 4096);
            }
        }
    }
    String::from_utf8_lossy(&tail).trim().to_string()
}

/// SIGTERM to the agent's whole process group, then SIGKILL after a grace period.
pub async fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = group.and_then(|g| i32::try_from(g).ok()) {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        let pgid = Pid::from_raw(pid);
        if killpg(pgid, Signal::SIGTERM).is_ok() {
            tokio::time::sleep(TERM_GRACE).await;
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// `text` cut to at most `max` characters (the board's [`app::domain::cut`]), saying so.
pub fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    app::domain::cut(&text, max) + " (cut: the agent wrote more)"
}

/// A program by path, or found on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(name);
    if name.contains('/') {
        return path.is_file().then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::{agent_environment, cut};

    #[test]
    fn the_agent_gets_only_the_allowed_environment() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/runner"),
            ("LC_ALL", "C.UTF-8"),
            ("ANTHROPIC_API_KEY", "sk-1"),
            ("CLAUDE_CODE_MAX_RETRIES", "3"),
            ("GEMINI_API_KEY", "g-1"),
            ("DATABASE_URL", "postgresql://autopilot:secret@db/board"),
            ("GH_TOKEN", "ghp_secret"),
            ("AWS_SECRET_ACCESS_KEY", "k"),
            ("AUTOPILOT_PUBLIC_URL", "https://board"),
            ("CARGO_HOME", "/opt/cargo"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let claude = ["ANTHROPIC_*".to_string(), "CLAUDE_*".to_string()];
        let names = |agent: &[String], extra: &[String]| -> Vec<String> {
            agent_environment(vars.clone(), agent, extra)
                .into_iter()
                .map(|(k, _)| k.into_string().unwrap())
                .collect()
        };
        assert_eq!(
            names(&claude, &[]),
            [
                "PATH",
                "HOME",
                "LC_ALL",
                "ANTHROPIC_API_KEY",
                "CLAUDE_CODE_MAX_RETRIES"
            ]
        );
        // Each agent gets its own CLI's variables, not another's.
        let gemini = ["GEMINI_API_KEY".to_string()];
        assert_eq!(
            names(&gemini, &[]),
            ["PATH", "HOME", "LC_ALL", "GEMINI_API_KEY"]
        );
        // A lone `*` is no wildcard.
        assert_eq!(names(&["*".to_string()], &[]), ["PATH", "HOME", "LC_ALL"]);
        // The operator adds names one by one; a prefix is not a wildcard.
        let extra = ["CARGO_HOME".to_string(), " GH_".to_string()];
        assert!(names(&claude, &extra).contains(&"CARGO_HOME".to_string()));
        assert!(!names(&claude, &extra).contains(&"GH_TOKEN".to_string()));
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        assert_eq!(cut("short".into(), 10), "short");
        let long = cut("é".repeat(100), 10);
        assert!(long.ends_with("(cut: the agent wrote more)"));
    }
}
