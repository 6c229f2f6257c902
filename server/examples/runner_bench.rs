//! Runner slots: wall time for 20 ready issues worked by one runner with 1 slot, then with 4
//! (AUTOPILOT_RUNNER_CONCURRENCY), each on a fresh board and git checkout, with the tests' fake
//! agent taking about a second per issue (`FAKE:brief`). Figures, not assertions:
//!
//!     cargo run --release -p server --example runner_bench -- 20

mod support;

use app::domain::{Actor, NewIssue, Role, Status};
use server::config::RunnerArgs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-claude");

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("git").args(args).current_dir(dir).status()?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

/// Seconds until `issues` ready issues are all in review, worked with `slots` slots.
async fn wall_time(issues: usize, slots: u32) -> anyhow::Result<f64> {
    let board = support::ScratchBoard::new().await?;
    let dir = tempfile::tempdir()?;
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo)?;
    git(&repo, &["init", "-q", "-b", "main"])?;
    std::fs::write(repo.join("README.md"), "# Bench\n")?;
    git(&repo, &["add", "."])?;
    git(
        &repo,
        &[
            "-c",
            "user.name=B",
            "-c",
            "user.email=b@x",
            "commit",
            "-qm",
            "start",
        ],
    )?;
    let person = Actor::new(Role::Admin, "Bench");
    for i in 0..issues {
        let new = NewIssue {
            title: format!("Issue {i} FAKE:brief"),
            status: Some(Status::Ready),
            ..Default::default()
        };
        board.store.create_issue(&person, new).await?;
    }
    let args = RunnerArgs {
        enabled: true,
        workdir: repo,
        worktrees_dir: Some(dir.path().join("worktrees")),
        claude_bin: FAKE.into(),
        agent: "claude".into(),
        agents: Vec::new(),
        agents_file: None,
        poll_seconds: 3,
        push: false,
        gh_bin: "gh".into(),
        concurrency: slots,
        agent_id: Some(format!("bench-{slots}")),
        commit_name: "Bench".into(),
        commit_email: "bench@example.com".into(),
        base_branch: None,
        timeout_seconds: 60,
        max_turns: None,
        max_run_usd: None,
        model: None,
        lease_seconds: 60,
        protected_paths: Vec::new(),
        protected_paths_replace: None,
        workdir_is_autopilot: false,
        agent_env: Vec::new(),
        bwrap_bin: "bwrap".into(),
        agent_network: true,
        sandbox_hide: Vec::new(),
        sandbox_read: Vec::new(),
        sandbox_writable: Vec::new(),
        max_changed_files: 500,
        max_change_mib: 20,
        server_paths: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let running = server::runner::start(board.store.clone(), &args, stopped).await?;
    loop {
        let counts = board.store.column_counts(&Default::default()).await?;
        let in_review = counts
            .iter()
            .find(|(s, _)| *s == Status::InReview)
            .map_or(0, |(_, n)| *n);
        if in_review as usize >= issues {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "not done after 10 minutes: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.send(true)?;
    running.await?;
    Ok(seconds)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let issues: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let one = wall_time(issues, 1).await?;
    let four = wall_time(issues, 4).await?;
    println!(
        "{issues} issues, an agent of about 1 s each: 1 slot {one:.1} s, 4 slots {four:.1} s \
         ({:.1}x faster; 4.0x would be perfect)",
        one / four.max(0.001)
    );
    Ok(())
}
