//! The runner driving an Agent Client Protocol agent (`fixtures/fake-acp-agent`) on both
//! engines: the same outcomes as Claude Code's adapter (an edit to review, a question, each
//! failure with its reason), the runner's answers to permission requests, the budget and turn
//! limits taken from what the agent reports, cancel, the model, and every way a bad agent
//! breaks the protocol.
#![cfg(feature = "runner")]

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

#[path = "support/rig.rs"]
mod rig;

use app::domain::{Actor, AuthorKind, NewIssue, Role, RunOutcome, Status};
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
);
