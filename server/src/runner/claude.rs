//! Claude Code's own adapter, as `../shared/docs/claude-cli.md` describes the CLI:
//! non-interactive (`-p`), edits accepted, git and web tools disallowed, streamed JSON output,
//! the prompt on stdin (never in argv: one argument is capped at 128 KiB, and a long thread
//! would make an issue impossible to run). Every output line becomes a readable log line as it
//! arrives; the last `result` line is the run's [`AgentResult`].

use super::agent::{
    cut, kill_group, stderr_tail, tool_target, AgentJob, AgentReport, AgentResult, Installed,
    Resume, Stop, RESULT_MAX_CHARS,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;

/// Longest output line kept; longer ones are cut (garbage output must not eat memory).
const MAX_LINE: u64 = 256 * 1024;

/// Runs Claude Code on `job` to its end, the timeout, or `stop`.
pub async fn run(
    agent: &Installed,
    job: &AgentJob<'_>,
    log: UnboundedSender<String>,
    stop: impl std::future::Future<Output = Stop>,
) -> anyhow::Result<AgentReport> {
    let started = std::time::Instant::now();
    let mut command = super::agent::command(agent, job);
    // A plan run: Claude Code's own plan mode, and no tool that writes.
    let (mode, no_writes): (&str, &[&str]) = if job.read_only {
        ("plan", &["Edit", "Write", "NotebookEdit"])
    } else {
        ("acceptEdits", &[])
    };
    command
        .arg("-p")
        .args(["--permission-mode", mode])
        .args(["--output-format", "stream-json", "--verbose"])
        .args(["--disallowedTools", "Bash(git:*)", "WebFetch", "WebSearch"])
        .args(no_writes)
        .args(job.resume.map(|id| ["--resume", id]).into_iter().flatten())
        .args(
            job.max_turns
                .map(|n| ["--max-turns".to_string(), n.to_string()])
                .into_iter()
                .flatten(),
        )
        .args(
            job.max_budget_usd
                .map(|usd| ["--max-budget-usd".to_string(), usd.to_string()])
                .into_iter()
                .flatten(),
        )
        .args(job.model.map(|m| ["--model", m]).into_iter().flatten());
    let mut child = command
        .spawn()
        .map_err(|err| anyhow::anyhow!("cannot start the agent `{}`: {err}", agent.spec.name))?;
    let group = child.id();
    // The prompt goes in on stdin, which is then closed (the CLI reads it to its end).
    let feed = child.stdin.take().map(|mut stdin| {
        let prompt = job.prompt.as_bytes().to_vec();
        tokio::spawn(async move {
            let _ = stdin.write_all(&prompt).await;
            let _ = stdin.shutdown().await;
        })
    });
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let read_stdout = async {
        let mut last_result = None;
        let mut plan = None;
        let Some(stdout) = stdout else {
            return (last_result, plan);
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
            if let Some(written) = plan_written(text.trim_end()) {
                plan = Some(written);
            }
            if let Some(readable) = readable {
                let _ = log.send(readable + "\n");
            }
        }
        (last_result, plan)
    };
    let finished = async {
        let ((result, plan), stderr_tail) = tokio::join!(read_stdout, stderr_tail(stderr));
        let status = child.wait().await;
        (with_plan(result, plan), stderr_tail, status)
    };

    let mut report = AgentReport::default();
    tokio::select! {
        (result, stderr_tail, status) = finished => {
            report.result = result;
            report.stderr_tail = stderr_tail;
            report.exit_code = status.ok().and_then(|s| s.code());
        }
        _ = tokio::time::sleep(job.timeout) => {
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
    if let Some(id) = job.resume {
        report.resume = resumed(id, &report);
    }
    Ok(report)
}

/// Whether `claude --resume <id>` carried on, or failed for want of the session (it says "No
/// conversation found with session ID: …" and does nothing).
fn resumed(id: &str, report: &AgentReport) -> Resume {
    let failed = report.result.as_ref().is_none_or(|r| r.is_error);
    let said = |text: &str| text.contains("No conversation found");
    let gone = said(&report.stderr_tail)
        || report.result.as_ref().is_some_and(|r| {
            r.result.as_deref().is_some_and(said)
                || r.errors.iter().any(|e| e.as_str().is_some_and(said))
        });
    if failed && gone && report.stopped.is_none() && !report.timed_out {
        Resume::Failed(format!("Claude Code no longer has session {id}"))
    } else {
        Resume::Resumed
    }
}

/// The plan a plan run handed over with Claude Code's `ExitPlanMode` tool (its input `plan`).
/// Claude Code 2.1.197 offers no such tool with `-p` (the plan is then its final text); kept
/// for the versions and settings that do.
fn plan_written(line: &str) -> Option<String> {
    if !line.contains("ExitPlanMode") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value["message"]["content"]
        .as_array()?
        .iter()
        .filter(|block| block["type"] == "tool_use" && block["name"] == "ExitPlanMode")
        .find_map(|block| block["input"]["plan"].as_str())
        .map(|plan| cut(plan.to_string(), RESULT_MAX_CHARS))
}

/// A plan handed over through `ExitPlanMode` is the run's answer (the CLI, with no one to
/// approve it, counts the call as refused and ends with a line about that).
fn with_plan(result: Option<AgentResult>, plan: Option<String>) -> Option<AgentResult> {
    let mut result = result?;
    if let Some(plan) = plan {
        result
            .permission_denials
            .retain(|d| d["tool_name"] != "ExitPlanMode");
        let asked = result.result.as_deref().unwrap_or("").trim_start();
        if !asked.starts_with("BLOCKED:") {
            result.result = Some(plan);
        }
    }
    Some(result)
}

/// One line of stream-json output as a readable log line (or nothing, for noise), and the
/// result if it is the `result` line. Unknown types are skipped; non-JSON is kept, marked.
fn describe(line: &str) -> (Option<String>, Option<AgentResult>) {
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
            let mut result: AgentResult = serde_json::from_value(value).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::describe;
    use crate::runner::agent::RESULT_MAX_CHARS;

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
    }
}
