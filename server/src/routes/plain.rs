//! Pages written by hand (invitations, single sign-on): plain HTML with the board's
//! stylesheet and no script, so they work before anyone is signed in.

use super::AppState;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Text for an HTML attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page around `main` (already HTML). No referrer: an invite page's address holds
/// its secret.
pub fn page(state: &AppState, title: &str, status: StatusCode, main: &str) -> Response {
    let css = super::assets::stylesheet_href(&state.leptos_options);
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} · Autopilot</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><link rel="stylesheet" href="{css}"></head>
<body>{main}</body></html>"#
    );
    (status, Html(html)).into_response()
}

/// A page that says why something did not work, and where to go (`links`: already HTML).
pub fn refusal(state: &AppState, status: StatusCode, heading: &str, sentence: &str) -> Response {
    let main = format!(
        r#"<main class="not-found"><h1>{}</h1><p>{}</p><p><a href="/login">Back to sign-in</a></p></main>"#,
        escape(heading),
        escape(sentence)
    );
    page(state, heading, status, &main)
}
