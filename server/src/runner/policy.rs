//! The runner's answer when an ACP agent asks for permission (`session/request_permission`).
//! Pure, so every rule is unit-tested. The rules, in order:
//!
//! 1. Every path the request names (its locations, and path fields of its input) must be inside
//!    the worktree; anything else is refused.
//! 2. Web access (`fetch`) is refused: the agent works from the issue, not from what a page it
//!    was pointed at says.
//! 3. A command that names `git` or `gh` anywhere is refused: branches, commits and pushes are
//!    the runner's (it undoes any commit the agent makes in any case).
//! 4. Changes (`edit`, `delete`, `move`, and anything else that names a path) to a protected
//!    path are refused: the same list that keeps such changes out of a commit.
//! 5. In a plan run, changes (`edit`, `delete`, `move`) are refused.
//! 6. Anything else is allowed, once: reading, searching, thinking, other commands. They run
//!    inside the sandbox, which holds nothing but the worktree to harm.
//!
//! A refusal never stalls the run: the agent gets "rejected" and goes on (or ends its turn).

use super::git::is_protected;
use std::path::{Component, Path, PathBuf};

/// What an agent asks to do, as far as the rules care.
#[derive(Clone, Debug, Default)]
pub struct Ask {
    /// The ACP tool kind (`read`, `edit`, `execute`, `fetch`, …).
    pub kind: String,
    /// Paths it names (absolute, or relative to the worktree).
    pub paths: Vec<PathBuf>,
    /// The command line, for `execute` (and any request that carries one).
    pub command: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Allow,
    Refuse(String),
}

/// Programs whose use the rules refuse in a command.
const RUNNER_ONLY_PROGRAMS: &[&str] = &["git", "gh"];

pub fn answer(ask: &Ask, worktree: &Path, protected: &[String], read_only: bool) -> Answer {
    let mut inside = Vec::with_capacity(ask.paths.len());
    for path in &ask.paths {
        match relative_to(worktree, path) {
            Some(rel) => inside.push(rel),
            None => return Answer::Refuse(format!("{} is outside the worktree", path.display())),
        }
    }
    if ask.kind == "fetch" {
        return Answer::Refuse("the agent may not fetch from the web".into());
    }
    if let Some(program) = ask.command.as_deref().and_then(runner_only_program) {
        return Answer::Refuse(format!(
            "`{program}` is the runner's to run, not the agent's"
        ));
    }
    let reads_only = matches!(ask.kind.as_str(), "read" | "search" | "think");
    // A plan run reads and thinks; a command may still look (the runner checks afterwards
    // that nothing changed).
    if read_only && matches!(ask.kind.as_str(), "edit" | "delete" | "move") {
        return Answer::Refuse("this is a plan run: it changes nothing".into());
    }
    if !reads_only {
        if let Some(rel) = inside.iter().find(|rel| is_protected(rel, protected)) {
            return Answer::Refuse(format!("{rel} is a protected path"));
        }
    }
    Answer::Allow
}

/// `path` relative to `worktree` (`.` for the worktree itself), if it is inside it. Worked out
/// on the names alone (`..` taken out), since a path to be written need not exist yet.
fn relative_to(worktree: &Path, path: &Path) -> Option<String> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        worktree.join(path)
    };
    let mut normal = PathBuf::new();
    for part in full.components() {
        match part {
            Component::ParentDir => {
                if !normal.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    let rel = normal.strip_prefix(worktree).ok()?;
    let rel = rel.to_string_lossy().into_owned();
    Some(if rel.is_empty() { ".".into() } else { rel })
}

/// The first of git and gh a command runs, looking at every word of it: a word is the
/// program's name, or a path ending in it. Shell operators, quotes and sub-shells do not hide
/// it (`bash -lc "cd x && git push"` is caught); the price is that `echo git` is refused too.
fn runner_only_program(command: &str) -> Option<&'static str> {
    command
        .split(|c: char| c.is_whitespace() || ";&|()`$<>\"'{}=".contains(c))
        .filter(|word| !word.is_empty())
        .find_map(|word| {
            let name = word.rsplit('/').next().unwrap_or(word);
            RUNNER_ONLY_PROGRAMS.iter().copied().find(|p| *p == name)
        })
}

/// The paths and command an ACP tool call names: its locations, and the usual fields of its
/// raw input (agents name them differently).
pub fn ask_from(
    kind: &str,
    locations: impl IntoIterator<Item = PathBuf>,
    raw_input: Option<&serde_json::Value>,
) -> Ask {
    let mut paths: Vec<PathBuf> = locations.into_iter().collect();
    let mut command = None;
    if let Some(input) = raw_input {
        for key in [
            "file_path",
            "filePath",
            "path",
            "abs_path",
            "absolute_path",
            "notebook_path",
            "source",
            "destination",
            "old_path",
            "new_path",
            "dir_path",
            "directory",
        ] {
            if let Some(path) = input[key].as_str().filter(|p| !p.is_empty()) {
                paths.push(PathBuf::from(path));
            }
        }
        command = match &input["command"] {
            serde_json::Value::String(line) => Some(line.clone()),
            serde_json::Value::Array(words) => Some(
                words
                    .iter()
                    .filter_map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => input["cmd"].as_str().map(str::to_string),
        };
    }
    Ask {
        kind: kind.to_string(),
        paths,
        command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn protected() -> Vec<String> {
        vec![".git/".into(), ".github/".into(), "CLAUDE.md".into()]
    }

    fn ask(kind: &str, paths: &[&str], command: Option<&str>) -> Answer {
        let ask = Ask {
            kind: kind.into(),
            paths: paths.iter().map(PathBuf::from).collect(),
            command: command.map(str::to_string),
        };
        answer(&ask, Path::new("/work/tree"), &protected(), false)
    }

    #[test]
    fn a_plan_run_may_read_and_look_but_not_change() {
        let plan = |kind: &str, paths: &[&str], command: Option<&str>| {
            let ask = Ask {
                kind: kind.into(),
                paths: paths.iter().map(PathBuf::from).collect(),
                command: command.map(str::to_string),
            };
            answer(&ask, Path::new("/work/tree"), &protected(), true)
        };
        for kind in ["edit", "delete", "move"] {
            refused(plan(kind, &["src/main.rs"], None), "plan run");
        }
        assert_eq!(plan("read", &["src/main.rs"], None), Answer::Allow);
        assert_eq!(plan("search", &[], None), Answer::Allow);
        assert_eq!(plan("execute", &[], Some("ls src")), Answer::Allow);
        // The other rules still hold.
        refused(plan("read", &["/etc/passwd"], None), "outside the worktree");
        refused(plan("execute", &[], Some("git log")), "runner");
    }

    fn refused(answer: Answer, why: &str) {
        match answer {
            Answer::Refuse(said) => assert!(said.contains(why), "{said:?} should say {why:?}"),
            Answer::Allow => panic!("allowed; should be refused for {why:?}"),
        }
    }

    #[test]
    fn edits_inside_the_worktree_are_allowed_protected_ones_not() {
        assert_eq!(
            ask("edit", &["/work/tree/src/main.rs"], None),
            Answer::Allow
        );
        assert_eq!(ask("edit", &["HELLO.md"], None), Answer::Allow);
        refused(
            ask("edit", &["/work/tree/.github/workflows/ci.yml"], None),
            "protected",
        );
        refused(ask("delete", &[".git/config"], None), "protected");
        refused(ask("move", &["a.txt", "CLAUDE.md"], None), "protected");
        // Any kind that names a protected path to change it, "other" too.
        refused(ask("other", &[".github/x"], None), "protected");
        // Reading one is fine.
        assert_eq!(
            ask("read", &[".github/workflows/ci.yml"], None),
            Answer::Allow
        );
    }

    #[test]
    fn paths_outside_the_worktree_are_refused_however_spelled() {
        refused(ask("read", &["/etc/passwd"], None), "outside the worktree");
        refused(
            ask("edit", &["../other/file"], None),
            "outside the worktree",
        );
        refused(
            ask("edit", &["/work/tree/../tree2/x"], None),
            "outside the worktree",
        );
        refused(
            ask("read", &["/work/treehouse/x"], None),
            "outside the worktree",
        );
        refused(ask("read", &["/../../etc"], None), "outside the worktree");
        assert_eq!(ask("search", &["/work/tree"], None), Answer::Allow);
        assert_eq!(ask("edit", &["sub/../HELLO.md"], None), Answer::Allow);
    }

    #[test]
    fn git_gh_and_the_web_are_refused() {
        refused(ask("execute", &[], Some("git commit -am sneaky")), "`git`");
        refused(
            ask("execute", &[], Some("cd sub && /usr/bin/git push")),
            "`git`",
        );
        refused(
            ask("execute", &[], Some("bash -lc \"make; gh pr create\"")),
            "`gh`",
        );
        refused(ask("execute", &[], Some("$(git rev-parse HEAD)")), "`git`");
        refused(ask("fetch", &[], None), "web");
        assert_eq!(ask("execute", &[], Some("cargo test --all")), Answer::Allow);
        assert_eq!(
            ask("execute", &[], Some("ls digit gitignore")),
            Answer::Allow
        );
        assert_eq!(ask("think", &[], None), Answer::Allow);
    }

    #[test]
    fn raw_inputs_name_paths_and_commands_in_many_ways() {
        let a = ask_from(
            "edit",
            [PathBuf::from("/w/a")],
            Some(&json!({"file_path": "/w/b", "content": "x"})),
        );
        assert_eq!(a.paths, [PathBuf::from("/w/a"), PathBuf::from("/w/b")]);
        let a = ask_from(
            "execute",
            [],
            Some(&json!({"command": ["bash", "-lc", "git push"]})),
        );
        assert_eq!(a.command.as_deref(), Some("bash -lc git push"));
        let a = ask_from("execute", [], Some(&json!({"command": "ls"})));
        assert_eq!(a.command.as_deref(), Some("ls"));
        let a = ask_from("other", [], Some(&json!("just a string")));
        assert!(a.paths.is_empty() && a.command.is_none());
    }
}
