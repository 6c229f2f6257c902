//! Issue bodies are Markdown written by anyone who can file an issue (including the public,
//! through feedback), so they are rendered on the server and sanitised before any browser
//! sees them: raw HTML is shown as text, and the result is sanitised again (no scripts, no
//! event handlers, no `javascript:` links).

use pulldown_cmark::{html, Event, Options, Parser};

pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Raw HTML in the text is shown as the text it is, never interpreted.
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    ammonia::Builder::default()
        .link_rel(Some("noopener nofollow noreferrer"))
        .url_schemes(["http", "https", "mailto"].into())
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders() {
        let html = render("# Title\n\nSome *emphasis* and `code`.\n\n- [x] done");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<em>emphasis</em>"));
        assert!(html.contains("<code>code</code>"));
    }

    #[test]
    fn hostile_html_is_shown_as_text_and_links_are_safe() {
        let html = render(
            "<script>alert(1)</script><img src=x onerror=alert(1)>\
             <a href=\"https://x.example\" onclick=\"alert(1)\">x</a>\
             <iframe src=\"https://evil.example\"></iframe><style>body{}</style>\n\n\
             [click](javascript:alert(1)) and <b onmouseover=alert(1)>bold</b>",
        );
        // Every tag in the output comes from Markdown, none from the text.
        for tag in [
            "<script",
            "<img",
            "<iframe",
            "<style",
            "<b ",
            "href=\"javascript",
        ] {
            assert!(!html.contains(tag), "{tag} survived in {html}");
        }
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "shown as text: {html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "shown as text: {html}"
        );
        let link = render("[site](https://x.example)");
        assert!(
            link.contains("rel=\"noopener nofollow noreferrer\""),
            "{link}"
        );
    }
}
