//! The agent runner (cargo feature `runner`, started only with `AUTOPILOT_RUNNER=1`).
//!
//! Loop: unless paused, claim the most urgent oldest `ready` issue that is not human-only
//! (one conditional UPDATE, with a lease), work it in a git worktree on `autopilot/issue-<id>`
//! with the Claude Code CLI, and leave the result for a person: `in_review` with a commit on
//! the branch, or `blocked` with a question or an explanation. A heartbeat renews the lease
//! while the agent runs and carries back cancel requests, pauses and lost claims. On SIGTERM
//! the agent is stopped and its issue goes back to `ready`; after `kill -9` the lease runs out
//! and the server puts the issue back (`Store::expire_leases`).

mod acp;
mod agent;
mod claude;
mod forge;
mod git;
mod outcome;
mod policy;
mod prompt;
mod sandbox;

pub use agent::Stop;
pub use prompt::clean as clean_prompt_text;

use crate::agents::AgentSpec;
use crate::config::RunnerArgs;
use agent::{AgentJob, AgentReport, Installed, Resume};
use anyhow::{anyhow, Context};
use app::domain::{
    next_run, AuthorKind, Issue, PullRequest, Run, RunKind, RunOutcome, Status, PLAN_HEADING,
};
use app::error::AppError;
use app::store::{AgentChoice, ForgeItem, RunFinish, Store, Switch};
use git::{Repo, Worktree};
use outcome::{ChangeSize, Verdict};
use sandbox::{Sandbox, SandboxSettings};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Cap on an issue's kept agent sessions (per agent session directory).
const SESSIONS_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Cap on one run's stored log; the rest is dropped with a note.
const LOG_MAX_BYTES: usize = 2 * 1024 * 1024;

/// A runner, checked and ready to work.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    id: String,
    repo: Repo,
    /// The agents this runner has installed (the board's default first, when installed), and
    /// the name of the board's default.
    agents: Vec<Installed>,
    default_agent: String,
    poll: Duration,
    lease: Duration,
    timeout: Duration,
    max_turns: Option<u32>,
    max_run_usd: Option<f64>,
    /// The model when an issue names none (AUTOPILOT_MODEL).
    default_model: Option<String>,
    /// The GitHub CLI, when pushing (AUTOPILOT_PUSH=1); `None`: commit only.
    gh_bin: Option<String>,
    commit_name: String,
    commit_email: String,
    protected: Vec<String>,
    /// Environment names the agent inherits beyond the allowlist.
    agent_env: Vec<String>,
    /// Where every agent runs.
    sandbox: Sandbox,
    max_changed_files: usize,
    max_change_bytes: u64,
    /// Rounds of failing checks sent back to the agent (AUTOPILOT_CI_FIX_ATTEMPTS).
    ci_fix_attempts: u32,
    /// How often pull requests are read (AUTOPILOT_PR_POLL_SECONDS).
    pr_follow_every: Duration,
    /// The name slots are numbered after, and how many this process runs.
    base_id: String,
    host: String,
    slots: u32,
    /// One slot per process reads pull requests; the others only work issues.
    follows_pull_requests: bool,
}

/// The offered agents whose programs are on this host, with their versions (`--version`) and
/// their home files written under `homes`. One that is missing is logged: this runner will
/// not take its issues.
async fn installed_agents(
    offered: Vec<AgentSpec>,
    homes: &std::path::Path,
) -> anyhow::Result<Vec<Installed>> {
    let mut found = Vec::new();
    for spec in offered {
        let Some(program) = agent::find_program(spec.program()) else {
            tracing::warn!(
                agent = %spec.name,
                program = %spec.program(),
                "the agent's program is not installed here: this runner will not take its issues"
            );
            continue;
        };
        let version = program_version(&program).await;
        let mut spec = spec;
        for value in spec.set_env.values_mut() {
            if value == crate::agents::RANDOM {
                *value = app::auth::new_secret("");
            }
        }
        tracing::info!(agent = %spec.name, %version, program = %program.display(), "agent found");
        let mut home_files = Vec::new();
        for (rel, content) in &spec.home_files {
            let file = homes.join(&spec.name).join(rel);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot make {}", dir.display()))?;
            }
            std::fs::write(&file, content)
                .with_context(|| format!("cannot write {}", file.display()))?;
            home_files.push((file, rel.clone()));
        }
        found.push(Installed {
            spec,
            program,
            version,
            home_files,
        });
    }
    Ok(found)
}

/// An agent's version: its npm package's (the `package.json` next to the program's real
/// file, for the agents installed from npm; some have no `--version`), else the first line
/// it prints for `--version` (at most 80 characters), else "unknown".
async fn program_version(program: &std::path::Path) -> String {
    if let Some(version) = npm_package_version(program) {
        return version;
    }
    let run = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(15), run).await {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let line: String = line.trim().chars().take(80).collect();
            if line.is_empty() {
                "unknown".into()
            } else {
                line
            }
        }
        _ => "unknown".into(),
    }
}

/// The version in the `package.json` of the npm package holding `program`, if it is in one.
fn npm_package_version(program: &std::path::Path) -> Option<String> {
    let real = std::fs::canonicalize(program).ok()?;
    for dir in real.ancestors().skip(1) {
        if dir.file_name().is_some_and(|n| n == "node_modules") {
            return None;
        }
        let Ok(text) = std::fs::read_to_string(dir.join("package.json")) else {
            continue;
        };
        let package: serde_json::Value = serde_json::from_str(&text).ok()?;
        let version: String = package["version"].as_str()?.chars().take(40).collect();
        return Some(version);
    }
    None
}

/// Prepares the runner (see [`Runner::prepare`]) and starts its slots; the handle ends when
/// all of them have stopped after `shutdown`.
pub async fn start(
    store: Store,
    args: &RunnerArgs,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let slots = Runner::prepare(store, args).await?.with_slots().await?;
    let running: Vec<_> = slots
        .into_iter()
        .map(|slot| tokio::spawn(slot.run(shutdown.clone())))
        .collect();
    Ok(tokio::spawn(async move {
        for slot in running {
            let _ = slot.await;
        }
    }))
}

/// Whether `root` holds Autopilot's own sources (the runner and the transition rules).
fn is_autopilot_checkout(root: &std::path::Path) -> bool {
    ["server/src/runner/mod.rs", "app/src/domain/transition.rs"]
        .iter()
        .all(|marker| root.join(marker).is_file())
}

impl Runner {
    /// Checks the settings (a git checkout, the base branch, the agent binary, `gh` when
    /// pushing) and registers the runner. Any problem stops start-up with a clear message.
    pub async fn prepare(store: Store, args: &RunnerArgs) -> anyhow::Result<Runner> {
        let repo = Repo::open(
            &args.workdir,
            args.base_branch.as_deref(),
            args.worktrees_dir.as_deref(),
        )
        .await?;
        if is_autopilot_checkout(&repo.root) && !args.workdir_is_autopilot {
            return Err(anyhow!(
                "AUTOPILOT_WORKDIR ({}) is a checkout of Autopilot itself: the agent would work \
                 on this server's own code. Point AUTOPILOT_WORKDIR at the project the agent \
                 should work on (or set AUTOPILOT_WORKDIR_IS_AUTOPILOT=1 if that is meant)",
                repo.root.display()
            ));
        }
        let offered = args.offered_agents()?;
        let default_agent = offered[0].name.clone();
        let wanted: Vec<String> = offered
            .iter()
            .map(|a| format!("{} ({})", a.name, a.program()))
            .collect();
        let agents = installed_agents(offered, &repo.worktrees.join(".agent-homes")).await?;
        if agents.is_empty() {
            return Err(anyhow!(
                "cannot find the agent program of any agent the board offers: {}. Install one \
                 (docs/agents/), or give its path (AUTOPILOT_CLAUDE_BIN, AUTOPILOT_AGENTS_FILE)",
                wanted.join(", ")
            ));
        }
        let gh_bin = if args.push {
            git::run(&repo.root, "git", &["remote", "get-url", "origin"])
                .await
                .context("AUTOPILOT_PUSH=1 needs a remote named origin")?;
            let gh = agent::find_program(&args.gh_bin).ok_or_else(|| {
                anyhow!(
                    "AUTOPILOT_PUSH=1 needs the GitHub CLI: cannot find '{}' (AUTOPILOT_GH_BIN)",
                    args.gh_bin
                )
            })?;
            Some(gh.to_string_lossy().into_owned())
        } else {
            None
        };
        if args.protected_paths_replace.is_some() {
            tracing::warn!(
                paths = ?args.protected_paths(),
                "AUTOPILOT_PROTECTED_PATHS_REPLACE is set: the built-in protected paths \
                 (git's files, CI configuration, agent instructions) no longer apply, and the \
                 agent's commits may change any of them that is not listed"
            );
        }
        let repository = [repo.common_dir.clone(), repo.worktrees.clone()];
        let sandbox = Sandbox::prepare(SandboxSettings {
            bwrap: &args.bwrap_bin,
            secrets: &args.server_paths,
            repository: &repository,
            extra_hidden: &args.sandbox_hide,
            readable: &args.sandbox_read,
            writable: &args.sandbox_writable,
            agent_programs: &agents.iter().map(|a| a.program.clone()).collect::<Vec<_>>(),
            network: args.agent_network,
            probe_dir: &repo.worktrees.join(".sandbox-check"),
        })
        .await?;
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        let base_id = args
            .agent_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| format!("{host}-{}", std::process::id()));
        let slots = args.concurrency.max(1);
        let id = slot_id(&base_id, 1, slots);
        store
            .register_runner(&id, &host, i64::from(std::process::id()))
            .await?;
        let runner = Runner {
            store,
            id,
            repo,
            agents,
            default_agent,
            poll: Duration::from_secs(args.poll_seconds),
            lease: Duration::from_secs(args.lease_seconds),
            timeout: Duration::from_secs(args.timeout_seconds),
            max_turns: args.max_turns,
            max_run_usd: args.max_run_usd,
            default_model: args.model.clone().filter(|m| !m.trim().is_empty()),
            gh_bin,
            commit_name: args.commit_name.clone(),
            commit_email: args.commit_email.clone(),
            protected: args.protected_paths(),
            agent_env: args.agent_env.clone(),
            sandbox,
            max_changed_files: args.max_changed_files as usize,
            max_change_bytes: u64::from(args.max_change_mib) * 1024 * 1024,
            ci_fix_attempts: args.ci_fix_attempts,
            pr_follow_every: Duration::from_secs(args.pr_poll_seconds),
            base_id,
            host,
            slots,
            follows_pull_requests: true,
        };
        runner
            .store
            .report_agents(&runner.id, &runner.agents_shown())
            .await?;
        Ok(runner)
    }

    /// This runner (slot 1) and slots 2…N of `AUTOPILOT_RUNNER_CONCURRENCY=N`: the same
    /// settings and checkout, each working one issue at a time under its own name (`<id>#2`…),
    /// so each has its own claim, lease, heartbeat, log and cancel, and its own row on
    /// /admin/runner. Pause and SIGTERM reach every slot, since each one checks them.
    pub async fn with_slots(self) -> anyhow::Result<Vec<Runner>> {
        let mut slots = Vec::with_capacity(self.slots as usize);
        for n in 2..=self.slots {
            let id = slot_id(&self.base_id, n, self.slots);
            self.store
                .register_runner(&id, &self.host, i64::from(std::process::id()))
                .await?;
            self.store.report_agents(&id, &self.agents_shown()).await?;
            slots.push(Runner {
                id,
                follows_pull_requests: false,
                ..self.clone()
            });
        }
        slots.insert(0, self);
        Ok(slots)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Works until `shutdown` turns true: claims, runs, and sleeps a poll when idle or paused.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            runner = %self.id,
            repo = %self.repo.root.display(),
            base = %self.repo.base_branch,
            "runner started"
        );
        // Any change to the board (made by this process or, on PostgreSQL, by another one)
        // wakes an idle runner at once; the poll is the safety net.
        let mut changes = self.store.subscribe();
        // Pull requests are read every AUTOPILOT_PR_POLL_SECONDS (calls to GitHub each), not
        // every poll.
        let mut followed_at: Option<std::time::Instant> = None;
        while !*shutdown.borrow() {
            if self.follows_pull_requests
                && followed_at.is_none_or(|at| at.elapsed() >= self.pr_follow_every)
            {
                followed_at = Some(std::time::Instant::now());
                if let Err(err) = self.follow_pull_requests().await {
                    tracing::warn!(runner = %self.id, "following pull requests: {err:#}");
                }
                if let Err(err) = self.forget_finished_sessions().await {
                    tracing::warn!(runner = %self.id, "dropping finished sessions: {err:#}");
                }
            }
            changes.mark_unchanged();
            let worked = match self.work_next(shutdown.clone()).await {
                Ok(worked) => worked,
                Err(err) => {
                    tracing::error!(runner = %self.id, "runner step failed: {err:#}");
                    None
                }
            };
            if worked.is_none() {
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.changed() => {}
                    _ = changes.changed() => {
                        // A burst of changes (a feedback flood) costs one look, not one each.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
        if let Err(err) = self.store.runner_stopped(&self.id).await {
            tracing::error!(%err, "could not record the runner as stopped");
        }
        tracing::info!(runner = %self.id, "runner stopped");
    }

    /// Follows the pull requests of issues in review (with push on): a merge makes the issue
    /// done, a close without merging blocks it, and the state of its checks shows on the card.
    /// People's comments there come into the thread (a review asking for changes sends the
    /// issue back to the agent), and failing checks go back to the agent with their logs, at
    /// most AUTOPILOT_CI_FIX_ATTEMPTS times. Every runner may do it; each step is recorded
    /// once, whichever server gets there first.
    pub async fn follow_pull_requests(&self) -> anyhow::Result<()> {
        let Some(gh) = &self.gh_bin else {
            return Ok(());
        };
        let dir = &self.repo.root;
        let mut login: Option<Option<String>> = None;
        for (id, url, attempts) in self.store.open_pull_requests().await? {
            let pr = match git::pull_request(dir, gh, &url).await {
                Ok(pr) => pr,
                Err(err) => {
                    tracing::warn!(issue = id, "could not read {url}: {err:#}");
                    continue;
                }
            };
            if matches!(pr, PullRequest::Open { .. }) {
                if login.is_none() {
                    login = Some(forge::runner_login(dir, gh).await);
                }
                let me = login.as_ref().and_then(|l| l.as_deref());
                match forge::review_comments(dir, gh, &url, me).await {
                    Ok(review) => {
                        let items: Vec<ForgeItem> = review
                            .comments
                            .iter()
                            .map(|c| ForgeItem {
                                key: c.key.clone(),
                                author: format!("{} on GitHub", c.author),
                                body: forge::comment_text(c),
                                requests_changes: c.requests_changes,
                            })
                            .collect();
                        let added = self.store.import_forge_comments(id, &items).await?;
                        if !added.is_empty() {
                            tracing::info!(
                                issue = id,
                                comments = added.len(),
                                "review comments brought in"
                            );
                            continue;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(issue = id, "could not read the comments on {url}: {err:#}")
                    }
                }
            }
            let failing = matches!(&pr, PullRequest::Open { checks: Some(c) } if c == "failing");
            if failing && self.ci_fix_attempts > 0 {
                self.checks_failed(id, &url, attempts).await?;
            } else {
                self.store.record_pull_request(id, &pr).await?;
            }
        }
        Ok(())
    }

    /// A pull request's checks failed: the last lines of each failing check's log go on the
    /// issue, and it goes back to the agent (or, its attempts used up, to a person).
    async fn checks_failed(&self, id: i64, url: &str, attempts: i64) -> anyhow::Result<()> {
        let Some(gh) = &self.gh_bin else {
            return Ok(());
        };
        let max = i64::from(self.ci_fix_attempts);
        let logs = match forge::failing_check_logs(&self.repo.root, gh, url).await {
            Ok(logs) => logs,
            Err(err) => {
                tracing::warn!(
                    issue = id,
                    "could not read the failing checks of {url}: {err:#}"
                );
                Vec::new()
            }
        };
        let text = if attempts < max {
            let round = u32::try_from(attempts + 1).unwrap_or(u32::MAX);
            forge::quote_check_logs(&logs, round, self.ci_fix_attempts)
        } else {
            let heading = format!(
                "The pull request's checks still fail after {attempts} round(s) of fixes by the \
                 agent (AUTOPILOT_CI_FIX_ATTEMPTS={max}): a person must look."
            );
            forge::quote_logs_under(heading, &logs)
        };
        let verdict = self.store.checks_failed(id, attempts, max, &text).await?;
        tracing::info!(issue = id, ?verdict, "failing checks");
        Ok(())
    }

    /// One step: rescue expired claims, then (unless paused) claim and work one issue.
    /// Returns the outcome, or `None` when there was nothing to do.
    pub async fn work_next(
        &self,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Option<RunOutcome>> {
        self.store.expire_leases().await?;
        self.store
            .heartbeat(&self.id, self.lease_ms(), None)
            .await?;
        if self.store.switch(Switch::RunnerPaused).await? {
            return Ok(None);
        }
        let choice = AgentChoice {
            default_agent: self.default_agent.clone(),
            installed: self.agents.iter().map(|a| a.spec.name.clone()).collect(),
        };
        let claimed = self
            .store
            .claim_next_for(&self.id, self.lease_ms(), Some(&choice))
            .await?;
        let Some((issue, run)) = claimed else {
            return Ok(None);
        };
        tracing::info!(runner = %self.id, issue = issue.id, run = run.id, "claimed");
        let outcome = self.work(&issue, &run, shutdown).await;
        tracing::info!(runner = %self.id, issue = issue.id, outcome = outcome.as_str(), "run finished");
        Ok(Some(outcome))
    }

    /// The agent that works `issue`: the one it asks for, or the board's default.
    fn agent_for(&self, issue: &Issue) -> Option<&Installed> {
        let wanted = issue.agent.as_deref().unwrap_or(&self.default_agent);
        self.agents.iter().find(|a| a.spec.name == wanted)
    }

    /// The agents this runner has, as `/admin/runner` shows them.
    fn agents_shown(&self) -> String {
        self.agents
            .iter()
            .map(|a| format!("{} {}", a.spec.name, a.version))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn lease_ms(&self) -> i64 {
        self.lease.as_millis() as i64
    }

    /// Works one claimed issue to its end. Whatever fails, the run gets an outcome and the
    /// issue a comment; nothing is left half-done.
    async fn work(&self, issue: &Issue, run: &Run, shutdown: watch::Receiver<bool>) -> RunOutcome {
        let clock = RunClock {
            claimed: Some(std::time::Instant::now()),
            ..RunClock::default()
        };
        let outcome = self.work_timed(issue, run, shutdown, &clock).await;
        clock.report(issue.id);
        outcome
    }

    async fn work_timed(
        &self,
        issue: &Issue,
        run: &Run,
        shutdown: watch::Receiver<bool>,
        clock: &RunClock,
    ) -> RunOutcome {
        let worktree = match self.repo.worktree_for(issue.id).await {
            Ok(found) => found,
            Err(err) => {
                let text = format!("The runner could not prepare the git worktree: {err:#}");
                return self.finish(issue, run, error_finish(text, None)).await;
            }
        };
        let branch = worktree.branch.clone();
        let mut finish = match self.attempt(issue, run, &worktree, shutdown, clock).await {
            Ok(finish) => finish,
            Err(err) => error_finish(format!("The runner failed: {err:#}"), Some(branch.clone())),
        };
        self.repo.remove_worktree(&worktree.dir).await;
        if self.repo.drop_branch_if_empty(&branch).await {
            finish.branch = None;
        }
        self.finish(issue, run, finish).await
    }

    /// Records the end of the run, trying again while the database is away.
    async fn finish(&self, issue: &Issue, run: &Run, finish: RunFinish) -> RunOutcome {
        let outcome = finish.outcome;
        let recorded = self
            .while_db_away(|| {
                self.store
                    .finish_run(&self.id, run.id, issue.id, finish.clone())
            })
            .await;
        match recorded {
            Ok(true) => outcome,
            Ok(false) => {
                tracing::warn!(
                    issue = issue.id,
                    "claim lost before the run ended; result dropped"
                );
                RunOutcome::Lost
            }
            Err(err) => {
                tracing::error!(issue = issue.id, %err, "could not record the end of a run");
                RunOutcome::Error
            }
        }
    }

    /// Runs `step` again while the database is away (a restart, a failover), for as long as
    /// the lease would last: a short outage must not turn a run into an error, and past the
    /// lease the claim is someone else's to rescue anyway.
    async fn while_db_away<T, F, Fut>(&self, step: F) -> app::error::AppResult<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = app::error::AppResult<T>>,
    {
        let give_up = std::time::Instant::now() + self.lease;
        loop {
            match step().await {
                Err(AppError::Unavailable(_)) if std::time::Instant::now() < give_up => {
                    tracing::warn!(runner = %self.id, "the database is away; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        issue: &Issue,
        run: &Run,
        worktree: &Worktree,
        shutdown: watch::Receiver<bool>,
        clock: &RunClock,
    ) -> anyhow::Result<RunFinish> {
        let (dir, branch) = (worktree.dir.as_path(), worktree.branch.as_str());
        let head_before = worktree.head().await?;
        let comments = self
            .while_db_away(|| self.store.list_comments(issue.id))
            .await?;
        let (kind, continues) = next_run(issue.plan_first, issue.plan_state, issue.next_run);

        let (log_tx, log_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_log(self.store.clone(), run.id, log_rx));
        let Some(agent) = self.agent_for(issue) else {
            let text = format!(
                "This runner does not have the agent {} installed.",
                issue.agent.as_deref().unwrap_or(&self.default_agent)
            );
            drop(log_tx);
            let _ = writer.await;
            return Ok(error_finish(text, None));
        };
        let _ = log_tx.send(format!(
            "● run {} (attempt {}, {}) by {} on branch {branch}, agent {} ({})\n",
            run.id,
            run.attempt,
            kind.label(),
            self.id,
            agent.spec.name,
            agent.version
        ));
        // A run that continues something resumes the agent's earlier session when there is
        // one to resume; otherwise it starts afresh with the whole thread.
        let session = if continues {
            self.while_db_away(|| self.store.last_session(issue.id))
                .await?
                .filter(|last| last.agent.as_deref() == Some(agent.spec.name.as_str()))
        } else {
            None
        };
        if continues && session.is_none() {
            let _ = log_tx.send(
                "● no earlier session of this agent to resume: starting afresh with the whole \
                 thread\n"
                    .into(),
            );
        }
        let session_dirs = self.session_dirs(issue.id, agent)?;
        let fresh_prompt = prompt::build_for(issue, &comments, kind);
        let resume_prompt = session.as_ref().map(|last| {
            let since: Vec<_> = comments
                .iter()
                .filter(|c| c.created_at >= last.finished_at && c.author_kind != AuthorKind::Agent)
                .cloned()
                .collect();
            prompt::continuation(kind, &since)
        });
        let model = issue.model.as_deref().or(self.default_model.as_deref());
        let job = |prompt, resume| AgentJob {
            prompt,
            dir,
            timeout: self.timeout,
            max_turns: self.max_turns,
            max_budget_usd: self.max_run_usd,
            model,
            extra_env: &self.agent_env,
            sandbox: &self.sandbox,
            // One file may not exceed what a whole change may hold (and a little more, so
            // the run is refused with a reason rather than cut short).
            max_file_bytes: self.max_change_bytes + 1,
            protected: &self.protected,
            read_only: kind == RunKind::Plan,
            resume,
            session_dirs: &session_dirs,
        };
        let stop = self.watch_run(issue.id, run.id, shutdown);
        tokio::pin!(stop);
        clock.agent_starts();
        let mut report = match (&session, &resume_prompt) {
            (Some(last), Some(message)) => {
                let _ = log_tx.send(format!(
                    "● resuming session {} of run {}\n",
                    last.session_id, last.run_id
                ));
                let job = job(message.as_str(), Some(last.session_id.as_str()));
                agent::run(agent, &job, log_tx.clone(), &mut stop).await
            }
            _ => {
                let job = job(fresh_prompt.as_str(), None);
                agent::run(agent, &job, log_tx.clone(), &mut stop).await
            }
        };
        if let Ok(AgentReport {
            resume: Resume::Failed(why),
            ..
        }) = &report
        {
            let _ = log_tx.send(format!(
                "● could not resume the session ({why}): starting afresh with the whole thread\n"
            ));
            let job = job(fresh_prompt.as_str(), None);
            report = agent::run(agent, &job, log_tx.clone(), &mut stop)
                .await
                .map(|fresh| AgentReport {
                    resume: Resume::Failed(why.clone()),
                    ..fresh
                });
        }
        clock.agent_ended();
        self.bound_sessions(&session_dirs).await;
        let report = match report {
            Ok(report) => report,
            Err(err) => {
                let _ = log_tx.send(format!("✗ {err:#}\n"));
                drop(log_tx);
                let _ = writer.await;
                return Ok(error_finish(format!("{err:#}"), None));
            }
        };
        let changed = worktree.changed_paths().await?;
        let head_moved = worktree.head().await? != head_before;
        if head_moved {
            // Whatever the agent committed is undone: nothing reaches the branch but what the
            // runner commits after its checks.
            self.repo.restore_branch(branch, &head_before).await?;
        }
        let size = ChangeSize {
            bytes: changed_bytes(dir, &changed),
            max_files: self.max_changed_files,
            max_bytes: self.max_change_bytes,
        };
        let verdict = if kind == RunKind::Plan {
            outcome::decide_plan(&report, self.timeout.as_secs(), &changed, head_moved)
        } else {
            outcome::decide(
                &report,
                self.timeout.as_secs(),
                &changed,
                head_moved,
                &self.protected,
                &size,
            )
        };
        let result = report.result.as_ref().and_then(|r| r.result.clone());
        let mut finish = match verdict {
            Verdict::Stop {
                outcome,
                to,
                comment,
            } => RunFinish {
                comment: Some(comment),
                ..RunFinish::new(outcome, to)
            },
            Verdict::Plan { plan } => RunFinish {
                comment: Some((AuthorKind::Agent, format!("{PLAN_HEADING}\n\n{plan}"))),
                ..RunFinish::new(RunOutcome::Planned, Status::InReview)
            },
            Verdict::Commit { summary } => {
                let _ = log_tx.send(format!("● committing {} changed path(s)\n", changed.len()));
                self.commit(issue, worktree, &summary).await?
            }
        };
        finish.exit_code = report.exit_code.map(i64::from);
        finish.result = result;
        finish.cost_usd = report.result.as_ref().and_then(|r| r.total_cost_usd);
        finish.num_turns = report.result.as_ref().and_then(|r| r.num_turns);
        finish.model = model.map(str::to_string);
        finish.agent = Some(agent.spec.name.clone());
        finish.session_id = report.result.as_ref().and_then(|r| r.session_id.clone());
        finish.resumed = match report.resume {
            Resume::NotAsked if continues => Some(false),
            Resume::NotAsked => None,
            Resume::Resumed => Some(true),
            Resume::Failed(_) => Some(false),
        };
        finish.duration_ms = Some(
            report
                .result
                .as_ref()
                .and_then(|r| r.duration_ms)
                .unwrap_or(report.elapsed_ms),
        );
        finish.branch.get_or_insert_with(|| branch.to_string());
        let _ = log_tx.send(format!("● outcome: {}\n", finish.outcome.as_str()));
        drop(log_tx);
        let _ = writer.await;
        Ok(finish)
    }

    /// Where the agent keeps its sessions for this issue (made if missing), as the sandbox
    /// shows them in its HOME: kept between the issue's runs, so one can resume another.
    fn session_dirs(
        &self,
        issue_id: i64,
        agent: &Installed,
    ) -> anyhow::Result<Vec<(std::path::PathBuf, String)>> {
        let mut dirs = Vec::new();
        for (n, rel) in agent.spec.session_dirs.iter().enumerate() {
            let host = self
                .sessions_root()
                .join(format!("issue-{issue_id}"))
                .join(&agent.spec.name)
                .join(n.to_string());
            std::fs::create_dir_all(&host)
                .with_context(|| format!("cannot make {}", host.display()))?;
            dirs.push((host, rel.clone()));
        }
        Ok(dirs)
    }

    fn sessions_root(&self) -> std::path::PathBuf {
        self.repo.worktrees.join(".agent-sessions")
    }

    /// An issue's sessions past the size cap are dropped (its next run starts afresh): what
    /// the agent writes there must not fill the disk.
    async fn bound_sessions(&self, dirs: &[(std::path::PathBuf, String)]) {
        for (host, _) in dirs {
            let size = tree_bytes(host);
            if size > SESSIONS_MAX_BYTES {
                tracing::warn!(dir = %host.display(), size, "the agent's sessions are too big: dropped");
                let _ = tokio::fs::remove_dir_all(host).await;
            }
        }
    }

    /// Drops the kept sessions of issues that are done, shelved or gone.
    pub async fn forget_finished_sessions(&self) -> anyhow::Result<()> {
        let Ok(entries) = std::fs::read_dir(self.sessions_root()) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_prefix("issue-"))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                continue;
            };
            let finished = match self.store.get_issue(id).await {
                Ok(issue) => matches!(issue.status, Status::Done | Status::Backlog),
                Err(AppError::NotFound(_)) => true,
                Err(err) => return Err(err.into()),
            };
            if finished {
                let _ = tokio::fs::remove_dir_all(entry.path()).await;
            }
        }
        Ok(())
    }

    /// Commits the agent's work, pushes and opens a PR when asked to, and says so on the issue.
    async fn commit(
        &self,
        issue: &Issue,
        worktree: &Worktree,
        summary: &str,
    ) -> anyhow::Result<RunFinish> {
        let branch = worktree.branch.as_str();
        let title: String = clean_prompt_text(&issue.title).chars().take(60).collect();
        let message = format!(
            "#{}: {title}\n\n{summary}\n\nAutopilot-Issue: {}",
            issue.id, issue.id
        );
        let diffstat = worktree
            .commit_all(&message, &self.commit_name, &self.commit_email)
            .await?;
        // Kept with the run, so any server shows the change; a review without it still works.
        let patches = match self.repo.patches(worktree).await {
            Ok(patches) => Some(patches),
            Err(err) => {
                tracing::warn!(%err, issue = issue.id, "could not keep the run's patch");
                None
            }
        };
        let pr_url = if let Some(gh) = &self.gh_bin {
            match self
                .repo
                .push_and_open_pr(gh, branch, &title, summary)
                .await
            {
                Ok(url) => Some(url),
                Err(err) => {
                    let text = format!(
                        "The change is committed on `{branch}`, but pushing or opening the pull \
                         request failed: {err:#}"
                    );
                    return Ok(error_finish(text, Some(branch.to_string())));
                }
            }
        } else {
            None
        };
        let mut text =
            format!("Ready for review on branch `{branch}`.\n\n{summary}\n\n```\n{diffstat}\n```");
        if let Some(url) = &pr_url {
            text.push_str(&format!("\n\nPull request: {url}"));
        }
        Ok(RunFinish {
            comment: Some((AuthorKind::Agent, text)),
            branch: Some(branch.to_string()),
            pr_url,
            patches,
            ..RunFinish::new(RunOutcome::Review, Status::InReview)
        })
    }

    /// Resolves when the run must stop: shutdown, an admin's cancel, or a lost claim. Renews
    /// the lease on the way.
    async fn watch_run(
        &self,
        issue_id: i64,
        run_id: i64,
        mut shutdown: watch::Receiver<bool>,
    ) -> Stop {
        let beat_every = (self.lease / 3).clamp(Duration::from_millis(500), Duration::from_secs(2));
        loop {
            if *shutdown.borrow() {
                return Stop::Shutdown;
            }
            match self
                .store
                .heartbeat(&self.id, self.lease_ms(), Some((issue_id, run_id)))
                .await
            {
                Ok(beat) if !beat.holds_claim => return Stop::LostClaim,
                Ok(beat) => {
                    if let Some(by) = beat.cancel_requested_by {
                        return Stop::Cancelled(by);
                    }
                }
                Err(err) => tracing::warn!(%err, "heartbeat failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(beat_every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Where a run's time goes: the runner's own work before the agent starts (worktree, thread,
/// sandbox set-up) and after it ends (checks, commit, recording), around the agent's time.
/// Logged at debug level under the `autopilot::run_timing` target (runner_bench reads it).
#[derive(Default)]
struct RunClock {
    claimed: Option<std::time::Instant>,
    started: std::sync::Mutex<(Option<std::time::Instant>, Option<std::time::Instant>)>,
}

impl RunClock {
    fn marks(
        &self,
    ) -> std::sync::MutexGuard<'_, (Option<std::time::Instant>, Option<std::time::Instant>)> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn agent_starts(&self) {
        self.marks().0 = Some(std::time::Instant::now());
    }

    fn agent_ended(&self) {
        self.marks().1 = Some(std::time::Instant::now());
    }

    fn report(&self, issue: i64) {
        let (Some(claimed), (Some(start), Some(end))) = (self.claimed, *self.marks()) else {
            return;
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        tracing::debug!(
            target: "autopilot::run_timing",
            issue,
            before_ms = ms(start - claimed),
            agent_ms = ms(end - start),
            after_ms = ms(end.elapsed()),
            "run timing"
        );
    }
}

/// What the files under `dir` hold, in bytes, links not followed.
fn tree_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                _ => {
                    let size = entry.metadata().map_or(0, |m| m.len());
                    total = total.saturating_add(size);
                }
            }
        }
    }
    total
}

/// What the changed files hold now, in bytes (deleted ones count nothing; a link counts its
/// own size, never what it points at).
fn changed_bytes(dir: &std::path::Path, changed: &[String]) -> u64 {
    changed
        .iter()
        .filter_map(|path| std::fs::symlink_metadata(dir.join(path)).ok())
        .map(|meta| meta.len())
        .fold(0u64, u64::saturating_add)
}

/// A run that ends in an error: blocked, with the reason (tokens and passwords taken out:
/// every member reads it, and so does the agent's next prompt).
fn error_finish(text: String, branch: Option<String>) -> RunFinish {
    RunFinish {
        comment: Some((AuthorKind::System, git::scrub_secrets(&text))),
        branch,
        ..RunFinish::new(RunOutcome::Error, Status::Blocked)
    }
}

/// Writes log lines to the run as they come, a batch at a time, up to the cap.
async fn write_log(store: Store, run_id: i64, mut lines: mpsc::UnboundedReceiver<String>) {
    let mut written = 0usize;
    while let Some(first) = lines.recv().await {
        let mut batch = first;
        while let Ok(more) = lines.try_recv() {
            batch.push_str(&more);
        }
        if written >= LOG_MAX_BYTES {
            continue;
        }
        if written + batch.len() > LOG_MAX_BYTES {
            batch = "… (log truncated)\n".into();
        }
        written += batch.len();
        if let Err(err) = store.append_run_log(run_id, &batch).await {
            tracing::warn!(%err, run_id, "could not append to the run log");
        }
    }
}

/// A slot's runner name: the runner's own when it has one slot, `<id>#<n>` otherwise.
fn slot_id(base: &str, n: u32, slots: u32) -> String {
    if slots > 1 {
        format!("{base}#{n}")
    } else {
        base.to_string()
    }
}
