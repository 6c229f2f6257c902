//! Issue bodies are Markdown written by anyone who can file an issue (including the public,
//! through feedback), so they are rendered on the server and sanitised before any browser
//! sees them: no scripts, no event handlers, no `javascript:` links.

use pulldown_cmark::{html, Options, Parser};

pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
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
    fn hostile_html_is_neutralised() {
        let html = render(
            "<script>alert(1)</script><img src=x onerror=alert(1)>\
             <a href=\"https://x.example\" onclick=\"alert(1)\">x</a>\
             <iframe src=\"https://evil.example\"></iframe><style>body{}</style>\n\n\
             [click](javascript:alert(1)) <a href=\"javascript:alert(2)\">y</a>",
        );
        for bad in [
            "<script",
            "onerror",
            "href=\"javascript",
            "onclick",
            "<iframe",
            "<style",
        ] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
        assert!(
            html.contains("rel=\"noopener nofollow noreferrer\""),
            "{html}"
        );
    }
}
