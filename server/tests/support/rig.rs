//! The runner's test rig: a real git repository, a fresh database on either engine, and a
//! runner with fake agents (`fixtures/fake-claude`, following the Claude Code CLI contract;
//! `fixtures/fake-acp-agent`, an Agent Client Protocol agent). Shared by `runner.rs` and
//! `acp_runner.rs`.
#![allow(dead_code)]

use app::domain::{Actor, AuthorKind, Issue, NewIssue, Role, RunOutcome, Status};
use app::store::Store;
use server::config::RunnerArgs;
use server::runner::Runner;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::sync::watch;

pub const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-claude");
pub const FAKE_GH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-gh");
pub const FAKE_ACP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-acp-agent");

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub url: String,
}

pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Rig {
    pub async fn new() -> Rig {
        Rig::new_in(&std::env::temp_dir()).await
    }

    /// A rig under `base`: outside /tmp (which the sandbox hides anyway), a test of what the
    /// sandbox hides proves something.
    pub async fn new_in(base: &Path) -> Rig {
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("README.md"), "# A project\n").unwrap();
        git(&repo, &["add", "."]);
        git(
            &repo,
            &[
                "-c",
                "user.name=Dev",
                "-c",
                "user.email=dev@x",
                "commit",
                "-qm",
                "start",
            ],
        );
        // The fake agent's notes: the one place besides its worktree the tests let it write.
        std::fs::create_dir(dir.path().join("notes")).unwrap();
        let url = crate::engines::fresh_database(dir.path()).await;
        let store = Store::open(&url).await.unwrap();
        Rig { dir, store, url }
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn args(&self) -> RunnerArgs {
        RunnerArgs {
            enabled: true,
            workdir: self.repo(),
            claude_bin: FAKE.into(),
            agent: "claude".into(),
            agents: Vec::new(),
            agents_file: None,
            poll_seconds: 3,
            push: false,
            gh_bin: "gh".into(),
            agent_id: Some("test-runner".into()),
            commit_name: "Autopilot Bot".into(),
            commit_email: "bot@autopilot.test".into(),
            base_branch: None,
            timeout_seconds: 20,
            lease_seconds: 30,
            max_turns: Some(30),
            worktrees_dir: None,
            // The built-in ones (.git/, .github/, .ci/, .claude/, CLAUDE.md) apply anyway.
            protected_paths: Vec::new(),
            protected_paths_replace: None,
            workdir_is_autopilot: false,
            agent_env: Vec::new(),
            concurrency: 1,
            max_run_usd: None,
            model: None,
            bwrap_bin: "bwrap".into(),
            agent_network: true,
            sandbox_hide: Vec::new(),
            sandbox_read: Vec::new(),
            sandbox_writable: vec![self.notes()],
            max_changed_files: 500,
            max_change_mib: 20,
            ci_fix_attempts: 2,
            pr_poll_seconds: 60,
            server_paths: Vec::new(),
        }
    }

    /// Settings for a runner whose default agent is the fake ACP agent, `fake-acp` (also
    /// `fake-acp-noinit`, `fake-acp-old` and `fake-acp-auth`: started with those flags).
    pub fn acp_args(&self) -> RunnerArgs {
        let file = self.dir.path().join("agents.toml");
        let mut text = format!("[agents.fake-acp]\ncommand = [\"{FAKE_ACP}\"]\n");
        for flag in ["no-init", "old", "auth"] {
            text.push_str(&format!(
                "[agents.fake-acp-{}]\ncommand = [\"{FAKE_ACP}\", \"--{flag}\"]\n",
                flag.replace('-', "")
            ));
        }
        std::fs::write(&file, text).unwrap();
        RunnerArgs {
            agent: "fake-acp".into(),
            agents_file: Some(file),
            ..self.args()
        }
    }

    /// A runner of the fake ACP agent, with settings of its own.
    pub async fn acp_runner(&self, change: impl FnOnce(&mut RunnerArgs)) -> Runner {
        let mut args = self.acp_args();
        change(&mut args);
        Runner::prepare(self.store.clone(), &args).await.unwrap()
    }

    /// What the fake agent noted (its prompt, model, environment, what it could read).
    pub fn notes(&self) -> PathBuf {
        self.dir.path().join("notes")
    }

    /// A runner with settings of its own.
    pub async fn runner_with(&self, change: impl FnOnce(&mut RunnerArgs)) -> Runner {
        let mut args = self.args();
        change(&mut args);
        Runner::prepare(self.store.clone(), &args).await.unwrap()
    }

    pub async fn runner(&self) -> Runner {
        Runner::prepare(self.store.clone(), &self.args())
            .await
            .unwrap()
    }

    pub async fn ready(&self, title: &str) -> Issue {
        self.store
            .create_issue(
                &person(),
                NewIssue {
                    title: title.into(),
                    body: "Please do it.".into(),
                    status: Some(Status::Ready),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// A runner with push on, pushing to a bare `origin` next to the checkout (returned) and
    /// opening pull requests with the fake `gh`.
    pub async fn pushing_runner(&self) -> (Runner, PathBuf) {
        self.pushing_runner_with(|_| {}).await
    }

    /// [`Rig::pushing_runner`] with settings of its own.
    pub async fn pushing_runner_with(
        &self,
        change: impl FnOnce(&mut RunnerArgs),
    ) -> (Runner, PathBuf) {
        let remote = self.dir.path().join("remote.git");
        git(
            self.dir.path(),
            &["init", "-q", "--bare", remote.to_str().unwrap()],
        );
        git(
            &self.repo(),
            &["remote", "add", "origin", remote.to_str().unwrap()],
        );
        let mut args = self.args();
        args.push = true;
        args.gh_bin = FAKE_GH.into();
        change(&mut args);
        (
            Runner::prepare(self.store.clone(), &args).await.unwrap(),
            remote,
        )
    }

    pub fn branch_exists(&self, id: i64) -> bool {
        Command::new("git")
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("refs/heads/autopilot/issue-{id}"))
            .current_dir(self.repo())
            .status()
            .unwrap()
            .success()
    }

    /// Commits on the issue's branch that are not on main.
    pub fn branch_commits(&self, id: i64) -> Vec<String> {
        let log = git(
            &self.repo(),
            &["log", "--format=%s", &format!("main..autopilot/issue-{id}")],
        );
        log.lines().map(str::to_string).collect()
    }

    pub async fn comments(&self, id: i64) -> Vec<(AuthorKind, String)> {
        self.store
            .list_comments(id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.author_kind, c.body))
            .collect()
    }
}

pub fn person() -> Actor {
    Actor::new(Role::Member, "Ann")
}

pub fn no_shutdown() -> watch::Receiver<bool> {
    watch::channel(false).1
}

pub async fn work_one(rig: &Rig, title: &str) -> (Issue, RunOutcome) {
    let issue = rig.ready(title).await;
    let outcome = rig.runner().await.work_next(no_shutdown()).await.unwrap();
    (
        rig.store.get_issue(issue.id).await.unwrap(),
        outcome.expect("an issue was worked"),
    )
}
