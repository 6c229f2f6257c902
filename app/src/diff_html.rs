//! An agent's change as HTML for the drawer, written on the server: a list of the files with
//! their counts, then each file's diff as a table of numbered lines, collapsible per file.
//! Written as one string (the drawer sets it as the section's HTML), so a 5,000-line patch
//! costs the browser one parse instead of thousands of view nodes. The drawer shows whole
//! files up to [`EAGER_BYTES`]; each later one is a stand-in with a link that shows it (see
//! [`RenderedPatch::page_html`]). Every piece of the patch is the agent's text and goes
//! through `escape` (or the highlighter, which escapes too): a diff never adds markup to the
//! page.

use crate::domain::{parse_patch, FileChange, FileDiff, LineKind};
use crate::highlight::{escape, Highlighter};
use lru::LruCache;
use std::fmt::Write;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// A stored patch, read and written as HTML once.
pub struct RenderedPatch {
    pub files: usize,
    pub additions: usize,
    pub deletions: usize,
    /// What comes before the files: notes and the list of files with their counts.
    pub head: String,
    /// Each file as HTML, in order.
    pub file_html: Vec<RenderedFile>,
}

/// One file of a patch as HTML.
#[derive(Clone, Default)]
pub struct RenderedFile {
    /// Its summary line's content (path, what happened, counts), for its stand-in.
    pub summary: String,
    /// The whole file: `<details class="diff-file" id="file-N" open>…</details>`.
    pub html: String,
}

/// How much of the files the drawer's page carries whole (the first file always): a
/// 5,000-line change is about 1.6 MiB of HTML, so later files load when asked for. More
/// than a screenful, little enough that the drawer opens at once.
pub const EAGER_BYTES: usize = 96 * 1024;

impl RenderedPatch {
    /// Every file whole, as one string.
    pub fn html(&self) -> String {
        let mut html = String::with_capacity(self.bytes());
        html.push_str(&self.head);
        for file in &self.file_html {
            html.push_str(&file.html);
        }
        html
    }

    /// What the drawer shows: the first files whole up to [`EAGER_BYTES`], and the ones in
    /// `wanted`; each other file as a collapsed stand-in whose link (`link(i)`, a URL of the
    /// page that shows file `i` too) works without a script, and whose file a script loads
    /// in place (`.diff-file.lazy`, id `file-N`).
    pub fn page_html(&self, wanted: &[usize], link: impl Fn(usize) -> String) -> String {
        let mut html = String::with_capacity(EAGER_BYTES + self.head.len() + 4096);
        html.push_str(&self.head);
        let eager = shown_whole(self.file_html.iter().map(|f| f.html.len()));
        for (i, file) in self.file_html.iter().enumerate() {
            if i < eager || wanted.contains(&i) {
                html.push_str(&file.html);
            } else {
                let _ = write!(
                    html,
                    r#"<details class="diff-file lazy" id="file-{i}"><summary>{}</summary><p><a class="load-file" href="{}">Show this file</a></p></details>"#,
                    file.summary,
                    escape(&link(i))
                );
            }
        }
        html
    }

    /// The bytes it holds, for the cache's accounting.
    fn bytes(&self) -> usize {
        self.head.len()
            + self
                .file_html
                .iter()
                .map(|f| f.html.len() + f.summary.len())
                .sum::<usize>()
    }
}

/// The files the drawer's page carries whole, counted in order: the first always, then each
/// while the total stays within [`EAGER_BYTES`]. Whole files come in order: a small later
/// file does not jump ahead.
#[derive(Default)]
struct ShownWhole {
    files: usize,
    bytes: usize,
}

impl ShownWhole {
    /// Whether the next file, of `size` bytes of HTML, is carried whole too.
    fn takes(&mut self, size: usize) -> bool {
        let fits = self.files == 0 || self.bytes + size <= EAGER_BYTES;
        if fits {
            self.files += 1;
            self.bytes += size;
        }
        fits
    }
}

/// How many of the first files (their HTML's sizes in order) the drawer's page carries whole.
fn shown_whole(sizes: impl IntoIterator<Item = usize>) -> usize {
    let mut shown = ShownWhole::default();
    sizes
        .into_iter()
        .take_while(|&size| shown.takes(size))
        .count()
}

/// Rendered patches by their text. A stored patch never changes, and colouring a big one
/// takes a while, so each is rendered once per server, whoever opens it first.
struct Cache {
    entries: LruCache<u64, Arc<RenderedPatch>>,
    bytes: usize,
}

/// What the cache may hold (a 1 MiB patch is about 3 MiB of HTML).
const CACHE_BYTES: usize = 32 * 1024 * 1024;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| {
    Mutex::new(Cache {
        entries: LruCache::unbounded(),
        bytes: 0,
    })
});
/// Keys are hashed with a secret seed: a patch cannot be made to collide with another.
static KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// The first viewer's pass over a patch: it colours only the files the drawer shows whole
/// (see [`shown_whole`]), for at most this long, so the drawer opens at once. What it leaves
/// plain is coloured by a full pass in the background, for whoever opens the change next.
const QUICK_PASS: Duration = Duration::from_millis(50);
/// The background pass (a patch is at most 1 MiB: about a second of colouring).
const FULL_PASS: Duration = Duration::from_secs(5);
/// How long after the first viewer's pass the background one starts.
const FULL_PASS_AFTER: Duration = Duration::from_millis(300);

/// The patch as HTML, from the cache when it was rendered before.
pub fn render_patch(patch: &str, truncated: bool) -> Arc<RenderedPatch> {
    render_patch_within(patch, truncated, QUICK_PASS, FULL_PASS)
}

fn render_patch_within(
    patch: &str,
    truncated: bool,
    quick: Duration,
    full: Duration,
) -> Arc<RenderedPatch> {
    let key = KEYS.hash_one((patch, truncated));
    let cached = || {
        CACHE
            .lock()
            .ok()
            .and_then(|mut c| c.entries.get(&key).cloned())
    };
    if let Some(hit) = cached() {
        return hit;
    }
    // One render per patch at a time: whoever asks meanwhile waits for it, then takes it from
    // the cache (a drawer's page asks for its change more than once while it renders).
    let turn = RENDERING
        .lock()
        .ok()
        .map(|mut going| going.entry(key).or_default().clone());
    let _turn = turn.as_ref().and_then(|turn| turn.lock().ok());
    if let Some(hit) = cached() {
        return hit;
    }
    let files = parse_patch(patch);
    let (rendered, ran_out) = rendered(&files, truncated, quick, Colour::ShownWhole);
    remember(key, rendered.clone());
    if let Ok(mut going) = RENDERING.lock() {
        going.remove(&key);
    }
    if ran_out {
        if let Some(pass) = FullPass::start(&FULL_PASSES, key) {
            // The partly coloured page stays in the cache until the full one replaces it. The
            // pass waits for the first viewer's page to be on its way, and takes one core.
            std::thread::spawn(move || {
                std::thread::sleep(FULL_PASS_AFTER);
                let (whole, _) = self::rendered(&files, truncated, full, Colour::All);
                remember(key, whole);
                drop(pass);
            });
        }
    }
    rendered
}

/// Patches being rendered for a first viewer, by key.
static RENDERING: LazyLock<Mutex<std::collections::HashMap<u64, Arc<Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// Background full passes going on, by patch: one per patch at a time, and a few in all (a
/// busy server leaves a patch partly coloured rather than start threads without bound; a
/// later viewer's miss tries again).
static FULL_PASSES: LazyLock<Going> = LazyLock::new(Default::default);
const FULL_PASSES_AT_ONCE: usize = 2;

type Going = Mutex<std::collections::HashSet<u64>>;

/// A background pass's turn, given back when it ends.
struct FullPass {
    going: &'static Going,
    key: u64,
}

impl FullPass {
    fn start(going: &'static Going, key: u64) -> Option<FullPass> {
        let mut passes = going.lock().ok()?;
        // `then`, not `then_some`: a pass made and dropped here would lock `going` again.
        (passes.len() < FULL_PASSES_AT_ONCE && passes.insert(key)).then(|| FullPass { going, key })
    }
}

impl Drop for FullPass {
    fn drop(&mut self) {
        if let Ok(mut passes) = self.going.lock() {
            passes.remove(&self.key);
        }
    }
}

/// Which files a pass over a patch colours.
#[derive(Clone, Copy, PartialEq)]
enum Colour {
    All,
    /// Those the drawer's page carries whole; the others stay plain.
    ShownWhole,
}

/// The patch as HTML, coloured for at most `budget`; and whether colours were left out.
fn rendered(
    files: &[FileDiff],
    truncated: bool,
    budget: Duration,
    colour: Colour,
) -> (Arc<RenderedPatch>, bool) {
    let (head, file_html, ran_out) = render_within(files, truncated, budget, colour);
    let patch = RenderedPatch {
        files: files.len(),
        additions: files.iter().map(|f| f.additions).sum(),
        deletions: files.iter().map(|f| f.deletions).sum(),
        head,
        file_html,
    };
    (Arc::new(patch), ran_out)
}

fn remember(key: u64, rendered: Arc<RenderedPatch>) {
    if let Ok(mut cache) = CACHE.lock() {
        cache.bytes += rendered.bytes();
        if let Some((_, old)) = cache.entries.push(key, rendered) {
            cache.bytes -= old.bytes();
        }
        while cache.bytes > CACHE_BYTES && cache.entries.len() > 1 {
            match cache.entries.pop_lru() {
                Some((_, old)) => cache.bytes -= old.bytes(),
                None => break,
            }
        }
    }
}

/// The files of a patch as HTML. `truncated`: the stored patch was cut at its cap.
pub fn render(files: &[FileDiff], truncated: bool) -> String {
    let (mut html, parts, _) =
        render_within(files, truncated, crate::highlight::BUDGET, Colour::All);
    for file in parts {
        html.push_str(&file.html);
    }
    html
}

/// The same, coloured for at most `budget`, as the head and each file; and whether colours
/// were left out.
fn render_within(
    files: &[FileDiff],
    truncated: bool,
    budget: Duration,
    colour: Colour,
) -> (String, Vec<RenderedFile>, bool) {
    let mut html = String::with_capacity(256 + files.len() * 200);
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
    let mut highlighter = Highlighter::within(budget);
    let (parts, ran_out) = match colour {
        Colour::All => {
            let parts = render_files(files, 0..files.len(), &mut highlighter);
            (parts, highlighter.ran_out())
        }
        Colour::ShownWhole => {
            // In order, coloured, until the page would carry no more of them whole; then the
            // rest plain.
            let mut parts = Vec::with_capacity(files.len());
            let mut shown = ShownWhole::default();
            for (i, file) in files.iter().enumerate() {
                let part = render_file(i, file, &mut highlighter);
                let more = shown.takes(part.html.len());
                parts.push(part);
                if !more {
                    break;
                }
            }
            let coloured = parts.len();
            parts.extend(render_files(
                files,
                coloured..files.len(),
                &mut Highlighter::plain(),
            ));
            (parts, highlighter.ran_out() || coloured < files.len())
        }
    };
    (html, parts, ran_out)
}

/// The diffs of the files in `which`, as HTML in order, coloured by `highlighter` (or not:
/// see [`Highlighter::plain`]).
fn render_files(
    files: &[FileDiff],
    which: std::ops::Range<usize>,
    highlighter: &mut Highlighter,
) -> Vec<RenderedFile> {
    which
        .map(|i| render_file(i, &files[i], highlighter))
        .collect()
}

/// One file's diff: its summary line, then its hunks as numbered rows.
fn render_file(i: usize, file: &FileDiff, highlighter: &mut Highlighter) -> RenderedFile {
    let lines: usize = file.hunks.iter().map(|h| h.lines.len() + 1).sum();
    let mut html = String::with_capacity(200 + lines * 120);
    let path = escape(&file.path);
    let summary = format!(
        r#"<code>{path}</code>{} <span class="plus">+{}</span> <span class="minus">−{}</span>"#,
        what_happened(file),
        file.additions,
        file.deletions
    );
    let _ = write!(
        html,
        r#"<details class="diff-file" id="file-{i}" open><summary>{summary}</summary>"#
    );
    if file.binary {
        html.push_str(r#"<p class="hint">A binary file: no lines to show.</p>"#);
    } else if file.hunks.is_empty() {
        html.push_str(r#"<p class="hint">No line changed.</p>"#);
    } else {
        let _ = write!(html, r#"<table class="diff" data-file="{path}"><tbody>"#);
        highlighter.file(&file.path);
        for hunk in &file.hunks {
            highlighter.hunk();
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
                    r#"<tr class="{class}"><td>{}</td><td>{}</td><td>"#,
                    number(line.old),
                    number(line.new),
                );
                highlighter.line(&line.text, &mut html);
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
    RenderedFile { summary, html }
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
    use std::time::Instant;

    #[test]
    fn the_agents_text_never_becomes_markup() {
        // Plain text (see highlight's tests for hostile text in coloured code).
        let patch = "diff --git a/<b>.txt b/<b>.txt\n@@ -1 +1 @@\n-</script><script>alert(1)</script>\n+\"quoted\" & 'single'\n";
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
    fn one_background_pass_per_patch_and_a_few_in_all() {
        static GOING: LazyLock<Going> = LazyLock::new(Default::default);
        let first = FullPass::start(&GOING, 1);
        assert!(first.is_some());
        assert!(FullPass::start(&GOING, 1).is_none(), "one per patch");
        let second = FullPass::start(&GOING, 2);
        assert!(second.is_some());
        assert!(FullPass::start(&GOING, 3).is_none(), "a few in all");
        drop(first);
        assert!(
            FullPass::start(&GOING, 1).is_some(),
            "given back when it ends"
        );
        drop(second);
        assert!(GOING.lock().unwrap().is_empty());
    }

    #[test]
    fn viewers_asking_at_once_share_one_render() {
        let patch: String = (0..40)
            .map(|n| format!("diff --git a/s{n}.rs b/s{n}.rs\n@@ -1 +1 @@\n-fn a{n}() {{}}\n+fn b{n}() {{}}\n"))
            .collect();
        let renders: Vec<_> = std::thread::scope(|scope| {
            let asking: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| render_patch(&patch, false)))
                .collect();
            asking.into_iter().map(|a| a.join().unwrap()).collect()
        });
        assert!(renders.iter().all(|r| Arc::ptr_eq(r, &renders[0])));
        let key = KEYS.hash_one((patch.as_str(), false));
        assert!(!RENDERING.lock().unwrap().contains_key(&key), "given back");
    }

    #[test]
    fn a_patch_is_rendered_once_and_kept() {
        let patch = "diff --git a/a.rs b/a.rs\n@@ -1 +1,2 @@\n-old\n+new\n+more\n";
        let first = render_patch(patch, false);
        assert_eq!((first.files, first.additions, first.deletions), (1, 2, 1));
        assert!(Arc::ptr_eq(&first, &render_patch(patch, false)));
        let cut = render_patch(patch, true);
        assert!(!Arc::ptr_eq(&first, &cut), "a truncated patch says so");
        assert!(cut.html().contains("longer than 1 MiB"));
    }

    #[test]
    fn files_come_out_in_order_and_coloured() {
        let patch: String = (0..9)
            .map(|n| format!("diff --git a/f{n}.rs b/f{n}.rs\n@@ -1 +1 @@\n-fn old{n}() {{}}\n+fn new{n}() {{}}\n"))
            .collect();
        let html = render(&parse_patch(&patch), false);
        let at: Vec<usize> = (0..9)
            .map(|n| {
                html.find(&format!(r#"id="file-{n}""#))
                    .expect("every file is there")
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        assert!(
            html.contains(r#"<span class="k">fn</span>"#),
            "coloured: {html}"
        );
    }

    #[test]
    fn a_patch_the_quick_pass_cannot_finish_is_coloured_whole_in_the_background() {
        let patch: String = (0..6)
            .map(|n| format!("diff --git a/g{n}.rs b/g{n}.rs\n@@ -1 +1,2 @@\n-fn gone{n}() {{}}\n+fn here{n}() {{}}\n+let n{n} = 1;\n"))
            .collect();
        let spans = |html: &str| html.matches(r#"<span class="k">"#).count();
        // A quick pass of no time at all colours nothing.
        let first = render_patch_within(&patch, false, Duration::ZERO, Duration::from_secs(30));
        assert_eq!(spans(&first.html()), 0, "{}", first.html());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = render_patch_within(&patch, false, Duration::ZERO, Duration::from_secs(30));
            if spans(&now.html()) >= 12 {
                assert_eq!((now.files, now.additions, now.deletions), (6, 12, 6));
                break;
            }
            assert!(Instant::now() < deadline, "never coloured: {}", now.html());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_first_viewer_gets_the_files_shown_whole_coloured_and_the_rest_plain() {
        let body: String = (0..600).map(|n| format!("+fn line_{n}() {{}}\n")).collect();
        let patch: String = (0..6)
            .map(|n| format!("diff --git a/h{n}.rs b/h{n}.rs\n@@ -0,0 +1,600 @@\n{body}"))
            .collect();
        let files = parse_patch(&patch);
        let coloured = |f: &RenderedFile| f.html.contains(r#"<span class="k">fn</span>"#);
        let long = Duration::from_secs(30);
        let (first, ran_out) = rendered(&files, false, long, Colour::ShownWhole);
        assert!(ran_out, "the later files are left to the background pass");
        let shown = shown_whole(first.file_html.iter().map(|f| f.html.len()));
        assert!((1..4).contains(&shown), "{shown} files shown whole");
        assert!(first.file_html[..shown].iter().all(coloured));
        assert!(!first.file_html[3..].iter().any(coloured));
        let (all, ran_out) = rendered(&files, false, long, Colour::All);
        assert!(!ran_out);
        assert!(all.file_html.iter().all(coloured));
        assert_eq!(all.head, first.head);
    }

    #[test]
    fn the_page_carries_the_first_files_whole_and_the_others_as_links() {
        // Ten files of about 60 KiB each: four fit in the budget.
        let body: String = (0..600)
            .map(|n| format!("+let line_{n} = \"{}\";\n", "x".repeat(40)))
            .collect();
        let patch: String = (0..10)
            .map(|n| format!("diff --git a/<f{n}>.rs b/<f{n}>.rs\n@@ -0,0 +1,600 @@\n{body}"))
            .collect();
        let rendered = render_patch(&patch, false);
        let link = |i: usize| format!("?issue=7&files={i}#file-{i}");
        let page = rendered.page_html(&[8], link);
        let whole = |i: usize| page.contains(&rendered.file_html[i].html);
        let eager = (0..10).take_while(|&i| whole(i)).count();
        assert!((1..10).contains(&eager), "{eager} whole files");
        let bytes: usize = (0..eager).map(|i| rendered.file_html[i].html.len()).sum();
        assert!(bytes <= EAGER_BYTES, "{bytes}");
        assert!(whole(8), "a file asked for is whole");
        for i in (eager..10).filter(|&i| i != 8) {
            assert!(!whole(i), "file {i}");
            let stand_in = format!(
                r#"<details class="diff-file lazy" id="file-{i}"><summary><code>&lt;f{i}&gt;.rs</code>"#
            );
            assert!(page.contains(&stand_in), "{stand_in}");
            let href = format!(r#"href="?issue=7&amp;files={i}#file-{i}">Show this file</a>"#);
            assert!(page.contains(&href), "{href}");
        }
        assert!(page.len() < rendered.html().len() / 2);
        // One huge file is shown whole all the same: the drawer never shows nothing.
        let huge = format!(
            "diff --git a/big.rs b/big.rs\n@@ -0,0 +1,3000 @@\n{}",
            body.repeat(5)
        );
        let one = render_patch(&huge, false);
        assert!(one.file_html[0].html.len() > EAGER_BYTES);
        assert_eq!(one.page_html(&[], link), one.html());
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
