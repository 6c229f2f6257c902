//! Property tests (issue 30) for the domain's parsers and rules: whatever text arrives, none
//! of them panics, and what they accept reads back the same. Each property runs a few hundred
//! generated cases (fewer for the heavy ones) so the suite stays quick on two cores; a failing
//! case is kept in `proptest-regressions/` and tried first from then on.
#![cfg(feature = "ssr")]

use app::domain::*;
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------------------------
// Inputs

/// Text of every sort: any Unicode (control characters included), text made of the pieces a
/// parser cares about (`hostile`), and long runs of either, past the limits under test.
fn text_with(hostile: &'static [&'static str]) -> impl Strategy<Value = String> {
    let pieces = prop::collection::vec(
        prop_oneof![
            3 => select(hostile).prop_map(String::from),
            1 => any::<String>(),
            1 => "[\\x00-\\x1f\\x7f\\u{85}\\u{2028}\\u{200b}\\u{feff} \t\r\n]{1,4}",
        ],
        0..40,
    )
    .prop_map(|pieces| pieces.concat());
    let long = (pieces.clone(), 1usize..3000).prop_map(|(text, times)| text.repeat(times));
    prop_oneof![4 => pieces, 2 => any::<String>(), 1 => long]
}

fn role() -> impl Strategy<Value = Role> {
    select(Role::ALL.to_vec())
}

fn status() -> impl Strategy<Value = Status> {
    select(Status::ALL.to_vec())
}

const WHITESPACE_AND_WORDS: &[&str] = &[
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{3000}",
    "\u{200b}",
    "é",
    "日本",
    "👩‍💻",
    "e\u{301}",
    "word",
    "#",
    ".",
    "..",
    "/",
    "\\",
    "\"",
    ";",
    ",",
    "-",
    "0",
    "12",
    "-3",
    "+4",
    "9223372036854775807",
    "9223372036854775808",
    "#7",
];

/// A string of only the characters a percent-encoded query value may hold after decoding,
/// non-blank, with the odd space, `&`, `=`, `+` and `%` in it (the ones an encoder must escape).
fn filter_value() -> impl Strategy<Value = String> {
    "[a-zA-Zé日0-9&=+%#?/ ]{0,20}[a-zA-Z0-9é]".prop_map(|s| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// The transition table

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every (actor, flag, from, to) gets an answer, and the answer keeps the documented rules.
    #[test]
    fn the_transition_table_is_total_and_keeps_its_rules(
        role in role(), human_only in any::<bool>(), from in status(), to in status()
    ) {
        let answer = check_move(role, human_only, from, to);
        // A refusal always explains itself.
        if let Err(denied) = &answer {
            prop_assert!(!denied.to_string().is_empty());
            let json = serde_json::to_string(denied).unwrap();
            prop_assert_eq!(&serde_json::from_str::<MoveDenied>(&json).unwrap(), denied);
        }
        let allowed = answer.is_ok();
        if from == to {
            prop_assert_eq!(answer, Err(MoveDenied::SameStatus(from)));
        }
        // The public moves nothing; the agent never touches human-only work, never finishes
        // (done is a person's act, or the system's record of a merge) and never shelves.
        if role == Role::Public {
            prop_assert!(!allowed);
        }
        if role == Role::Runner && allowed {
            prop_assert!(!human_only);
            prop_assert!(matches!(
                (from, to),
                (Status::Ready, Status::InProgress)
                    | (Status::InProgress, Status::InReview | Status::Blocked | Status::Ready)
            ), "runner {:?} -> {:?}", from, to);
        }
        if to == Status::Done && allowed {
            prop_assert_eq!(from, Status::InReview);
            prop_assert!(matches!(role, Role::Member | Role::Admin | Role::System));
        }
        // An admin may do everything a member may.
        if role == Role::Member && allowed {
            prop_assert!(check_move(Role::Admin, human_only, from, to).is_ok());
        }
        // The board's drop targets are exactly the allowed moves.
        prop_assert_eq!(
            legal_targets(role, human_only, from).contains(&to),
            allowed
        );
        // Taking work as a person is a move that person may make, whatever the flag.
        if takes_it_as_human_work(role, from, to) {
            prop_assert!(check_move(role, human_only, from, to).is_ok());
            prop_assert!(check_move(role, !human_only, from, to).is_ok());
        }
    }

    /// Status, kind and priority names: what is written reads back, and the query-string
    /// parser (`FromStr`) and the JSON one (serde) accept exactly the same names.
    #[test]
    fn enum_names_round_trip_and_both_parsers_agree(name in text_with(&[
        "backlog", "ready", "in_progress", "in progress", "blocked", "in_review", "done", "task",
        "bug", "feature", "feedback", "chore", "low", "normal", "high", "urgent", "critical",
        "Done", " ", "_",
    ])) {
        let json = serde_json::Value::String(name.clone());
        prop_assert_eq!(
            name.parse::<Status>().ok(),
            serde_json::from_value::<Status>(json.clone()).ok()
        );
        prop_assert_eq!(
            name.parse::<Kind>().ok(),
            serde_json::from_value::<Kind>(json.clone()).ok()
        );
        prop_assert_eq!(
            name.parse::<Priority>().ok(),
            serde_json::from_value::<Priority>(json).ok()
        );
        for status in Status::ALL {
            prop_assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            prop_assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            prop_assert_eq!(status.to_string(), status.as_str());
        }
        for kind in Kind::ALL {
            prop_assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
            prop_assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for priority in Priority::ALL {
            prop_assert_eq!(priority.as_str().parse::<Priority>(), Ok(priority));
            prop_assert_eq!(serde_json::to_value(priority).unwrap(), priority.as_str());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: titles, bodies, comments, assignees, file names, dependencies

/// The shape every one-line text has once normalised: no control characters, no whitespace
/// but single spaces between words, nothing at the ends.
fn is_one_line(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
        && !text.contains("  ")
        && text.trim() == text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_title_is_one_bounded_line_and_validating_it_again_changes_nothing(
        title in text_with(WHITESPACE_AND_WORDS)
    ) {
        match validate_title(&title) {
            Ok(clean) => {
                prop_assert!(is_one_line(&clean), "{:?}", clean);
                prop_assert!((1..=TITLE_MAX_CHARS).contains(&clean.chars().count()));
                prop_assert_eq!(validate_title(&clean), Ok(clean.clone()));
            }
            Err(err) => {
                prop_assert_eq!(err.field.as_str(), "title");
                let words = one_line(&title).chars().count();
                prop_assert!(words == 0 || title.chars().count() > TITLE_MAX_CHARS);
            }
        }
    }

    #[test]
    fn bodies_and_comments_are_bounded_and_validating_them_again_changes_nothing(
        body in text_with(WHITESPACE_AND_WORDS)
    ) {
        let kept_only_newlines_and_tabs =
            |t: &str| !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        match validate_body(&body) {
            Ok(clean) => {
                prop_assert!(clean.len() <= BODY_MAX_BYTES);
                prop_assert!(kept_only_newlines_and_tabs(&clean));
                prop_assert_eq!(clean.trim(), clean.as_str());
                prop_assert_eq!(validate_body(&clean), Ok(clean.clone()));
            }
            Err(err) => prop_assert!(body.len() > BODY_MAX_BYTES, "{}", err),
        }
        match validate_comment(&body) {
            Ok(clean) => {
                prop_assert!(!clean.is_empty() && clean.len() <= COMMENT_MAX_BYTES);
                prop_assert!(kept_only_newlines_and_tabs(&clean));
                prop_assert_eq!(validate_comment(&clean), Ok(clean.clone()));
            }
            Err(err) => prop_assert_eq!(err.field.as_str(), "body"),
        }
    }

    #[test]
    fn assignees_and_file_names_are_clean_and_stay_as_they_are(
        name in text_with(WHITESPACE_AND_WORDS)
    ) {
        if let Ok(Some(assignee)) = validate_assignee(Some(&name)) {
            prop_assert!(is_one_line(&assignee) && !assignee.is_empty());
            prop_assert!(assignee.chars().count() <= ASSIGNEE_MAX_CHARS);
            prop_assert_eq!(validate_assignee(Some(&assignee)), Ok(Some(assignee.clone())));
        }
        if let Ok(file) = validate_filename(&name) {
            prop_assert!(is_one_line(&file) && !file.is_empty(), "{:?}", file);
            prop_assert!(!file.starts_with('.'), "{:?}", file);
            prop_assert!(!file.contains(['/', '\\', '"', ';']), "{:?}", file);
            prop_assert!(file.chars().count() <= FILENAME_MAX_CHARS);
            prop_assert_eq!(validate_filename(&file), Ok(file.clone()));
        }
        let content_type = normalise_content_type(Some(&name));
        prop_assert!(!content_type.contains(['\r', '\n']));
        prop_assert_eq!(normalise_content_type(Some(&content_type)), content_type);
    }

    /// Issue numbers as typed in a form: whatever the separators, the numbers come back in
    /// order; anything read is a real issue number.
    #[test]
    fn issue_numbers_typed_in_a_form_read_back(
        ids in prop::collection::vec(1i64..=i64::MAX, 0..20),
        separators in prop::collection::vec(select(&[",", " ", ", ", " ,#", "\t#", "\n", ",,"][..]), 20),
        junk in text_with(WHITESPACE_AND_WORDS),
    ) {
        let typed: String = ids
            .iter()
            .zip(&separators)
            .map(|(id, sep)| format!("{sep}{id}"))
            .collect();
        prop_assert_eq!(parse_issue_numbers(&typed), Ok(ids));
        if let Ok(read) = parse_issue_numbers(&junk) {
            prop_assert!(read.iter().all(|id| *id > 0));
        }
    }

    /// A new issue or an edit that validates is its own validated form.
    #[test]
    fn a_validated_issue_or_edit_validates_to_itself(
        title in text_with(WHITESPACE_AND_WORDS),
        body in text_with(WHITESPACE_AND_WORDS),
        assignee in prop::option::of(text_with(WHITESPACE_AND_WORDS)),
        model in prop::option::of(text_with(WHITESPACE_AND_WORDS)),
        depends_on in prop::collection::vec(prop_oneof![-3i64..60, any::<i64>()], 0..70),
        status in prop::option::of(status()),
    ) {
        let new = NewIssue {
            title: title.clone(),
            body: body.clone(),
            assignee: assignee.clone(),
            model: model.clone(),
            depends_on: depends_on.clone(),
            status,
            ..Default::default()
        };
        if let Ok(valid) = new.validate() {
            prop_assert!(valid.depends_on.windows(2).all(|w| w[0] < w[1]), "sorted, once each");
            prop_assert!(valid.depends_on.iter().all(|id| *id > 0));
            prop_assert!(valid.depends_on.len() <= DEPENDS_ON_MAX);
            prop_assert!(matches!(valid.status, Some(Status::Backlog | Status::Ready)));
            prop_assert_eq!(valid.clone().validate(), Ok(valid));
        }
        let patch = IssuePatch {
            title: Some(title),
            body: Some(body),
            assignee,
            model,
            depends_on: Some(depends_on),
            ..Default::default()
        };
        if let Ok(valid) = patch.validate() {
            prop_assert_eq!(valid.clone().validate(), Ok(valid));
        }
    }

    /// A loop is found exactly when one is there, and the loop named is a real path.
    #[test]
    fn a_dependency_cycle_is_found_exactly_when_there_is_one(
        edges in prop::collection::vec((1i64..12, 1i64..12), 0..40),
        issue in 1i64..12,
        depends_on in prop::collection::vec(1i64..12, 0..5),
    ) {
        let kept: Vec<(i64, i64)> = edges.iter().copied().filter(|(a, _)| *a != issue).collect();
        // Everything reachable from the new dependencies, along the edges that stay.
        let mut reached: Vec<i64> = depends_on.clone();
        let mut at = 0;
        while at < reached.len() {
            let from = reached[at];
            for (_, b) in kept.iter().filter(|(a, _)| *a == from) {
                if !reached.contains(b) {
                    reached.push(*b);
                }
            }
            at += 1;
        }
        match dependency_cycle(&edges, issue, &depends_on) {
            None => prop_assert!(!reached.contains(&issue)),
            Some(path) => {
                prop_assert!(depends_on.contains(&path[0]), "{:?}", path);
                prop_assert_eq!(path.last(), Some(&issue));
                for step in path.windows(2) {
                    prop_assert!(kept.contains(&(step[0], step[1])), "{:?} in {:?}", step, path);
                }
            }
        }
    }

    #[test]
    fn cut_text_is_at_most_its_length_and_a_prefix(
        text in text_with(WHITESPACE_AND_WORDS), max in 0usize..300
    ) {
        let short = cut(&text, max);
        prop_assert!(short.chars().count() <= max, "{} chars for {}", short.chars().count(), max);
        if text.chars().count() <= max {
            prop_assert_eq!(short, text);
        } else if let Some(kept) = short.strip_suffix('…') {
            prop_assert!(text.starts_with(kept));
        } else {
            prop_assert!(short.is_empty());
        }
    }

    /// Feedback from anyone becomes a backlog feedback issue that passes the issue rules.
    #[test]
    fn feedback_is_always_a_valid_backlog_issue_or_a_clear_refusal(
        message in text_with(WHITESPACE_AND_WORDS),
        page in prop::option::of(text_with(WHITESPACE_AND_WORDS)),
        user in prop::option::of(text_with(WHITESPACE_AND_WORDS)),
    ) {
        let feedback = Feedback { message, page, user, website: None };
        if let Ok(issue) = feedback.into_new_issue() {
            prop_assert_eq!(issue.kind, Kind::Feedback);
            prop_assert_eq!(issue.status, Some(Status::Backlog));
            prop_assert!(issue.title.chars().count() <= FEEDBACK_TITLE_MAX_CHARS);
            let valid = issue.clone().validate();
            prop_assert_eq!(valid.map(|v| v.title), Ok(issue.title));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Board filters and list cursors

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_board_address_reads_without_a_panic(
        pairs in prop::collection::vec(
            (select(&["q", "kind", "assignee", "mine", "ready", "done", "issue", "x"][..]),
             text_with(WHITESPACE_AND_WORDS)),
            0..8,
        )
    ) {
        let read = BoardQuery::from_query(|name| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        });
        prop_assert_eq!(read.shown.len(), Status::ALL.len());
        prop_assert!(read.q.iter().chain(&read.assignee).all(|v| !v.trim().is_empty()));
        prop_assert_eq!(read.unfiltered(), read.q.is_none() && read.kind.is_none()
            && read.assignee.is_none() && !read.mine);
    }

    /// The filters written into an address the way the board writes them (percent-encoded
    /// values) read back as the same filters.
    #[test]
    fn board_filters_written_into_an_address_read_back(
        q in prop::option::of(filter_value()),
        kind in prop::option::of(select(Kind::ALL.to_vec())),
        assignee in prop::option::of(filter_value()),
        mine in any::<bool>(),
        shown in prop::collection::vec(prop_oneof![Just(0i64), 1i64..10_000], 6),
    ) {
        let query = BoardQuery { q, kind, assignee, mine, shown };
        let mut pairs: Vec<(&str, String)> = Vec::new();
        pairs.extend(query.q.clone().map(|v| ("q", v)));
        pairs.extend(query.kind.map(|k| ("kind", k.to_string())));
        pairs.extend(query.assignee.clone().map(|v| ("assignee", v)));
        pairs.extend(query.mine.then(|| ("mine", "1".to_string())));
        for (status, n) in Status::ALL.iter().zip(&query.shown).filter(|(_, n)| **n != 0) {
            pairs.push((status.as_str(), n.to_string()));
        }
        let address: String = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", app::percent::query_value(v)))
            .collect::<Vec<_>>()
            .join("&");
        // Read it as the router does: split at `&` and `=`, then percent-decode.
        let decoded: Vec<(String, String)> = address
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| {
                let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                (k.to_string(), v.into_owned())
            })
            .collect();
        let read = BoardQuery::from_query(|name| {
            decoded.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        });
        prop_assert_eq!(read, query);
    }

    /// A cursor given out reads back as the same place; anything else accepted is one that
    /// could have been given out.
    #[test]
    fn a_cursor_given_out_reads_back_and_nothing_else_is_accepted(
        last_id in 1i64..=i64::MAX,
        junk in text_with(WHITESPACE_AND_WORDS),
    ) {
        prop_assert_eq!(parse_cursor(Some(&page_cursor(last_id))), Some(last_id));
        match parse_cursor(Some(&junk)) {
            Some(0) => prop_assert!(junk.is_empty()),
            Some(after) => prop_assert_eq!(page_cursor(after), junk),
            None => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTML: the Markdown renderer and the diff page

/// One tag of an HTML text: its name and attributes (values as written, entities and all).
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
}

/// The tags of serialised HTML (as html5ever writes it: text escapes `<`, attribute values
/// are double-quoted with `"` escaped). `Err` when the text cannot be read that way, which
/// the properties treat as a failure: output they cannot vouch for.
fn tags(html: &str) -> Result<Vec<Tag>, String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let rest_after_slash = rest.strip_prefix('/').unwrap_or(rest);
        let name_len = rest_after_slash
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .ok_or_else(|| format!("unclosed tag at {rest:.40}"))?;
        let mut tag = Tag {
            name: rest_after_slash[..name_len].to_ascii_lowercase(),
            attributes: Vec::new(),
        };
        let mut at = &rest_after_slash[name_len..];
        loop {
            at = at.trim_start();
            if let Some(after) = at.strip_prefix("/>").or_else(|| at.strip_prefix('>')) {
                at = after;
                break;
            }
            let name_len = at
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
                .ok_or_else(|| format!("unclosed attribute at {at:.40}"))?;
            if name_len == 0 {
                return Err(format!("stray character in a tag at {at:.40}"));
            }
            let name = at[..name_len].to_ascii_lowercase();
            at = &at[name_len..];
            let value = match at.strip_prefix("=\"") {
                Some(quoted) => {
                    let end = quoted.find('"').ok_or("unclosed attribute value")?;
                    at = &quoted[end + 1..];
                    quoted[..end].to_string()
                }
                None => String::new(),
            };
            tag.attributes.push((name, value));
        }
        found.push(tag);
        rest = at;
    }
    Ok(found)
}

/// An attribute value as a browser reads it: character references decoded (numeric ones
/// and the named ones that matter in a URL).
fn decode_entities(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|end| *end < 12);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let number = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
            };
            let named = match name {
                "amp" => Some('&'),
                "colon" => Some(':'),
                "tab" | "Tab" => Some('\t'),
                "newline" | "NewLine" => Some('\n'),
                "quot" => Some('"'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                _ => None,
            };
            number.and_then(char::from_u32).or(named).map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A URL's scheme as a browser reads it: references decoded, tabs, newlines and the like
/// ignored, case folded. `None` for a relative URL.
fn scheme(url: &str) -> Option<String> {
    let squeezed: String = decode_entities(url)
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    // As a browser reads it (WHATWG URL): a scheme is a letter, then letters, digits, `+`,
    // `-` or `.`, up to the colon; anything else before the colon makes a relative URL.
    let (before, _) = squeezed.split_once(':')?;
    let mut chars = before.chars();
    let is_scheme = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    is_scheme.then(|| before.to_string())
}

/// The checkers above are the properties' oracle: they must see what they look for.
#[test]
fn the_html_checkers_see_scripts_handlers_and_schemes() {
    let read = tags(r#"<p>a &lt;b&gt;</p><a href="JaVa&#x9;script:x" onclick="y>z">t</a><br/>"#)
        .expect("well-formed");
    let names: Vec<&str> = read.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["p", "p", "a", "a", "br"]);
    assert_eq!(read[2].attributes[1], ("onclick".into(), "y>z".into()));
    assert_eq!(scheme("JaVa\tscript:x").as_deref(), Some("javascript"));
    assert_eq!(
        scheme(" java\nscript&colon;x").as_deref(),
        Some("javascript")
    );
    assert_eq!(
        scheme(&read[2].attributes[0].1).as_deref(),
        Some("javascript")
    );
    assert_eq!(
        scheme("&#106;avascript&#58;x").as_deref(),
        Some("javascript")
    );
    assert_eq!(scheme("/issues/1?a=b:c"), None);
    // Found by this property in CI: a link whose target is itself a link is a relative URL.
    assert_eq!(scheme("%5Bx%5D(javascript:alert(1))"), None);
    assert_eq!(scheme("(javascript:alert(1))"), None);
    assert_eq!(scheme("web+x:y").as_deref(), Some("web+x"));
    assert!(tags("<a href=\"x").is_err());
}

const MARKDOWN_PIECES: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<iframe src=//evil>",
    "<style>*{}</style>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](data:text/html,<script>)",
    "[x](vbscript:x)",
    "![i](javascript:alert(1))",
    "![i](https://x.example/i.png \"t\")",
    "<javascript:alert(1)>",
    "<https://x.example>",
    "[r]: javascript:alert(1)\n\n[r]",
    "[r]([x](javascript:alert(1)))",
    "[a](https://x.example)",
    "[a](<javascript:alert(1)>)",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "\"",
    "'",
    "`",
    "```\n",
    "**",
    "_",
    "~~",
    "# ",
    "> ",
    "- [ ] ",
    "| a | b |\n|---|---|\n",
    "\n",
    "\n\n",
    " ",
    "&",
    "&lt;",
    "&#0;",
    "\\",
    "<",
    ">",
    "onclick=",
    " on",
    "=",
    "(",
    ")",
    "[",
    "]",
    "!",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever anyone writes, the rendered body has no script, no event handler, no style
    /// and no link or image to anything but http(s) and mail; every link carries the rel.
    #[test]
    fn markdown_never_renders_a_script_a_handler_or_a_dangerous_url(
        markdown in text_with(MARKDOWN_PIECES)
    ) {
        let html = app::markdown::render(&markdown);
        let tags = tags(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html}")))?;
        for tag in &tags {
            prop_assert!(
                !matches!(tag.name.as_str(), "script" | "style" | "iframe" | "object" | "embed"
                    | "svg" | "math" | "form" | "base" | "meta" | "link"),
                "<{}> in {}", tag.name, html
            );
            for (name, value) in &tag.attributes {
                prop_assert!(!name.starts_with("on") && name != "style" && name != "srcdoc",
                    "{}={:?} on <{}> in {}", name, value, tag.name, html);
                if matches!(name.as_str(), "href" | "src" | "action" | "formaction" | "xlink:href") {
                    let scheme = scheme(value);
                    prop_assert!(
                        scheme.as_deref().is_none_or(|s| matches!(s, "http" | "https" | "mailto")),
                        "{}={:?} in {}", name, value, html
                    );
                }
            }
            if tag.name == "a" && tag.attributes.iter().any(|(n, _)| n == "href") {
                prop_assert!(tag.attributes.iter().any(|(n, v)| n == "rel"
                    && v == "noopener nofollow noreferrer"), "{}", html);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The diff parser

const DIFF_PIECES: &[&str] = &[
    "diff --git a/x b/x\n",
    "diff --git a/a b/c d b/e\n",
    "diff --git \n",
    "diff --git a/ b/\n",
    "@@ -1,2 +1,3 @@\n",
    "@@ -4294967295 +4294967295 @@\n",
    "@@ -0,0 +0,0 @@\n",
    "@@ \n",
    "@@ -x +y @@\n",
    "@@ --1 ++1 @@\n",
    "+added\n",
    "-removed\n",
    " context\n",
    "\n",
    "+\n",
    "\\ No newline at end of file\n",
    "new file mode 100644\n",
    "deleted file mode 100644\n",
    "rename from a b\n",
    "rename to c\n",
    "Binary files a and b differ\n",
    "GIT binary patch\n",
    "--- a/x\n",
    "+++ b/x\n",
    "index 1..2 100644\n",
    "+\u{1b}[31m\u{0}\r\n",
    "+é",
    " b/",
    "a/",
];

/// One line of a generated hunk.
#[derive(Clone, Debug)]
enum Line {
    Context(String),
    Added(String),
    Removed(String),
}

/// One generated file of a well-formed `git diff`: a path (spaces and all), where its first
/// hunk starts, and its hunks.
#[derive(Clone, Debug)]
struct GeneratedFile {
    path: String,
    start: u32,
    hunks: Vec<Vec<Line>>,
}

fn generated_file() -> impl Strategy<Value = GeneratedFile> {
    // Line text: anything but a line break, sometimes past the length a line shows.
    let text = prop_oneof![
        9 => "[^\\n\\r\\x00-\\x08\\x0b-\\x1f\\x7f-\\u{9f}]{0,30}",
        1 => "[a-z]{390,420}",
    ];
    let line = prop_oneof![
        text.clone().prop_map(Line::Context),
        text.clone().prop_map(Line::Added),
        text.prop_map(Line::Removed),
    ];
    (
        "[a-z]{1,8}(/[a-z0-9_.]{1,8}){0,2}( [a-z]{1,4}(/[a-z]{1,3})?)?",
        1u32..100_000,
        prop::collection::vec(prop::collection::vec(line, 1..12), 0..4),
    )
        .prop_map(|(path, start, hunks)| GeneratedFile { path, start, hunks })
}

/// The files as `git diff` writes them; each hunk starts where the last one's lines ended.
fn write_patch(files: &[GeneratedFile]) -> String {
    let mut patch = String::new();
    for file in files {
        let path = &file.path;
        patch.push_str(&format!(
            "diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
        ));
        let (mut old, mut new) = (file.start, file.start);
        for hunk in &file.hunks {
            let olds = hunk.iter().filter(|l| !matches!(l, Line::Added(_))).count() as u32;
            let news = hunk
                .iter()
                .filter(|l| !matches!(l, Line::Removed(_)))
                .count() as u32;
            patch.push_str(&format!("@@ -{old},{olds} +{new},{news} @@ fn context()\n"));
            for line in hunk {
                match line {
                    Line::Context(t) => patch.push_str(&format!(" {t}\n")),
                    Line::Added(t) => patch.push_str(&format!("+{t}\n")),
                    Line::Removed(t) => patch.push_str(&format!("-{t}\n")),
                }
            }
            (old, new) = (old + olds + 3, new + news + 3);
        }
    }
    patch
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_diff_parser_takes_any_text_without_a_panic(patch in text_with(DIFF_PIECES)) {
        let files = parse_patch(&patch);
        for file in &files {
            let lines = file.hunks.iter().flat_map(|h| &h.lines);
            prop_assert_eq!(
                file.additions,
                lines.clone().filter(|l| l.kind == LineKind::Added).count()
            );
            prop_assert_eq!(
                file.deletions,
                lines.clone().filter(|l| l.kind == LineKind::Removed).count()
            );
            for line in lines {
                // A line shows no control character but a tab (terminal escapes are defused).
                prop_assert!(!line.text.chars().any(|c| c.is_control() && c != '\t'));
                prop_assert!(line.text.chars().count() <= LINE_SHOWN);
            }
        }
        let (kept, truncated) = cap_patch(patch.clone());
        prop_assert!(patch.starts_with(&kept) && kept.len() <= PATCH_CAP);
        prop_assert_eq!(truncated, patch.len() > PATCH_CAP);
    }

    /// A well-formed diff gives back its files, their paths and counts, every line's text
    /// (or its shown start) and every line's numbers.
    #[test]
    fn a_generated_diff_parses_back_to_its_files_and_lines(
        files in prop::collection::vec(generated_file(), 0..5)
    ) {
        let parsed = parse_patch(&write_patch(&files));
        prop_assert_eq!(parsed.len(), files.len());
        for (file, got) in files.iter().zip(&parsed) {
            prop_assert_eq!(&got.path, &file.path);
            prop_assert_eq!(&got.old_path, &file.path);
            prop_assert_eq!(got.change, FileChange::Modified);
            prop_assert_eq!(got.hunks.len(), file.hunks.len());
            let all = file.hunks.iter().flatten();
            prop_assert_eq!(got.additions, all.clone().filter(|l| matches!(l, Line::Added(_))).count());
            prop_assert_eq!(got.deletions, all.filter(|l| matches!(l, Line::Removed(_))).count());
            let (mut old, mut new) = (file.start, file.start);
            for (hunk, got) in file.hunks.iter().zip(&got.hunks) {
                prop_assert_eq!(got.lines.len(), hunk.len());
                let (mut o, mut n) = (old, new);
                for (line, got) in hunk.iter().zip(&got.lines) {
                    let (kind, text, numbers) = match line {
                        Line::Context(t) => (LineKind::Context, t, (Some(o), Some(n))),
                        Line::Added(t) => (LineKind::Added, t, (None, Some(n))),
                        Line::Removed(t) => (LineKind::Removed, t, (Some(o), None)),
                    };
                    prop_assert_eq!(got.kind, kind);
                    prop_assert_eq!((got.old, got.new), numbers);
                    let shown: String = text.chars().take(LINE_SHOWN).collect();
                    prop_assert_eq!(&got.text, &shown);
                    prop_assert_eq!(got.cut, text.chars().count().saturating_sub(LINE_SHOWN));
                    o += u32::from(kind != LineKind::Added);
                    n += u32::from(kind != LineKind::Removed);
                }
                (old, new) = (o + 3, n + 3);
            }
        }
    }

    /// Picked lines join into ranges that, spelled out again, are the lines picked; any
    /// text picks without a panic and quotes no more than its limit.
    #[test]
    fn picked_lines_and_quotes_round_trip_and_stay_bounded(
        picks in prop::collection::vec(
            (any::<bool>(), prop_oneof![1u32..50, Just(u32::MAX - 1), Just(u32::MAX)]),
            0..30,
        ),
        junk in prop::collection::vec(text_with(WHITESPACE_AND_WORDS), 0..5),
        files in prop::collection::vec(generated_file(), 1..3),
        picked in text_with(&["a:1", ":old 1-3", "-", "\n", "old ", ":", "4294967295", "1-"]),
        limit in 0usize..4096,
    ) {
        let ats: Vec<String> = picks
            .iter()
            .map(|(old, n)| if *old { format!("old {n}") } else { n.to_string() })
            .collect();
        let ranges = line_ranges(&ats);
        let spelled: Vec<String> = ranges
            .iter()
            .flat_map(|range| {
                let (side, numbers) = match range.strip_prefix("old ") {
                    Some(n) => ("old ", n),
                    None => ("", range.as_str()),
                };
                let (from, to) = numbers.split_once('-').unwrap_or((numbers, numbers));
                let (from, to): (u32, u32) = (from.parse().unwrap(), to.parse().unwrap());
                (from..=to).map(move |n| format!("{side}{n}"))
            })
            .collect();
        prop_assert_eq!(spelled, ats);
        let _ = line_ranges(&junk);

        let parsed = parse_patch(&write_patch(&files));
        let picked = picked.replace('a', &files[0].path);
        if let Ok(quote) = quote_lines(&parsed, &picked, limit) {
            prop_assert!(quote.len() <= limit);
        }
    }
}

proptest! {
    // Each case colours the diff on worker threads: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The diff page never takes markup from the patch: only the page's own tags come out.
    #[test]
    fn the_diff_page_never_takes_markup_from_the_patch(
        patch in text_with(&[
            "diff --git a/<b>.rs b/<b>.rs\n", "diff --git a/x.js b/x.js\n", "@@ -1 +1 @@\n",
            "+</script><script>alert(1)</script>\n", "-<img src=x onerror=alert(1)>\n",
            " \"quoted\" & 'single'\n", "+fn main() { let x = \"<a>\"; }\n", "rename from <i>\n",
            "+// <!-- comment\n", "\n",
        ]),
        truncated in any::<bool>(),
    ) {
        let html = app::diff_html::render(&parse_patch(&patch), truncated);
        let tags = tags(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html}")))?;
        for tag in tags {
            prop_assert!(
                matches!(tag.name.as_str(), "p" | "table" | "tbody" | "tr" | "td" | "a"
                    | "details" | "summary" | "code" | "span" | "em"),
                "<{}> in {}", tag.name, html
            );
            for (name, _) in &tag.attributes {
                prop_assert!(matches!(name.as_str(), "class" | "href" | "id" | "open"
                    | "colspan" | "role" | "data-file"), "{} on <{}> in {}", name, tag.name, html);
            }
        }
    }
}
