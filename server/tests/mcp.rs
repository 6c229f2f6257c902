//! The MCP server at `/mcp` on the real router, on both engines: who gets in (a bearer token
//! with the `mcp` scope, nothing else), both ways of opening (2026-07-28's stateless
//! `server/discover`, and `initialize` for 2025-06-18 and 2025-11-25), every tool, and bad
//! input: each refusal a clear MCP error, nothing changed.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{add_token, Reply, TestApp, ADMIN_EMAIL, MEMBER_EMAIL};
use serde_json::{json, Value};

/// A JSON-RPC request to `/mcp` as a client sends it, with the revision's headers.
async fn rpc(app: &TestApp, token: Option<&str>, version: &str, body: Value) -> Reply {
    let method = body["method"].as_str().unwrap_or_default().to_string();
    let mut req = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", version);
    if version == "2026-07-28" {
        req = req.header("mcp-method", &method);
        if method == "tools/call" {
            let name = body["params"]["name"].as_str().unwrap_or_default();
            req = req.header("mcp-name", name);
        }
    }
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(req.body(Body::from(body.to_string())).unwrap())
        .await
}

/// The 2026-07-28 `_meta` every request of that revision carries.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "0"},
    })
}

/// Calls a tool (2026-07-28); the JSON-RPC answer.
async fn call(app: &TestApp, token: &str, tool: &str, arguments: Value) -> Value {
    let body = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": modern_meta()},
    });
    let reply = rpc(app, Some(token), "2026-07-28", body).await;
    assert!(
        reply.status.is_success() || reply.status == StatusCode::NOT_FOUND,
        "{}",
        reply.text()
    );
    reply.json()
}

/// A tool's result that worked: its structured content.
fn ok(answer: &Value) -> &Value {
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    &answer["result"]["structuredContent"]
}

/// A tool's result that was refused: its text.
fn refused(answer: &Value) -> String {
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn only_a_token_with_the_mcp_scope_gets_in() {
    let app = TestApp::new().await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                      "params": {"_meta": modern_meta()}});
    let none = rpc(&app, None, "2026-07-28", list.clone()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let bogus = rpc(&app, Some("not-a-token"), "2026-07-28", list.clone()).await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    assert!(bogus.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    // Every other scope: 403 naming the one missing.
    let everything_else = add_token(&app.store, MEMBER_EMAIL, "read,write,move,admin", None).await;
    let no_scope = rpc(&app, Some(&everything_else), "2026-07-28", list.clone()).await;
    assert_eq!(no_scope.status, StatusCode::FORBIDDEN);
    let challenge = no_scope.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("mcp"),
        "{challenge}"
    );
    // A session cookie is no way in: only a bearer token.
    let cookie = app.sign_in(MEMBER_EMAIL).await;
    let req = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::COOKIE, cookie)
        .body(Body::from(list.to_string()))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);
    // And an `mcp` token may not use the JSON API.
    let mcp = add_token(&app.store, MEMBER_EMAIL, "mcp", None).await;
    let api = app
        .call(
            &common::Caller::Bearer(mcp.clone()),
            "GET",
            "/api/autopilot/issues",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    let listed = rpc(&app, Some(&mcp), "2026-07-28", list).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
}

async fn both_revisions_open_and_list_the_tools() {
    let app = TestApp::new().await;
    let token = add_token(&app.store, MEMBER_EMAIL, "mcp", None).await;
    for version in ["2025-06-18", "2025-11-25"] {
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "tests", "version": "0"}}});
        let reply = rpc(&app, Some(&token), version, init).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let answer = reply.json();
        assert_eq!(answer["result"]["protocolVersion"], version, "{answer}");
        assert_eq!(answer["result"]["serverInfo"]["name"], "autopilot");
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let tools = rpc(&app, Some(&token), version, list).await.json();
        assert_eq!(
            tools["result"]["tools"].as_array().unwrap().len(),
            7,
            "{tools}"
        );
    }
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                          "params": {"_meta": modern_meta()}});
    let reply = rpc(&app, Some(&token), "2026-07-28", discover).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let versions = reply.json()["result"]["supportedVersions"].clone();
    for version in ["2025-06-18", "2025-11-25", "2026-07-28"] {
        assert!(
            versions.as_array().unwrap().iter().any(|v| v == version),
            "{versions}"
        );
    }
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list",
                      "params": {"_meta": modern_meta()}});
    let tools = rpc(&app, Some(&token), "2026-07-28", list).await.json();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for name in [
        "list_issues",
        "get_issue",
        "create_issue",
        "add_comment",
        "move_issue",
        "set_fields",
        "waiting_for_people",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
    let create = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "create_issue")
        .unwrap();
    assert_eq!(
        create["inputSchema"]["required"],
        json!(["title"]),
        "{create}"
    );
}

async fn every_tool_works_as_the_person_and_refusals_change_nothing() {
    let app = TestApp::new().await;
    let member = add_token(&app.store, MEMBER_EMAIL, "mcp", None).await;
    let admin = add_token(&app.store, ADMIN_EMAIL, "mcp", None).await;

    let created = call(
        &app,
        &member,
        "create_issue",
        json!({
        "title": "Found via MCP", "body": "Steps…", "kind": "bug", "priority": "high"}),
    )
    .await;
    let issue = ok(&created).clone();
    let id = issue["id"].as_i64().unwrap();
    assert_eq!(
        (issue["kind"].as_str(), issue["status"].as_str()),
        (Some("bug"), Some("backlog"))
    );

    let commented = call(
        &app,
        &member,
        "add_comment",
        json!({"id": id, "body": "Seen twice."}),
    )
    .await;
    assert_eq!(ok(&commented)["unblocked"], false);
    let edited = call(
        &app,
        &member,
        "set_fields",
        json!({"id": id, "priority": "urgent", "plan_first": true}),
    )
    .await;
    assert_eq!(ok(&edited)["priority"], "urgent");
    let moved = call(
        &app,
        &member,
        "move_issue",
        json!({"id": id, "to": "ready"}),
    )
    .await;
    assert_eq!(ok(&moved)["status"], "ready");

    let got = call(&app, &member, "get_issue", json!({"id": id})).await;
    let detail = ok(&got);
    assert_eq!(detail["comments"][0]["body"], "Seen twice.");
    assert_eq!(detail["plan_first"], true);
    assert_eq!(detail["latest_run"], Value::Null);
    let listed = call(
        &app,
        &member,
        "list_issues",
        json!({"status": "ready", "q": "via MCP"}),
    )
    .await;
    assert_eq!(ok(&listed)["issues"][0]["id"], id);
    assert_eq!(ok(&listed)["next_cursor"], Value::Null);
    let waiting = call(&app, &member, "waiting_for_people", json!({})).await;
    assert_eq!(ok(&waiting)["issues"], json!([]));

    // Recorded in the history as the person.
    let events = app.store.list_events(id).await.unwrap();
    assert!(events.iter().all(|e| e.actor == "Ann"), "{events:?}");

    // Refusals: each a tool error with the reason, nothing changed.
    let before = app.store.get_issue(id).await.unwrap();
    let done = call(&app, &member, "move_issue", json!({"id": id, "to": "done"})).await;
    assert!(
        refused(&done).contains("is not a move anyone can make"),
        "{done}"
    );
    let stale = call(
        &app,
        &member,
        "set_fields",
        json!({"id": id, "title": "x", "version": 1}),
    )
    .await;
    assert!(!refused(&stale).is_empty());
    let unknown = call(&app, &member, "get_issue", json!({"id": 999_999})).await;
    assert!(refused(&unknown).contains("not found"), "{unknown}");
    let bad_status = call(
        &app,
        &member,
        "move_issue",
        json!({"id": id, "to": "sideways"}),
    )
    .await;
    assert!(refused(&bad_status).contains("sideways"), "{bad_status}");
    let bad_type = call(&app, &member, "get_issue", json!({"id": "twelve"})).await;
    assert!(refused(&bad_type).contains("parameters"), "{bad_type}");
    let empty = call(&app, &member, "create_issue", json!({"title": "   "})).await;
    assert!(!refused(&empty).is_empty());
    let huge = call(&app, &member, "list_issues", json!({"limit": 5000})).await;
    assert!(refused(&huge).contains("limit"), "{huge}");
    let unknown_tool = call(&app, &member, "drop_table", json!({})).await;
    assert!(unknown_tool["error"].is_object(), "{unknown_tool}");
    assert_eq!(app.store.get_issue(id).await.unwrap(), before);

    // The role still applies: taking agent work back from in progress is an admin's move.
    let (claimed, _) = app.store.claim_next("r", 60_000).await.unwrap().unwrap();
    let claimed_id = claimed.id;
    assert_eq!(claimed_id, id);
    let back = call(
        &app,
        &member,
        "move_issue",
        json!({"id": claimed_id, "to": "ready"}),
    )
    .await;
    assert!(refused(&back).contains("admin"), "{back}");
    let back = call(
        &app,
        &admin,
        "move_issue",
        json!({"id": claimed_id, "to": "ready"}),
    )
    .await;
    assert_eq!(ok(&back)["status"], "ready");
}

on_both_engines!(
    only_a_token_with_the_mcp_scope_gets_in,
    both_revisions_open_and_list_the_tools,
    every_tool_works_as_the_person_and_refusals_change_nothing,
);
