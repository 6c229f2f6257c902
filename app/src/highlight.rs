//! Syntax colours for the lines of a diff, written on the server (syntect's grammars, the
//! language chosen by the file's name). A token gets one of six short classes (`k` keyword,
//! `s` string, `c` comment, `n` number or constant, `f` function, `t` type; see the CSS) or
//! none, so a big change stays small. Each hunk is read from its first line: a comment opened
//! above a hunk is not known to it, as on most review sites.
//!
//! A diff is the agent's text, so highlighting must never cost the page: lines longer than
//! `LONG_LINE` stay plain, and once a pass over a patch has taken its budget the rest of it
//! stays plain (see `diff_html` for the quick pass and the full one behind it).

use std::fmt::Write;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};

/// Lines longer than this are shown plain (minified files, data).
const LONG_LINE: usize = 2_000;
/// Time one patch may spend on colours by default; the rest of it is shown plain.
pub const BUDGET: Duration = Duration::from_millis(400);

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

/// A line in each of the languages most changes are in (that syntect knows: TypeScript and TOML,
/// say, it does not), coloured once by [`warm_in_background`].
const WARM_UP: [(&str, &str); 8] = [
    (
        "a.rs",
        "pub fn main() -> Result<(), E> { let s = \"x\"; Ok(()) } // note",
    ),
    ("a.sh", "if [ -n \"$x\" ]; then echo \"$x\"; fi # note"),
    (
        "a.js",
        "import x from 'y'; function f(a) { return a + 1; } // note",
    ),
    ("a.py", "def f(x: int) -> str:  # note"),
    (
        "a.go",
        "func (s *S) F(x int) (string, error) { return \"\", nil } // note",
    ),
    ("a.md", "# Title with `code` and [a link](b)"),
    ("a.yml", "key: \"value\" # note"),
    ("a.css", ".a > b { color: #fff; } /* note */"),
];

/// Loads the grammars and compiles the patterns the common languages start with, once per
/// process, on a thread of its own: loading them takes tens of milliseconds and each
/// language's patterns more on first use, which the first person to open a change would
/// otherwise wait for.
pub fn warm_in_background() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        std::thread::spawn(|| {
            for (path, line) in WARM_UP {
                let mut highlighter = Highlighter::default();
                highlighter.file(path);
                highlighter.hunk();
                highlighter.line(line, &mut String::new());
            }
        });
    });
}

/// Scope prefixes and their class, most specific first (the first match wins).
static CLASSES: LazyLock<Vec<(Scope, &'static str)>> = LazyLock::new(|| {
    [
        ("comment", "c"),
        ("string", "s"),
        ("constant.numeric", "n"),
        ("constant.language", "n"),
        ("constant.character", "s"),
        ("entity.name.function", "f"),
        ("support.function", "f"),
        ("variable.function", "f"),
        ("entity.name.type", "t"),
        ("entity.name.class", "t"),
        ("entity.name.struct", "t"),
        ("entity.name.enum", "t"),
        ("support.type", "t"),
        ("support.class", "t"),
        ("storage.type", "k"),
        ("storage.modifier", "k"),
        ("keyword.operator", ""),
        ("keyword", "k"),
        ("entity.name.tag", "k"),
        ("entity.other.attribute-name", "t"),
        ("markup.heading", "k"),
        ("markup.raw", "s"),
        ("markup.underline.link", "f"),
    ]
    .into_iter()
    .filter_map(|(scope, class)| Scope::new(scope).ok().map(|s| (s, class)))
    .collect()
});

/// Colours for one patch: pick a file's language with `file`, start each hunk with `hunk`,
/// then write its lines with `line`.
pub struct Highlighter {
    started: Instant,
    budget: Duration,
    /// Whether the budget ran out while there was something to colour.
    ran_out: bool,
    syntax: Option<&'static SyntaxReference>,
    state: Option<(ParseState, ScopeStack)>,
    /// False for a plain pass: every line escaped, no grammar run.
    colours: bool,
}

impl Default for Highlighter {
    fn default() -> Self {
        Highlighter::within(BUDGET)
    }
}

impl Highlighter {
    /// A highlighter that colours for at most `budget` from now.
    pub fn within(budget: Duration) -> Self {
        Highlighter {
            started: Instant::now(),
            budget,
            ran_out: false,
            syntax: None,
            state: None,
            colours: true,
        }
    }

    /// A highlighter that colours nothing (and never runs out).
    pub fn plain() -> Self {
        Highlighter {
            colours: false,
            ..Highlighter::within(Duration::MAX)
        }
    }

    /// The next file; a name syntect does not know (or a binary file) stays plain.
    pub fn file(&mut self, path: &str) {
        let name = path.rsplit('/').next().unwrap_or(path);
        let extension = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or(name);
        self.syntax = self
            .colours
            .then(|| {
                SYNTAXES
                    .find_syntax_by_extension(extension)
                    .or_else(|| SYNTAXES.find_syntax_by_extension(name))
            })
            .flatten();
        self.state = None;
    }

    /// The next hunk of the current file, read from a fresh start.
    pub fn hunk(&mut self) {
        self.state = self
            .syntax
            .map(|syntax| (ParseState::new(syntax), ScopeStack::new()));
    }

    /// Writes `text` (one line, without its newline) to `html`, escaped, with colours while
    /// the budget lasts.
    pub fn line(&mut self, text: &str, html: &mut String) {
        if self.state.is_some() && self.started.elapsed() > self.budget {
            self.ran_out = true;
            self.state = None;
        }
        if text.len() > LONG_LINE {
            self.state = None;
        }
        let Some((state, stack)) = self.state.as_mut() else {
            html.push_str(&escape(text));
            return;
        };
        // The grammars are written for lines that end in a newline.
        let ops = match state.parse_line(&format!("{text}\n"), &SYNTAXES) {
            Ok(ops) => ops,
            Err(_) => {
                self.state = None;
                html.push_str(&escape(text));
                return;
            }
        };
        // Runs of text in one class are written as one span.
        let mut class = class_of(stack);
        let mut from = 0;
        for (at, op) in ops {
            let at = at.min(text.len());
            if stack.apply(&op).is_err() {
                // A grammar out of step with itself: the rest of the hunk stays plain.
                self.state = None;
                span(html, class, &text[from..at]);
                html.push_str(&escape(&text[at..]));
                return;
            }
            let next = class_of(stack);
            if next != class {
                span(html, class, &text[from..at]);
                (class, from) = (next, at);
            }
        }
        span(html, class, &text[from..]);
    }

    /// Whether some lines stayed plain because the budget ran out.
    pub fn ran_out(&self) -> bool {
        self.ran_out
    }
}

/// Text made safe inside HTML elements and quoted attributes.
pub(crate) fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}

/// The class of the innermost scope that has one.
fn class_of(stack: &ScopeStack) -> &'static str {
    for scope in stack.as_slice().iter().rev() {
        if let Some((_, class)) = CLASSES.iter().find(|(s, _)| s.is_prefix_of(*scope)) {
            return class;
        }
    }
    ""
}

fn span(html: &mut String, class: &str, text: &str) {
    if class.is_empty() || text.trim().is_empty() {
        html.push_str(&escape(text));
    } else {
        // `write!` into a String cannot fail.
        let _ = write!(html, r#"<span class="{class}">{}</span>"#, escape(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colour(path: &str, lines: &[&str]) -> Vec<String> {
        let mut highlighter = Highlighter::default();
        highlighter.file(path);
        highlighter.hunk();
        lines
            .iter()
            .map(|line| {
                let mut html = String::new();
                highlighter.line(line, &mut html);
                html
            })
            .collect()
    }

    #[test]
    fn rust_gets_keywords_strings_comments_and_numbers() {
        let html = colour(
            "src/main.rs",
            &[r#"fn main() { let x = "hi"; // note"#, "1"],
        );
        assert!(html[0].contains(r#"<span class="k">fn</span>"#), "{html:?}");
        assert!(
            html[0].contains(r#"<span class="f">main</span>"#),
            "{html:?}"
        );
        assert!(
            html[0].contains(r#"<span class="s">&quot;hi&quot;</span>"#),
            "{html:?}"
        );
        assert!(
            html[0].contains(r#"<span class="c">// note</span>"#),
            "{html:?}"
        );
        assert_eq!(html[1], r#"<span class="n">1</span>"#);
    }

    #[test]
    fn every_warm_up_language_is_one_syntect_colours() {
        for (path, line) in WARM_UP {
            let html = colour(path, &[line]);
            assert!(html[0].contains("<span class="), "{path}: {html:?}");
        }
    }

    #[test]
    fn a_hunk_carries_its_state_from_line_to_line() {
        let html = colour("a.py", &[r#"x = """start"#, "still a string", r#"end""""#]);
        assert!(
            html[1].contains(r#"<span class="s">still a string</span>"#),
            "{html:?}"
        );
    }

    #[test]
    fn unknown_files_and_long_lines_stay_plain_and_escaped() {
        assert_eq!(colour("notes.unknownext", &["<b>"]), vec!["&lt;b&gt;"]);
        let long = format!("let x = \"{}\";", "a".repeat(LONG_LINE));
        let html = colour("a.rs", &[&long, "fn f() {}"]);
        assert!(!html[0].contains("<span"));
        assert!(!html[1].contains("<span"), "plain until the next hunk");
    }

    #[test]
    fn hostile_text_inside_tokens_is_escaped() {
        let html = colour(
            "a.js",
            &[r#"let s = "</script><script>alert(1)</script>";"#],
        );
        assert!(!html[0].contains("<script"), "{html:?}");
        assert!(html[0].contains("&lt;/script&gt;"), "{html:?}");
        let html = colour("page.html", &["<img src=x onerror=alert(1)>"]);
        assert!(!html[0].contains("<img"), "{html:?}");
    }
}
