//! A card's markup, written as a string. The board puts each column's cards in with
//! `inner_html`, which Leptos leaves alone when it hydrates a page: a column of cards costs the
//! browser nothing to hydrate, and the page carries the cards' places as data, not their text a
//! second time. The same function draws the cards on the server and, after a change, in the
//! browser. Every text that comes from a person or an agent is escaped here.

use crate::domain::{dollars, runs_label, Card};
use html_escape::{encode_double_quoted_attribute_to_string, encode_text_to_string};
use std::fmt::Write;

/// The cards of one column, in order.
pub fn cards_html<'a>(cards: impl IntoIterator<Item = &'a Card>) -> String {
    let mut html = String::new();
    for card in cards {
        card_html(card, &mut html);
    }
    html
}

/// One card: its number, kind and priority, its marks, its title (a link to its drawer), and
/// a "Move to…" link (the board opens a menu on it; without JavaScript the drawer's move form).
pub fn card_html(card: &Card, html: &mut String) {
    let id = card.id;
    // Feedback cards stand out (a border); marked on the card itself, not found with `:has()`,
    // which costs the browser a check up the tree for every element it parses.
    let mark = if card.kind == crate::domain::Kind::Feedback {
        r#" data-kind="feedback""#
    } else {
        ""
    };
    let _ = write!(
        html,
        r#"<li class="card" data-id="{id}"{mark} draggable="true"><div class="card-meta"><span class="number">#{id}</span><span class="kind kind-{kind}">{kind}</span><span class="priority priority-{priority}">{priority}</span>"#,
        kind = card.kind.as_str(),
        priority = card.priority.as_str(),
    );
    if card.human_only {
        html.push_str(r#"<span class="human-only">human only</span>"#);
    }
    if let Some(agent) = &card.agent {
        span(html, "agent", Some("The agent it asks for"), agent);
    }
    if let Some(model) = &card.model {
        span(
            html,
            "model",
            Some("The model it asks the agent to use"),
            model,
        );
    }
    if let Some(checks) = &card.pr_checks {
        let mut class = String::from("checks checks-");
        encode_double_quoted_attribute_to_string(checks, &mut class);
        span(
            html,
            &class,
            Some("The pull request's checks"),
            &format!("checks {checks}"),
        );
    }
    if let Some(runner) = &card.claimed_by {
        span(
            html,
            "claimed",
            Some(&format!("held by {runner}")),
            "agent working",
        );
    }
    let _ = write!(html, r#"</div><a class="title" href="/?issue={id}">"#);
    encode_text_to_string(&card.title, html);
    html.push_str("</a>");
    if let Some((kind, text)) = card.loop_mark() {
        paragraph(html, &format!("loop-mark loop-{kind}"), None, &text);
    }
    if let Some(assignee) = &card.assignee {
        paragraph(html, "assignee", None, assignee);
    }
    if let Some(waiting) = card.waiting_label() {
        let title = "The agent takes it once these issues are done";
        paragraph(html, "waiting", Some(title), &waiting);
    }
    if card.runs > 0 {
        let effort = format!("{} · {}", runs_label(card.runs), dollars(card.spent_usd));
        let title = "The agent's runs on it and what they cost";
        paragraph(html, "effort", Some(title), &effort);
    }
    let _ = write!(
        html,
        r##"<a class="move" href="/?issue={id}#move">Move to…</a></li>"##
    );
}

fn span(html: &mut String, class: &str, title: Option<&str>, text: &str) {
    element(html, "span", class, title, text);
}

fn paragraph(html: &mut String, class: &str, title: Option<&str>, text: &str) {
    element(html, "p", class, title, text);
}

/// `<tag class="…" title="…">text</tag>`; `class` is ours (no quotes in it), the rest escaped.
fn element(html: &mut String, tag: &str, class: &str, title: Option<&str>, text: &str) {
    let _ = write!(html, r#"<{tag} class="{class}""#);
    if let Some(title) = title {
        html.push_str(r#" title=""#);
        encode_double_quoted_attribute_to_string(title, html);
        html.push('"');
    }
    html.push('>');
    encode_text_to_string(text, html);
    let _ = write!(html, "</{tag}>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Kind, Priority, Status};

    #[test]
    fn everything_a_person_or_an_agent_wrote_is_escaped() {
        let hostile = r#""><script>alert(1)</script><img src=x onerror=alert(2)>"#;
        let card = Card {
            id: 7,
            title: hostile.into(),
            status: Status::Blocked,
            kind: Kind::Bug,
            priority: Priority::High,
            human_only: true,
            assignee: Some(hostile.into()),
            claimed_by: Some(hostile.into()),
            agent: Some(hostile.into()),
            model: Some(hostile.into()),
            pr_checks: Some(hostile.into()),
            question: Some(hostile.into()),
            waiting_on: Some(3),
            waiting_count: 2,
            runs: 2,
            spent_usd: 1.5,
            ..Card::default()
        };
        let html = cards_html([&card]);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"title="held by &quot;&gt;&lt;script"#),
            "an attribute was closed: {html}"
        );
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.starts_with(r#"<li class="card" data-id="7" draggable="true">"#));
        assert!(html.contains(r#"<span class="kind kind-bug">bug</span>"#));
        assert!(html.contains("waiting on #3 and 1 more"));
        assert!(html.contains("2 runs · $1.50"));
        assert!(html.ends_with(r##"<a class="move" href="/?issue=7#move">Move to…</a></li>"##));
    }

    #[test]
    fn a_plain_card_is_small() {
        // About 400 bytes: a full board's 300 cards stay near 120 KB.
        let card = Card {
            id: 12345,
            title: "Issue number 1 with a realistic title of some length".into(),
            ..Card::default()
        };
        let html = cards_html([&card]);
        assert!(html.len() < 400, "{} bytes: {html}", html.len());
        assert!(!html.contains("data-kind"));
        let feedback = Card {
            kind: Kind::Feedback,
            ..card
        };
        assert!(cards_html([&feedback]).contains(r#"data-kind="feedback""#));
    }
}
