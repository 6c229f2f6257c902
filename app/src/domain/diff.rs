//! An agent's change as a reviewer reads it: a unified diff (`git diff` output) taken apart
//! into files, hunks and numbered lines. The text is the agent's, so it is data, never markup:
//! the drawer shows every field as text.

use serde::{Deserialize, Serialize};

/// The most a stored patch keeps; past it the patch is cut at a line and marked truncated.
pub const PATCH_CAP: usize = 1024 * 1024;

/// A line longer than this shows its start and how much more there is.
pub const LINE_SHOWN: usize = 400;

/// What happened to a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Deleted,
    Modified,
    Renamed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Context,
    Added,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: LineKind,
    /// Its number in the old file (context and removed lines).
    pub old: Option<u32>,
    /// Its number in the new file (context and added lines).
    pub new: Option<u32>,
    /// The text, without the leading `+`, `-` or space, cut at [`LINE_SHOWN`] characters.
    pub text: String,
    /// Characters cut off the end (0: the whole line shows).
    pub cut: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hunk {
    /// The `@@ -a,b +c,d @@ context` line.
    pub header: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileDiff {
    /// The path before (for a rename, the old name; for an added file, the new one).
    pub old_path: String,
    pub path: String,
    pub change: FileChange,
    /// Binary files have no lines to show.
    pub binary: bool,
    pub additions: usize,
    pub deletions: usize,
    pub hunks: Vec<Hunk>,
}

/// What the drawer's "Changes" section shows: one committed run's change, as HTML written on
/// the server (see `diff_html`), and the other choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangesView {
    /// The runs that committed, newest first: (run id, attempt).
    pub runs: Vec<(i64, i64)>,
    /// The run shown.
    pub run_id: i64,
    /// Its own commit (true), or the whole branch up to it (false).
    pub own: bool,
    pub files: usize,
    pub additions: usize,
    pub deletions: usize,
    pub html: String,
}

/// A patch as stored: the text, and whether it was cut at [`PATCH_CAP`].
pub fn cap_patch(mut patch: String) -> (String, bool) {
    if patch.len() <= PATCH_CAP {
        return (patch, false);
    }
    let end = patch.floor_char_boundary(PATCH_CAP);
    let end = patch[..end].rfind('\n').map_or(end, |i| i + 1);
    patch.truncate(end);
    (patch, true)
}

/// Takes `git diff` output apart. Anything it does not recognise is skipped, never guessed at.
pub fn parse_patch(patch: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    let (mut old_no, mut new_no) = (0u32, 0u32);
    for raw in patch.lines() {
        if let Some(rest) = raw.strip_prefix("diff --git ") {
            let (old, new) = split_git_paths(rest);
            files.push(FileDiff {
                old_path: old,
                path: new,
                change: FileChange::Modified,
                binary: false,
                additions: 0,
                deletions: 0,
                hunks: Vec::new(),
            });
            continue;
        }
        let Some(file) = files.last_mut() else {
            continue;
        };
        if file.hunks.is_empty() {
            // The file's header lines, before its first hunk.
            if raw.starts_with("new file mode") {
                file.change = FileChange::Added;
            } else if raw.starts_with("deleted file mode") {
                file.change = FileChange::Deleted;
            } else if let Some(from) = raw.strip_prefix("rename from ") {
                file.change = FileChange::Renamed;
                file.old_path = from.to_string();
            } else if let Some(to) = raw.strip_prefix("rename to ") {
                file.path = to.to_string();
            } else if raw.starts_with("Binary files ") || raw == "GIT binary patch" {
                file.binary = true;
            }
        }
        if let Some(header) = raw.strip_prefix("@@ ") {
            let (old, new) = hunk_starts(header);
            (old_no, new_no) = (old, new);
            file.hunks.push(Hunk {
                header: raw.to_string(),
                lines: Vec::new(),
            });
            continue;
        }
        let Some(hunk) = file.hunks.last_mut() else {
            continue;
        };
        let (kind, text) = match raw.as_bytes().first() {
            Some(b'+') => (LineKind::Added, &raw[1..]),
            Some(b'-') => (LineKind::Removed, &raw[1..]),
            Some(b' ') => (LineKind::Context, &raw[1..]),
            // An empty context line, as some tools write it.
            None => (LineKind::Context, ""),
            // "\ No newline at end of file" and anything else.
            _ => continue,
        };
        // Each line takes the current number and moves it on. The numbers start from the
        // hunk header, which is the agent's text: moving on from u32::MAX saturates rather
        // than overflow (a panic in debug builds, wrapped numbers in release).
        let (old, new) = (old_no, new_no);
        if kind != LineKind::Added {
            old_no = old_no.saturating_add(1);
        }
        if kind != LineKind::Removed {
            new_no = new_no.saturating_add(1);
        }
        let (old, new) = match kind {
            LineKind::Added => {
                file.additions += 1;
                (None, Some(new))
            }
            LineKind::Removed => {
                file.deletions += 1;
                (Some(old), None)
            }
            LineKind::Context => (Some(old), Some(new)),
        };
        let (text, cut) = shorten(text);
        hunk.lines.push(DiffLine {
            kind,
            old,
            new,
            text,
            cut,
        });
    }
    files
}

/// The most ranges one change request may pick.
pub const PICKED_RANGES_MAX: usize = 50;

/// A reviewer's picked ranges, one per line, blank lines skipped: refused past
/// [`PICKED_RANGES_MAX`] before anything is looked up or quoted.
pub fn picked_ranges(picked: &str) -> Result<Vec<&str>, String> {
    let mut entries = Vec::new();
    for entry in picked.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if entries.len() == PICKED_RANGES_MAX {
            return Err(format!(
                "pick at most {PICKED_RANGES_MAX} ranges of lines at a time"
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// A reviewer's picked lines, one range per line (`src/lib.rs:12-14`, `README.md:3`, or
/// `src/old.rs:old 7-9` for removed lines), quoted from the patch: each range's name and its
/// lines as the diff shows them. The text comes from the stored patch, never from the
/// browser. A range naming no file or no line of the patch is refused, saying which.
///
/// Bounded whatever is asked: at most [`PICKED_RANGES_MAX`] ranges, and quoting stops with an
/// error as soon as the quote would pass `max_bytes` (the comment's own limit), so the memory
/// it takes is the limit's, never the picks times the patch.
pub fn quote_lines(files: &[FileDiff], picked: &str, max_bytes: usize) -> Result<String, String> {
    let too_long = || {
        format!(
            "the picked lines come to more than {} KiB quoted (a comment's limit); pick fewer",
            max_bytes / 1024
        )
    };
    let mut quoted = String::new();
    let push = |quoted: &mut String, text: &str| {
        if quoted.len() + text.len() > max_bytes {
            return Err(too_long());
        }
        quoted.push_str(text);
        Ok(())
    };
    for entry in picked_ranges(picked)? {
        let (path, spec) = entry
            .rsplit_once(':')
            .ok_or_else(|| format!("`{entry}`: expected file:line"))?;
        let file = files
            .iter()
            .find(|f| f.path == path || f.old_path == path)
            .ok_or_else(|| format!("`{path}` is not in this change"))?;
        let (old, spec) = match spec.strip_prefix("old ") {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let range = |s: &str| s.trim().parse::<u32>().ok();
        let (from, to) = match spec.split_once('-') {
            Some((a, b)) => (range(a), range(b)),
            None => (range(spec), range(spec)),
        };
        let (Some(from), Some(to)) = (from, to.filter(|t| *t >= from.unwrap_or(0))) else {
            return Err(format!("`{entry}`: expected a line or a range of lines"));
        };
        let mut lines = file.hunks.iter().flat_map(|h| &h.lines).filter(|l| {
            let n = if old {
                l.old.filter(|_| l.kind == LineKind::Removed)
            } else {
                l.new
            };
            n.is_some_and(|n| (from..=to).contains(&n))
        });
        let Some(first) = lines.next() else {
            return Err(format!("`{entry}`: no such line in this change"));
        };
        push(&mut quoted, &format!("`{entry}`\n```diff\n"))?;
        for line in std::iter::once(first).chain(lines) {
            let mark = match line.kind {
                LineKind::Added => '+',
                LineKind::Removed => '-',
                LineKind::Context => ' ',
            };
            push(&mut quoted, &format!("{mark}{}\n", line.text))?;
        }
        push(&mut quoted, "```\n")?;
    }
    Ok(quoted)
}

/// Picked lines as ranges: `["3", "4", "5", "old 7", "9"]` → `["3-5", "old 7", "9"]`
/// (consecutive numbers of the same side join; the order is kept).
pub fn line_ranges(ats: &[String]) -> Vec<String> {
    let parse = |at: &str| match at.strip_prefix("old ") {
        Some(n) => n.parse::<u32>().ok().map(|n| ("old ", n)),
        None => at.parse::<u32>().ok().map(|n| ("", n)),
    };
    let mut ranges: Vec<(&str, u32, u32)> = Vec::new();
    for (side, n) in ats.iter().filter_map(|at| parse(at)) {
        match ranges.last_mut() {
            // `checked_add`: the last line number a diff can name has no next one.
            Some((s, _, to)) if *s == side && to.checked_add(1) == Some(n) => *to = n,
            _ => ranges.push((side, n, n)),
        }
    }
    ranges
        .into_iter()
        .map(|(side, from, to)| match from == to {
            true => format!("{side}{from}"),
            false => format!("{side}{from}-{to}"),
        })
        .collect()
}

/// `a/x b/y` → (`x`, `y`). Paths with spaces are split where both halves name the same file
/// or, failing that, at the middle ` b/`.
fn split_git_paths(rest: &str) -> (String, String) {
    let strip = |p: &str, prefix: &str| p.strip_prefix(prefix).unwrap_or(p).to_string();
    let candidates: Vec<usize> = rest.match_indices(" b/").map(|(i, _)| i).collect();
    let split = candidates
        .iter()
        .copied()
        .find(|&i| rest[..i].strip_prefix("a/") == Some(&rest[i + 3..]))
        .or_else(|| candidates.get(candidates.len() / 2).copied());
    match split {
        Some(i) => (strip(&rest[..i], "a/"), strip(&rest[i + 1..], "b/")),
        None => (rest.to_string(), rest.to_string()),
    }
}

/// The first old and new line numbers of `-a,b +c,d @@`.
fn hunk_starts(header: &str) -> (u32, u32) {
    let mut parts = header.split_whitespace();
    let number = |part: Option<&str>, sign: char| {
        part.and_then(|p| p.strip_prefix(sign))
            .and_then(|p| p.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(1)
    };
    let old = number(parts.next(), '-');
    let new = number(parts.next(), '+');
    (old, new)
}

/// The line cut to [`LINE_SHOWN`] characters, with control characters (terminal escapes
/// included) shown as their Unicode pictures so nothing in a diff acts on the page or a
/// terminal; and how many characters were cut.
fn shorten(text: &str) -> (String, usize) {
    let total = text.chars().count();
    let shown: String = text
        .chars()
        .take(LINE_SHOWN)
        .map(|c| match c {
            '\t' => c,
            c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('�'),
            '\u{7f}' => '\u{2421}',
            // The C1 controls (U+0080 to U+009F; U+009B starts a terminal escape as ESC [
            // does) have no pictures: shown as the replacement character.
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    (shown, total.saturating_sub(LINE_SHOWN))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 1111111..2222222 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,5 @@ fn main() {
 keep one
-old line
+new line
+another new line
 keep two
\\ No newline at end of file
@@ -10,2 +11,2 @@
 ten
-eleven
+</script><img src=x onerror=alert(1)>\x1b[31mred
diff --git a/notes/old name.md b/notes/new name.md
similarity index 90%
rename from notes/old name.md
rename to notes/new name.md
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 3333333..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..4444444
Binary files /dev/null and b/logo.png differ
";

    #[test]
    fn files_hunks_and_line_numbers() {
        let files = parse_patch(PATCH);
        assert_eq!(files.len(), 4);
        let lib = &files[0];
        assert_eq!(
            (lib.path.as_str(), lib.change),
            ("src/lib.rs", FileChange::Modified)
        );
        assert_eq!((lib.additions, lib.deletions), (3, 2));
        assert_eq!(lib.hunks.len(), 2);
        let first = &lib.hunks[0].lines;
        assert_eq!(first.len(), 5, "the no-newline marker is not a line");
        assert_eq!((first[0].old, first[0].new), (Some(1), Some(1)));
        assert_eq!(
            (first[1].kind, first[1].old, first[1].new),
            (LineKind::Removed, Some(2), None)
        );
        assert_eq!(
            (first[2].kind, first[2].old, first[2].new),
            (LineKind::Added, None, Some(2))
        );
        assert_eq!((first[4].old, first[4].new), (Some(3), Some(4)));
        let second = &lib.hunks[1].lines;
        assert_eq!((second[0].old, second[0].new), (Some(10), Some(11)));
        assert_eq!(second[2].new, Some(12));
    }

    #[test]
    fn renames_deletions_and_binary_files_are_what_they_are() {
        let files = parse_patch(PATCH);
        let renamed = &files[1];
        assert_eq!(renamed.change, FileChange::Renamed);
        assert_eq!(renamed.old_path, "notes/old name.md");
        assert_eq!(renamed.path, "notes/new name.md");
        assert!(renamed.hunks.is_empty());
        assert_eq!(files[2].change, FileChange::Deleted);
        assert_eq!(files[2].deletions, 1);
        let png = &files[3];
        assert_eq!((png.change, png.binary), (FileChange::Added, true));
        assert!(png.hunks.is_empty());
    }

    #[test]
    fn markup_stays_text_and_terminal_escapes_are_defused() {
        let files = parse_patch(PATCH);
        let line = &files[0].hunks[1].lines[2].text;
        assert!(line.starts_with("</script><img src=x onerror=alert(1)>"));
        assert!(!line.contains('\x1b'), "{line:?}");
        assert!(line.contains('\u{241b}'), "{line:?}");
    }

    #[test]
    fn very_long_lines_are_cut_and_say_so() {
        let long = "x".repeat(LINE_SHOWN + 25);
        let patch = format!("diff --git a/a b/a\n@@ -1 +1 @@\n+{long}\n");
        let line = &parse_patch(&patch)[0].hunks[0].lines[0];
        assert_eq!(line.text.chars().count(), LINE_SHOWN);
        assert_eq!(line.cut, 25);
    }

    #[test]
    fn a_patch_over_the_cap_is_cut_at_a_line_and_marked() {
        let small = "diff --git a/a b/a\n".to_string();
        assert_eq!(cap_patch(small.clone()), (small, false));
        let line = "+é some text that repeats\n";
        let big = line.repeat(PATCH_CAP / line.len() + 10);
        let (kept, truncated) = cap_patch(big);
        assert!(truncated);
        assert!(kept.len() <= PATCH_CAP);
        assert!(kept.ends_with('\n'));
        assert!(kept.lines().all(|l| l == line.trim_end()));
    }

    #[test]
    fn picked_lines_are_quoted_from_the_patch_and_bad_picks_refused() {
        let files = parse_patch(PATCH);
        let quoted = quote_lines(&files, "src/lib.rs:2-3\nsrc/lib.rs:old 2\n", 16 * 1024).unwrap();
        assert_eq!(
            quoted,
            "`src/lib.rs:2-3`\n```diff\n+new line\n+another new line\n```\n\
             `src/lib.rs:old 2`\n```diff\n-old line\n```\n"
        );
        assert_eq!(quote_lines(&files, "  \n", 16 * 1024).unwrap(), "");
        for (bad, says) in [
            ("nowhere.rs:1", "not in this change"),
            ("src/lib.rs:900", "no such line"),
            ("src/lib.rs:5-2", "a range of lines"),
            ("src/lib.rs:x", "a range of lines"),
            ("just text", "expected file:line"),
        ] {
            let err = quote_lines(&files, bad, 16 * 1024).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn quoting_is_bounded_by_the_limit_not_by_the_picks_or_the_patch() {
        // A patch of 2,000 added lines of 100 characters (about 200 KiB).
        let mut patch = String::from("diff --git a/big.rs b/big.rs\n@@ -0,0 +1,2000 @@\n");
        for n in 0..2000 {
            patch.push_str(&format!("+{n:0>99}\n"));
        }
        let files = parse_patch(&patch);
        let limit = crate::domain::COMMENT_MAX_BYTES;
        // One range over the whole file: refused once the quote passes the limit.
        let err = quote_lines(&files, "big.rs:1-2000", limit).unwrap_err();
        assert!(err.contains("more than 16 KiB"), "{err}");
        // Many small picks that each fit, together past the limit: refused too.
        let many = "big.rs:1-10\n".repeat(PICKED_RANGES_MAX);
        assert!(quote_lines(&files, &many, limit).is_err());
        // Within the limit it quotes, and never past it.
        let quoted = quote_lines(&files, "big.rs:1-100", limit).unwrap();
        assert!(quoted.len() <= limit && quoted.contains(&format!("+{:0>99}", 99)));
        let err = quote_lines(&files, "big.rs:1-100", 1000).unwrap_err();
        assert!(err.contains("pick fewer"), "{err}");
    }

    #[test]
    fn at_most_fifty_ranges_are_picked_and_blank_lines_do_not_count() {
        let fifty = "a.rs:1\n\n".repeat(PICKED_RANGES_MAX);
        assert_eq!(picked_ranges(&fifty).unwrap().len(), PICKED_RANGES_MAX);
        let err = picked_ranges(&format!("{fifty}a.rs:2")).unwrap_err();
        assert!(err.contains("at most 50"), "{err}");
        // Refused before any of them is looked up in the patch.
        let files = parse_patch(PATCH);
        let many = "nowhere.rs:1\n".repeat(100_000);
        let err = quote_lines(&files, &many, 16 * 1024).unwrap_err();
        assert!(err.contains("at most 50"), "{err}");
    }

    #[test]
    fn picked_lines_join_into_ranges() {
        let ats: Vec<String> = ["3", "4", "5", "old 7", "old 8", "9", "11", "x"]
            .map(String::from)
            .to_vec();
        assert_eq!(line_ranges(&ats), vec!["3-5", "old 7-8", "9", "11"]);
        assert!(line_ranges(&[]).is_empty());
    }

    #[test]
    fn garbage_is_skipped_not_guessed() {
        assert!(parse_patch("").is_empty());
        assert!(parse_patch("hello\n+not in a file\n@@ nothing @@\n").is_empty());
        let files = parse_patch("diff --git a/x b/x\n+before any hunk\n");
        assert_eq!(files.len(), 1);
        assert!(files[0].hunks.is_empty());
        assert_eq!(files[0].additions, 0);
    }
}
