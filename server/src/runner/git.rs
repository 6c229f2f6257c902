//! The runner's git: worktrees per issue, what changed, commits, push and pull requests. The
//! runner alone runs git; the agent is told not to and its git tool is disallowed.

use anyhow::{anyhow, bail, Context};
use app::domain::{cap_patch, PullRequest};
use app::store::RunPatches;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::process::Command;
use tokio::sync::Mutex;

/// Runs a program in `dir`, returning its stdout, or an error carrying its stderr.
pub async fn run(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {program}"))?;
    if !output.status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string())
}

async fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    run(dir, "git", args).await
}

/// The repository the runner works in.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The checkout's top directory.
    pub root: PathBuf,
    /// Where issue worktrees live: outside the checkout (they never show up as untracked
    /// files in it) and outside any `.git` directory (the Claude Code CLI refuses to write
    /// under one, even with `acceptEdits`).
    pub worktrees: PathBuf,
    pub base_branch: String,
    /// Whether the checkout has a remote named `origin`: then each new issue branch is cut
    /// from the base branch as `origin` has it now, fetched first.
    has_origin: bool,
    /// Changes to the checkout's worktrees and branches, one at a time: a runner's slots
    /// share the checkout, and git's own locks make a second `worktree add` fail, not wait.
    lock: Arc<Mutex<()>>,
}

impl Repo {
    /// Opens the checkout at `dir`; `base_branch` defaults to its current branch, `worktrees`
    /// to `<checkout>.autopilot-worktrees` next to it.
    pub async fn open(
        dir: &Path,
        base_branch: Option<&str>,
        worktrees: Option<&Path>,
    ) -> anyhow::Result<Repo> {
        let root = git(dir, &["rev-parse", "--show-toplevel"])
            .await
            .map_err(|_| anyhow!("AUTOPILOT_WORKDIR {} is not a git checkout", dir.display()))?;
        let root = PathBuf::from(root);
        let worktrees = worktrees_dir(&root, worktrees)?;
        let base_branch = match base_branch {
            Some(b) => b.to_string(),
            None => git(&root, &["symbolic-ref", "--short", "HEAD"])
                .await
                .map_err(|_| {
                    anyhow!("the checkout is not on a branch; set AUTOPILOT_BASE_BRANCH")
                })?,
        };
        git(
            &root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{base_branch}^{{commit}}"),
            ],
        )
        .await
        .map_err(|_| {
            anyhow!(
                "the base branch '{base_branch}' does not exist in {}",
                root.display()
            )
        })?;
        let has_origin = git(&root, &["remote", "get-url", "origin"]).await.is_ok();
        Ok(Repo {
            worktrees,
            root,
            base_branch,
            has_origin,
            lock: Arc::default(),
        })
    }

    /// What issue branches are cut from and compared with: `origin/<base>` once fetched (what
    /// a pull request is opened against), else the local base branch.
    async fn base_ref(&self) -> String {
        let remote = format!("refs/remotes/origin/{}", self.base_branch);
        let fetched = self.has_origin
            && git(&self.root, &["rev-parse", "--verify", "--quiet", &remote])
                .await
                .is_ok();
        if fetched {
            format!("origin/{}", self.base_branch)
        } else {
            self.base_branch.clone()
        }
    }

    /// Brings `origin/<base>` up to date, so a new branch starts from the newest base and not
    /// from whatever the checkout last saw. A remote that cannot be reached is said, not
    /// fatal: the branch is then cut from what was fetched before (or the local base).
    async fn fetch_base(&self) {
        if !self.has_origin {
            return;
        }
        let refspec = format!("+refs/heads/{0}:refs/remotes/origin/{0}", self.base_branch);
        if let Err(err) = git(&self.root, &["fetch", "--quiet", "origin", &refspec]).await {
            tracing::warn!(%err, base = %self.base_branch, "could not fetch the base branch from origin");
        }
    }

    pub fn branch_for(issue_id: i64) -> String {
        format!("autopilot/issue-{issue_id}")
    }

    /// A fresh worktree for the issue on its branch: the existing branch (a later run continues
    /// it) or a new one cut from the base branch.
    pub async fn worktree_for(&self, issue_id: i64) -> anyhow::Result<(PathBuf, String)> {
        let branch = Self::branch_for(issue_id);
        let path = self.worktrees.join(format!("issue-{issue_id}"));
        let _one_at_a_time = self.lock.lock().await;
        self.remove_worktree_locked(&path).await;
        tokio::fs::create_dir_all(&self.worktrees).await?;
        let path_text = path.to_string_lossy().to_string();
        let exists = git(
            &self.root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ],
        )
        .await
        .is_ok();
        if exists {
            git(
                &self.root,
                &["worktree", "add", "--quiet", &path_text, &branch],
            )
            .await?;
        } else {
            self.fetch_base().await;
            let base = self.base_ref().await;
            git(
                &self.root,
                &[
                    "worktree",
                    "add",
                    "--quiet",
                    "--no-track",
                    "-b",
                    &branch,
                    &path_text,
                    &base,
                ],
            )
            .await?;
        }
        Ok((path, branch))
    }

    /// Puts the branch back on `commit`: the agent moved it by running git itself.
    pub async fn restore_branch(&self, branch: &str, commit: &str) -> anyhow::Result<()> {
        let _one_at_a_time = self.lock.lock().await;
        let reference = format!("refs/heads/{branch}");
        git(&self.root, &["update-ref", &reference, commit]).await?;
        Ok(())
    }

    /// Deletes the issue's branch when it holds no commit of its own (neither this run nor an
    /// earlier one committed), so blocked issues leave no empty branches behind. The worktree
    /// must be gone. True when deleted.
    pub async fn drop_branch_if_empty(&self, branch: &str) -> bool {
        let _one_at_a_time = self.lock.lock().await;
        let own_commits = format!("{}..{branch}", self.base_ref().await);
        match git(&self.root, &["rev-list", "--count", &own_commits]).await {
            Ok(count) if count.trim() == "0" => {
                git(&self.root, &["branch", "-D", branch]).await.is_ok()
            }
            _ => false,
        }
    }

    /// What the commit at the worktree's HEAD brings, for review: the base branch against
    /// HEAD (everything a merge would bring) and HEAD's own commit, each cut at the cap.
    pub async fn patches(&self, dir: &Path) -> anyhow::Result<RunPatches> {
        let diff = |range: String| async move {
            let args = [
                "diff",
                "--no-color",
                "--no-ext-diff",
                "--find-renames",
                &range,
            ];
            git(dir, &args).await.map(cap_patch)
        };
        let (branch, branch_cut) = diff(format!("{}...HEAD", self.base_ref().await)).await?;
        let (run, run_cut) = diff("HEAD~1..HEAD".into()).await?;
        Ok(RunPatches {
            branch,
            run,
            truncated: branch_cut || run_cut,
        })
    }

    /// Removes a worktree (the branch stays).
    pub async fn remove_worktree(&self, path: &Path) {
        let _one_at_a_time = self.lock.lock().await;
        self.remove_worktree_locked(path).await;
    }

    async fn remove_worktree_locked(&self, path: &Path) {
        if path.exists() {
            let text = path.to_string_lossy().to_string();
            if git(&self.root, &["worktree", "remove", "--force", &text])
                .await
                .is_err()
            {
                let _ = tokio::fs::remove_dir_all(path).await;
            }
        }
        let _ = git(&self.root, &["worktree", "prune"]).await;
    }
}

/// The worktrees directory, made if missing: `chosen`, or `<checkout>.autopilot-worktrees`.
fn worktrees_dir(root: &Path, chosen: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match chosen {
        Some(dir) => std::path::absolute(dir)?,
        None => {
            let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
                bail!(
                    "set AUTOPILOT_WORKTREES_DIR: the checkout {} has no parent directory",
                    root.display()
                );
            };
            let mut name = name.to_os_string();
            name.push(".autopilot-worktrees");
            parent.join(name)
        }
    };
    if dir.components().any(|c| c.as_os_str() == ".git") {
        bail!(
            "AUTOPILOT_WORKTREES_DIR {} is inside a .git directory, where the Claude Code CLI \
             refuses to write; choose another",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot create the worktrees directory {} (AUTOPILOT_WORKTREES_DIR)",
            dir.display()
        )
    })?;
    Ok(dir)
}

/// The commit a worktree is at.
pub async fn head(dir: &Path) -> anyhow::Result<String> {
    git(dir, &["rev-parse", "HEAD"]).await
}

/// Every path the agent created, changed, deleted or renamed (both names of a rename).
pub async fn changed_paths(dir: &Path) -> anyhow::Result<Vec<String>> {
    let status = git(
        dir,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )
    .await?;
    let mut paths = Vec::new();
    let mut entries = status.split('\0').filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        let (code, path) = entry.split_at(entry.len().min(3));
        paths.push(path.to_string());
        if code.starts_with('R') || code.starts_with('C') {
            if let Some(from) = entries.next() {
                paths.push(from.to_string());
            }
        }
    }
    Ok(paths)
}

/// Commits everything in the worktree as the runner's identity, with no hooks. Returns the
/// diffstat of the commit.
pub async fn commit_all(
    dir: &Path,
    message: &str,
    name: &str,
    email: &str,
) -> anyhow::Result<String> {
    git(dir, &["add", "--all"]).await?;
    let name = format!("user.name={name}");
    let email = format!("user.email={email}");
    git(
        dir,
        &[
            "-c",
            &name,
            "-c",
            &email,
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
        ],
    )
    .await?;
    git(dir, &["show", "--stat", "--format=", "HEAD"]).await
}

/// Pushes the branch and opens (or finds) its pull request with `gh`. Returns the PR's URL.
pub async fn push_and_open_pr(
    dir: &Path,
    gh: &str,
    branch: &str,
    base: &str,
    title: &str,
    body: &str,
) -> anyhow::Result<String> {
    git(
        dir,
        &["push", "--quiet", "--set-upstream", "origin", branch],
    )
    .await?;
    match run(
        dir,
        gh,
        &[
            "pr", "create", "--head", branch, "--base", base, "--title", title, "--body", body,
        ],
    )
    .await
    {
        Ok(out) => Ok(out.lines().last().unwrap_or_default().to_string()),
        // A later run of the same issue: the PR is already open.
        Err(_) => {
            run(
                dir,
                gh,
                &["pr", "view", branch, "--json", "url", "--jq", ".url"],
            )
            .await
        }
    }
}

/// What a pull request has become, read with `gh pr view` (run in `dir`, the checkout).
pub async fn pull_request(dir: &Path, gh: &str, url: &str) -> anyhow::Result<PullRequest> {
    let fields = "state,mergedBy,statusCheckRollup";
    let out = run(dir, gh, &["pr", "view", url, "--json", fields]).await?;
    parse_pull_request(&out)
}

/// `gh pr view --json state,mergedBy,statusCheckRollup` → what the board records. Checks
/// are failing if any failed, pending if any has not finished, passing if all passed.
pub fn parse_pull_request(json: &str) -> anyhow::Result<PullRequest> {
    let value: serde_json::Value =
        serde_json::from_str(json).context("gh pr view did not print JSON")?;
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_ascii_uppercase()
    };
    match text(&value, "state").as_str() {
        "MERGED" => {
            let by = value
                .pointer("/mergedBy/login")
                .and_then(|l| l.as_str())
                .unwrap_or("someone on GitHub")
                .to_string();
            Ok(PullRequest::Merged { by })
        }
        "CLOSED" => Ok(PullRequest::Closed),
        "OPEN" => {
            let checks = value
                .get("statusCheckRollup")
                .and_then(|c| c.as_array())
                .map_or(&[][..], Vec::as_slice);
            // A check run has a status and a conclusion; a commit status has a state.
            let outcome = |c: &serde_json::Value| match text(c, "conclusion") {
                conclusion if conclusion.is_empty() => text(c, "state"),
                conclusion => conclusion,
            };
            let failed = checks.iter().any(|c| {
                matches!(
                    outcome(c).as_str(),
                    "FAILURE" | "ERROR" | "CANCELLED" | "TIMED_OUT" | "ACTION_REQUIRED"
                )
            });
            let pending = checks.iter().any(|c| {
                let status = text(c, "status");
                (!status.is_empty() && status != "COMPLETED")
                    || matches!(outcome(c).as_str(), "PENDING" | "EXPECTED" | "")
            });
            let checks = match (checks.is_empty(), failed, pending) {
                (true, ..) => None,
                (_, true, _) => Some("failing"),
                (_, _, true) => Some("pending"),
                _ => Some("passing"),
            };
            Ok(PullRequest::Open {
                checks: checks.map(str::to_string),
            })
        }
        other => bail!("gh pr view: unknown state {other:?}"),
    }
}

/// Whether `path` (relative to the worktree) is under one of the protected paths. An entry
/// ending in `/` is a directory, anything else a file; both match at any depth.
pub fn is_protected(path: &str, protected: &[String]) -> bool {
    let path = path.trim_start_matches("./");
    protected.iter().any(|entry| {
        let entry = entry.trim().trim_start_matches("./");
        if entry.is_empty() {
            return false;
        }
        match entry.strip_suffix('/') {
            Some(dir) => {
                path.split('/')
                    .take(path.split('/').count().saturating_sub(1))
                    .any(|part| part == dir)
                    || path == dir
            }
            None => path == entry || path.ends_with(&format!("/{entry}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{is_protected, parse_pull_request, PullRequest};

    #[test]
    fn a_pull_request_reads_as_merged_closed_or_open_with_its_checks() {
        let merged = r#"{"state":"MERGED","mergedBy":{"login":"octocat"},"statusCheckRollup":[]}"#;
        assert_eq!(
            parse_pull_request(merged).unwrap(),
            PullRequest::Merged {
                by: "octocat".into()
            }
        );
        assert_eq!(
            parse_pull_request(r#"{"state":"CLOSED","mergedBy":null}"#).unwrap(),
            PullRequest::Closed
        );
        let open = |checks: &str| {
            parse_pull_request(&format!(
                r#"{{"state":"OPEN","statusCheckRollup":[{checks}]}}"#
            ))
            .unwrap()
        };
        let check = |status: &str, conclusion: &str| {
            format!(
                r#"{{"__typename":"CheckRun","status":"{status}","conclusion":"{conclusion}"}}"#
            )
        };
        let state = |s: &str| format!(r#"{{"__typename":"StatusContext","state":"{s}"}}"#);
        let with = |c: Option<&str>| PullRequest::Open {
            checks: c.map(str::to_string),
        };
        assert_eq!(open(""), with(None));
        let pass = check("COMPLETED", "SUCCESS");
        let ok = state("SUCCESS");
        assert_eq!(open(&format!("{pass},{ok}")), with(Some("passing")));
        let running = check("IN_PROGRESS", "");
        assert_eq!(open(&format!("{pass},{running}")), with(Some("pending")));
        let waiting = state("PENDING");
        assert_eq!(open(&format!("{pass},{waiting}")), with(Some("pending")));
        let failed = check("COMPLETED", "FAILURE");
        assert_eq!(open(&format!("{running},{failed}")), with(Some("failing")));
        assert!(parse_pull_request("not json").is_err());
        assert!(parse_pull_request(r#"{"state":"DRAFTY"}"#).is_err());
    }

    #[test]
    fn protected_paths_match_directories_and_files_at_any_depth() {
        let protected: Vec<String> = [".git/", ".github/", ".ci/", ".claude/", "CLAUDE.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for path in [
            ".github/workflows/ci.yml",
            ".ci/run",
            ".claude/settings.json",
            "CLAUDE.md",
            "docs/CLAUDE.md",
            "sub/.github/x.yml",
            ".git",
            ".git/hooks/pre-commit",
        ] {
            assert!(is_protected(path, &protected), "{path}");
        }
        for path in [
            "src/main.rs",
            "github/x",
            "CLAUDE.md.bak",
            "my.claude/x",
            ".cinema",
        ] {
            assert!(!is_protected(path, &protected), "{path}");
        }
    }
}
