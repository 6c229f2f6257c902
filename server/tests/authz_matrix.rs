//! The authorization matrix: every route, server function and page, called as anonymous,
//! member, admin (by bearer token and by session) and from a foreign site, and by tokens of
//! each scope (every route × role × scope). A route, server
//! function or page that is added without a row here makes `every_endpoint_has_a_row` fail.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use app::auth::hash_password;
use app::domain::UserRole;
use axum::body::Body;
use axum::http::StatusCode;
use common::{add_token, Caller, Reply, TestApp, ADMIN_EMAIL, MEMBER_EMAIL};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    /// Anyone, from anywhere.
    Public,
    /// Anyone, from the board's pages or a site allowed to embed the feedback widget.
    Embeddable,
    /// Anyone, but only from the board's own pages (sign-in forms).
    SameSite,
    /// Any signed-in person or token.
    Member,
    /// Admins only.
    Admin,
    /// One's own tokens and sessions: any signed-in person, by session only (a token gets
    /// 403, whatever its scopes).
    Account,
    /// A page: anonymous people are sent to the login page.
    MemberPage,
    /// One's own tokens or sessions: a page for sessions (a token gets 403).
    AccountPage,
    /// A page for admins: members get 403.
    AdminPage,
    /// A page anyone can open (login, first-run set-up).
    PublicPage,
    /// A bearer token only (the MCP server): a session cookie gets 401.
    TokenOnly,
}

use Access::*;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const MULTIPART: &str = "multipart/form-data; boundary=XB";
const UPLOAD: &str =
    "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhi\r\n--XB--\r\n";

/// Content type and body to send.
type Payload = Option<(&'static str, &'static str)>;

/// (method, path as registered, access, payload)
const MATRIX: &[(&str, &str, Access, Payload)] = &[
    ("GET", "/healthz", Public, None),
    ("POST", "/mcp", TokenOnly, Some((JSON, "{}"))),
    ("GET", "/api/openapi.json", Public, None),
    // With the default AUTOPILOT_METRICS=admin.
    ("GET", "/metrics", Admin, None),
    ("GET", "/autopilot", Public, None),
    (
        "POST",
        "/api/autopilot/feedback",
        Embeddable,
        Some((JSON, r#"{"message":"hello"}"#)),
    ),
    ("GET", "/autopilot/feedback.js", Public, None),
    ("GET", "/autopilot/sdk.js", Public, None),
    ("GET", "/api/autopilot/me", Member, None),
    ("POST", "/api/get_switches", Admin, Some((FORM, ""))),
    (
        "POST",
        "/api/set_feedback_open",
        Admin,
        Some((FORM, "open=true")),
    ),
    ("GET", "/admin", AdminPage, None),
    ("GET", "/admin/runner", AdminPage, None),
    ("GET", "/api/autopilot/issues/{id}/runs", Member, None),
    ("GET", "/api/autopilot/runs/{id}/log", Member, None),
    ("POST", "/api/runner_overview", Admin, Some((FORM, ""))),
    (
        "POST",
        "/api/set_runner_paused",
        Admin,
        Some((FORM, "paused=false")),
    ),
    (
        "POST",
        "/api/set_plan_first",
        Admin,
        Some((FORM, "on=false")),
    ),
    ("POST", "/api/cancel_run", Admin, Some((FORM, "issue_id=1"))),
    (
        "POST",
        "/api/set_spend_caps",
        Admin,
        Some((FORM, "daily=&monthly=")),
    ),
    ("GET", "/admin/webhooks", AdminPage, None),
    ("POST", "/api/list_webhooks", Admin, Some((FORM, ""))),
    (
        "POST",
        "/api/add_webhook",
        Admin,
        Some((FORM, "url=https%3A%2F%2Fh.example&format=standard&events=ping&description=&allow_private=false")),
    ),
    (
        "POST",
        "/api/set_webhook_enabled",
        Admin,
        Some((FORM, "id=1&enabled=true")),
    ),
    ("POST", "/api/remove_webhook", Admin, Some((FORM, "id=1"))),
    ("POST", "/api/rotate_webhook", Admin, Some((FORM, "id=1"))),
    ("POST", "/api/test_webhook", Admin, Some((FORM, "id=1"))),
    ("POST", "/api/retry_webhook", Admin, Some((FORM, "id=1"))),
    ("POST", "/api/webhook_log", Admin, Some((FORM, "id=1"))),
    ("POST", "/api/redeliver", Admin, Some((FORM, "id=1&delivery=1"))),
    ("GET", "/api/autopilot/webhooks", Admin, None),
    (
        "POST",
        "/api/autopilot/webhooks",
        Admin,
        Some((JSON, r#"{"url":"https://h.example","events":["ping"]}"#)),
    ),
    ("GET", "/api/autopilot/webhooks/{id}", Admin, None),
    (
        "PUT",
        "/api/autopilot/webhooks/{id}",
        Admin,
        Some((JSON, r#"{"url":"https://h.example","events":["ping"]}"#)),
    ),
    ("DELETE", "/api/autopilot/webhooks/{id}", Admin, None),
    (
        "POST",
        "/api/autopilot/webhooks/{id}/rotate-secret",
        Admin,
        None,
    ),
    ("POST", "/api/autopilot/webhooks/{id}/test", Admin, None),
    ("POST", "/api/autopilot/webhooks/{id}/retry", Admin, None),
    (
        "GET",
        "/api/autopilot/webhooks/{id}/deliveries",
        Admin,
        None,
    ),
    (
        "POST",
        "/api/autopilot/webhooks/{id}/deliveries/{delivery}/redeliver",
        Admin,
        None,
    ),
    ("POST", "/login", SameSite, Some((FORM, ""))),
    ("POST", "/setup", SameSite, Some((FORM, ""))),
    ("POST", "/logout", SameSite, None),
    ("GET", "/api/autopilot/issues", Member, None),
    (
        "POST",
        "/api/autopilot/issues",
        Member,
        Some((JSON, r#"{"title":"m"}"#)),
    ),
    ("GET", "/api/autopilot/issues/{id}", Member, None),
    (
        "PATCH",
        "/api/autopilot/issues/{id}",
        Member,
        Some((JSON, r#"{"priority":"high"}"#)),
    ),
    (
        "POST",
        "/api/autopilot/issues/{id}/status",
        Member,
        Some((JSON, r#"{"status":"ready"}"#)),
    ),
    ("GET", "/api/autopilot/issues/{id}/comments", Member, None),
    (
        "POST",
        "/api/autopilot/issues/{id}/comments",
        Member,
        Some((JSON, r#"{"body":"c"}"#)),
    ),
    (
        "POST",
        "/api/autopilot/issues/{id}/answer",
        Member,
        Some((JSON, r#"{"body":"a"}"#)),
    ),
    (
        "POST",
        "/api/autopilot/issues/{id}/plan/approve",
        Member,
        Some((JSON, r#"{}"#)),
    ),
    (
        "POST",
        "/api/autopilot/issues/{id}/request-changes",
        Member,
        Some((JSON, r#"{"body":"b"}"#)),
    ),
    (
        "GET",
        "/api/autopilot/issues/{id}/attachments",
        Member,
        None,
    ),
    (
        "POST",
        "/api/autopilot/issues/{id}/attachments",
        Member,
        Some((MULTIPART, UPLOAD)),
    ),
    ("GET", "/api/autopilot/issues/{id}/events", Member, None),
    ("GET", "/api/autopilot/uploads/{id}", Member, None),
    ("GET", "/api/autopilot/stream", Member, None),
    // Without an upgrade (these are plain requests): 426 past the guards, or 401.
    ("GET", "/api/autopilot/ws", Member, None),
    ("POST", "/api/get_issue_view", Member, Some((FORM, "id=1"))),
    (
        "POST",
        "/api/get_diff_file",
        Member,
        Some((FORM, "id=1&run=1&own=false&index=0")),
    ),
    ("POST", "/api/get_card", Member, Some((FORM, "id=1"))),
    (
        "POST",
        "/api/update_issue",
        Member,
        Some((FORM, "id=1&version=1&title=t&kind=task&priority=normal")),
    ),
    (
        "POST",
        "/api/add_comment",
        Member,
        Some((FORM, "id=1&body=hi")),
    ),
    (
        "POST",
        "/api/request_changes",
        Member,
        Some((FORM, "id=1&version=1&body=hi")),
    ),
    (
        "POST",
        "/api/answer_question",
        Member,
        Some((FORM, "id=1&body=hi")),
    ),
    (
        "POST",
        "/api/approve_plan",
        Member,
        Some((FORM, "id=1&version=1")),
    ),
    (
        "POST",
        "/api/upload_attachment",
        Member,
        Some((MULTIPART, UPLOAD)),
    ),
    ("GET", "/issues/{id}", MemberPage, None),
    ("POST", "/api/list_board", Member, Some((FORM, ""))),
    ("POST", "/api/create_issue", Member, Some((FORM, "title=m"))),
    (
        "POST",
        "/api/move_issue",
        Member,
        Some((FORM, "id=1&to=backlog&version=1")),
    ),
    ("POST", "/api/whoami", Member, Some((FORM, ""))),
    ("POST", "/api/list_users", Admin, Some((FORM, ""))),
    (
        "POST",
        "/api/add_user",
        Admin,
        Some((
            FORM,
            "email=new%40example.com&name=New&role=member&password=correct+horse+battery",
        )),
    ),
    (
        "POST",
        "/api/update_user",
        Admin,
        Some((FORM, "id=3&role=member")),
    ),
    (
        "POST",
        "/api/reset_password",
        Admin,
        Some((FORM, "id=3&password=correct+horse+battery")),
    ),
    (
        "POST",
        "/api/retry_issue",
        Admin,
        Some((FORM, "issue_id=1")),
    ),
    ("POST", "/api/list_invites", Admin, Some((FORM, ""))),
    (
        "POST",
        "/api/create_invite",
        Admin,
        Some((FORM, "role=member&expires_in_days=7")),
    ),
    ("POST", "/api/revoke_invite", Admin, Some((FORM, "id=1"))),
    ("GET", "/invite/{secret}", Public, None),
    ("POST", "/api/sign_in_options", SameSite, Some((FORM, ""))),
    ("GET", "/auth/oidc/start", Public, None),
    ("GET", "/auth/oidc/callback", Public, None),
    (
        "POST",
        "/invite/{secret}",
        SameSite,
        Some((
            FORM,
            "name=N&email=n%40example.com&password=correct+horse+battery",
        )),
    ),
    ("POST", "/api/end_sessions", Admin, Some((FORM, "id=3"))),
    ("POST", "/api/list_my_tokens", Account, Some((FORM, ""))),
    (
        "POST",
        "/api/create_my_token",
        Account,
        Some((FORM, "name=n&scope_read=on")),
    ),
    (
        "POST",
        "/api/revoke_my_token",
        Account,
        Some((FORM, "id=999")),
    ),
    ("POST", "/api/list_my_sessions", Account, Some((FORM, ""))),
    (
        "POST",
        "/api/end_my_session",
        Account,
        Some((FORM, "id=999")),
    ),
    (
        "POST",
        "/api/end_my_other_sessions",
        Account,
        Some((FORM, "")),
    ),
    ("GET", "/account/tokens", AccountPage, None),
    ("GET", "/account/sessions", AccountPage, None),
    ("GET", "/", MemberPage, None),
    ("GET", "/admin/users", AdminPage, None),
    ("GET", "/login", PublicPage, None),
    ("GET", "/setup", PublicPage, None),
];

/// Paths registered with `.route("…")` in the server's route modules, read from the source so
/// a new route cannot slip past this test.
fn routes_in_source() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let mut paths = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("routes dir") {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // Every route is registered from its `#[utoipa::path(…, path = "…", …)]`.
        for (i, _) in source.match_indices("#[utoipa::path(") {
            let attribute = &source[i..];
            if let Some(at) = attribute.find("path = \"") {
                let literal = &attribute[at + "path = \"".len()..];
                paths.insert(literal[..literal.find('"').unwrap()].to_string());
            }
        }
    }
    paths
}

#[test]
fn every_endpoint_has_a_row() {
    let listed: BTreeSet<&str> = MATRIX.iter().map(|row| row.1).collect();
    let mut missing = Vec::new();
    for path in routes_in_source() {
        if !listed.contains(path.as_str()) {
            missing.push(format!("route {path}"));
        }
    }
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        if !listed.contains(path) {
            missing.push(format!("server function {path}"));
        }
    }
    for route in leptos_axum::generate_route_list(app::App) {
        if !listed.contains(route.path()) {
            missing.push(format!("page {}", route.path()));
        }
    }
    assert!(
        missing.is_empty(),
        "no authorization matrix row for: {missing:?}"
    );
}

fn ok(reply: &Reply) -> bool {
    !matches!(
        reply.status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    )
}

fn sent_to_login(reply: &Reply) -> bool {
    reply.status == StatusCode::SEE_OTHER && reply.location().starts_with("/login")
}

async fn every_caller_gets_what_the_matrix_says() {
    let app = TestApp::new().await;
    // Issue 1 with an attachment, and a third person (id 3) for the admin actions to act on.
    let id = app.create("target").await["id"].as_i64().unwrap();
    assert_eq!(id, 1);
    let up = app
        .raw(
            "POST",
            "/api/autopilot/issues/1/attachments",
            MULTIPART,
            UPLOAD,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED);
    let hash = hash_password("correct horse battery".into()).await.unwrap();
    let cy = app
        .store
        .create_user("cy@example.com", "Cy", UserRole::Member, &hash)
        .await
        .unwrap();
    assert_eq!(cy.id, 3);

    let member_session = app.sign_in(MEMBER_EMAIL).await;
    let admin_session = app.sign_in(ADMIN_EMAIL).await;
    let callers = [
        ("anonymous", Caller::Anonymous),
        ("member token", app.member()),
        ("admin token", app.admin()),
        ("member session", Caller::Session(member_session.clone())),
        ("admin session", Caller::Session(admin_session.clone())),
        (
            "foreign site",
            Caller::ForeignSession(admin_session.clone()),
        ),
    ];

    let mut failures = Vec::new();
    for &(method, template, access, body) in MATRIX {
        let path = template.replace("{id}", "1");
        for (who, caller) in &callers {
            // Logging out would end the sessions the other rows use; it gets its own below.
            if path == "/logout" && matches!(caller, Caller::Session(_)) {
                continue;
            }
            let (content_type, payload) = body.unwrap_or(("", ""));
            let content_type = (!content_type.is_empty()).then_some(content_type);
            let reply = if path == "/api/autopilot/stream" {
                // An event stream never ends: only its status is read.
                app.status_only(caller, method, &path).await
            } else {
                app.call(caller, method, &path, content_type, Body::from(payload))
                    .await
            };
            // The foreign site rides on the admin's cookie: its reads (plain links) work.
            let is_admin = who.starts_with("admin") || who == &"foreign site";
            let safe = method == "GET";
            let expected_ok = match (access, caller) {
                (TokenOnly, Caller::Bearer(_)) => ok(&reply),
                (TokenOnly, _) => reply.status == StatusCode::UNAUTHORIZED,
                (Public | PublicPage, _) => ok(&reply),
                (_, Caller::ForeignSession(_)) if !safe => reply.status == StatusCode::FORBIDDEN,
                (SameSite | Embeddable, _) => ok(&reply),
                (Member, Caller::Anonymous) | (Admin, Caller::Anonymous) => {
                    reply.status == StatusCode::UNAUTHORIZED
                }
                (MemberPage | AdminPage | AccountPage, Caller::Anonymous) => sent_to_login(&reply),
                (AccountPage, Caller::Bearer(_)) => reply.status == StatusCode::FORBIDDEN,
                (AccountPage, _) => reply.status == StatusCode::OK,
                (Account, Caller::Anonymous) => reply.status == StatusCode::UNAUTHORIZED,
                (Account, Caller::Bearer(_)) => reply.status == StatusCode::FORBIDDEN,
                (Member | Account, _) => ok(&reply),
                (MemberPage, _) => reply.status == StatusCode::OK,
                (Admin, _) if is_admin => ok(&reply),
                (Admin, _) => reply.status == StatusCode::FORBIDDEN,
                (AdminPage, _) if is_admin => reply.status == StatusCode::OK,
                (AdminPage, _) => reply.status == StatusCode::FORBIDDEN,
            };
            if !expected_ok {
                failures.push(format!(
                    "{method} {path} as {who} ({access:?}): {} {}",
                    reply.status,
                    reply.text().chars().take(120).collect::<String>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix broken:\n{}",
        failures.join("\n")
    );

    // Logging out, with a session of its own.
    let extra = app.sign_in(ADMIN_EMAIL).await;
    let out = app
        .call(
            &Caller::Session(extra),
            "POST",
            "/logout",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
}

/// The scopes a token needs for a row, besides the role: what `read` does not cover is
/// written out here (and `Admin` rows need `admin`), independently of the app's own rule
/// (`app::domain::Action::scope`), so a route that asks for the wrong scope fails.
const TOKEN_SCOPES: &[(&str, &str, &[&str])] = &[
    ("POST", "/api/autopilot/issues", &["write"]),
    ("PATCH", "/api/autopilot/issues/{id}", &["write"]),
    ("POST", "/api/autopilot/issues/{id}/status", &["move"]),
    ("POST", "/api/autopilot/issues/{id}/comments", &["write"]),
    ("POST", "/api/autopilot/issues/{id}/answer", &["write"]),
    ("POST", "/api/autopilot/issues/{id}/plan/approve", &["move"]),
    (
        "POST",
        "/api/autopilot/issues/{id}/request-changes",
        &["move", "write"],
    ),
    ("POST", "/api/answer_question", &["write"]),
    ("POST", "/api/approve_plan", &["move"]),
    ("POST", "/api/autopilot/issues/{id}/attachments", &["write"]),
    ("POST", "/api/list_board", &["read"]),
    ("POST", "/api/get_card", &["read"]),
    ("POST", "/api/get_issue_view", &["read"]),
    ("POST", "/api/get_diff_file", &["read"]),
    ("POST", "/api/whoami", &["read"]),
    ("POST", "/api/create_issue", &["write"]),
    ("POST", "/api/update_issue", &["write"]),
    ("POST", "/api/add_comment", &["write"]),
    ("POST", "/api/upload_attachment", &["write"]),
    ("POST", "/api/move_issue", &["move"]),
    // Back to ready with the reviewer's words: a move and a comment.
    ("POST", "/api/request_changes", &["move", "write"]),
];

/// What a token needs for a row: `None` for rows tokens do not reach by scope (public ones,
/// sign-in forms, pages).
fn token_needs(method: &str, path: &str, access: Access) -> Option<&'static [&'static str]> {
    let listed = TOKEN_SCOPES
        .iter()
        .find(|row| row.0 == method && row.1 == path)
        .map(|row| row.2);
    match access {
        Admin => Some(&["admin"]),
        TokenOnly => Some(&["mcp"]),
        // No scope is enough: a token never manages tokens or sessions.
        Account => Some(&["a session"]),
        Member if method == "GET" => Some(listed.unwrap_or(&["read"])),
        Member => Some(listed.unwrap_or_else(|| {
            panic!("{method} {path}: say in TOKEN_SCOPES which scopes a token needs")
        })),
        _ => None,
    }
}

/// Scopes as a dimension: every route × role × a token with one scope. A token passes only
/// with the scopes its row needs (and the role); else a 403 that names a missing scope, or
/// "admins only" for a member's token on an admin action whatever its scopes.
async fn every_token_scope_gets_what_the_matrix_says() {
    let app = TestApp::new().await;
    let id = app.create("target").await["id"].as_i64().unwrap();
    assert_eq!(id, 1);
    let up = app
        .raw(
            "POST",
            "/api/autopilot/issues/1/attachments",
            MULTIPART,
            UPLOAD,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED);
    let hash = hash_password("correct horse battery".into()).await.unwrap();
    app.store
        .create_user("cy@example.com", "Cy", UserRole::Member, &hash)
        .await
        .unwrap();
    let mut callers = Vec::new();
    for (role, email) in [("member", MEMBER_EMAIL), ("admin", ADMIN_EMAIL)] {
        for scope in app::domain::Scope::ALL {
            let token = add_token(&app.store, email, scope.as_str(), None).await;
            callers.push((role, scope.as_str(), Caller::Bearer(token)));
        }
    }
    let mut failures = Vec::new();
    for &(method, template, access, body) in MATRIX {
        let Some(needs) = token_needs(method, template, access) else {
            continue;
        };
        let path = template.replace("{id}", "1");
        for (role, scope, caller) in &callers {
            let (content_type, payload) = body.unwrap_or(("", ""));
            let content_type = (!content_type.is_empty()).then_some(content_type);
            let reply = if path == "/api/autopilot/stream" {
                app.status_only(caller, method, &path).await
            } else {
                app.call(caller, method, &path, content_type, Body::from(payload))
                    .await
            };
            let text = reply.text();
            let role_ok = access != Admin || *role == "admin";
            let expected_ok = if access == Account {
                reply.status == StatusCode::FORBIDDEN
                    && text.contains("a token cannot manage tokens or sessions")
            } else if !role_ok {
                reply.status == StatusCode::FORBIDDEN && text.contains("admins only")
            } else if needs.iter().all(|n| n == scope) {
                ok(&reply)
            } else {
                reply.status == StatusCode::FORBIDDEN
                    && needs
                        .iter()
                        .filter(|n| *n != scope)
                        .any(|n| text.contains(&format!(r#"this token lacks the \"{n}\" scope"#)))
            };
            if !expected_ok {
                failures.push(format!(
                    "{method} {path} as a {role}'s {scope} token ({access:?}, needs {needs:?}): {} {}",
                    reply.status,
                    text.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "token scopes broken:\n{}",
        failures.join("\n")
    );
}

/// Every page at an address the app's router matches and axum's does not (a trailing slash):
/// the 404 fallback, outside the session layer and the page guard, never renders it. An
/// anonymous caller ends at the login page, a member at the guard's answer, never a 200 shell
/// from the fallback or a 500.
async fn pages_with_a_trailing_slash_go_through_the_guard() {
    let app = TestApp::new().await;
    app.create("target").await;
    let member_session = app.sign_in(MEMBER_EMAIL).await;
    // The matrix lists every page (`every_endpoint_has_a_row`); the route list itself is not
    // worked out again here, while other tests serve pages (see `routes::route_list`).
    let pages = MATRIX
        .iter()
        .filter(|row| matches!(row.2, MemberPage | AdminPage | AccountPage | PublicPage))
        .map(|row| row.1.replace("{id}", "1"));
    for page in pages {
        if page == "/" {
            continue;
        }
        let slashed = format!("{page}/");
        for caller in [Caller::Anonymous, Caller::Session(member_session.clone())] {
            let r = app
                .call(&caller, "GET", &slashed, None, Body::empty())
                .await;
            assert_eq!(
                r.status,
                StatusCode::PERMANENT_REDIRECT,
                "{slashed} as {caller:?}: {}",
                r.text().chars().take(200).collect::<String>()
            );
            assert_eq!(r.location(), page);
            let then = app.call(&caller, "GET", &page, None, Body::empty()).await;
            assert!(!then.status.is_server_error(), "{page}: {}", then.status);
            if matches!(caller, Caller::Anonymous) && !matches!(page.as_str(), "/login" | "/setup")
            {
                assert!(
                    sent_to_login(&then),
                    "{page}: {} {}",
                    then.status,
                    then.location()
                );
            }
        }
    }
}

on_both_engines!(
    every_caller_gets_what_the_matrix_says,
    every_token_scope_gets_what_the_matrix_says,
    pages_with_a_trailing_slash_go_through_the_guard,
);
