//! Scoped tokens on the real router, on both engines: each route asks for its scope (a 403
//! naming the one missing), the role still applies, expired and revoked tokens are a 401,
//! tokens made before scopes keep their owner's full rights, and use is recorded at most once
//! a minute.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use app::auth::token_hash;
use axum::body::Body;
use axum::http::StatusCode;
use common::{add_token, Caller, Reply, TestApp, ADMIN_EMAIL, MEMBER_EMAIL};
use serde_json::json;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

fn refused_for(reply: &Reply, scope: &str) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert_eq!(reply.error_code(), "forbidden", "{}", reply.text());
    assert!(
        reply
            .text()
            .contains(&format!(r#"this token lacks the \"{scope}\" scope"#)),
        "{}",
        reply.text()
    );
}

async fn post_json(app: &TestApp, who: &Caller, path: &str, body: serde_json::Value) -> Reply {
    app.call(who, "POST", path, Some(JSON), Body::from(body.to_string()))
        .await
}

async fn a_token_without_move_cannot_change_a_status() {
    let app = TestApp::new().await;
    let id = app.create("one").await["id"].as_i64().unwrap();
    let path = format!("/api/autopilot/issues/{id}/status");
    let writer = Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read,write", None).await);
    let r = post_json(&app, &writer, &path, json!({"status": "ready"})).await;
    refused_for(&r, "move");
    // Nothing moved.
    let issue = app.get(&format!("/api/autopilot/issues/{id}")).await.json();
    assert_eq!(issue["status"], "backlog");
    // The board's own call for a move asks the same.
    let r = app
        .call(
            &writer,
            "POST",
            "/api/move_issue",
            Some(FORM),
            Body::from(format!("id={id}&to=ready&version=1")),
        )
        .await;
    refused_for(&r, "move");
    let mover = Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "move", None).await);
    let r = post_json(&app, &mover, &path, json!({"status": "ready"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "ready");
}

async fn a_read_token_reads_and_writes_nothing() {
    let app = TestApp::new().await;
    let id = app.create("one").await["id"].as_i64().unwrap();
    let reader = Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read", None).await);
    for path in [
        "/api/autopilot/issues".to_string(),
        format!("/api/autopilot/issues/{id}"),
        format!("/api/autopilot/issues/{id}/comments"),
        "/api/autopilot/me".to_string(),
    ] {
        let r = app.call(&reader, "GET", &path, None, Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
    }
    let r = post_json(
        &app,
        &reader,
        "/api/autopilot/issues",
        json!({"title": "x"}),
    )
    .await;
    refused_for(&r, "write");
    let r = post_json(
        &app,
        &reader,
        &format!("/api/autopilot/issues/{id}/comments"),
        json!({"body": "hi"}),
    )
    .await;
    refused_for(&r, "write");
    let list = app.get("/api/autopilot/issues").await.json();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "a refused write filed an issue"
    );
    // A write-only token cannot read.
    let writer = Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "write", None).await);
    let r = app
        .call(&writer, "GET", "/api/autopilot/issues", None, Body::empty())
        .await;
    refused_for(&r, "read");
}

/// The scope is checked before the body is read: whatever a token sends to a route it may not
/// use (broken JSON, a wrong type, no body, a huge number), the answer is the 403 naming the
/// scope, never a 400 or 422 that would tell it how the body was read.
async fn a_missing_scope_is_refused_before_the_body_is_read() {
    let app = TestApp::new().await;
    let reader = Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read", None).await);
    let id = app.create("scoped").await["id"].as_i64().unwrap();
    let bodies: [(&str, Option<&str>, &str); 4] = [
        ("POST", Some(JSON), "{not json"),
        ("POST", Some(JSON), r#"{"title": 12}"#),
        ("POST", Some("text/plain"), "hello"),
        ("POST", None, ""),
    ];
    for (method, content_type, body) in bodies {
        let r = app
            .call(
                &reader,
                method,
                "/api/autopilot/issues",
                content_type,
                Body::from(body),
            )
            .await;
        refused_for(&r, "write");
    }
    let moved = format!("/api/autopilot/issues/{id}/status");
    let r = app
        .call(
            &reader,
            "POST",
            &moved,
            Some(JSON),
            Body::from(r#"{"status": 99}"#),
        )
        .await;
    refused_for(&r, "move");
    let commented = format!("/api/autopilot/issues/{id}/comments");
    let r = app
        .call(&reader, "POST", &commented, Some(JSON), Body::from("[]"))
        .await;
    refused_for(&r, "write");
}

async fn the_role_still_applies_and_metrics_need_the_admin_scope() {
    let app = TestApp::new().await;
    let member_admin =
        Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read,admin", None).await);
    for (path, form) in [("/api/get_switches", "")] {
        let r = app
            .call(&member_admin, "POST", path, Some(FORM), Body::from(form))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
        assert!(r.text().contains("admins only"), "{}", r.text());
    }
    let r = app
        .call(&member_admin, "GET", "/metrics", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let admin_reader = Caller::Bearer(add_token(&app.store, ADMIN_EMAIL, "read", None).await);
    let r = app
        .call(&admin_reader, "GET", "/metrics", None, Body::empty())
        .await;
    refused_for(&r, "admin");
    let r = app
        .call(
            &admin_reader,
            "POST",
            "/api/get_switches",
            Some(FORM),
            Body::empty(),
        )
        .await;
    refused_for(&r, "admin");
    let admin = Caller::Bearer(add_token(&app.store, ADMIN_EMAIL, "admin", None).await);
    let r = app
        .call(
            &admin,
            "POST",
            "/api/get_switches",
            Some(FORM),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .call(&admin, "GET", "/metrics", None, Body::empty())
        .await;
    assert!(
        !matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
        "{} {}",
        r.status,
        r.text()
    );
}

async fn an_expired_token_is_a_401() {
    let app = TestApp::new().await;
    let now = app::store::now_ms();
    let expired = Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read", Some(now - 1)).await);
    let r = app
        .call(
            &expired,
            "GET",
            "/api/autopilot/issues",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let later =
        Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read", Some(now + 3_600_000)).await);
    let r = app
        .call(&later, "GET", "/api/autopilot/issues", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn legacy_tokens_keep_their_owners_full_rights() {
    let dir = tempfile::tempdir().unwrap();
    let url = engines::fresh_database(dir.path()).await;
    let app = TestApp::on_database(&url, dir).await;
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let token = app::auth::new_token();
    let made = app
        .store
        .create_scoped_token(
            ann.id,
            "old",
            &token_hash(&token),
            app::domain::Scopes::parse("read").unwrap(),
            None,
        )
        .await
        .unwrap();
    // What the migration does to every token made before scopes.
    mark_legacy(&url, made.id).await;
    let listed = app.store.list_api_tokens(ann.id).await.unwrap();
    let old = listed.iter().find(|t| t.id == made.id).unwrap();
    assert_eq!(old.scopes(), (app::domain::Scopes::all(), true));
    let legacy = Caller::Bearer(token);
    let id = post_json(
        &app,
        &legacy,
        "/api/autopilot/issues",
        json!({"title": "x"}),
    )
    .await
    .json()["id"]
        .as_i64()
        .unwrap();
    let r = post_json(
        &app,
        &legacy,
        &format!("/api/autopilot/issues/{id}/status"),
        json!({"status": "ready"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Still a member's: no admin actions.
    let r = app
        .call(
            &legacy,
            "POST",
            "/api/get_switches",
            Some(FORM),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("admins only"), "{}", r.text());
}

/// Sets a token's scopes as the migration does for tokens made before them (SQL in a test
/// only: the store never writes `legacy`).
async fn mark_legacy(url: &str, id: i64) {
    let sql = "UPDATE api_tokens SET scopes = 'legacy' WHERE id = $1";
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
    }
}

async fn use_is_recorded_at_most_once_a_minute_and_revoking_ends_a_token() {
    let app = TestApp::new().await;
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let token = add_token(&app.store, MEMBER_EMAIL, "read", None).await;
    let caller = Caller::Bearer(token.clone());
    let mine = |tokens: Vec<app::store::ApiToken>| {
        tokens
            .into_iter()
            .find(|t| t.name == "read")
            .expect("the token is listed")
    };
    let before = mine(app.store.list_api_tokens(ann.id).await.unwrap());
    assert_eq!(before.last_used_at, None);
    let r = app
        .call(&caller, "GET", "/api/autopilot/me", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let used = mine(app.store.list_api_tokens(ann.id).await.unwrap())
        .last_used_at
        .expect("last_used_at set");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.call(&caller, "GET", "/api/autopilot/me", None, Body::empty())
        .await;
    let again = mine(app.store.list_api_tokens(ann.id).await.unwrap()).last_used_at;
    assert_eq!(again, Some(used), "written again within the minute");

    // Someone else cannot revoke it; its owner can.
    let root = app.store.user_by_email(ADMIN_EMAIL).await.unwrap();
    assert!(app
        .store
        .revoke_api_token(root.id, before.id)
        .await
        .is_err());
    app.store.revoke_api_token(ann.id, before.id).await.unwrap();
    let r = app
        .call(&caller, "GET", "/api/autopilot/me", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(app
        .store
        .list_api_tokens(ann.id)
        .await
        .unwrap()
        .iter()
        .all(|t| t.id != before.id));
}

/// The tokens page's calls: a person makes a read-only token, uses it, sees it listed, and
/// revokes it; a token cannot make another.
async fn a_person_makes_lists_and_revokes_their_own_tokens() {
    let app = TestApp::new().await;
    let session = Caller::Session(app.sign_in(MEMBER_EMAIL).await);
    let form = |body: &str| (Some(FORM), Body::from(body.to_string()));
    let (ct, body) = form("name=reader&scope_read=on&expires_in_days=30");
    let made = app
        .call(&session, "POST", "/api/create_my_token", ct, body)
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let token = made.json()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ap_"));
    let reader = Caller::Bearer(token);
    let r = app
        .call(&reader, "GET", "/api/autopilot/issues", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = post_json(
        &app,
        &reader,
        "/api/autopilot/issues",
        json!({"title": "x"}),
    )
    .await;
    refused_for(&r, "write");
    // The token cannot make itself a wider one.
    let (ct, body) = form("name=wider&scope_write=on");
    let r = app
        .call(&reader, "POST", "/api/create_my_token", ct, body)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    let (ct, body) = form("");
    let listed = app
        .call(&session, "POST", "/api/list_my_tokens", ct, body)
        .await
        .json();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "reader")
        .expect("listed")
        .clone();
    assert_eq!(mine["legacy"], false);
    assert!(mine["expires_at"].as_i64().unwrap() > app::store::now_ms() + 29 * 86_400_000);
    assert!(mine["last_used_at"].as_i64().is_some(), "{mine}");

    // Bad input: no scope, an odd expiry; nothing is made.
    for bad in [
        "name=x",
        "name=x&scope_read=on&expires_in_days=0",
        "name=x&scope_read=on&expires_in_days=soon",
    ] {
        let (ct, body) = form(bad);
        let r = app
            .call(&session, "POST", "/api/create_my_token", ct, body)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text()
        );
    }
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    assert_eq!(app.store.list_api_tokens(ann.id).await.unwrap().len(), 2);

    // Someone else's token is not theirs to revoke.
    let root = app.store.user_by_email(ADMIN_EMAIL).await.unwrap();
    let roots = app.store.list_api_tokens(root.id).await.unwrap()[0].id;
    let (ct, body) = form(&format!("id={roots}"));
    let r = app
        .call(&session, "POST", "/api/revoke_my_token", ct, body)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let (ct, body) = form(&format!("id={}", mine["id"]));
    let r = app
        .call(&session, "POST", "/api/revoke_my_token", ct, body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .call(&reader, "GET", "/api/autopilot/issues", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

on_both_engines!(
    a_missing_scope_is_refused_before_the_body_is_read,
    a_person_makes_lists_and_revokes_their_own_tokens,
    a_token_without_move_cannot_change_a_status,
    a_read_token_reads_and_writes_nothing,
    the_role_still_applies_and_metrics_need_the_admin_scope,
    an_expired_token_is_a_401,
    legacy_tokens_keep_their_owners_full_rights,
    use_is_recorded_at_most_once_a_minute_and_revoking_ends_a_token,
);
