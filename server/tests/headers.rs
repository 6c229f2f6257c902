//! Security headers, as a browser gets them: every page carries a Content-Security-Policy
//! whose nonce is on each of its scripts (and on nothing else's), or for a kept board page the
//! hash of each, refuses to be framed, and sends the other headers; answers that are not pages
//! keep their own. A kept page travels precompressed, with an ETag a reload sends back.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::{Reply, TestApp};
use sha2::Digest as _;
use std::io::Read as _;

/// A page's policy, after checking its strict parts (the same with a nonce or with hashes).
fn strict_policy(page: &Reply, path: &str) -> String {
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
    policy
}

/// The nonce in a page's policy, after checking the policy's strict parts.
fn nonce_of(page: &Reply, path: &str) -> String {
    let policy = strict_policy(page, path);
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
        // The board itself is kept from its first answer: see below.
        if path != "/" {
            assert_page_headers(&page, path);
        }
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

    // The board's kept page (served from memory until the next change) is the same bytes
    // each time: its scripts are allowed by their hashes, and no nonce is left to reuse.
    let first = app
        .call(&app.admin(), "GET", "/", None, Body::empty())
        .await;
    let again = app
        .call(&app.admin(), "GET", "/", None, Body::empty())
        .await;
    assert_kept_page_headers(&first, "/");
    assert_kept_page_headers(&again, "/ (kept)");
    assert_eq!(first.body, again.body);
}

/// The `'sha256-…'` sources of a page's policy, after checking its strict parts.
fn hashes_of(page: &Reply, path: &str) -> Vec<String> {
    let policy = strict_policy(page, path);
    assert!(policy.contains("'wasm-unsafe-eval'"), "{path}: {policy}");
    assert!(!policy.contains("'nonce-"), "{path}: {policy}");
    let scripts = policy
        .split(';')
        .find(|d| d.trim_start().starts_with("script-src "))
        .unwrap_or_else(|| panic!("{path}: no script-src in {policy}"));
    let mut hashes: Vec<String> = scripts
        .split_whitespace()
        .filter_map(|s| {
            s.strip_prefix("'sha256-")?
                .strip_suffix('\'')
                .map(str::to_string)
        })
        .collect();
    hashes.sort();
    hashes
}

/// The text of each inline `<script>` of a page, read here rather than with the server's
/// own reader, so that a mistake there shows.
fn inline_scripts(html: &str) -> Vec<String> {
    html.split("<script")
        .skip(1)
        .filter_map(|rest| {
            let (open, rest) = rest.split_once('>')?;
            let (text, _) = rest.split_once("</script>")?;
            (!open.contains("src=") && !text.is_empty()).then(|| text.to_string())
        })
        .collect()
}

/// A kept page: the other headers as for any page, no nonce anywhere, and a policy whose
/// hashes are exactly those of its inline scripts.
fn assert_kept_page_headers(page: &Reply, path: &str) {
    assert_eq!(page.status, StatusCode::OK, "{path}");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
    assert_eq!(
        page.headers[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff",
        "{path}"
    );
    let html = page.text();
    assert!(
        !html.contains("nonce="),
        "{path}: a nonce is left on the page"
    );
    let scripts = inline_scripts(&html);
    assert!(
        !scripts.is_empty(),
        "{path}: a page that hydrates has scripts"
    );
    let mut expected: Vec<String> = scripts
        .iter()
        .map(|text| {
            // The browser hashes the text after turning CR LF into LF: there must be none.
            assert!(!text.contains('\r'), "{path}: a CR in a script");
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text))
        })
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(hashes_of(page, path), expected, "{path}");
}

/// A GET of `/` as `token`, with these request headers.
async fn board(app: &TestApp, token: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut req = Request::get("/").header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

fn header_of(reply: &Reply, name: header::HeaderName) -> String {
    reply
        .headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn a_kept_page_travels_precompressed_with_an_etag() {
    let app = TestApp::new().await;
    let id = app.create("a card").await["id"].as_i64().unwrap();
    let admin = app.admin_token.clone();
    let plain = board(&app, &admin, &[]).await;
    assert_kept_page_headers(&plain, "/");
    assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
    // The compressed forms are made in the background, once.
    let br = loop {
        let br = board(&app, &admin, &[(header::ACCEPT_ENCODING, "br")]).await;
        if !header_of(&br, header::ETAG).is_empty() {
            break br;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let gz = board(&app, &admin, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(header_of(&br, header::CONTENT_ENCODING), "br");
    assert_eq!(header_of(&gz, header::CONTENT_ENCODING), "gzip");
    let mut unbrotli = Vec::new();
    brotli_decompressor::Decompressor::new(&br.body[..], 4096)
        .read_to_end(&mut unbrotli)
        .unwrap();
    assert_eq!(unbrotli, plain.body, "brotli decodes to the page");
    let mut ungzip = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut ungzip)
        .unwrap();
    assert_eq!(ungzip, plain.body, "gzip decodes to the page");
    // One strong ETag per coding; every answer says it depends on Accept-Encoding, and that
    // it is this person's, to be checked at each use.
    let tags: Vec<String> = [&plain, &br, &gz]
        .iter()
        .map(|r| header_of(r, header::ETAG))
        .collect();
    assert!(tags[0].starts_with('"') && tags[0].len() > 20, "{tags:?}");
    let base = tags[0].trim_matches('"');
    assert_eq!(tags[1], format!("\"{base}-br\""));
    assert_eq!(tags[2], format!("\"{base}-gz\""));
    for (reply, coding) in [(&plain, "identity"), (&br, "br"), (&gz, "gzip")] {
        assert_eq!(
            header_of(reply, header::VARY),
            "accept-encoding",
            "{coding}"
        );
        assert_eq!(
            header_of(reply, header::CACHE_CONTROL),
            "private, no-cache",
            "{coding}"
        );
        assert_kept_page_headers(
            &Reply {
                status: reply.status,
                headers: reply.headers.clone(),
                body: plain.body.clone(),
            },
            coding,
        );
    }

    // Weights are read: a refused coding is never sent.
    let cases = [
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0, br;q=0", ""),
        ("gzip, br;q=0.5", "gzip"),
        ("gzip;q=0.2, *", "br"),
        ("identity", ""),
    ];
    for (accept, sent) in cases {
        let r = board(&app, &admin, &[(header::ACCEPT_ENCODING, accept)]).await;
        assert_eq!(r.status, StatusCode::OK, "{accept}");
        assert_eq!(header_of(&r, header::CONTENT_ENCODING), sent, "{accept}");
        assert_eq!(header_of(&r, header::VARY), "accept-encoding", "{accept}");
    }

    // A reload with the page it holds: 304, nothing sent again.
    let held = header_of(&br, header::ETAG);
    let reload = [
        (header::ACCEPT_ENCODING, "br"),
        (header::IF_NONE_MATCH, held.as_str()),
    ];
    let not_modified = board(&app, &admin, &reload).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(header_of(&not_modified, header::ETAG), held);
    assert_eq!(header_of(&not_modified, header::VARY), "accept-encoding");
    assert_eq!(
        header_of(&not_modified, header::CACHE_CONTROL),
        "private, no-cache"
    );

    // Another person, even holding the admin's tag, gets their own page.
    let member = app.member_token.clone();
    let theirs = board(&app, &member, &reload).await;
    assert_eq!(theirs.status, StatusCode::OK, "never the admin's page");
    assert_ne!(header_of(&theirs, header::ETAG), held);
    assert_eq!(header_of(&theirs, header::CONTENT_ENCODING), "br");
    let mut page = Vec::new();
    brotli_decompressor::Decompressor::new(&theirs.body[..], 4096)
        .read_to_end(&mut page)
        .unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("Ann") && !page.contains(">Root<"), "{page}");

    // After a change the page is new: 200 with a new ETag.
    let person = app::domain::Actor::new(app::domain::Role::Admin, "Root");
    app.store
        .move_issue(&person, id, app::domain::Status::Ready, None)
        .await
        .unwrap();
    let moved = board(&app, &admin, &reload).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_ne!(header_of(&moved, header::ETAG), held);
    assert!(!moved.body.is_empty());
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
    a_kept_page_travels_precompressed_with_an_etag,
    answers_that_are_not_pages_keep_their_own_headers,
    over_https_the_cookie_is_host_only_and_hsts_is_sent,
);
