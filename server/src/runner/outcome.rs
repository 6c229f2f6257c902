//! What a finished agent run means for its issue. Pure: the agent's report and what git saw
//! in, a verdict out, so every outcome is unit-tested without running anything.

use super::agent::{tool_target, AgentReport, AgentResult, Stop};
use super::git::is_protected;
use app::domain::{AuthorKind, RunOutcome, Status};

/// What to do with the run's work.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Commit the changes and send the issue to review, with the agent's summary.
    Commit { summary: String },
    /// A plan run's plan: posted, and the issue waits in review for a person to approve it.
    Plan { plan: String },
    /// Commit nothing; the issue goes to `to` with this comment.
    Stop {
        outcome: RunOutcome,
        to: Status,
        comment: (AuthorKind, String),
    },
}

fn blocked(outcome: RunOutcome, kind: AuthorKind, text: String) -> Verdict {
    Verdict::Stop {
        outcome,
        to: Status::Blocked,
        comment: (kind, text),
    }
}

/// How big the agent's change is, against the limits (AUTOPILOT_MAX_CHANGED_FILES and
/// AUTOPILOT_MAX_CHANGE_MIB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChangeSize {
    /// What the changed files hold now, in bytes.
    pub bytes: u64,
    pub max_files: usize,
    pub max_bytes: u64,
}

/// How the agent's run ended, up to its answer: the verdict when it was stopped, timed out,
/// failed, ran over budget or asked a question (`BLOCKED:`); otherwise its answer, trimmed.
fn finished_answer(
    report: &AgentReport,
    timeout_secs: u64,
) -> Result<(String, &AgentResult), Verdict> {
    use AuthorKind::{Agent, System};
    match &report.stopped {
        Some(Stop::Cancelled(by)) => {
            return Err(blocked(
                RunOutcome::Cancelled,
                System,
                format!("The run was cancelled by {by}. Nothing was committed."),
            ))
        }
        Some(Stop::Shutdown) => {
            return Err(Verdict::Stop {
                outcome: RunOutcome::Interrupted,
                to: Status::Ready,
                comment: (
                    System,
                    "The runner was stopped while working on this issue. Nothing was \
                     committed; the issue is back in ready for the next run."
                        .into(),
                ),
            })
        }
        Some(Stop::LostClaim) => {
            return Err(blocked(
                RunOutcome::Lost,
                System,
                "The claim was lost.".into(),
            ))
        }
        None => {}
    }
    if report.timed_out {
        return Err(blocked(
            RunOutcome::Timeout,
            System,
            format!(
                "The agent did not finish within {timeout_secs} seconds and was stopped. \
                 Nothing was committed."
            ),
        ));
    }
    let failure = |what: String| {
        let mut text = format!("The agent failed: {what}. Nothing was committed.");
        if !report.stderr_tail.is_empty() {
            let tail: String = report.stderr_tail.chars().rev().take(1000).collect();
            let tail: String = tail.chars().rev().collect();
            text.push_str(&format!("\n\n```\n{tail}\n```"));
        }
        blocked(RunOutcome::Error, System, text)
    };
    let exit = report
        .exit_code
        .map_or("no exit code (killed by a signal)".to_string(), |c| {
            format!("exit code {c}")
        });
    let Some(result) = &report.result else {
        return Err(failure(format!("it ended ({exit}) without a result line")));
    };
    if result.subtype == "error_max_budget_usd" {
        let spent = result.total_cost_usd.map_or_else(
            || "an unknown amount".to_string(),
            |usd| format!("${usd:.2}"),
        );
        let said = result
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(blocked(
            RunOutcome::OverBudget,
            System,
            format!(
                "The agent reached the spending limit of one run (AUTOPILOT_MAX_RUN_USD){said} \
                 after spending {spent}, and was stopped. Nothing was committed."
            ),
        ));
    }
    if result.is_error || report.exit_code != Some(0) || result.subtype != "success" {
        let said = result
            .result
            .clone()
            .or_else(|| result.errors.first().map(|e| e.to_string()))
            .unwrap_or_default();
        return Err(failure(
            format!("{exit}, {} {said}", result.subtype)
                .trim()
                .to_string(),
        ));
    }
    let answer = result.result.clone().unwrap_or_default();
    let answer = answer.trim();
    if let Some(question) = answer.strip_prefix("BLOCKED:") {
        let question = question.trim();
        if question.is_empty() {
            // No question to show or answer: say so; a person's comment sends it back.
            return Err(blocked(
                RunOutcome::Blocked,
                System,
                "The agent stopped to ask something but wrote no question (it answered only \
                 `BLOCKED:`). Say in a comment what it should do; that sends the issue back to \
                 ready."
                    .into(),
            ));
        }
        return Err(blocked(RunOutcome::Blocked, Agent, question.to_string()));
    }
    Ok((answer.to_string(), result))
}

/// A plan run's verdict: its plan, when it changed nothing. Anything it changed (or a commit
/// it made) refuses the run, and nothing is kept.
pub fn decide_plan(
    report: &AgentReport,
    timeout_secs: u64,
    changed: &[String],
    head_moved: bool,
) -> Verdict {
    let (plan, result) = match finished_answer(report, timeout_secs) {
        Ok(finished) => finished,
        Err(verdict) => return verdict,
    };
    if head_moved || !changed.is_empty() {
        let mut list = path_list(changed.iter());
        if head_moved {
            list.push_str("\n- (it ran git: the branch moved)");
        }
        return blocked(
            RunOutcome::Protected,
            AuthorKind::System,
            format!(
                "This was a plan run, which may change nothing, but the agent changed:\n{}\n\n\
                 Nothing was kept. Move the issue to ready to plan again.",
                list.trim_start()
            ),
        );
    }
    if plan.is_empty() {
        return blocked(
            RunOutcome::NoChange,
            AuthorKind::System,
            "The plan run finished without a plan.".into(),
        );
    }
    Verdict::Plan {
        plan: format!("{plan}{}", refusals(result)),
    }
}

/// Decides a run. `changed` is every path the agent touched; `head_moved` is true when the
/// worktree's commit changed under the agent (it ran git despite the rules).
pub fn decide(
    report: &AgentReport,
    timeout_secs: u64,
    changed: &[String],
    head_moved: bool,
    protected: &[String],
    size: &ChangeSize,
) -> Verdict {
    use AuthorKind::System;
    let (answer, result) = match finished_answer(report, timeout_secs) {
        Ok(finished) => finished,
        Err(verdict) => return verdict,
    };
    let answer = answer.as_str();
    if head_moved {
        return blocked(
            RunOutcome::Protected,
            System,
            "The agent ran git itself (the branch moved), which it must not do. Its commits \
             were undone and nothing was committed: the branch is back where this run found it."
                .into(),
        );
    }
    let touched = path_list(changed.iter().filter(|p| is_protected(p, protected)));
    if !touched.is_empty() {
        return blocked(
            RunOutcome::Protected,
            System,
            format!(
                "The agent changed protected paths, so nothing was committed:\n{touched}\n\n\
                 A person must make changes there."
            ),
        );
    }
    // A directory git will not look into holds a repository of its own: committed, it would
    // become a submodule whose configuration (the agent's) later git calls could read.
    let nested = path_list(changed.iter().filter(|p| p.ends_with('/')));
    if !nested.is_empty() {
        return blocked(
            RunOutcome::Protected,
            System,
            format!(
                "The agent made git repositories inside the worktree, so nothing was \
                 committed:\n{nested}"
            ),
        );
    }
    if changed.len() > size.max_files || size.bytes > size.max_bytes {
        return blocked(
            RunOutcome::Protected,
            System,
            format!(
                "The change is too large to commit: {} file(s) holding {}, where one run may \
                 change at most {} file(s) holding {} (AUTOPILOT_MAX_CHANGED_FILES, \
                 AUTOPILOT_MAX_CHANGE_MIB). Nothing was committed.",
                changed.len(),
                mib(size.bytes),
                size.max_files,
                mib(size.max_bytes)
            ),
        );
    }
    if changed.is_empty() {
        let said = if answer.is_empty() {
            String::new()
        } else {
            format!("\n\nIt said:\n\n> {}", answer.replace('\n', "\n> "))
        };
        let refused = refusals(result);
        return blocked(
            RunOutcome::NoChange,
            System,
            format!("The agent finished without changing anything.{said}{refused}"),
        );
    }
    Verdict::Commit {
        summary: format!("{answer}{}", refusals(result)),
    }
}

/// The tool calls the agent was refused, for the reviewer: a change made without running the
/// tests the agent wanted to run reads differently. Empty when there were none.
fn refusals(result: &AgentResult) -> String {
    const SHOWN: usize = 10;
    let denials = &result.permission_denials;
    if denials.is_empty() {
        return String::new();
    }
    let mut text = format!("\n\nThe agent was refused {} tool call(s):", denials.len());
    for denial in denials.iter().take(SHOWN) {
        let tool = denial["tool_name"].as_str().unwrap_or("a tool");
        let target: String = code_safe(&tool_target(&denial["tool_input"]))
            .chars()
            .take(200)
            .collect();
        if target.trim().is_empty() {
            text.push_str(&format!("\n- {tool}"));
        } else {
            text.push_str(&format!("\n- {tool} `{}`", target.trim()));
        }
    }
    if denials.len() > SHOWN {
        text.push_str(&format!("\n- and {} more", denials.len() - SHOWN));
    }
    text
}

/// Paths as a Markdown list, one line of inline code each (empty when there are none).
fn path_list<'a>(paths: impl Iterator<Item = &'a String>) -> String {
    paths
        .map(|p| format!("- `{}`", code_safe(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Text that stays one line of inline code in a Markdown comment: no newlines or other control
/// characters, no backticks that could end it.
fn code_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::agent::AgentResult;

    fn protected() -> Vec<String> {
        vec![".github/".into(), "CLAUDE.md".into()]
    }

    fn small() -> ChangeSize {
        ChangeSize {
            bytes: 100,
            max_files: 10,
            max_bytes: 1000,
        }
    }

    #[test]
    fn a_change_over_the_limits_or_with_a_repository_inside_is_refused() {
        let p = protected();
        let files: Vec<String> = (0..11).map(|i| format!("f{i}.txt")).collect();
        let Verdict::Stop {
            outcome, comment, ..
        } = decide(&finished("Done."), 60, &files, false, &p, &small())
        else {
            panic!("too many files must not be committed");
        };
        assert_eq!(outcome, RunOutcome::Protected);
        assert!(comment.1.contains("11 file(s)"), "{}", comment.1);
        let big = ChangeSize {
            bytes: 3 << 30,
            ..small()
        };
        let one = vec!["big.txt".to_string()];
        let Verdict::Stop { comment, .. } = decide(&finished("Done."), 60, &one, false, &p, &big)
        else {
            panic!("a 3 GiB change must not be committed");
        };
        assert!(comment.1.contains("3072.0 MiB"), "{}", comment.1);
        let nested = vec!["vendor/lib/".to_string(), "src/a.rs".to_string()];
        let Verdict::Stop { comment, .. } =
            decide(&finished("Done."), 60, &nested, false, &p, &small())
        else {
            panic!("a nested repository must not be committed");
        };
        assert!(comment.1.contains("vendor/lib/"), "{}", comment.1);
    }

    fn finished(result: &str) -> AgentReport {
        AgentReport {
            exit_code: Some(0),
            result: Some(AgentResult {
                subtype: "success".into(),
                result: Some(result.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn outcome(v: &Verdict) -> Option<(RunOutcome, Status)> {
        match v {
            Verdict::Stop { outcome, to, .. } => Some((*outcome, *to)),
            Verdict::Commit { .. } | Verdict::Plan { .. } => None,
        }
    }

    #[test]
    fn a_question_with_no_text_is_said_so_not_asked() {
        let none: Vec<String> = vec![];
        for answer in ["BLOCKED:", "BLOCKED:   \n  "] {
            let Verdict::Stop {
                outcome, comment, ..
            } = decide(&finished(answer), 60, &none, false, &protected(), &small())
            else {
                panic!("blocked");
            };
            assert_eq!(outcome, RunOutcome::Blocked);
            assert_eq!(
                comment.0,
                AuthorKind::System,
                "no empty question on the card"
            );
            assert!(comment.1.contains("wrote no question"));
        }
    }

    #[test]
    fn a_plan_run_keeps_its_plan_only_when_it_changed_nothing() {
        let none: Vec<String> = vec![];
        let files = vec!["src/lib.rs".to_string()];
        assert_eq!(
            decide_plan(&finished("1. Add x\n2. Test it"), 60, &none, false),
            Verdict::Plan {
                plan: "1. Add x\n2. Test it".into()
            }
        );
        let Verdict::Stop {
            outcome, comment, ..
        } = decide_plan(&finished("My plan"), 60, &files, false)
        else {
            panic!("a plan run that changed a file is refused");
        };
        assert_eq!(outcome, RunOutcome::Protected);
        assert!(comment.1.contains("plan run") && comment.1.contains("src/lib.rs"));
        assert_eq!(
            outcome_of(decide_plan(&finished("My plan"), 60, &none, true)),
            Some((RunOutcome::Protected, Status::Blocked))
        );
        // A question is a question, in a plan run too; no plan at all is no plan.
        assert_eq!(
            outcome_of(decide_plan(&finished("BLOCKED: which?"), 60, &none, false)),
            Some((RunOutcome::Blocked, Status::Blocked))
        );
        assert_eq!(
            outcome_of(decide_plan(&finished("  "), 60, &none, false)),
            Some((RunOutcome::NoChange, Status::Blocked))
        );
    }

    fn outcome_of(v: Verdict) -> Option<(RunOutcome, Status)> {
        outcome(&v)
    }

    #[test]
    fn each_kind_of_run_gets_its_outcome() {
        let files = vec!["src/lib.rs".to_string()];
        let none: Vec<String> = vec![];
        let p = protected();
        assert_eq!(
            decide(&finished("Added it."), 60, &files, false, &p, &small()),
            Verdict::Commit {
                summary: "Added it.".into()
            }
        );
        let question = decide(
            &finished("BLOCKED: Which colour?"),
            60,
            &none,
            false,
            &p,
            &small(),
        );
        assert_eq!(
            question,
            Verdict::Stop {
                outcome: RunOutcome::Blocked,
                to: Status::Blocked,
                comment: (AuthorKind::Agent, "Which colour?".into())
            }
        );
        // A question wins over changes made anyway: nothing is committed.
        assert_eq!(
            outcome(&decide(
                &finished("BLOCKED: sure?"),
                60,
                &files,
                false,
                &p,
                &small()
            )),
            Some((RunOutcome::Blocked, Status::Blocked))
        );
        assert_eq!(
            outcome(&decide(
                &finished("Nothing to do."),
                60,
                &none,
                false,
                &p,
                &small()
            )),
            Some((RunOutcome::NoChange, Status::Blocked))
        );
        let sneaky = vec![
            "src/a.rs".to_string(),
            ".github/workflows/ci.yml".to_string(),
        ];
        assert_eq!(
            outcome(&decide(
                &finished("Done."),
                60,
                &sneaky,
                false,
                &p,
                &small()
            )),
            Some((RunOutcome::Protected, Status::Blocked))
        );
        assert_eq!(
            outcome(&decide(&finished("Done."), 60, &files, true, &p, &small())),
            Some((RunOutcome::Protected, Status::Blocked))
        );
    }

    #[test]
    fn failures_block_with_the_error() {
        let p = protected();
        let files = vec!["a".to_string()];
        let timed_out = AgentReport {
            timed_out: true,
            ..Default::default()
        };
        assert_eq!(
            outcome(&decide(&timed_out, 60, &files, false, &p, &small())),
            Some((RunOutcome::Timeout, Status::Blocked))
        );
        let crashed = AgentReport {
            exit_code: Some(2),
            stderr_tail: "segfault".into(),
            ..Default::default()
        };
        match decide(&crashed, 60, &files, false, &p, &small()) {
            Verdict::Stop {
                outcome, comment, ..
            } => {
                assert_eq!(outcome, RunOutcome::Error);
                assert!(comment.1.contains("exit code 2"), "{}", comment.1);
                assert!(comment.1.contains("segfault"));
            }
            other => panic!("{other:?}"),
        }
        let api_error = AgentReport {
            exit_code: Some(1),
            result: Some(AgentResult {
                subtype: "success".into(),
                is_error: true,
                result: Some("API Error: 500".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            outcome(&decide(&api_error, 60, &files, false, &p, &small())),
            Some((RunOutcome::Error, Status::Blocked))
        );
        // Exit 0 is not success on its own: no result line means failure.
        let garbage = AgentReport {
            exit_code: Some(0),
            ..Default::default()
        };
        assert_eq!(
            outcome(&decide(&garbage, 60, &files, false, &p, &small())),
            Some((RunOutcome::Error, Status::Blocked))
        );
        let cancelled = AgentReport {
            stopped: Some(Stop::Cancelled("Root".into())),
            ..Default::default()
        };
        assert_eq!(
            outcome(&decide(&cancelled, 60, &files, false, &p, &small())),
            Some((RunOutcome::Cancelled, Status::Blocked))
        );
        let interrupted = AgentReport {
            stopped: Some(Stop::Shutdown),
            ..Default::default()
        };
        assert_eq!(
            outcome(&decide(&interrupted, 60, &files, false, &p, &small())),
            Some((RunOutcome::Interrupted, Status::Ready))
        );
    }

    #[test]
    fn odd_path_names_cannot_break_the_comment() {
        let changed = vec![".github/a`b\nc.yml".to_string()];
        let Verdict::Stop { comment, .. } = decide(
            &finished("Done."),
            60,
            &changed,
            false,
            &protected(),
            &small(),
        ) else {
            panic!("a protected path is never committed");
        };
        assert!(
            comment.1.contains("\n- `.github/a'b c.yml`\n"),
            "{}",
            comment.1
        );
    }

    #[test]
    fn refused_tool_calls_are_told_to_the_reviewer() {
        let mut report = finished("Added it.");
        let denial = |command: &str| serde_json::json!({"tool_name": "Bash", "tool_use_id": "t", "tool_input": {"command": command}});
        if let Some(result) = report.result.as_mut() {
            result.permission_denials = vec![denial("cargo test"), denial("echo `x`\nrm -rf /")];
            result
                .permission_denials
                .extend((0..10).map(|_| denial("ls")));
        }
        let files = vec!["src/lib.rs".to_string()];
        let Verdict::Commit { summary } =
            decide(&report, 60, &files, false, &protected(), &small())
        else {
            panic!("a change still goes to review");
        };
        assert!(summary.starts_with("Added it.\n\nThe agent was refused 12 tool call(s):"));
        assert!(summary.contains("\n- Bash `cargo test`\n"));
        assert!(
            summary.contains("\n- Bash `echo 'x' rm -rf /`\n"),
            "{summary}"
        );
        assert!(summary.ends_with("\n- and 2 more"), "{summary}");
        // Without refusals the summary is the agent's answer alone.
        let plain = decide(
            &finished("Added it."),
            60,
            &files,
            false,
            &protected(),
            &small(),
        );
        assert_eq!(
            plain,
            Verdict::Commit {
                summary: "Added it.".into()
            }
        );
    }
}
