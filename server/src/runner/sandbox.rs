//! The one way an agent process is started: inside a bubblewrap sandbox.
//!
//! The agent acts on text anyone can write (feedback, issue bodies, comments), so it is treated
//! as hostile. Inside the sandbox:
//! - the whole file system is read-only, and the places that hold secrets are replaced by empty
//!   directories: the server's data directory and database, the runner's HOME (gh and git
//!   credentials), `/home`, `/root`, `/etc/autopilot` (the environment file), `/run`, the
//!   repository's `.git` (its config may hold a token in a remote URL) and every other issue's
//!   worktree;
//! - the worktree is the only writable place on disk, besides an empty `HOME` and
//!   `TMPDIR` of its own (size-capped tmpfs); the worktree's `.git` pointer is read-only;
//! - a fresh PID namespace (it sees only its own processes in `/proc`, not the server's
//!   environment) and fresh IPC/UTS namespaces; `--new-session` stops terminal injection;
//! - the environment is the allowlist the caller gives (nothing of the server's);
//! - killing the `bwrap` process (the runner's timeout or cancel) ends everything inside.
//!
//! The network is shared by default (the agent must reach its vendor's API); an operator whose
//! agent talks to a local model can turn it off (`AUTOPILOT_AGENT_NETWORK=off`).

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// Size cap of the agent's own HOME and TMPDIR (memory-backed).
const SCRATCH_BYTES: u64 = 512 * 1024 * 1024;
/// Size cap of the empty directories that stand in for hidden ones.
const HIDDEN_BYTES: &str = "1048576";
/// Where the agent's HOME is, inside its `/tmp`.
pub const AGENT_HOME: &str = "/tmp/home";

/// Directories always hidden from the agent when they exist (besides those the runner names).
const ALWAYS_HIDDEN: &[&str] = &["/home", "/root", "/run", "/etc/autopilot", "/var/tmp"];

/// How the sandbox is laid out; one per runner, shared by its slots.
#[derive(Clone, Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    /// Replaced by an empty directory (or, for a file, by an empty file).
    hidden: Vec<PathBuf>,
    /// Shown read-only even though under a hidden directory (the agent's own program).
    readable: Vec<PathBuf>,
    /// Writable besides the worktree (`AUTOPILOT_SANDBOX_WRITABLE`, e.g. a shared cache).
    writable: Vec<PathBuf>,
    network: bool,
}

/// What the runner tells the sandbox when it starts.
pub struct SandboxSettings<'a> {
    /// The `bwrap` program (name on PATH or path).
    pub bwrap: &'a str,
    /// Places holding the server's secrets: data directory, database file, environment file.
    pub secrets: &'a [PathBuf],
    /// The repository's `.git` and the worktrees directory.
    pub repository: &'a [PathBuf],
    /// More places to hide, named by the operator.
    pub extra_hidden: &'a [PathBuf],
    pub readable: &'a [PathBuf],
    pub writable: &'a [PathBuf],
    /// The agents' programs: each one's directory (its whole `node_modules` for an npm package) stays
    /// readable even when it is installed under a hidden HOME.
    pub agent_programs: &'a [PathBuf],
    pub network: bool,
    /// An empty directory the runner owns, where the sandbox is tried once at start.
    pub probe_dir: &'a Path,
}

impl Sandbox {
    /// Lays out the sandbox and checks that it works on this machine (a user namespace may be
    /// refused by the kernel or a container): a runner that cannot sandbox does not start.
    pub async fn prepare(settings: SandboxSettings<'_>) -> anyhow::Result<Sandbox> {
        let bwrap = super::agent::find_program(settings.bwrap).with_context(|| {
            format!(
                "the runner starts every agent inside a bubblewrap sandbox, and '{}' was not \
                 found (install Debian's `bubblewrap`, or set AUTOPILOT_BWRAP_BIN)",
                settings.bwrap
            )
        })?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut hidden: Vec<PathBuf> = ALWAYS_HIDDEN.iter().map(PathBuf::from).collect();
        hidden.extend(home.filter(|h| h.as_os_str().len() > 1));
        if let Some(credentials) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            hidden.push(credentials.into());
        }
        hidden.extend(settings.secrets.iter().cloned());
        hidden.extend(settings.repository.iter().cloned());
        hidden.extend(settings.extra_hidden.iter().cloned());
        let mut hidden = existing(hidden);
        // Never hide the root or the system's programs: the agent needs them to run.
        hidden.retain(|p| !is_system_dir(p));
        // Parents first, so a hidden directory inside another is still hidden.
        hidden.sort_by_key(|p| p.components().count());

        let mut readable = settings.readable.to_vec();
        for program in settings.agent_programs {
            readable.push(program_home(program)?);
        }
        // Name resolution, when resolv.conf links into a hidden /run (systemd-resolved).
        readable.push("/etc/resolv.conf".into());
        let readable = existing(readable);
        let sandbox = Sandbox {
            bwrap,
            hidden,
            readable,
            writable: existing(settings.writable.to_vec()),
            network: settings.network,
        };
        sandbox.check(settings.probe_dir).await?;
        Ok(sandbox)
    }

    /// Runs `true` inside the sandbox as an agent would run, in `dir`.
    async fn check(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
        let output = self
            .command(Path::new("/bin/true"), dir, Vec::new())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run {}", self.bwrap.display()))?;
        if !output.status.success() {
            bail!(
                "the agent sandbox (bubblewrap) does not work on this machine: {}. The runner \
                 never starts an agent outside it; allow unprivileged user namespaces \
                 (kernel.unprivileged_userns_clone=1) or run where they are allowed",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The command that runs `program` in the sandbox with `worktree` as its working (and only
    /// writable) directory, and exactly `env` as its environment (plus HOME and TMPDIR).
    /// Arguments are added by the caller; they are passed to `program` untouched.
    pub fn command(
        &self,
        program: &Path,
        worktree: &Path,
        env: Vec<(OsString, OsString)>,
    ) -> Command {
        self.command_with_home(program, worktree, env, &[], &[])
    }

    /// [`Sandbox::command`], with files shown read-only in the agent's HOME and directories
    /// it may write there (its sessions, kept for the next run): each (host path,
    /// path under HOME).
    pub fn command_with_home(
        &self,
        program: &Path,
        worktree: &Path,
        env: Vec<(OsString, OsString)>,
        home_files: &[(PathBuf, String)],
        home_dirs: &[(PathBuf, String)],
    ) -> Command {
        let mut args = self.arguments(worktree);
        // After the scratch /tmp (where HOME is) is mounted: before the worktree and --chdir.
        let at = args
            .iter()
            .position(|a| a == "--chdir")
            .unwrap_or(args.len());
        let bind = |how: &str, (host, rel): &(PathBuf, String)| {
            [
                OsString::from(how),
                host.as_os_str().to_os_string(),
                Path::new(AGENT_HOME).join(rel).into_os_string(),
            ]
        };
        let binds: Vec<OsString> = home_files
            .iter()
            .flat_map(|file| bind("--ro-bind", file))
            .chain(home_dirs.iter().flat_map(|dir| bind("--bind", dir)))
            .collect();
        args.splice(at..at, binds);
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(args)
            .arg("--")
            .arg(program)
            .env_clear()
            .envs(env)
            .env("HOME", AGENT_HOME)
            .env("TMPDIR", "/tmp");
        cmd
    }

    /// bwrap's arguments, in mount order: everything read-only, secrets hidden, the agent's own
    /// scratch space, what the operator opened, then the worktree last (so it is writable even
    /// when it lies under a hidden directory).
    fn arguments(&self, worktree: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&std::ffi::OsStr]| {
            args.extend(items.iter().map(|s| s.to_os_string()));
        };
        push(&["--unshare-all".as_ref(), "--die-with-parent".as_ref()]);
        push(&["--new-session".as_ref()]);
        if self.network {
            push(&["--share-net".as_ref()]);
        }
        push(&["--ro-bind".as_ref(), "/".as_ref(), "/".as_ref()]);
        push(&["--dev".as_ref(), "/dev".as_ref()]);
        push(&["--proc".as_ref(), "/proc".as_ref()]);
        for path in &self.hidden {
            if path.is_dir() {
                // Small: it only needs to hold the mount points of what is shown again.
                push(&["--size".as_ref(), HIDDEN_BYTES.as_ref(), "--tmpfs".as_ref()]);
                push(&[path.as_os_str()]);
            } else {
                push(&["--ro-bind".as_ref(), "/dev/null".as_ref(), path.as_os_str()]);
            }
        }
        let size = SCRATCH_BYTES.to_string();
        push(&[
            "--size".as_ref(),
            size.as_ref(),
            "--tmpfs".as_ref(),
            "/tmp".as_ref(),
        ]);
        push(&["--dir".as_ref(), AGENT_HOME.as_ref()]);
        for path in &self.readable {
            push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        }
        for path in &self.writable {
            push(&["--bind".as_ref(), path.as_os_str(), path.as_os_str()]);
        }
        push(&[
            "--bind".as_ref(),
            worktree.as_os_str(),
            worktree.as_os_str(),
        ]);
        // The worktree's `.git` file points git at the repository; the agent may not repoint it.
        let pointer = worktree.join(".git");
        if pointer.is_file() {
            push(&[
                "--ro-bind".as_ref(),
                pointer.as_os_str(),
                pointer.as_os_str(),
            ]);
        }
        push(&["--chdir".as_ref(), worktree.as_os_str()]);
        args
    }
}

/// The paths that exist, by their real names (a symlinked `/var/run` is `/run`).
fn existing(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = paths
        .into_iter()
        .filter_map(|p| std::fs::canonicalize(&p).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `/`, `/usr`, `/bin`… : never hidden, whatever a setting says.
fn is_system_dir(path: &Path) -> bool {
    const SYSTEM: &[&str] = &[
        "/", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/opt", "/var", "/dev",
        "/proc", "/sys", "/tmp",
    ];
    SYSTEM.iter().any(|s| path == Path::new(s))
}

/// The directory that holds the agent program and what it loads: the outermost `node_modules`
/// for an npm package (`…/node_modules/.bin/claude` is a link into the package), else the
/// program's own directory.
fn program_home(program: &Path) -> anyhow::Result<PathBuf> {
    let real = std::fs::canonicalize(program)
        .with_context(|| format!("cannot find the agent program {}", program.display()))?;
    let outermost_modules = real
        .ancestors()
        .filter(|a| a.file_name().is_some_and(|n| n == "node_modules"))
        .last();
    let dir = outermost_modules
        .or_else(|| real.parent())
        .unwrap_or(Path::new("/"));
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_npm_program_keeps_its_whole_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("node_modules/@anthropic-ai/claude-code");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/.bin")).unwrap();
        std::fs::write(package.join("cli.js"), "").unwrap();
        let link = dir.path().join("node_modules/.bin/claude");
        std::os::unix::fs::symlink("../@anthropic-ai/claude-code/cli.js", &link).unwrap();
        let home = program_home(&link).unwrap();
        assert_eq!(
            home,
            dir.path().canonicalize().unwrap().join("node_modules")
        );
        let plain = dir.path().join("agent");
        std::fs::write(&plain, "").unwrap();
        assert_eq!(
            program_home(&plain).unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn the_worktree_is_mounted_last_and_secrets_are_hidden_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("data");
        let worktree = secrets.join("wt");
        std::fs::create_dir_all(&worktree).unwrap();
        std::fs::write(worktree.join(".git"), "gitdir: x").unwrap();
        let sandbox = Sandbox {
            bwrap: "bwrap".into(),
            hidden: vec![secrets.clone()],
            readable: vec![],
            writable: vec![],
            network: false,
        };
        let args: Vec<String> = sandbox
            .arguments(&worktree)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let at = |needle: &str| args.iter().position(|a| a == needle).unwrap();
        let hidden = at(secrets.to_str().unwrap());
        let bound = at(worktree.to_str().unwrap());
        assert!(hidden < bound, "{args:?}");
        assert_eq!(args[hidden - 1], "--tmpfs");
        assert!(!args.contains(&"--share-net".to_string()));
        let pointer = worktree.join(".git");
        let pointer_at = at(pointer.to_str().unwrap());
        assert_eq!(args[pointer_at - 1], "--ro-bind");
        assert_eq!(args.last().unwrap(), worktree.to_str().unwrap());
    }

    #[test]
    fn system_directories_are_never_hidden() {
        for dir in ["/", "/usr", "/etc", "/tmp"] {
            assert!(is_system_dir(Path::new(dir)));
        }
        assert!(!is_system_dir(Path::new("/var/lib/autopilot")));
    }
}
