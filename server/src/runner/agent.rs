//! Runs the Claude Code CLI on one prompt, as `../shared/docs/claude-cli.md` describes it:
//! non-interactive (`-p`), edits accepted, git and web tools disallowed, streamed JSON output,
//! the prompt on stdin (never in argv: one argument is capped at 128 KiB, and a long thread
//! would make an issue impossible to run), inside the sandbox (`sandbox.rs`), in its own
//! process group so the whole group can be killed at the timeout or on a stop. Every output
//! line becomes a readable log line as it arrives.

use super::sandbox::Sandbox;
use serde::Deserialize;
use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;

/// Longest output line kept; longer ones are cut (garbage output must not eat memory).
const MAX_LINE: u64 = 256 * 1024;
/// Longest result text kept from the agent (it becomes a comment and a commit message).
const RESULT_MAX_CHARS: usize = 8 * 1024;
/// How long the agent gets to exit after SIGTERM before the group is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// Variables the agent inherits from the runner's environment: what the CLI and ordinary
/// build tools need to run. Anything else (`DATABASE_URL`, `GH_TOKEN`, cloud keys) stays with
/// the server: a model acting on untrusted issue text must not be able to read it.
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
/// Families of variables the agent inherits: locale, and the CLI's own settings and
/// credentials (`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `CLAUDE_CODE_*`).
const AGENT_ENV_PREFIXES: &[&str] = &["LC_", "ANTHROPIC_", "CLAUDE_"];

/// The agent's environment out of the runner's: the allowlist above plus the names the
/// operator added (`AUTOPILOT_AGENT_ENV`).
pub fn agent_environment<I>(vars: I, extra: &[String]) -> Vec<(OsString, OsString)>
where
    I: IntoIterator<Item = (OsString, OsString)>,
{
    vars.into_iter()
        .filter(|(name, _)| {
            let Some(name) = name.to_str() else {
                return false;
            };
            AGENT_ENV_NAMES.contains(&name)
                || AGENT_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
                || extra.iter().any(|e| e.trim() == name)
        })
        .collect()
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

/// The CLI's final `result` line (the fields the runner uses).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ResultLine {
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub is_error: bool,
    pub result: Option<String>,
    pub total_cost_usd: Option<f64>,
    pub duration_ms: Option<i64>,
    pub num_turns: Option<i64>,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
    /// Tool calls the CLI refused (commands outside `acceptEdits`, git, the web):
    /// `{"tool_name": …, "tool_input": {…}}`.
    #[serde(default)]
    pub permission_denials: Vec<serde_json::Value>,
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
    pub exit_code: Option<i32>,
    pub result: Option<ResultLine>,
    pub timed_out: bool,
    pub stopped: Option<Stop>,
    /// The end of what it wrote on stderr, for error messages.
    pub stderr_tail: String,
    pub elapsed_ms: i64,
}

/// How to call the agent.
pub struct AgentCommand<'a> {
    pub bin: &'a str,
    pub prompt: &'a str,
    pub dir: &'a Path,
    pub timeout: Duration,
    pub max_turns: Option<u32>,
    /// The most one run may spend, in dollars (`--max-budget-usd`).
    pub max_budget_usd: Option<f64>,
    /// `--model`, when one is named.
    pub model: Option<&'a str>,
    /// Names the agent inherits on top of the allowlist.
    pub extra_env: &'a [String],
    pub sandbox: &'a Sandbox,
    /// The largest file the agent may write (RLIMIT_FSIZE): a runaway or hostile agent cannot
    /// fill the disk with one file.
    pub max_file_bytes: u64,
}

impl AgentCommand<'_> {
    fn command(&self) -> Command {
        let env = agent_environment(std::env::vars_os(), self.extra_env);
        let mut cmd = self.sandbox.command(Path::new(self.bin), self.dir, env);
        cmd.arg("-p")
            .args(["--permission-mode", "acceptEdits"])
            .args(["--output-format", "stream-json", "--verbose"])
            .args(["--disallowedTools", "Bash(git:*)", "WebFetch", "WebSearch"])
            .args(
                self.max_turns
                    .map(|n| ["--max-turns".to_string(), n.to_string()])
                    .into_iter()
                    .flatten(),
            )
            .args(
                self.max_budget_usd
                    .map(|usd| ["--max-budget-usd".to_string(), usd.to_string()])
                    .into_iter()
                    .flatten(),
            )
            .args(self.model.map(|m| ["--model", m]).into_iter().flatten())
            .current_dir(self.dir)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.process_group(0);
        let max_file = self.max_file_bytes;
        // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
        unsafe {
            cmd.pre_exec(move || {
                use nix::sys::resource::{setrlimit, Resource};
                setrlimit(Resource::RLIMIT_FSIZE, max_file, max_file).map_err(std::io::Error::from)
            });
        }
        cmd
    }

    /// Runs the agent to its end, the timeout, or `stop`. Readable log lines go to `log`.
    pub async fn run(
        &self,
        log: UnboundedSender<String>,
        stop: impl std::future::Future<Output = Stop>,
    ) -> anyhow::Result<AgentReport> {
        let started = std::time::Instant::now();
        let mut child = self
            .command()
            .spawn()
            .map_err(|err| anyhow::anyhow!("cannot start the agent `{}`: {err}", self.bin))?;
        let group = child.id();
        // The prompt goes in on stdin, which is then closed (the CLI reads it to its end).
        let feed = child.stdin.take().map(|mut stdin| {
            let prompt = self.prompt.as_bytes().to_vec();
            tokio::spawn(async move {
                let _ = stdin.write_all(&prompt).await;
                let _ = stdin.shutdown().await;
            })
        });
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();

        let read_stdout = async {
            let mut last_result = None;
            let Some(stdout) = stdout else {
                return last_result;
            };
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                let read = (&mut reader)
                    .take(MAX_LINE)
                    .read_until(b'\n', &mut line)
                    .await;
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if !line.ends_with(b"\n") && line.len() as u64 == MAX_LINE {
                    // Too long: skip to the end of this line.
                    let mut skipped = Vec::new();
                    let _ = reader.read_until(b'\n', &mut skipped).await;
                }
                let text = String::from_utf8_lossy(&line);
                let (readable, result) = describe(text.trim_end());
                if let Some(result) = result {
                    last_result = Some(result);
                }
                if let Some(readable) = readable {
                    let _ = log.send(readable + "\n");
                }
            }
            last_result
        };
        let read_stderr = async {
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
        };
        let finished = async {
            let (result, stderr_tail) = tokio::join!(read_stdout, read_stderr);
            let status = child.wait().await;
            (result, stderr_tail, status)
        };

        let mut report = AgentReport::default();
        tokio::select! {
            (result, stderr_tail, status) = finished => {
                report.result = result;
                report.stderr_tail = stderr_tail;
                report.exit_code = status.ok().and_then(|s| s.code());
            }
            _ = tokio::time::sleep(self.timeout) => {
                report.timed_out = true;
                kill_group(group).await;
            }
            why = stop => {
                report.stopped = Some(why);
                kill_group(group).await;
            }
        }
        if let Some(feed) = feed {
            feed.abort();
        }
        report.elapsed_ms = started.elapsed().as_millis() as i64;
        Ok(report)
    }
}

/// SIGTERM to the agent's whole process group, then SIGKILL after a grace period.
async fn kill_group(group: Option<u32>) {
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

/// One line of stream-json output as a readable log line (or nothing, for noise), and the
/// result if it is the `result` line. Unknown types are skipped; non-JSON is kept, marked.
fn describe(line: &str) -> (Option<String>, Option<ResultLine>) {
    if line.is_empty() {
        return (None, None);
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        let cut: String = line.chars().take(500).collect();
        return (Some(format!("? {cut}")), None);
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    match value["type"].as_str().unwrap_or_default() {
        "system" if value["subtype"] == "init" => {
            let model = text(&value["model"]);
            (Some(format!("▶ agent started (model {model})")), None)
        }
        "assistant" => {
            let mut out = Vec::new();
            for block in value["message"]["content"].as_array().into_iter().flatten() {
                match block["type"].as_str().unwrap_or_default() {
                    "text" => out.push(text(&block["text"])),
                    "tool_use" => {
                        let target = tool_target(&block["input"]);
                        out.push(format!("→ {} {target}", text(&block["name"])));
                    }
                    _ => {}
                }
            }
            let out = out.join("\n");
            ((!out.trim().is_empty()).then_some(out), None)
        }
        "user" => {
            let failed = value["message"]["content"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|b| b["is_error"] == true);
            (
                failed.then(|| "  ✗ the tool reported an error".to_string()),
                None,
            )
        }
        "result" => {
            let mut result: ResultLine = serde_json::from_value(value).unwrap_or_default();
            // What the agent says ends up in a comment and a commit message: bounded.
            result.result = result.result.map(|r| cut(r, RESULT_MAX_CHARS));
            result.errors.truncate(5);
            for error in &mut result.errors {
                if let Some(text) = error.as_str().filter(|t| t.len() > 1000) {
                    *error = cut(text.to_string(), 1000).into();
                }
            }
            let mut summary = format!("■ finished: {}", result.subtype);
            if result.is_error {
                summary.push_str(" (error)");
            }
            if let Some(cost) = result.total_cost_usd {
                summary.push_str(&format!(", ${cost:.4}"));
            }
            if let Some(turns) = result.num_turns {
                summary.push_str(&format!(", {turns} turns"));
            }
            if !result.permission_denials.is_empty() {
                let n = result.permission_denials.len();
                summary.push_str(&format!(", {n} tool call(s) refused"));
            }
            (Some(summary), Some(result))
        }
        _ => (None, None),
    }
}

/// `text` cut to at most `max` characters (the board's [`app::domain::cut`]), saying so.
fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    app::domain::cut(&text, max) + " (cut: the agent wrote more)"
}

#[cfg(test)]
mod tests {
    use super::{agent_environment, cut, describe, RESULT_MAX_CHARS};

    #[test]
    fn the_agent_gets_only_the_allowed_environment() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/runner"),
            ("LC_ALL", "C.UTF-8"),
            ("ANTHROPIC_API_KEY", "sk-1"),
            ("CLAUDE_CODE_MAX_RETRIES", "3"),
            ("DATABASE_URL", "postgresql://autopilot:secret@db/board"),
            ("GH_TOKEN", "ghp_secret"),
            ("AWS_SECRET_ACCESS_KEY", "k"),
            ("AUTOPILOT_PUBLIC_URL", "https://board"),
            ("CARGO_HOME", "/opt/cargo"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let names = |extra: &[String]| -> Vec<String> {
            agent_environment(vars.clone(), extra)
                .into_iter()
                .map(|(k, _)| k.into_string().unwrap())
                .collect()
        };
        assert_eq!(
            names(&[]),
            [
                "PATH",
                "HOME",
                "LC_ALL",
                "ANTHROPIC_API_KEY",
                "CLAUDE_CODE_MAX_RETRIES"
            ]
        );
        // The operator adds names one by one; a prefix is not a wildcard.
        let extra = ["CARGO_HOME".to_string(), " GH_".to_string()];
        assert!(names(&extra).contains(&"CARGO_HOME".to_string()));
        assert!(!names(&extra).contains(&"GH_TOKEN".to_string()));
    }

    #[test]
    fn stream_lines_become_readable_log_lines() {
        let init = r#"{"type":"system","subtype":"init","cwd":"/w","tools":[],"model":"claude-x"}"#;
        assert_eq!(
            describe(init).0.unwrap(),
            "▶ agent started (model claude-x)"
        );
        let write = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Write","input":{"file_path":"HELLO.md","content":"hi"}}]}}"#;
        assert_eq!(describe(write).0.unwrap(), "→ Write HELLO.md");
        let said = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Done."}]}}"#;
        assert_eq!(describe(said).0.unwrap(), "Done.");
        let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"Added HELLO.md","total_cost_usd":0.0123,"num_turns":2,"duration_ms":2143}"#;
        let (line, parsed) = describe(result);
        assert_eq!(line.unwrap(), "■ finished: success, $0.0123, 2 turns");
        let parsed = parsed.unwrap();
        assert_eq!(parsed.result.as_deref(), Some("Added HELLO.md"));
        assert_eq!(parsed.duration_ms, Some(2143));
        // Unknown types are tolerated; garbage is kept, marked.
        assert_eq!(describe(r#"{"type":"rate_limit_event"}"#), (None, None));
        assert_eq!(
            describe("Segmentation fault").0.unwrap(),
            "? Segmentation fault"
        );
        let max_turns = r#"{"type":"result","subtype":"error_max_turns","is_error":false,"errors":["too many turns"]}"#;
        let parsed = describe(max_turns).1.unwrap();
        assert_eq!(parsed.result, None);
        assert_eq!(parsed.errors.len(), 1);
    }

    #[test]
    fn a_huge_result_is_cut() {
        let huge = "é".repeat(200 * 1024);
        let line = format!(r#"{{"type":"result","subtype":"success","result":"{huge}"}}"#);
        let parsed = describe(&line).1.unwrap();
        let text = parsed.result.unwrap();
        assert!(text.chars().count() < RESULT_MAX_CHARS + 100);
        assert!(text.ends_with("(cut: the agent wrote more)"));
        assert_eq!(cut("short".into(), 10), "short");
    }
}
