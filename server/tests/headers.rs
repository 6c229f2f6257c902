//! Security headers, as a browser gets them: every page carries a Content-Security-Policy
//! whose nonce is on each of its scripts (and on nothing else's), refuses to be framed, and
//! sends the other headers; answers that are not pages keep their own.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{Reply, TestApp};

/// The nonce in a page's policy, after checking the policy's strict parts.
fn nonce_of(page: &Reply, path: &str) -> String {
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(part), "{path}: {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"));
    nonce.to_string()
}

fn assert_page_headers(page: &Reply, path: &str) {
    let h = &page.headers;
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    assert_eq!(h[header::REFERRER_POLICY], "same-origin", "{path}");
    let permissions = h["permissions-policy"].to_str().unwrap();
    assert!(permissions.contains("camera=()"), "{path}: {permissions}");
    let nonce = nonce_of(page, path);
    let html = page.text();
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "{path}: a page that hydrates has scripts");
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{path}: every script carries this answer's nonce"
    );
}

async fn every_page_sends_a_strict_policy_with_its_own_nonce() {
    let app = TestApp::new().await;
    let id = app.create("an issue").await["id"].as_i64().unwrap();
    let pages = [
        "/".to_string(),
        format!("/?issue={id}"),
        format!("/issues/{id}"),
        "/admin".into(),
        "/admin/users".into(),
        "/admin/runner".into(),
    ];
    for path in &pages {
        let page = app
            .call(&app.admin(), "GET", path, None, Body::empty())
            .await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_page_headers(&page, path);
    }
    for path in ["/login", "/setup", "/no/such/page"] {
        let page = app
            .call(&common::Caller::Anonymous, "GET", path, None, Body::empty())
            .await;
        if page.status.is_redirection() {
            continue;
        }
        // A page with no script at all (the plain 404 page) may not run any either.
        if !page.text().contains("<script") {
            let policy = page.headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(policy.contains("script-src 'none'"), "{path}: {policy}");
            assert!(
                policy.contains("frame-ancestors 'none'"),
                "{path}: {policy}"
            );
            assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
            continue;
        }
        assert_page_headers(&page, path);
    }

    // The board's kept page (served from memory until the next change) gets a new nonce
    // each time, in its policy and in its scripts alike.
    let first = app
        .call(&app.admin(), "GET", "/", None, Body::empty())
        .await;
    let again = app
        .call(&app.admin(), "GET", "/", None, Body::empty())
        .await;
    assert_page_headers(&again, "/ (kept)");
    assert_ne!(nonce_of(&first, "/"), nonce_of(&again, "/"));
}

async fn answers_that_are_not_pages_keep_their_own_headers() {
    let app = TestApp::new().await;
    let list = app.get("/api/autopilot/issues").await;
    assert_eq!(list.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(!list.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(!list.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

    // The widget's script is loaded by other sites' pages: a script, not a page.
    let widget = app.get("/autopilot/feedback.js").await;
    assert_eq!(widget.status, StatusCode::OK);
    assert!(!widget.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(!widget.headers.contains_key(header::X_FRAME_OPTIONS));
}

async fn over_https_the_cookie_is_host_only_and_hsts_is_sent() {
    let origin = "https://board.example";
    let app = TestApp::at_origin(origin).await;
    let login = app
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, origin)
                .body(Body::from(format!(
                    "email={}&password={}",
                    common::MEMBER_EMAIL.replace('@', "%40"),
                    common::PASSWORD.replace(' ', "+")
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.text());
    let cookie = login.set_cookie_header();
    assert!(cookie.starts_with("__Host-autopilot_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert_eq!(
        login.headers[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
}

on_both_engines!(
    every_page_sends_a_strict_policy_with_its_own_nonce,
    answers_that_are_not_pages_keep_their_own_headers,
    over_https_the_cookie_is_host_only_and_hsts_is_sent,
);
