//! The runner driving an Agent Client Protocol agent (`fixtures/fake-acp-agent`) on both
//! engines: the same outcomes as Claude Code's adapter (an edit to review, a question, each
//! failure with its reason), the runner's answers to permission requests, the budget and turn
//! limits taken from what the agent reports, cancel, the model, every way a bad agent breaks
//! the protocol, resuming a session (`session/resume`, `session/load`, or afresh), and plan
//! runs.
#![cfg(feature = "runner")]

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

#[path = "support/rig.rs"]
mod rig;

use app::domain::{Actor, AuthorKind, NewIssue, PlanState, Role, RunKind, RunOutcome, Status};
use rig::*;
use std::time::Duration;

/// Works one ready issue titled `title` with the fake ACP agent and `change`d settings.
async fn acp_one(
    rig: &Rig,
    title: &str,
    change: impl FnOnce(&mut server::config::RunnerArgs),
) -> (RunOutcome, Status, String) {
    let issue = rig.ready(title).await;
    let runner = rig.acp_runner(change).await;
    let outcome = runner
        .work_next(no_shutdown())
        .await
        .unwrap()
        .expect("worked");
    let status = rig.store.get_issue(issue.id).await.unwrap().status;
    let runs = rig.store.runs_for_issue(issue.id).await.unwrap();
    let (log, _, _) = rig.store.run_log_since(runs[0].id, 0).await.unwrap();
    (outcome, status, log)
}

fn note(rig: &Rig, what: &str) -> String {
    std::fs::read_dir(rig.notes())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!(".{what}"))
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

async fn an_acp_agents_edit_goes_to_review_with_its_cost_and_log() {
    let rig = Rig::new().await;
    let (outcome, status, log) = acp_one(&rig, "Say hello FAKE:edit", |_| {}).await;
    assert_eq!(outcome, RunOutcome::Review, "{log}");
    assert_eq!(status, Status::InReview);
    assert_eq!(rig.branch_commits(1), ["#1: Say hello FAKE:edit"]);
    let files = git(
        &rig.repo(),
        &["show", "--name-only", "--format=", "autopilot/issue-1"],
    );
    assert_eq!(files, "HELLO.md");
    let (kind, text) = rig.comments(1).await.last().cloned().unwrap();
    assert_eq!(kind, AuthorKind::Agent);
    assert!(text.contains("Added HELLO.md with a greeting."), "{text}");
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!(run.cost_usd, Some(0.0123));
    assert_eq!(run.num_turns, Some(1));
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(
        run.session_id.as_deref(),
        Some("sess-1"),
        "to resume it from"
    );
    for line in [
        "▶ agent fake-acp started (fake-acp-agent 1.2.3, ACP v1)",
        "● plan\n  ☐ Write the greeting",
        "I will add the greeting file.",
        "→ Write HELLO.md",
        "■ finished: success, $0.0123, 1 tool calls",
        "● outcome: review",
    ] {
        assert!(log.contains(line), "{line:?} not in:\n{log}");
    }
    assert_eq!(note(&rig, "permissions"), "Write HELLO.md: allowed\n");
    // The prompt went whole to the agent.
    assert!(note(&rig, "prompt").contains("Say hello FAKE:edit"));
}

async fn a_question_blocks_the_issue() {
    let rig = Rig::new().await;
    let (outcome, status, _) = acp_one(&rig, "Greet FAKE:blocked", |_| {}).await;
    assert_eq!(outcome, RunOutcome::Blocked);
    assert_eq!(status, Status::Blocked);
    let (kind, text) = rig.comments(1).await.last().cloned().unwrap();
    assert_eq!(kind, AuthorKind::Agent);
    assert_eq!(text, "Which file should the greeting go in?");
}

async fn protected_paths_and_git_are_refused_and_the_run_goes_on() {
    let rig = Rig::new().await;
    let (outcome, _, log) = acp_one(&rig, "Change CI FAKE:protected", |_| {}).await;
    assert_eq!(outcome, RunOutcome::NoChange, "{log}");
    assert!(
        log.contains("✗ refused: Write .github/workflows/evil.yml: .github/workflows/evil.yml is a protected path"),
        "{log}"
    );
    assert!(
        log.contains("I was not allowed to change the workflow."),
        "{log}"
    );
    assert!(!rig.branch_exists(1));

    let (outcome, _, log) = acp_one(&rig, "Commit it FAKE:git", |_| {}).await;
    assert_eq!(outcome, RunOutcome::NoChange, "{log}");
    assert!(
        log.contains("✗ refused: git commit -am sneaky: `git` is the runner's to run"),
        "{log}"
    );
    assert_eq!(
        note(&rig, "permissions"),
        "Write .github/workflows/evil.yml: refused\ngit commit -am sneaky: refused\n"
    );
    assert_eq!(git(&rig.repo(), &["log", "--format=%s"]), "start");
    // The reviewer is told what was refused.
    let (_, text) = rig.comments(2).await.last().cloned().unwrap();
    assert!(text.contains("refused"), "{text}");
}

async fn every_way_an_agent_fails_ends_the_run_with_its_reason() {
    let rig = Rig::new().await;
    let cases: [(&str, &str, &str); 6] = [
        ("FAKE:crash", "fake-acp", "exit code 3"),
        ("FAKE:apierror", "fake-acp", "API Error: 500"),
        ("FAKE:huge", "fake-acp", "over 8 MiB"),
        (
            "FAKE:edit",
            "fake-acp-noinit",
            "did not answer `initialize`",
        ),
        ("FAKE:edit", "fake-acp-old", "protocol version 0"),
        ("FAKE:edit", "fake-acp-auth", "asks to be signed in"),
    ];
    for (word, agent, said) in cases {
        let issue = rig.ready(&format!("Fail {word} on {agent}")).await;
        let runner = rig
            .acp_runner(|args| {
                args.agent = agent.into();
                args.timeout_seconds = 4;
            })
            .await;
        let outcome = runner.work_next(no_shutdown()).await.unwrap();
        assert_eq!(outcome, Some(RunOutcome::Error), "{word} on {agent}");
        let issue = rig.store.get_issue(issue.id).await.unwrap();
        assert_eq!(issue.status, Status::Blocked);
        assert_eq!(issue.claimed_by, None, "no claim is left behind");
        let (kind, text) = rig.comments(issue.id).await.last().cloned().unwrap();
        assert_eq!(kind, AuthorKind::System);
        assert!(text.contains(said), "{word} on {agent}: {text}");
    }
}

async fn a_garbage_line_is_logged_and_skipped() {
    let rig = Rig::new().await;
    let (outcome, _, log) = acp_one(&rig, "Greet FAKE:garbage", |_| {}).await;
    assert_eq!(outcome, RunOutcome::Review, "{log}");
    assert!(log.contains("? Loading the model…"), "{log}");
    assert!(log.contains("? not json {"), "{log}");
}

async fn the_budget_and_the_turn_limit_stop_an_agent_by_what_it_reports() {
    let rig = Rig::new().await;
    let (outcome, status, log) = acp_one(&rig, "Spend FAKE:budget", |args| {
        args.max_run_usd = Some(1.0);
    })
    .await;
    assert_eq!(outcome, RunOutcome::OverBudget, "{log}");
    assert_eq!(status, Status::Blocked);
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert!(
        run.cost_usd.is_some_and(|usd| usd > 1.0),
        "{:?}",
        run.cost_usd
    );
    assert!(
        note(&rig, "cancel").contains("cancelled"),
        "session/cancel was sent"
    );

    let (outcome, _, log) = acp_one(&rig, "Read forever FAKE:turns", |args| {
        args.max_turns = Some(5);
    })
    .await;
    assert_eq!(outcome, RunOutcome::Error, "{log}");
    let (_, text) = rig.comments(2).await.last().cloned().unwrap();
    assert!(text.contains("error_max_turns"), "{text}");
    assert_eq!(
        rig.store.runs_for_issue(2).await.unwrap()[0].num_turns,
        Some(6)
    );
}

async fn a_hanging_agent_times_out_and_a_cancel_reaches_it() {
    let rig = Rig::new().await;
    let (outcome, _, _) = acp_one(&rig, "Forever FAKE:hang", |args| {
        args.timeout_seconds = 3;
    })
    .await;
    assert_eq!(outcome, RunOutcome::Timeout);

    let issue = rig.ready("Slowly FAKE:slow").await;
    let runner = rig.acp_runner(|_| {}).await;
    let work = tokio::spawn(async move { runner.work_next(no_shutdown()).await.unwrap() });
    for _ in 0..200 {
        let runs = rig.store.runs_for_issue(issue.id).await.unwrap();
        if let Some(run) = runs.first() {
            let (log, _, _) = rig.store.run_log_since(run.id, 0).await.unwrap();
            if log.contains("Thinking 2") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rig.store
        .request_cancel(&Actor::new(Role::Admin, "Root"), issue.id)
        .await
        .unwrap();
    assert_eq!(work.await.unwrap(), Some(RunOutcome::Cancelled));
    assert!(note(&rig, "cancel").contains("cancelled"));
    assert!(!rig.branch_exists(issue.id));
}

async fn the_issues_model_is_chosen_through_the_session() {
    let rig = Rig::new().await;
    rig.store
        .create_issue(
            &person(),
            NewIssue {
                title: "Which model FAKE:model".into(),
                status: Some(Status::Ready),
                model: Some("fake-large".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let runner = rig.acp_runner(|_| {}).await;
    let outcome = runner.work_next(no_shutdown()).await.unwrap();
    assert_eq!(outcome, Some(RunOutcome::NoChange));
    assert_eq!(note(&rig, "model"), "fake-large\n");
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!(run.model.as_deref(), Some("fake-large"));
    let (log, _, _) = rig.store.run_log_since(run.id, 0).await.unwrap();
    assert!(log.contains("● model fake-large"), "{log}");
    assert!(log.contains("Model fake-large."), "{log}");
}

/// One runner with two agents works each issue with the agent it asks for (or the board's
/// default), records which, says which it has; an issue for an agent it lacks waits.
async fn each_issue_is_worked_by_the_agent_it_asks_for() {
    let rig = Rig::new().await;
    let ask = |title: &str, agent: Option<&str>| NewIssue {
        title: title.into(),
        status: Some(Status::Ready),
        agent: agent.map(str::to_string),
        ..Default::default()
    };
    let store = &rig.store;
    let acp = store
        .create_issue(&person(), ask("Hello FAKE:edit", Some("fake-acp")))
        .await
        .unwrap();
    let default = store
        .create_issue(&person(), ask("Hi FAKE:nochange", None))
        .await
        .unwrap();
    let codex = store
        .create_issue(&person(), ask("For codex FAKE:edit", Some("codex")))
        .await
        .unwrap();
    let runner = rig
        .acp_runner(|args| {
            args.agent = "claude".into();
            args.agents = vec!["fake-acp".into(), "codex".into()];
        })
        .await;
    let runners = store.list_runners(0).await.unwrap();
    let shown = runners[0].agents.clone().unwrap_or_default();
    assert!(
        shown.starts_with("claude ") && shown.contains(", fake-acp "),
        "{shown}"
    );
    assert!(
        !shown.contains("codex"),
        "codex is not installed here: {shown}"
    );
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Review)
    );
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::NoChange)
    );
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        None,
        "nobody here has codex"
    );
    assert_eq!(
        store.get_issue(codex.id).await.unwrap().status,
        Status::Ready
    );
    let agent_of = |id| async move { store.runs_for_issue(id).await.unwrap()[0].agent.clone() };
    assert_eq!(agent_of(acp.id).await.as_deref(), Some("fake-acp"));
    assert_eq!(agent_of(default.id).await.as_deref(), Some("claude"));
    let run = &store.runs_for_issue(acp.id).await.unwrap()[0];
    let (log, _, _) = store.run_log_since(run.id, 0).await.unwrap();
    assert!(log.contains(", agent fake-acp ("), "{log}");
}

/// Agents that keep their sessions in the issue's session directory (`$HOME/.fake-acp`):
/// `acp-resume` offers `session/resume`, `acp-load` `session/load`, `acp-plain` neither;
/// each has a plan mode.
fn session_agents(rig: &Rig) -> std::path::PathBuf {
    let file = rig.dir.path().join("session-agents.toml");
    let mut text = String::new();
    for (name, flag) in [
        ("acp-resume", Some("--resume-cap")),
        ("acp-load", Some("--load")),
        ("acp-plain", None),
    ] {
        let flag = flag.map(|f| format!(", \"{f}\"")).unwrap_or_default();
        text.push_str(&format!(
            "[agents.{name}]\ncommand = [\"{FAKE_ACP}\"{flag}]\nsession_dirs = [\".fake-acp\"]\n\
             mode = \"default\"\nplan_mode = \"plan\"\n"
        ));
    }
    std::fs::write(&file, text).unwrap();
    file
}

/// A runner whose default agent is `agent`, one of [`session_agents`].
async fn sessions_runner(rig: &Rig, agent: &str) -> server::runner::Runner {
    let file = session_agents(rig);
    rig.acp_runner(|args| {
        args.agent = agent.into();
        args.agents_file = Some(file);
    })
    .await
}

/// The agent asks (`FAKE:ask`), a person answers: the run that continues, on `agent`.
/// Returns the log of the second run.
async fn ask_then_answer(rig: &Rig, agent: &str, before_answer: impl FnOnce()) -> String {
    rig.ready("Greet people FAKE:ask").await;
    let runner = sessions_runner(rig, agent).await;
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Blocked)
    );
    let issue = rig.store.get_issue(1).await.unwrap();
    assert_eq!(issue.question.as_deref(), Some("Formal or casual?"));
    let first = rig.store.runs_for_issue(1).await.unwrap().remove(0);
    assert_eq!(first.session_id.as_deref(), Some("sess-1"));
    assert_eq!(first.num_turns, Some(1), "it read README.md");
    before_answer();
    rig.store
        .answer_question(&person(), 1, "Casual, please.")
        .await
        .unwrap();
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Review)
    );
    let runs = rig.store.runs_for_issue(1).await.unwrap();
    assert_eq!(runs[0].kind, RunKind::Answer);
    let (log, _, _) = rig.store.run_log_since(runs[0].id, 0).await.unwrap();
    assert!(log.contains("● resuming session sess-1 of run"), "{log}");
    assert_eq!(rig.branch_commits(1).len(), 1, "{log}");
    log
}

/// The prompts the agent got, one per run (the notes hold them all, in order).
fn prompts(rig: &Rig) -> Vec<String> {
    note(rig, "prompt")
        .split("You are working on issue")
        .flat_map(|part| part.split("The issue has new comments since your last turn."))
        .filter(|p| !p.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// An answer resumes the agent's session with `session/resume`: the next message is only the
/// new comments, and the agent carries on in the same conversation.
async fn an_answer_resumes_the_acp_session_with_session_resume() {
    let rig = Rig::new().await;
    let log = ask_then_answer(&rig, "acp-resume", || {}).await;
    assert_eq!(note(&rig, "opened"), "new sess-1\nresume sess-1\n");
    assert!(log.contains("● resumed session sess-1"), "{log}");
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!(run.resumed, Some(true));
    assert_eq!(run.session_id.as_deref(), Some("sess-1"));
    assert_eq!(run.num_turns, Some(1), "{log}");
    let seen = note(&rig, "conversation");
    assert!(
        seen.contains("FAKE:ask")
            && seen.contains("BLOCKED: Formal or casual?")
            && seen.contains("Casual, please."),
        "one conversation: {seen}"
    );
    let prompts = note(&rig, "prompt");
    assert_eq!(prompts.matches("<<<ISSUE #1").count(), 1, "{prompts}");
    let last = &prompts[prompts.find("<<<NEW COMMENTS").expect("a continuation")..];
    assert!(
        last.contains("--- comment by person Ann ---\nCasual, please.")
            && last.contains("Carry on with the work"),
        "{last}"
    );
    assert_eq!(note(&rig, "permissions"), "Write HELLO.md: allowed\n");
}

/// An agent that offers only `session/load` replays the earlier turns first: none of that
/// is this run's (no log line, no tool call counted, not its answer).
async fn an_answer_loads_the_acp_session_and_the_replay_is_not_this_runs() {
    let rig = Rig::new().await;
    let log = ask_then_answer(&rig, "acp-load", || {}).await;
    assert_eq!(note(&rig, "opened"), "new sess-1\nload sess-1\n");
    assert!(log.contains("● resumed session sess-1"), "{log}");
    assert!(
        !log.contains("Read README.md"),
        "the replayed tool call is not logged: {log}"
    );
    assert!(
        !log.contains("Formal or casual?"),
        "the replayed message is not logged: {log}"
    );
    assert!(log.contains("→ Write HELLO.md"), "{log}");
    assert!(
        log.contains("■ finished: success, $0.0123, 1 tool calls"),
        "{log}"
    );
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!(run.resumed, Some(true));
    assert_eq!(run.num_turns, Some(1), "only this run's tool call counts");
    assert_eq!(
        run.result.as_deref(),
        Some("Added HELLO.md with a greeting.")
    );
    let seen = note(&rig, "conversation");
    assert!(
        seen.contains("FAKE:ask") && seen.contains("Casual, please."),
        "{seen}"
    );
    assert_eq!(prompts(&rig).len(), 2);
}

/// An agent that can neither resume nor load a session: the run starts afresh with the whole
/// thread, and the log says why.
async fn an_agent_that_cannot_resume_starts_afresh_with_the_whole_thread() {
    let rig = Rig::new().await;
    let log = ask_then_answer(&rig, "acp-plain", || {}).await;
    assert_eq!(note(&rig, "opened"), "new sess-1\nnew sess-2\n");
    assert!(
        log.contains(
            "● could not resume the session (the agent offers neither session/resume nor \
             session/load): starting afresh with the whole thread"
        ),
        "{log}"
    );
    assert!(!log.contains("● resumed session"), "{log}");
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!(run.resumed, Some(false));
    assert_eq!(run.session_id.as_deref(), Some("sess-2"), "the new session");
    assert_eq!(run.num_turns, Some(1), "{log}");
    let prompts = prompts(&rig);
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    let last = &prompts[1];
    assert!(
        last.contains("<<<ISSUE #1")
            && last.contains("Formal or casual?")
            && last.contains("Casual, please."),
        "the whole thread: {last}"
    );
    let seen = note(&rig, "conversation");
    assert!(
        !seen.contains("BLOCKED: Formal"),
        "a new conversation: {seen}"
    );
}

/// The session is gone from the issue's session directory: the agent refuses to resume or
/// load it, and the run starts afresh with the whole thread.
async fn a_session_the_agent_no_longer_has_starts_afresh() {
    for (agent, method) in [("acp-resume", "resume"), ("acp-load", "load")] {
        let rig = Rig::new().await;
        let sessions = rig
            .dir
            .path()
            .join("repo.autopilot-worktrees/.agent-sessions");
        let log = ask_then_answer(&rig, agent, || {
            assert!(
                sessions
                    .join(format!("issue-1/{agent}/0/sessions/sess-1.json"))
                    .is_file(),
                "the session is kept on the host"
            );
            std::fs::remove_dir_all(&sessions).unwrap();
        })
        .await;
        assert_eq!(
            note(&rig, "opened"),
            format!("new sess-1\n{method} sess-1: not found\nnew sess-1\n"),
            "{agent}"
        );
        assert!(
            log.contains(&format!(
                "● could not resume the session (session/{method} failed: Resource not found"
            )),
            "{agent}: {log}"
        );
        assert!(
            log.contains("starting afresh with the whole thread"),
            "{log}"
        );
        let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
        assert_eq!(run.resumed, Some(false), "{agent}");
        let prompts = prompts(&rig);
        assert!(
            prompts[1].contains("<<<ISSUE #1") && prompts[1].contains("Casual, please."),
            "{agent}: {prompts:?}"
        );
    }
}

async fn plan_first(rig: &Rig, title: &str) {
    rig.store
        .create_issue(
            &person(),
            NewIssue {
                title: title.into(),
                status: Some(Status::Ready),
                plan_first: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// Plan first: the plan run sets the agent's plan mode, the plan it hands over (asking to
/// leave plan mode, as Claude's ExitPlanMode) is refused and kept, and the issue waits in
/// review; approved, the work run resumes the session and does the work.
async fn a_plan_run_keeps_the_plan_the_agent_hands_over_and_the_work_resumes() {
    let rig = Rig::new().await;
    plan_first(&rig, "Greet people FAKE:plan").await;
    let runner = sessions_runner(&rig, "acp-resume").await;
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Planned)
    );
    assert_eq!(note(&rig, "mode"), "plan\n");
    let issue = rig.store.get_issue(1).await.unwrap();
    assert_eq!(issue.status, Status::InReview);
    assert_eq!(issue.plan_state, Some(PlanState::Proposed));
    assert!(!rig.branch_exists(1), "a plan run keeps nothing");
    let (kind, text) = rig.comments(1).await.pop().unwrap();
    assert_eq!(kind, AuthorKind::Agent);
    assert!(
        text.starts_with("Plan, waiting for approval:\n\n1. Add a line to HELLO.md\n2. Say so"),
        "{text}"
    );
    assert!(
        !text.contains("refused"),
        "handing the plan over is no refusal: {text}"
    );
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!(run.kind, RunKind::Plan);
    assert_eq!(
        run.result.as_deref(),
        Some("1. Add a line to HELLO.md\n2. Say so")
    );
    let (log, _, _) = rig.store.run_log_since(run.id, 0).await.unwrap();
    assert!(log.contains("● the agent handed over its plan"), "{log}");
    assert_eq!(note(&rig, "permissions"), "Ready to code?: refused\n");

    // Changes asked for: another plan run, in the same session, in plan mode again.
    rig.store
        .request_changes(&person(), 1, None, "Also say goodbye.")
        .await
        .unwrap();
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Planned)
    );
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    assert_eq!((run.kind, run.resumed), (RunKind::Plan, Some(true)));
    assert_eq!(note(&rig, "mode"), "plan\nplan\n");
    assert!(note(&rig, "conversation").contains("Also say goodbye."));

    let approved = rig.store.approve_plan(&person(), 1, None).await.unwrap();
    assert_eq!(approved.status, Status::Ready);
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Review)
    );
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    let (log, _, _) = rig.store.run_log_since(run.id, 0).await.unwrap();
    assert_eq!(
        (run.kind, run.resumed),
        (RunKind::Work, Some(true)),
        "{log}"
    );
    assert!(log.contains("● resumed session sess-1"), "{log}");
    assert_eq!(
        note(&rig, "opened"),
        "new sess-1\nresume sess-1\nresume sess-1\n"
    );
    assert_eq!(
        note(&rig, "mode"),
        "plan\nplan\ndefault\n",
        "out of plan mode"
    );
    let prompts = note(&rig, "prompt");
    assert!(prompts.contains("Your plan was approved"), "{prompts}");
    assert_eq!(
        note(&rig, "permissions"),
        "Ready to code?: refused\nReady to code?: refused\nWrite HELLO.md: allowed\n"
    );
    assert_eq!(rig.branch_commits(1).len(), 1);
    let issue = rig.store.get_issue(1).await.unwrap();
    assert_eq!(issue.status, Status::InReview);
}

/// A plan run whose agent edits anyway (refused, it writes the file itself): the runner
/// finds the change, keeps nothing, and blocks the issue.
async fn a_plan_run_whose_agent_edits_anyway_keeps_nothing() {
    let rig = Rig::new().await;
    plan_first(&rig, "Greet people FAKE:planedit").await;
    let runner = sessions_runner(&rig, "acp-resume").await;
    assert_eq!(
        runner.work_next(no_shutdown()).await.unwrap(),
        Some(RunOutcome::Protected)
    );
    assert_eq!(note(&rig, "mode"), "plan\n");
    assert_eq!(
        note(&rig, "permissions"),
        "Write HELLO.md: refused\nReady to code?: refused\n"
    );
    let issue = rig.store.get_issue(1).await.unwrap();
    assert_eq!(issue.status, Status::Blocked);
    assert_eq!(issue.plan_state, None);
    assert_eq!(issue.question, None, "a refusal is no question");
    assert!(!rig.branch_exists(1));
    let (kind, text) = rig.comments(1).await.pop().unwrap();
    assert_eq!(kind, AuthorKind::System);
    assert!(
        text.contains("plan run") && text.contains("HELLO.md"),
        "{text}"
    );
    let run = &rig.store.runs_for_issue(1).await.unwrap()[0];
    let (log, _, _) = rig.store.run_log_since(run.id, 0).await.unwrap();
    assert!(
        log.contains("✗ refused: Write HELLO.md: this is a plan run"),
        "{log}"
    );
    assert!(log.contains("● outcome: protected"), "{log}");
}

on_both_engines!(
    each_issue_is_worked_by_the_agent_it_asks_for,
    an_acp_agents_edit_goes_to_review_with_its_cost_and_log,
    a_question_blocks_the_issue,
    protected_paths_and_git_are_refused_and_the_run_goes_on,
    every_way_an_agent_fails_ends_the_run_with_its_reason,
    a_garbage_line_is_logged_and_skipped,
    the_budget_and_the_turn_limit_stop_an_agent_by_what_it_reports,
    a_hanging_agent_times_out_and_a_cancel_reaches_it,
    the_issues_model_is_chosen_through_the_session,
    an_answer_resumes_the_acp_session_with_session_resume,
    an_answer_loads_the_acp_session_and_the_replay_is_not_this_runs,
    an_agent_that_cannot_resume_starts_afresh_with_the_whole_thread,
    a_session_the_agent_no_longer_has_starts_afresh,
    a_plan_run_keeps_the_plan_the_agent_hands_over_and_the_work_resumes,
    a_plan_run_whose_agent_edits_anyway_keeps_nothing,
);
