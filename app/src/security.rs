//! The Content-Security-Policy of the board's pages, in one place. A page's scripts carry a
//! nonce made for that response (Leptos adds it to the hydration script and to every inline
//! script it streams); nothing else may run. The server reads the nonce from the page and
//! sends this policy with it, with the other security headers (`server/src/routes/headers.rs`);
//! HTML without a nonce gets the policy with no scripts at all. A board page kept for reuse
//! (`server/src/routes/warm.rs`) loses its nonce and names its scripts by hash instead.

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

/// The policy for a page kept and served again (`server/src/routes/warm.rs`): its inline
/// scripts are allowed by their hashes (`'sha256-…'`, as `kept_page` makes them) instead of a
/// nonce, so the page's bytes stay the same from one answer to the next and can be compressed
/// once. A hash allows only that exact script, as strict as a nonce for a page whose content
/// is fixed.
pub fn hashed_page_policy(hashes: &[String]) -> String {
    let sources: String = hashes.iter().map(|h| format!(" '{h}'")).collect();
    policy_with(&format!("script-src 'self'{sources} 'wasm-unsafe-eval'"))
}

/// A rendered page made fit to keep: its nonce taken off the scripts (and off the preload
/// links' `crossorigin`, where Leptos writes it too; empty means `anonymous`), and the
/// `'sha256-…'` source of each inline script, as the browser hashes it (the exact text
/// between the tags). `None` when the page has no nonce, or when it would still show one
/// afterwards: such a page is served as rendered, with a nonce of its own.
#[cfg(feature = "ssr")]
pub fn kept_page(page: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let nonce = nonce_in(page)?;
    let page = std::str::from_utf8(page).ok()?;
    let page = page
        .replace(&format!(" nonce=\"{nonce}\""), "")
        .replace(&format!("crossorigin=\"{nonce}\""), "crossorigin=\"\"");
    if page.contains(&nonce) {
        return None;
    }
    let mut hashes = Vec::new();
    for script in inline_scripts(&page) {
        let hash = format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script))
        );
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
    }
    Some((page.into_bytes(), hashes))
}

/// The text of each `<script>` element written inline (none for `<script src=…>`).
#[cfg(feature = "ssr")]
pub fn inline_scripts(page: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("<script") {
        rest = &rest[at + "<script".len()..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let attributes = &rest[..open_end];
        let body = &rest[open_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !attributes.contains("src=") && close > 0 {
            scripts.push(&body[..close]);
        }
        rest = &body[close..];
    }
    scripts
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

    #[cfg(feature = "ssr")]
    #[test]
    fn a_kept_page_loses_its_nonce_and_names_its_scripts_by_hash() {
        let nonce = "Qox1Kx4GRsoy-k1kX0E-dA";
        let page = format!(
            r#"<link rel="modulepreload" href="/pkg/a.js" crossorigin="{nonce}"><script type="module" nonce="{nonce}">go()</script><p>x</p><script src="/pkg/b.js"></script><script nonce="{nonce}">data=1</script>"#
        );
        let (kept, hashes) = super::kept_page(page.as_bytes()).unwrap();
        let kept = String::from_utf8(kept).unwrap();
        assert!(!kept.contains(nonce), "{kept}");
        assert!(kept.contains(r#"crossorigin="">"#), "{kept}");
        assert_eq!(super::inline_scripts(&kept), ["go()", "data=1"]);
        // echo -n 'go()' | openssl dgst -sha256 -binary | base64
        assert_eq!(hashes.len(), 2);
        assert_eq!(
            hashes[0],
            "sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw="
        );
        let policy = super::hashed_page_policy(&hashes);
        assert!(
            policy.contains(&format!(
                "script-src 'self' '{}' '{}' 'wasm-unsafe-eval';",
                hashes[0], hashes[1]
            )),
            "{policy}"
        );
        assert!(!policy.contains("nonce"), "{policy}");
        assert_eq!(super::kept_page(b"<p>no scripts</p>"), None);
    }

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
