//! Runner slots: wall time for 20 ready issues worked by one runner with 1 slot, then with 4
//! (AUTOPILOT_RUNNER_CONCURRENCY), each on a fresh board and git checkout, with the tests' fake
//! agent taking about a second per issue (`FAKE:brief`). Then the runner's time per run with
//! each adapter, one slot, agents that answer at once (`FAKE:edit`): Claude Code's stream-json
//! (`fake-claude`, a shell script) and ACP (`fake-acp-agent`, node), and each fake agent's own
//! time alone, so the runner's share (claim, worktree, sandbox, commit, review) shows.
//! Figures, not assertions:
//!
//!     cargo run --release -p server --example runner_bench -- 20

mod support;

use app::domain::{Actor, NewIssue, Role, Status};
use server::config::RunnerArgs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-claude");
const FAKE_ACP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-acp-agent");

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("git").args(args).current_dir(dir).status()?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

/// Seconds until `issues` ready issues are all in review, worked with `slots` slots by the
/// fake Claude Code (`acp`: false) or the fake ACP agent, saying `word` to it.
async fn wall_time(issues: usize, slots: u32, acp: bool, word: &str) -> anyhow::Result<f64> {
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
    std::fs::write(
        dir.path().join("agents.toml"),
        format!("[agents.fake-acp]\ncommand = [\"{FAKE_ACP}\"]\n"),
    )?;
    let person = Actor::new(Role::Admin, "Bench");
    for i in 0..issues {
        let new = NewIssue {
            title: format!("Issue {i} {word}"),
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
        agent: if acp { "fake-acp" } else { "claude" }.into(),
        agents: Vec::new(),
        agents_file: acp.then(|| dir.path().join("agents.toml")),
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
        ci_fix_attempts: 2,
        pr_poll_seconds: 60,
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

/// The runner's own time around each agent run, as it logs it (`autopilot::run_timing`):
/// (before the agent starts, the agent, after it ends) in milliseconds.
#[derive(Clone, Default)]
struct Timings(std::sync::Arc<std::sync::Mutex<Vec<[f64; 3]>>>);

impl Timings {
    fn take(&self) -> Vec<[f64; 3]> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Timings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields([f64; 3]);
        impl tracing::field::Visit for Fields {
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                match field.name() {
                    "before_ms" => self.0[0] = value,
                    "agent_ms" => self.0[1] = value,
                    "after_ms" => self.0[2] = value,
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if event.metadata().target() == "autopilot::run_timing" {
            let mut fields = Fields([0.0; 3]);
            event.record(&mut fields);
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(fields.0);
        }
    }
}

/// The mean of each of the three times.
fn means(runs: &[[f64; 3]]) -> [f64; 3] {
    let n = runs.len().max(1) as f64;
    let mut sum = [0.0; 3];
    for run in runs {
        for (s, v) in sum.iter_mut().zip(run) {
            *s += v;
        }
    }
    sum.map(|s| s / n)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    let timings = Timings::default();
    let only_timing = tracing_subscriber::filter::Targets::new()
        .with_target("autopilot::run_timing", tracing::Level::DEBUG);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(
        tracing_subscriber::Layer::with_filter(timings.clone(), only_timing),
    ))?;
    let issues: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let one = wall_time(issues, 1, false, "FAKE:brief").await?;
    let four = wall_time(issues, 4, false, "FAKE:brief").await?;
    println!(
        "{issues} issues, an agent of about 1 s each: 1 slot {one:.1} s, 4 slots {four:.1} s \
         ({:.1}x faster; 4.0x would be perfect)",
        one / four.max(0.001)
    );
    timings.take();
    wall_time(issues, 1, false, "FAKE:edit").await?;
    let [claude_before, claude_agent, claude_after] = means(&timings.take());
    wall_time(issues, 1, true, "FAKE:edit").await?;
    let [acp_before, acp_agent, acp_after] = means(&timings.take());
    let (claude_runner, acp_runner) = (claude_before + claude_after, acp_before + acp_after);
    println!(
        "the runner's own time per run (claim to agent start + agent exit to review), agents \
         that answer at once: Claude Code adapter {claude_before:.0} + {claude_after:.0} = \
         {claude_runner:.0} ms (the agent {claude_agent:.0} ms); ACP adapter {acp_before:.0} + \
         {acp_after:.0} = {acp_runner:.0} ms (the agent {acp_agent:.0} ms); ACP against Claude \
         Code: {:.2}x",
        acp_runner / claude_runner.max(0.001)
    );
    Ok(())
}
