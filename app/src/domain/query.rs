//! What a browser or a script asks a list for, read from the text of an address: the board's
//! filters (`/?q=…&kind=bug&ready=100`) and the JSON list's page cursors. Pure, so the same
//! reading holds on the server and in the page, and property tests can throw any text at it.

use super::{Kind, Status};

/// The board's filters, as they stand in the URL.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct BoardQuery {
    pub q: Option<String>,
    pub kind: Option<Kind>,
    pub assignee: Option<String>,
    pub mine: bool,
    /// Cards each column shows, in `Status::ALL` order (`?ready=100`; 0: the default).
    pub shown: Vec<i64>,
}

impl BoardQuery {
    /// The filters in a query, `field` giving one (decoded) value by name. Whatever does not
    /// read (an unknown kind, a count that is no number) is no filter: a hand-edited address
    /// still shows the board.
    pub fn from_query(field: impl Fn(&str) -> Option<String>) -> Self {
        let filled = |name: &str| field(name).filter(|v| !v.trim().is_empty());
        BoardQuery {
            q: filled("q"),
            kind: field("kind").and_then(|k| k.parse().ok()),
            assignee: filled("assignee"),
            mine: field("mine").is_some(),
            shown: Status::ALL
                .iter()
                .map(|s| field(s.as_str()).and_then(|n| n.parse().ok()).unwrap_or(0))
                .collect(),
        }
    }

    /// No filter: the board shows every issue, so a changed card can be patched in place.
    pub fn unfiltered(&self) -> bool {
        self.q.is_none() && self.kind.is_none() && self.assignee.is_none() && !self.mine
    }
}

/// Search words of fewer characters than this are looked for in titles only: no search index
/// finds a piece so short, and nearly every description holds it.
pub const SEARCH_BODIES_FROM_CHARS: usize = 3;

/// Whether a search for `words` (as on one line) looks in descriptions as well as titles.
pub fn search_reads_bodies(words: &str) -> bool {
    words.chars().count() >= SEARCH_BODIES_FROM_CHARS
}

/// Whether a search for `q`, as typed, looks in titles only: it has words, and too few
/// characters of them once on one line to look in descriptions.
pub fn search_reads_titles_only(q: &str) -> bool {
    let words = super::one_line(q);
    !words.is_empty() && !search_reads_bodies(&words)
}

/// The JSON list's `next_cursor` for a page whose last issue is `last_id`.
pub fn page_cursor(last_id: i64) -> String {
    last_id.to_string()
}

/// The issue id a page starts after, from the `cursor` a script sends back: 0 (the start) for
/// none or an empty one, otherwise only a cursor [`page_cursor`] could have written (a
/// positive id in plain digits). `None`: not a cursor this API gave out. Strict, so that
/// `+5`, `05` or `-1` are refused rather than read as some other place in the list.
pub fn parse_cursor(cursor: Option<&str>) -> Option<i64> {
    match cursor {
        None | Some("") => Some(0),
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0') => {
            text.parse().ok()
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_under_three_characters_reads_titles_only() {
        assert!(!search_reads_bodies("ci"));
        assert!(!search_reads_bodies("本語"), "characters, not bytes");
        assert!(search_reads_bodies("日本語"));
        assert!(search_reads_bodies("a b"));
        assert!(
            search_reads_titles_only(" ci\t "),
            "counted once on one line"
        );
        assert!(!search_reads_titles_only(" \t "), "no words: no search");
        assert!(!search_reads_titles_only("a b"));
    }

    #[test]
    fn cursors_are_read_strictly() {
        assert_eq!(parse_cursor(None), Some(0));
        assert_eq!(parse_cursor(Some("")), Some(0));
        assert_eq!(parse_cursor(Some(&page_cursor(42))), Some(42));
        for bad in ["abc", "+5", "05", "0", "-1", " 5", "99999999999999999999"] {
            assert_eq!(parse_cursor(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn the_board_query_reads_what_the_form_sends() {
        let query = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            BoardQuery::from_query(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        let read = query(&[
            ("q", "login"),
            ("kind", "chore"),
            ("mine", ""),
            ("ready", "100"),
        ]);
        assert_eq!(read.q.as_deref(), Some("login"));
        assert_eq!(read.kind, Some(Kind::Task));
        assert!(read.mine && !read.unfiltered());
        assert_eq!(read.shown, vec![0, 100, 0, 0, 0, 0]);
        let blank = query(&[("q", "  "), ("kind", "nonsense"), ("done", "x")]);
        assert_eq!(blank, query(&[]));
        assert!(blank.unfiltered());
    }
}
