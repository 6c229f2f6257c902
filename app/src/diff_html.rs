//! An agent's change as HTML for the drawer, written on the server: a list of the files with
//! their counts, then each file's diff as a table of numbered lines, collapsible per file.
//! Written as one string (the drawer sets it as the section's HTML), so a 5,000-line patch
//! costs the browser one parse instead of thousands of view nodes. Every piece of the patch
//! is the agent's text and goes through `escape`: a diff never adds markup to the page.

use crate::domain::{FileChange, FileDiff, LineKind};
use std::fmt::Write;

fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}

/// The files of a patch as HTML. `truncated`: the stored patch was cut at its cap.
pub fn render(files: &[FileDiff], truncated: bool) -> String {
    let lines: usize = files
        .iter()
        .flat_map(|f| &f.hunks)
        .map(|h| h.lines.len() + 1)
        .sum();
    let mut html = String::with_capacity(256 + files.len() * 200 + lines * 120);
    if files.is_empty() {
        html.push_str(r#"<p class="hint">No file changed.</p>"#);
    }
    if truncated {
        html.push_str(
            r#"<p class="truncated" role="note">This patch is longer than 1 MiB: what follows is its start. Check out the branch to read the rest.</p>"#,
        );
    }
    // `write!` into a String cannot fail.
    html.push_str(r#"<table class="diffstat"><tbody>"#);
    for (i, file) in files.iter().enumerate() {
        let _ = write!(
            html,
            r##"<tr><td><a href="#file-{i}">{}</a>{}</td><td class="plus">+{}</td><td class="minus">−{}</td></tr>"##,
            escape(&file.path),
            what_happened(file),
            file.additions,
            file.deletions
        );
    }
    html.push_str("</tbody></table>");
    for (i, file) in files.iter().enumerate() {
        let path = escape(&file.path);
        let _ = write!(
            html,
            r#"<details class="diff-file" id="file-{i}" open><summary><code>{path}</code>{} <span class="plus">+{}</span> <span class="minus">−{}</span></summary>"#,
            what_happened(file),
            file.additions,
            file.deletions
        );
        if file.binary {
            html.push_str(r#"<p class="hint">A binary file: no lines to show.</p>"#);
        } else if file.hunks.is_empty() {
            html.push_str(r#"<p class="hint">No line changed.</p>"#);
        } else {
            let _ = write!(html, r#"<table class="diff" data-file="{path}"><tbody>"#);
            for hunk in &file.hunks {
                let _ = write!(
                    html,
                    r#"<tr class="hunk"><td colspan="3">{}</td></tr>"#,
                    escape(&hunk.header)
                );
                for line in &hunk.lines {
                    // Kept short: a big change has thousands of rows. The first two cells are
                    // the old and new line numbers; CSS draws the +/- mark.
                    let class = match line.kind {
                        LineKind::Added => "add",
                        LineKind::Removed => "del",
                        LineKind::Context => "ctx",
                    };
                    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
                    let _ = write!(
                        html,
                        r#"<tr class="{class}"><td>{}</td><td>{}</td><td>{}"#,
                        number(line.old),
                        number(line.new),
                        escape(&line.text)
                    );
                    if line.cut > 0 {
                        let _ = write!(
                            html,
                            r#"<span class="cut"> … {} more characters</span>"#,
                            line.cut
                        );
                    }
                    html.push_str("</td></tr>");
                }
            }
            html.push_str("</tbody></table>");
        }
        html.push_str("</details>");
    }
    html
}

/// " (added)", " (renamed from old/name)" and the like.
fn what_happened(file: &FileDiff) -> String {
    let binary = if file.binary { ", binary" } else { "" };
    match file.change {
        FileChange::Added => format!(" <em>(added{binary})</em>"),
        FileChange::Deleted => format!(" <em>(deleted{binary})</em>"),
        FileChange::Renamed => format!(
            " <em>(renamed from <code>{}</code>{binary})</em>",
            escape(&file.old_path)
        ),
        FileChange::Modified if file.binary => " <em>(binary)</em>".into(),
        FileChange::Modified => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_patch;

    #[test]
    fn the_agents_text_never_becomes_markup() {
        let patch = "diff --git a/<b>.rs b/<b>.rs\n@@ -1 +1 @@\n-</script><script>alert(1)</script>\n+\"quoted\" & 'single'\n";
        let html = render(&parse_patch(patch), false);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;/script&gt;"), "{html}");
        assert!(
            html.contains("&quot;quoted&quot; &amp; &#x27;single&#x27;"),
            "{html}"
        );
    }

    #[test]
    fn lines_carry_their_old_and_new_numbers() {
        let patch = "diff --git a/a.rs b/a.rs\n@@ -3,2 +3,2 @@\n keep\n-old\n+new\n";
        let html = render(&parse_patch(patch), true);
        for row in [
            r#"<tr class="ctx"><td>3</td><td>3</td><td>keep</td>"#,
            r#"<tr class="del"><td>4</td><td></td><td>old</td>"#,
            r#"<tr class="add"><td></td><td>4</td><td>new</td>"#,
        ] {
            assert!(html.contains(row), "{row} in {html}");
        }
        assert!(html.contains("longer than 1 MiB"));
        assert!(html.contains(r##"<a href="#file-0">a.rs</a>"##));
    }
}
