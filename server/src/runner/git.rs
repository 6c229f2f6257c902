//! The runner's git: worktrees per issue, what changed, commits, push and pull requests. The
//! runner alone runs git; the agent cannot (its sandbox hides the repository's `.git`).
//!
//! Nothing the agent wrote is trusted. Every call runs with hooks, fsmonitor, the `ext`
//! transport and submodule recursion off (`HARDENED`, which git also hands to any git it
//! starts). Calls on an issue's worktree never let git discover the repository from the
//! directory (the agent could have rewritten the worktree's `.git` pointer): they pin
//! `--git-dir` and `--work-tree`, with an environment of their own that holds none of the
//! server's secrets. Output is read up to a cap, so a huge change cannot fill the server's
//! memory. Pushes and `gh` run from the main checkout.

use anyhow::{anyhow, bail, Context};
use app::domain::{cap_patch, PullRequest, PATCH_CAP};
use app::store::RunPatches;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::Mutex;

/// Settings on every git call the runner makes, overriding any configuration.
const HARDENED: &[&str] = &[
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "submodule.recurse=false",
];
/// The most output any git or gh call may print before it is stopped (a patch is read up to
/// [`PATCH_CAP`] instead).
const OUTPUT_CAP: usize = 8 * 1024 * 1024;
/// The most of stderr kept for an error message.
const STDERR_CAP: usize = 16 * 1024;
/// Variables a git call on a worktree keeps; the rest of the server's environment (tokens,
/// database URL) stays out of any process that reads files the agent wrote.
const WORKTREE_GIT_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ"];

/// Runs a program in `dir` with the server's environment, returning its stdout, or an error
/// carrying its stderr (secrets scrubbed).
pub async fn run(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    output(cmd, program, args, OUTPUT_CAP).await.and_then(whole)
}

/// Output cut at a cap: the text, and whether it was cut.
type Capped = (String, bool);

fn whole((text, cut): Capped) -> anyhow::Result<String> {
    if cut {
        bail!("the output was larger than {OUTPUT_CAP} bytes");
    }
    Ok(text)
}

/// Runs `cmd`, reading at most `cap` bytes of stdout (the process is killed past it).
async fn output(
    mut cmd: Command,
    program: &str,
    args: &[&str],
    cap: usize,
) -> anyhow::Result<Capped> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read_out = async {
        let mut buf = Vec::new();
        if let Some(out) = stdout {
            let _ = out.take(cap as u64 + 1).read_to_end(&mut buf).await;
        }
        buf
    };
    let read_err = async {
        let mut buf = Vec::new();
        if let Some(err) = stderr {
            let _ = err.take(STDERR_CAP as u64).read_to_end(&mut buf).await;
        }
        buf
    };
    let (mut out, err) = tokio::join!(read_out, read_err);
    let cut = out.len() > cap;
    if cut {
        out.truncate(cap);
        let _ = child.start_kill();
    }
    let status = child.wait().await?;
    if !cut && !status.success() {
        bail!(
            "`{program} {}` failed: {}",
            args.join(" "),
            scrub_secrets(String::from_utf8_lossy(&err).trim())
        );
    }
    Ok((String::from_utf8_lossy(&out).trim_end().to_string(), cut))
}

/// Git on the main checkout: configuration the agent cannot reach, the server's environment
/// (a fetch or push may need credentials).
async fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new("git");
    cmd.args(HARDENED).args(args).current_dir(root);
    output(cmd, "git", args, OUTPUT_CAP).await.and_then(whole)
}

/// Takes tokens and passwords out of text that will be shown to people (and to the agent,
/// since comments are part of its next prompt): `scheme://user:secret@host` and the shapes of
/// GitHub, Anthropic and similar keys.
pub fn scrub_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&scrub_word(word));
    }
    out
}

fn scrub_word(word: &str) -> String {
    const KEY_PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "sk-ant-",
        "sk-",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "AKIA",
    ];
    let mut word = word.to_string();
    // userinfo in a URL: keep the scheme and host, drop what is between.
    let mut from = 0;
    while let Some(found) = word[from..].find("://") {
        let start = from + found + 3;
        let rest = &word[start..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            word = format!("{}***{}", &word[..start], &rest[at..]);
        }
        from = start;
    }
    for prefix in KEY_PREFIXES {
        let mut from = 0;
        while let Some(found) = word[from..].find(prefix) {
            let at = from + found;
            let tail = &word[at + prefix.len()..];
            let len = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(tail.len());
            if len < 8 {
                from = at + prefix.len();
                continue;
            }
            word = format!("{}[hidden]{}", &word[..at], &tail[len..]);
            from = at + "[hidden]".len();
        }
    }
    word
}

/// An issue's worktree, as the runner made it: its directory, branch, and the repository
/// directory git keeps for it (recorded before the agent ran, never read back from the
/// worktree).
#[derive(Clone, Debug)]
pub struct Worktree {
    pub dir: PathBuf,
    pub branch: String,
    git_dir: PathBuf,
}

impl Worktree {
    /// Git on this worktree, pinned to its repository, with no secrets in its environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(HARDENED)
            .arg(format!("--git-dir={}", self.git_dir.display()))
            .arg(format!("--work-tree={}", self.dir.display()))
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .envs(std::env::vars_os().filter(|(name, _)| {
                name.to_str()
                    .is_some_and(|n| WORKTREE_GIT_ENV.contains(&n) || n.starts_with("LC_"))
            }))
            // Only the pinned repository, whatever the environment held.
            .env("GIT_CEILING_DIRECTORIES", "/")
            .env("GIT_TERMINAL_PROMPT", "0");
        cmd
    }

    async fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        output(self.command(args), "git", args, OUTPUT_CAP)
            .await
            .and_then(whole)
    }

    /// The commit the worktree is at.
    pub async fn head(&self) -> anyhow::Result<String> {
        self.git(&["rev-parse", "HEAD"]).await
    }

    /// Every path the agent created, changed, deleted or renamed (both names of a rename). A
    /// path ending in `/` is a directory git would not look into: a repository of its own.
    pub async fn changed_paths(&self) -> anyhow::Result<Vec<String>> {
        let status = self
            .git(&[
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--ignore-submodules=all",
                "--no-renames",
            ])
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

    /// Commits everything in the worktree as the runner's identity. Returns the diffstat.
    pub async fn commit_all(
        &self,
        message: &str,
        name: &str,
        email: &str,
    ) -> anyhow::Result<String> {
        self.git(&["add", "--all"]).await?;
        let name = format!("user.name={name}");
        let email = format!("user.email={email}");
        self.git(&[
            "-c",
            &name,
            "-c",
            &email,
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            message,
        ])
        .await?;
        self.git(&["show", "--stat", "--no-textconv", "--format=", "HEAD"])
            .await
    }

    /// A diff of this worktree's repository, cut at [`PATCH_CAP`] while it is read.
    async fn diff(&self, range: &str) -> anyhow::Result<(String, bool)> {
        let args = [
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--find-renames",
            range,
        ];
        let (text, read_cut) = output(self.command(&args), "git", &args, PATCH_CAP).await?;
        let (text, cut) = cap_patch(text);
        Ok((text, cut || read_cut))
    }
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
    /// The repository's own `.git` directory (hidden from the agent; worktrees' git
    /// directories live under it).
    pub common_dir: PathBuf,
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
        let common_dir = PathBuf::from(
            git(
                &root,
                &["rev-parse", "--path-format=absolute", "--git-common-dir"],
            )
            .await?,
        );
        Ok(Repo {
            worktrees,
            root,
            base_branch,
            has_origin,
            common_dir,
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
    pub async fn worktree_for(&self, issue_id: i64) -> anyhow::Result<Worktree> {
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
        let git_dir = self.worktree_git_dir(&path).await?;
        Ok(Worktree {
            dir: path,
            branch,
            git_dir,
        })
    }

    /// The directory git keeps for a worktree just made (`.git/worktrees/<name>`), read from
    /// the checkout's own list, not from the worktree.
    async fn worktree_git_dir(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let list = git(&self.root, &["worktree", "list", "--porcelain"]).await?;
        let listed = list
            .lines()
            .filter_map(|l| l.strip_prefix("worktree "))
            .any(|p| Path::new(p) == path);
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("a worktree needs a name"))?;
        let git_dir = self.common_dir.join("worktrees").join(name);
        if !listed || !git_dir.join("HEAD").is_file() {
            bail!("git did not register the worktree {}", path.display());
        }
        Ok(git_dir)
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
    pub async fn patches(&self, worktree: &Worktree) -> anyhow::Result<RunPatches> {
        let (branch, branch_cut) = worktree
            .diff(&format!("{}...HEAD", self.base_ref().await))
            .await?;
        let (run, run_cut) = worktree.diff("HEAD~1..HEAD").await?;
        Ok(RunPatches {
            branch,
            run,
            truncated: branch_cut || run_cut,
        })
    }

    /// Pushes the issue's branch from the main checkout (whose configuration the agent never
    /// saw) and opens, or finds, its pull request with `gh`. Returns the PR's URL.
    pub async fn push_and_open_pr(
        &self,
        gh: &str,
        branch: &str,
        title: &str,
        body: &str,
    ) -> anyhow::Result<String> {
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        git(
            &self.root,
            &["push", "--quiet", "--no-verify", "origin", &refspec],
        )
        .await?;
        let base = &self.base_branch;
        match run(
            &self.root,
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
                    &self.root,
                    gh,
                    &["pr", "view", branch, "--json", "url", "--jq", ".url"],
                )
                .await
            }
        }
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
/// ending in `/` is a directory (of one segment or more, `deploy/secrets/`), anything else a
/// file; both match at any depth, ignoring ASCII case (a branch may be checked out on a
/// case-insensitive file system, where `claude.md` is `CLAUDE.md`).
pub fn is_protected(path: &str, protected: &[String]) -> bool {
    let path = path.trim_start_matches("./").to_ascii_lowercase();
    protected.iter().any(|entry| {
        let entry = entry.trim().trim_start_matches("./").to_ascii_lowercase();
        if entry.is_empty() {
            return false;
        }
        match entry.strip_suffix('/') {
            Some(dir) => {
                path == dir
                    || path.starts_with(&format!("{dir}/"))
                    || path.ends_with(&format!("/{dir}"))
                    || path.contains(&format!("/{dir}/"))
            }
            None => path == entry || path.ends_with(&format!("/{entry}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{is_protected, parse_pull_request, scrub_secrets, PullRequest};

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

    #[test]
    fn protected_directories_of_several_segments_match() {
        let protected = vec!["deploy/secrets/".to_string(), "infra/prod/".to_string()];
        for path in [
            "deploy/secrets/key.pem",
            "deploy/secrets",
            "deploy/secrets/a/b.txt",
            "app/deploy/secrets/key.pem",
            "Deploy/Secrets/key.pem",
            "./infra/prod/main.tf",
        ] {
            assert!(is_protected(path, &protected), "{path}");
        }
        for path in [
            "deploy/secretsx/key.pem",
            "deploy/key.pem",
            "secrets/key.pem",
            "infra/production/x",
        ] {
            assert!(!is_protected(path, &protected), "{path}");
        }
    }

    #[test]
    fn secrets_are_scrubbed_from_error_text() {
        let text = "fatal: unable to access 'https://x-access-token:ghp_abcdefghijklmnop1234@github.com/o/r.git/': 403";
        let clean = scrub_secrets(text);
        assert!(!clean.contains("ghp_abcdefghijklmnop1234"), "{clean}");
        assert!(!clean.contains("x-access-token"), "{clean}");
        assert!(clean.contains("github.com/o/r.git"), "{clean}");
        let key = scrub_secrets(
            "key sk-ant-api03-AAAAAAAAAAAAAAAAAAAA and github_pat_11ABCDEFG0123456789_xyz",
        );
        assert!(!key.contains("AAAAAAAAAAAA"), "{key}");
        assert!(!key.contains("11ABCDEFG"), "{key}");
        assert_eq!(
            scrub_secrets("plain words stay: sk-1"),
            "plain words stay: sk-1"
        );
    }
}
