//! The Content-Security-Policy of the board's pages, in one place. A page's scripts carry a
//! nonce made for that response (Leptos adds it to the hydration script and to every inline
//! script it streams); nothing else may run. The server reads the nonce from the page and
//! sends this policy with it, with the other security headers (`server/src/routes/headers.rs`);
//! HTML without a nonce gets the policy with no scripts at all.

/// The policy for a page whose scripts carry `nonce` (`None`: a page with no scripts).
/// WebAssembly needs `'wasm-unsafe-eval'` (compiling wasm, not `eval` of text); styles come
/// from the site's own stylesheet only; images from the site or `data:` (attachments are
/// served by the board itself, and remote images in an issue body are not fetched: a feedback
/// form is no place for tracking pixels).
pub fn page_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "script-src 'none'".to_string(),
    };
    policy_with(&scripts)
}

/// The same policy for a page whose scripts are all files of this server, none inline (the
/// API reference, `/api/docs`). Swagger UI writes one `<style>` element of its own: it is
/// allowed by its hash, nothing else inline is.
pub fn script_files_policy() -> String {
    policy_with("script-src 'self'").replace(
        "style-src 'self';",
        &format!("style-src 'self' '{SWAGGER_UI_STYLE}';"),
    )
}

/// The hash of the one `<style>` element Swagger UI (vendored, 5.x) writes.
const SWAGGER_UI_STYLE: &str = "sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=";

fn policy_with(scripts: &str) -> String {
    format!(
        "default-src 'self'; {scripts}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The nonce on a page's first script (Leptos puts the same one on all of them), if any.
pub fn nonce_in(page: &[u8]) -> Option<String> {
    const MARK: &[u8] = b" nonce=\"";
    let at = page.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let nonce: Vec<u8> = page[at..]
        .iter()
        .take_while(|&&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'=')
        })
        .copied()
        .collect();
    let closed = page.get(at + nonce.len()) == Some(&b'"');
    (closed && nonce.len() >= 16).then(|| String::from_utf8_lossy(&nonce).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{nonce_in, page_policy};

    #[test]
    fn scripts_run_only_with_the_nonce_and_nothing_may_frame_a_page() {
        let with = page_policy(Some("abc123"));
        assert!(with.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(with.contains("frame-ancestors 'none'"));
        assert!(!with.contains("unsafe-inline") && !with.contains("'unsafe-eval'"));
        let without = page_policy(None);
        assert!(without.contains("script-src 'none'"), "{without}");
    }

    #[test]
    fn the_nonce_is_read_from_the_pages_scripts() {
        let page = br#"<head><script type="module" nonce="Qox1Kx4GRsoy-k1kX0E-dA">x</script>"#;
        assert_eq!(nonce_in(page).as_deref(), Some("Qox1Kx4GRsoy-k1kX0E-dA"));
        assert_eq!(nonce_in(b"<p>no scripts</p>"), None);
        assert_eq!(
            nonce_in(br#"<script nonce="short">"#),
            None,
            "too short to be one"
        );
        assert_eq!(nonce_in(br#"<script nonce="abcdefghijklmnop'><x>"#), None);
    }
}
