//! The Content-Security-Policy of the board's pages, in one place. A page's own scripts carry
//! a nonce made for that response (Leptos adds it to the hydration script and to every inline
//! script it streams); nothing else may run. The server adds the other security headers (see
//! `server/src/routes/headers.rs`) and gives HTML it did not render through Leptos the same
//! policy without a nonce, so no script runs there at all.

use leptos::prelude::use_context;

/// The policy for a page whose inline scripts carry `nonce` (`None`: a page with no scripts).
/// WebAssembly needs `'wasm-unsafe-eval'` (compiling wasm, not `eval` of text); styles come
/// from the site's own stylesheet only; images from the site or `data:` (attachments are
/// served by the board itself, and remote images in an issue body are not fetched: a feedback
/// form is no place for tracking pixels).
pub fn page_policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "script-src 'none'".to_string(),
    };
    format!(
        "default-src 'self'; {scripts}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the page policy, with this response's nonce, on the response being rendered.
pub fn send_page_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = http::HeaderValue::from_str(&page_policy(Some(&nonce))) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::page_policy;

    #[test]
    fn scripts_run_only_with_the_nonce_and_nothing_may_frame_a_page() {
        let with = page_policy(Some("abc123"));
        assert!(with.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(with.contains("frame-ancestors 'none'"));
        assert!(!with.contains("unsafe-inline") && !with.contains("'unsafe-eval'"));
        let without = page_policy(None);
        assert!(without.contains("script-src 'none'"), "{without}");
    }
}
