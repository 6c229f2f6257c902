//! Security headers on every answer. A page gets the Content-Security-Policy of
//! `app::security` with the nonce its scripts carry (Leptos makes one per response and puts
//! it on every script it writes; it is read from the page here, so the policy always matches
//! the page); HTML with no nonce gets the same policy with no scripts at all. A header a
//! handler set itself (the attachment download's sandbox policy, say) is left as it is.

use super::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// What a page may use of the browser: nothing that needs asking the person.
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
     serial=(), hid=(), midi=(), display-capture=(), browsing-topics=()";
/// A year; only sent when the board is served over https (AUTOPILOT_PUBLIC_URL).
const HSTS: &str = "max-age=31536000";

/// The largest page read for its nonce (a board page is a few hundred KiB, a drawer with a
/// big change a few MiB).
const PAGE_MAX_BYTES: usize = 64 * 1024 * 1024;

pub async fn security(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if is_html(response.headers())
        && !response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        response = with_page_policy(response).await;
    }
    add(response.headers_mut(), state.auth.secure_cookies);
    response
}

/// The page's policy, naming the nonce on its scripts. Pages are rendered whole before they
/// are sent (the board waits for its data), so reading one costs no streaming.
async fn with_page_policy(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(page) = axum::body::to_bytes(body, PAGE_MAX_BYTES).await else {
        tracing::error!("a page too large to read for its nonce");
        return Response::from_parts(parts, Body::empty());
    };
    let nonce = app::security::nonce_in(&page);
    if nonce.is_none() && page.windows(7).any(|w| w == b"<script") {
        tracing::warn!("a page with scripts but no nonce: its scripts will not run");
    }
    if let Ok(value) = HeaderValue::from_str(&app::security::page_policy(nonce.as_deref())) {
        parts.headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Response::from_parts(parts, Body::from(page))
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
}

/// The headers every answer gets (and a page its policy, when it brought none); what is
/// there already stays.
pub(super) fn add(headers: &mut HeaderMap, https: bool) {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if https {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
    if is_html(headers) {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            if let Ok(value) = HeaderValue::from_str(&app::security::page_policy(None)) {
                headers.insert(header::CONTENT_SECURITY_POLICY, value);
            }
        }
        // For browsers older than `frame-ancestors`.
        headers
            .entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
        headers
            .entry("permissions-policy")
            .or_insert(HeaderValue::from_static(PERMISSIONS_POLICY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_a_scriptless_policy_unless_it_brought_one_and_https_gets_hsts() {
        let mut page = HeaderMap::new();
        page.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        add(&mut page, true);
        let policy = page[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("script-src 'none'"), "{policy}");
        assert_eq!(page[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(page[header::STRICT_TRANSPORT_SECURITY], HSTS);

        let mut download = HeaderMap::new();
        download.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        download.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
        add(&mut download, false);
        assert_eq!(
            download[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; sandbox"
        );
        assert!(!download.contains_key(header::STRICT_TRANSPORT_SECURITY));

        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        add(&mut json, false);
        assert_eq!(json[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!json.contains_key(header::CONTENT_SECURITY_POLICY));
    }
}
