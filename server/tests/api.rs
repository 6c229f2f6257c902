//! The JSON API through the real router, against a temporary SQLite database, called with a
//! member's bearer token.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::http::{header, StatusCode};
use common::{Reply, TestApp};
use serde_json::json;

async fn app() -> TestApp {
    TestApp::new().await
}

async fn healthz_answers_ok() {
    let app = app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn dependencies_through_the_json_api() {
    let app = app().await;
    let issues = "/api/autopilot/issues";
    let first = app.create("First").await["id"].as_i64().unwrap();
    let second = app
        .json(
            "POST",
            issues,
            json!({ "title": "Second", "depends_on": [first] }),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.json()["depends_on"], json!([first]));
    let id = second.json()["id"].as_i64().unwrap();
    let shown = app.get(&format!("{issues}/{id}")).await.json();
    assert_eq!(shown["depends_on"], json!([first]), "{shown}");

    let unknown = app
        .json(
            "POST",
            issues,
            json!({ "title": "Third", "depends_on": [first, 404] }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.text().contains("there is no issue #404"),
        "{}",
        unknown.text()
    );
    let looped = app
        .json(
            "PATCH",
            &format!("{issues}/{first}"),
            json!({ "depends_on": [id] }),
        )
        .await;
    assert_eq!(looped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        looped.text().contains("would make a loop"),
        "{}",
        looped.text()
    );
    let cleared = app
        .json(
            "PATCH",
            &format!("{issues}/{id}"),
            json!({ "depends_on": [] }),
        )
        .await;
    assert_eq!(cleared.json()["depends_on"], json!([]));
    let all = app.get(issues).await.json();
    assert_eq!(
        all.as_array().unwrap().len(),
        2,
        "nothing refused was filed"
    );
}

async fn an_issue_names_an_allowed_model_or_is_refused() {
    let app = app().await;
    let issues = "/api/autopilot/issues";
    let created = app
        .json(
            "POST",
            issues,
            json!({ "title": "Big one", "model": "model-b" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["model"], "model-b");
    let id = created.json()["id"].as_i64().unwrap();
    let card = app.store.card(id).await.unwrap().unwrap();
    assert_eq!(card.model.as_deref(), Some("model-b"));

    let refused = app
        .json(
            "POST",
            issues,
            json!({ "title": "Other", "model": "gpt-9" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .contains("'gpt-9' is not one of the allowed models: model-a, model-b"),
        "{}",
        refused.text()
    );
    let path = format!("{issues}/{id}");
    let patch = |body| app.json("PATCH", &path, body);
    assert_eq!(
        patch(json!({ "model": "nope" })).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.store.get_issue(id).await.unwrap().model.as_deref(),
        Some("model-b")
    );
    let cleared = patch(json!({ "model": "" })).await;
    assert_eq!(cleared.json()["model"], serde_json::Value::Null);
}

/// An issue asks for one of the agents the board offers (here claude, the default, and
/// gemini), through the JSON API and the board's own calls; any other is refused with the list.
async fn an_issue_asks_for_an_offered_agent_or_is_refused() {
    let app = app().await;
    let issues = "/api/autopilot/issues";
    let created = app
        .json(
            "POST",
            issues,
            json!({ "title": "Try gemini", "agent": "gemini" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["agent"], "gemini");
    let id = created.json()["id"].as_i64().unwrap();
    assert_eq!(
        app.store.card(id).await.unwrap().unwrap().agent.as_deref(),
        Some("gemini")
    );
    for (method, path, body) in [
        (
            "POST",
            issues.to_string(),
            json!({ "title": "Other", "agent": "codex" }),
        ),
        (
            "PATCH",
            format!("{issues}/{id}"),
            json!({ "agent": "codex" }),
        ),
    ] {
        let refused = app.json(method, &path, body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text()
        );
        assert!(
            refused
                .text()
                .contains("'codex' is not one of the agents this board offers: claude, gemini"),
            "{}",
            refused.text()
        );
    }
    assert_eq!(
        app.store.get_issue(id).await.unwrap().agent.as_deref(),
        Some("gemini")
    );
    // The board's form: "default" is the board's default agent.
    let r = app
        .call(
            &app.member(),
            "POST",
            "/api/update_issue",
            Some("application/x-www-form-urlencoded"),
            axum::body::Body::from(format!(
                "id={id}&version=1&title=Try+gemini&kind=feature&priority=normal&agent=default"
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(app.store.get_issue(id).await.unwrap().agent, None);
    // The contract names the board's agents.
    let spec = app.get("/api/openapi.json").await.json();
    let agent = &spec["components"]["schemas"]["NewIssue"]["properties"]["agent"];
    assert_eq!(
        agent["enum"],
        json!(["claude", "gemini", "", null]),
        "{agent}"
    );
}

async fn create_show_patch_and_list() {
    let app = app().await;
    let created = app
        .json(
            "POST",
            "/api/autopilot/issues",
            json!({ "title": "  Add dark mode ", "body": "Please", "kind": "feature", "priority": "high" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let issue = created.json();
    assert_eq!(issue["title"], "Add dark mode");
    assert_eq!(issue["status"], "backlog");
    assert_eq!(issue["kind"], "feature");
    assert_eq!(issue["priority"], "high");
    let id = issue["id"].as_i64().unwrap();

    let shown = app.get(&format!("/api/autopilot/issues/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["comments"], json!([]));

    let patched = app
        .json(
            "PATCH",
            &format!("/api/autopilot/issues/{id}"),
            json!({ "assignee": "bo", "version": 1 }),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.json()["assignee"], "bo");
    assert_eq!(patched.json()["version"], 2);

    app.create("Second").await;
    let all = app.get("/api/autopilot/issues").await.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let features = app.get("/api/autopilot/issues?kind=feature").await.json();
    assert_eq!(features.as_array().unwrap().len(), 1);
    let found = app.get("/api/autopilot/issues?q=dark%20MODE").await.json();
    assert_eq!(found[0]["id"], id);
    let none = app.get("/api/autopilot/issues?status=done").await.json();
    assert_eq!(none, json!([]));
}

async fn status_changes_follow_the_rules_and_versions() {
    let app = app().await;
    let id = app.create("x").await["id"].as_i64().unwrap();
    let path = format!("/api/autopilot/issues/{id}/status");

    let ok = app
        .json("POST", &path, json!({ "status": "ready", "version": 1 }))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["status"], "ready");

    let stale = app
        .json("POST", &path, json!({ "status": "backlog", "version": 1 }))
        .await;
    assert_eq!(
        (stale.status, stale.error_code().as_str()),
        (StatusCode::CONFLICT, "conflict")
    );

    let denied = app.json("POST", &path, json!({ "status": "done" })).await;
    assert_eq!(denied.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(denied.error_code(), "move_denied");
    assert!(denied.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not a move anyone can make"));

    let unknown = app.json("POST", &path, json!({ "status": "doing" })).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

    let issue = app.get(&format!("/api/autopilot/issues/{id}")).await.json();
    assert_eq!(
        (issue["status"].as_str(), issue["version"].as_i64()),
        (Some("ready"), Some(2))
    );
}

/// Without a runner the board is a plain tracker: a person starts any ready issue, which makes
/// it their human work (no runner will claim it), and takes it on through review to done.
async fn a_person_starting_an_issue_takes_it_as_human_work() {
    let app = app().await;
    let created = app
        .json(
            "POST",
            "/api/autopilot/issues",
            json!({ "title": "Fix the footer", "status": "ready" }),
        )
        .await
        .json();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["human_only"], false);
    let path = format!("/api/autopilot/issues/{id}/status");
    let started = app
        .json("POST", &path, json!({ "status": "in_progress" }))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text());
    let started = started.json();
    assert_eq!(started["human_only"], true, "now human work");
    assert_eq!(started["assignee"], "Ann", "and theirs");
    assert!(started["claimed_by"].is_null());
    assert!(
        app.store.claim_next("r1", 60_000).await.unwrap().is_none(),
        "no runner takes it"
    );
    for to in ["in_review", "done"] {
        let moved = app.json("POST", &path, json!({ "status": to })).await;
        assert_eq!(moved.status, StatusCode::OK, "to {to}: {}", moved.text());
    }

    // Someone already assigned stays assigned.
    let theirs = app
        .json(
            "POST",
            "/api/autopilot/issues",
            json!({ "title": "Bob's", "status": "ready", "assignee": "Bob" }),
        )
        .await
        .json();
    let path = format!("/api/autopilot/issues/{}/status", theirs["id"]);
    let started = app
        .json("POST", &path, json!({ "status": "in_progress" }))
        .await
        .json();
    assert_eq!(started["assignee"], "Bob");
}

async fn a_comment_on_a_blocked_issue_sends_it_back_to_ready() {
    let app = app().await;
    let created = app
        .json(
            "POST",
            "/api/autopilot/issues",
            json!({ "title": "x", "human_only": true, "status": "ready" }),
        )
        .await
        .json();
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/autopilot/issues/{id}/status");
    assert_eq!(
        app.json("POST", &path, json!({ "status": "in_progress" }))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.json("POST", &path, json!({ "status": "blocked" }))
            .await
            .status,
        StatusCode::OK
    );

    let commented = app
        .json(
            "POST",
            &format!("/api/autopilot/issues/{id}/comments"),
            json!({ "body": "Go ahead" }),
        )
        .await;
    assert_eq!(commented.status, StatusCode::CREATED);
    assert_eq!(commented.json()["issue"]["status"], "ready");
    assert_eq!(commented.json()["comment"]["author_kind"], "human");

    let comments = app
        .get(&format!("/api/autopilot/issues/{id}/comments"))
        .await
        .json();
    assert_eq!(comments[0]["body"], "Go ahead");
    let events = app
        .get(&format!("/api/autopilot/issues/{id}/events"))
        .await
        .json();
    assert_eq!(
        events.as_array().unwrap().last().unwrap()["actor"],
        "system"
    );
}

async fn attachments_round_trip_as_downloads() {
    let app = app().await;
    let id = app.create("x").await["id"].as_i64().unwrap();
    let boundary = "XBOUNDARY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../evil.html\"\r\n\
         Content-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--{boundary}--\r\n"
    );
    let up = app
        .raw(
            "POST",
            &format!("/api/autopilot/issues/{id}/attachments"),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(
        up.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&up.body)
    );
    let att = up.json();
    assert_eq!(att["filename"], "evil.html");
    assert_eq!(att["size"], 25);

    let listed = app
        .get(&format!("/api/autopilot/issues/{id}/attachments"))
        .await
        .json();
    assert_eq!(listed[0]["id"], att["id"]);

    let down = app
        .get(&format!("/api/autopilot/uploads/{}", att["id"]))
        .await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.body, b"<script>alert(1)</script>");
    let disposition = down.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert_eq!(down.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    let not_multipart = app
        .raw(
            "POST",
            &format!("/api/autopilot/issues/{id}/attachments"),
            "application/json",
            "{}",
        )
        .await;
    assert_eq!(not_multipart.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        app.get("/api/autopilot/uploads/999").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn oversized_attachments_are_refused_with_413() {
    let app = app().await;
    let id = app.create("x").await["id"].as_i64().unwrap();
    let boundary = "B";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'a', 25 * 1024 * 1024 + 1));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let r = app
        .raw(
            "POST",
            &format!("/api/autopilot/issues/{id}/attachments"),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert!(
        matches!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY
        ),
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let listed = app
        .get(&format!("/api/autopilot/issues/{id}/attachments"))
        .await
        .json();
    assert_eq!(listed, json!([]));
}

async fn bad_input_gets_clear_json_errors() {
    let app = app().await;
    let issues = "/api/autopilot/issues";
    let cases: Vec<(Reply, StatusCode)> = vec![
        (
            app.raw("POST", issues, "application/json", "{not json")
                .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.raw(
                "POST",
                issues,
                "application/json",
                vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.raw("POST", issues, "text/plain", r#"{"title":"x"}"#)
                .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            app.json("POST", issues, json!({ "title": 5 })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", issues, json!({ "title": "   " })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", issues, json!({ "title": "x".repeat(201) }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", issues, json!({ "title": "x", "kind": "epic" }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", issues, json!({ "title": "x", "status": "done" }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", issues, json!({ "title": "x", "titel": "typo" }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json(
                "POST",
                issues,
                json!({ "title": "x", "body": "b".repeat(64 * 1024 + 1) }),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json(
                "POST",
                issues,
                json!({ "title": "x", "body": "b".repeat(300 * 1024) }),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            app.get("/api/autopilot/issues/abc").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.get("/api/autopilot/issues/99999999999999999999").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.get("/api/autopilot/issues/42").await,
            StatusCode::NOT_FOUND,
        ),
        (
            app.get("/api/autopilot/issues?status=doing").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.json("PATCH", "/api/autopilot/issues/42", json!({ "title": "x" }))
                .await,
            StatusCode::NOT_FOUND,
        ),
        (
            app.json(
                "POST",
                "/api/autopilot/issues/42/comments",
                json!({ "body": "x" }),
            )
            .await,
            StatusCode::NOT_FOUND,
        ),
        (
            app.json(
                "POST",
                "/api/autopilot/issues/42/status",
                json!({ "status": "ready" }),
            )
            .await,
            StatusCode::NOT_FOUND,
        ),
        (app.get("/api/autopilot/nope").await, StatusCode::NOT_FOUND),
        (
            app.json("DELETE", issues, json!({})).await,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (i, (reply, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            reply.status,
            want,
            "case {i}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "case {i}: {body}");
        assert!(
            !message.to_lowercase().contains("sqlite"),
            "case {i} leaks: {message}"
        );
    }
    // Nothing was created by any of it.
    assert_eq!(app.get(issues).await.json(), json!([]));
}

/// An edit naming no field changes nothing (the issue as it is, same version, no event); a
/// stale version is refused.
async fn an_empty_patch_changes_nothing_and_a_stale_version_is_refused() {
    let app = app().await;
    let created = app.create("x").await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/autopilot/issues/{id}");
    let empty = app.json("PATCH", &path, json!({})).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
    assert_eq!(empty.json()["version"], created["version"]);
    let events = app.get(&format!("{path}/events")).await.json();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    let stale = app
        .json("PATCH", &path, json!({ "title": "y", "version": 7 }))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(app.get(&path).await.json()["title"], "x");
}

async fn feedback_creates_only_backlog_feedback() {
    let app = app().await;
    let r = app
        .json(
            "POST",
            "/api/autopilot/feedback",
            json!({ "message": "The export button\nfails on Safari", "page": "https://shop.example/cart", "user": "u-7",
                    "status": "ready", "kind": "bug", "human_only": true }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["status"], "received");
    assert_eq!(r.json()["ok"], true, "what the original's scripts check");
    assert!(
        r.json().get("id").is_none(),
        "no count of the board's issues"
    );
    assert!(
        r.json().get("title").is_none(),
        "feedback reads nothing back"
    );

    let issues = app.get("/api/autopilot/issues").await.json();
    let issue = &issues[0];
    assert_eq!(issue["kind"], "feedback");
    assert_eq!(issue["status"], "backlog");
    assert_eq!(issue["human_only"], false);
    assert_eq!(issue["title"], "The export button");
    assert_eq!(issue["created_by"], "public");
    assert!(issue["body"]
        .as_str()
        .unwrap()
        .contains("Page: https://shop.example/cart"));
}

async fn feedback_rejects_bad_input() {
    let app = app().await;
    let fb = "/api/autopilot/feedback";
    let cases = vec![
        (
            app.json("POST", fb, json!({ "message": "" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", fb, json!({ "message": "m".repeat(5001) }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", fb, json!({ "page": "x" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.json("POST", fb, json!({ "message": "m".repeat(17 * 1024) }))
                .await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            app.raw(
                "POST",
                fb,
                "application/x-www-form-urlencoded",
                "message=hi",
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            app.raw("POST", fb, "application/json", r#"{"message": "hi""#)
                .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            app.raw("POST", fb, "application/json", "[1,2]").await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (app.get(fb).await, StatusCode::METHOD_NOT_ALLOWED),
    ];
    for (i, (reply, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            reply.status,
            want,
            "case {i}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    assert_eq!(app.get("/api/autopilot/issues").await.json(), json!([]));
}

async fn the_board_renders_server_side_with_its_issues() {
    let app = app().await;
    app.create("<img src=x onerror=alert(1)>").await;
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body).unwrap();
    for column in [
        "Backlog",
        "Ready",
        "In progress",
        "Blocked",
        "In review",
        "Done",
    ] {
        assert!(html.contains(column), "missing column {column}");
    }
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "title must be escaped"
    );
    assert!(
        !html.contains("<img src=x"),
        "raw HTML from a title must never appear"
    );
    assert_eq!(
        app.get("/autopilot").await.status,
        StatusCode::PERMANENT_REDIRECT
    );
    assert_eq!(app.get("/no/such/page").await.status, StatusCode::NOT_FOUND);
}

/// Starting another board in the same process must not stall the pages this one is rendering:
/// Leptos works out the routes by rendering the app with resource loading switched off
/// process-wide (leptos-rs/leptos#4773), which once left a test's page pending forever.
async fn pages_render_while_other_boards_start() {
    let app = app().await;
    app.create("a card").await;
    let starting = tokio::spawn(async {
        for _ in 0..40 {
            drop(TestApp::build(common::default_policy(), None, false).await);
        }
    });
    let mut rendered = 0;
    while !starting.is_finished() || rendered < 5 {
        let page = tokio::time::timeout(std::time::Duration::from_secs(10), app.get("/"))
            .await
            .expect("the board renders within 10 s");
        assert_eq!(page.status, StatusCode::OK);
        rendered += 1;
    }
    starting.await.unwrap();
}

/// Reads the next SSE data block (up to a blank line) within a second.
async fn next_sse_block(body: &mut axum::body::Body) -> String {
    use http_body_util::BodyExt;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(2), body.frame())
            .await
            .expect("an event within 2 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            let chunk = String::from_utf8_lossy(&data).into_owned();
            if chunk.starts_with(':') {
                continue; // keep-alive comment
            }
            text.push_str(&chunk);
        }
    }
    text
}

async fn the_live_stream_sends_changes_and_resumes_after_last_event_id() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let app = app().await;
    let first = app.create("before the stream").await;
    let open = |last_event_id: Option<&str>| {
        let mut req = Request::get("/api/autopilot/stream").header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.member_token),
        );
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        app.router.clone().oneshot(req.body(Body::empty()).unwrap())
    };

    let live = open(None).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = live.into_body();
    let second = app.create("while streaming").await;
    let block = next_sse_block(&mut body).await;
    assert!(block.contains("event: change"), "{block}");
    assert!(block.contains("\"kind\":\"created\""), "{block}");
    assert!(
        block.contains(&format!("\"issue_id\":{}", second["id"])),
        "{block}"
    );
    assert!(
        !block.contains(&format!("\"issue_id\":{},", first["id"])),
        "a new stream starts now"
    );

    // A reconnecting browser names the last event it saw and gets everything after it.
    let resumed = open(Some("0")).await.unwrap();
    let mut body = resumed.into_body();
    let block = next_sse_block(&mut body).await;
    assert!(block.contains("id: 1"), "{block}");
    assert!(
        block.contains(&format!("\"issue_id\":{}", first["id"])),
        "{block}"
    );
}

async fn every_column_shows_its_first_cards_with_exact_counts() {
    let app = app().await;
    let store = &app.store;
    for i in 0..5 {
        let issue = app.create(&format!("done {i}")).await;
        let id = issue["id"].as_i64().unwrap();
        let human = json!({ "human_only": true });
        app.json("PATCH", &format!("/api/autopilot/issues/{id}"), human)
            .await;
        for to in ["ready", "in_progress", "in_review", "done"] {
            let r = app
                .json(
                    "POST",
                    &format!("/api/autopilot/issues/{id}/status"),
                    json!({ "status": to }),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{to}: {}", r.text());
        }
    }
    for i in 0..3 {
        app.create(&format!("open {i}")).await;
    }
    let board = store
        .board_issues(&app::store::IssueFilter::default(), |_| 2)
        .await
        .unwrap();
    // Every column shows its first cards (done: the most recent); the counts stay exact.
    assert_eq!(board.count(app::domain::Status::Done), 5);
    assert_eq!(board.count(app::domain::Status::Backlog), 3);
    assert_eq!(board.count(app::domain::Status::Ready), 0);
    let titles: Vec<&str> = board.issues.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["open 0", "open 1", "done 4", "done 3"]);
    // A filter runs in the database and counts what it matches.
    let filter = app::store::IssueFilter {
        q: Some("done".into()),
        ..Default::default()
    };
    let found = store.board_issues(&filter, |_| 50).await.unwrap();
    assert_eq!(found.count(app::domain::Status::Backlog), 0);
    assert_eq!(found.issues.len(), 5);
}

async fn a_search_counts_a_common_word_to_a_limit_and_a_rare_one_exactly() {
    use app::domain::{Status, MATCHES_COUNTED};
    let app = app().await;
    let ann = app::domain::Actor::new(app::domain::Role::Member, "Ann");
    for i in 0..MATCHES_COUNTED + 5 {
        let new = app::domain::NewIssue {
            title: format!("Widget {i}"),
            ..Default::default()
        };
        app.store.create_issue(&ann, new).await.unwrap();
    }
    let search = |q: &str| app::store::IssueFilter {
        q: Some(q.into()),
        ..Default::default()
    };
    // Through the search index (3 letters or more) and row by row (fewer): counted to one past
    // the limit, and the cards are still the column's first ones, in order.
    for q in ["widget", "WI"] {
        let found = app.store.board_issues(&search(q), |_| 50).await.unwrap();
        assert_eq!(found.count(Status::Backlog), MATCHES_COUNTED + 1, "{q}");
        assert_eq!(found.count(Status::Ready), 0, "{q}");
        let titles: Vec<String> = found.issues.iter().map(|c| c.title.clone()).collect();
        let first: Vec<String> = (0..50).map(|i| format!("Widget {i}")).collect();
        assert_eq!(titles, first, "{q}");
    }
    // A word fewer issues hold is counted exactly: "Widget 7", 70-79 and 700-799.
    let found = app
        .store
        .board_issues(&search("widget 7"), |_| 50)
        .await
        .unwrap();
    assert_eq!(found.count(Status::Backlog), 111);
    assert_eq!(found.issues.len(), 50);
    // The page says so.
    let page = app.get("/?q=widget").await.text();
    assert!(page.contains(">1,000+<"), "{page}");
    assert!(page.contains("(50 of 1,000+)"), "{page}");
}

async fn the_list_pages_with_a_cursor_and_still_answers_the_whole_list() {
    let app = app().await;
    for i in 0..7 {
        app.create(&format!("issue {i}")).await;
    }
    // The original's call: every issue, as a JSON array.
    let all = app.get("/api/autopilot/issues").await.json();
    assert_eq!(all.as_array().unwrap().len(), 7);
    // Pages of 3, following next_cursor to the end.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/api/autopilot/issues?limit=3&cursor={cursor}"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let page = page.json();
        for issue in page["issues"].as_array().unwrap() {
            seen.push(issue["title"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("issue {i}")).collect();
    assert_eq!(seen, expected);
    // Filters apply to pages too.
    let page = app
        .get("/api/autopilot/issues?limit=10&q=issue%203")
        .await
        .json();
    assert_eq!(page["issues"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_null());
    // Bad paging is a clear 400 that names the problem.
    for (query, words) in [
        ("limit=0", "limit must be"),
        ("limit=5000", "limit must be"),
        ("limit=5&cursor=abc", "cursor"),
        ("cursor=-3", "cursor"),
    ] {
        let r = app.get(&format!("/api/autopilot/issues?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        assert!(r.text().contains(words), "{query}: {}", r.text());
    }
    // A cursor alone pages with the default size (as the contract says it may be sent).
    let page = app.get("/api/autopilot/issues?cursor=3").await.json();
    let ids: Vec<i64> = page["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert!(ids.iter().all(|&id| id > 3) && ids.len() == 4, "{ids:?}");
}

async fn build_outputs_come_precompressed_and_only_hashed_ones_are_immutable() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let css = "body { color: black; }\n".repeat(50);
    std::fs::write(pkg.join("autopilot.css"), &css).unwrap();
    // What `cargo leptos build --precompress` leaves beside each file.
    std::fs::write(pkg.join("autopilot.css.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("autopilot.css.gz"), b"gzip bytes").unwrap();
    let app = common::TestApp::build_on_site(
        common::default_policy(),
        None,
        true,
        site.path().to_str().unwrap(),
    )
    .await;
    let fetch = |encoding: &'static str| {
        axum::http::Request::get("/pkg/autopilot.css")
            .header(header::ACCEPT_ENCODING, encoding)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    for (asked, encoding, body) in [
        ("br, gzip", Some("br"), &b"brotli bytes"[..]),
        ("gzip", Some("gzip"), &b"gzip bytes"[..]),
        ("identity", None, css.as_bytes()),
    ] {
        let r = app.send(fetch(asked)).await;
        assert_eq!(r.status, StatusCode::OK, "{asked}");
        let got = r.headers.get(header::CONTENT_ENCODING);
        assert_eq!(got.map(|v| v.to_str().unwrap()), encoding, "{asked}");
        assert_eq!(&r.body[..], body, "{asked}: served as stored, never twice");
        // This test binary has no hash.txt beside it: plain names, so revalidate each time.
        assert_eq!(r.headers[header::CACHE_CONTROL], "no-cache", "{asked}");
    }
    let gone = app.get("/pkg/autopilot.nothing.wasm").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.headers.get(header::CACHE_CONTROL).is_none());
}

async fn pages_and_json_are_compressed_when_asked_and_streams_are_not() {
    let app = app().await;
    for i in 0..20 {
        app.create(&format!(
            "a card with a title long enough to be worth packing {i}"
        ))
        .await;
    }
    let token = app.member_token.clone();
    let get = |path: &'static str, encoding: &'static str| {
        axum::http::Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ACCEPT_ENCODING, encoding)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    for path in ["/", "/api/autopilot/issues"] {
        for encoding in ["gzip", "br"] {
            let r = app.send(get(path, encoding)).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(
                r.headers
                    .get(header::CONTENT_ENCODING)
                    .map(|v| v.to_str().unwrap()),
                Some(encoding),
                "{path}"
            );
            let mut plain = Vec::new();
            let mut decoder: Box<dyn std::io::Read> = match encoding {
                "gzip" => Box::new(flate2::read::GzDecoder::new(&r.body[..])),
                _ => Box::new(brotli_decompressor::Decompressor::new(&r.body[..], 4096)),
            };
            decoder.read_to_end(&mut plain).unwrap();
            assert!(
                String::from_utf8_lossy(&plain).contains("worth packing 19"),
                "{path} {encoding}"
            );
        }
    }
    let stream =
        tower::ServiceExt::oneshot(app.router.clone(), get("/api/autopilot/stream", "br, gzip"))
            .await
            .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers().get(header::CONTENT_ENCODING).is_none());
}

async fn a_kept_board_page_is_never_stale_and_never_someone_elses() {
    let app = app().await;
    app.create("first card").await;
    let app = &app;
    let page = |caller: common::Caller| async move {
        let r = app
            .call(&caller, "GET", "/", None, axum::body::Body::empty())
            .await;
        assert_eq!(r.status, StatusCode::OK);
        // A page rendered for one answer has a nonce of its own (a kept page has none: see
        // tests/headers.rs); the rest is compared.
        let html = r.text();
        let nonce = html
            .split("nonce=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_string();
        if nonce.is_empty() {
            html
        } else {
            html.replace(&nonce, "NONCE")
        }
    };
    let once = page(app.member()).await;
    assert!(once.contains("first card"));
    assert_eq!(
        page(app.member()).await,
        once,
        "the same page while nothing changed"
    );
    // Any change (here: a card filed) shows at once.
    app.create("second card").await;
    assert!(page(app.member()).await.contains("second card"));
    // Another person gets a page of their own: their name, their role's menus.
    let admin = page(app.admin()).await;
    assert!(
        admin.contains("Root") && !admin.contains(">Ann<"),
        "{admin}"
    );
    let member = page(app.member()).await;
    assert!(member.contains("Ann") && !member.contains(">Root<"));
}

async fn the_kept_whole_list_follows_every_change_and_every_lease() {
    let app = app().await;
    let first = app.create("first").await;
    let list = || async { app.get("/api/autopilot/issues").await.json() };
    assert_eq!(list().await.as_array().unwrap().len(), 1);
    app.create("second").await;
    assert_eq!(list().await.as_array().unwrap().len(), 2);
    let id = first["id"].as_i64().unwrap();
    app.json(
        "PATCH",
        &format!("/api/autopilot/issues/{id}"),
        json!({ "title": "renamed" }),
    )
    .await;
    assert_eq!(list().await[0]["title"], "renamed");
    // Filters are answers of their own.
    let found = app.get("/api/autopilot/issues?q=second").await.json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    // A heartbeat moves a lease without an event: the list shows the new lease.
    let store = &app.store;
    let new = app::domain::NewIssue {
        title: "agent work".into(),
        status: Some(app::domain::Status::Ready),
        ..Default::default()
    };
    store
        .create_issue(
            &app::domain::Actor::new(app::domain::Role::Member, "Ann"),
            new,
        )
        .await
        .unwrap();
    store.register_runner("r", "h", 1).await.unwrap();
    let (issue, run) = store.claim_next("r", 60_000).await.unwrap().unwrap();
    let lease = |list: serde_json::Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == issue.id)
            .unwrap()["lease_expires_at"]
            .as_i64()
    };
    let before = lease(list().await);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store
        .heartbeat("r", 120_000, Some((issue.id, run.id)))
        .await
        .unwrap();
    let after = lease(list().await);
    assert!(after > before, "{before:?} then {after:?}");
}

async fn feedback_is_rate_limited_per_client_with_retry_after() {
    let app = app().await;
    let send = || {
        app.json(
            "POST",
            "/api/autopilot/feedback",
            json!({ "message": "hello" }),
        )
    };
    for _ in 0..5 {
        assert_eq!(send().await.status, StatusCode::CREATED);
    }
    let limited = send().await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), "rate_limited");
    let retry: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let issues = app.get("/api/autopilot/issues?kind=feedback").await.json();
    assert_eq!(issues.as_array().unwrap().len(), 5);
}

async fn the_feedback_honeypot_drops_bots_silently() {
    let app = app().await;
    let bot = app
        .json(
            "POST",
            "/api/autopilot/feedback",
            json!({ "message": "cheap pills", "website": "http://spam.example" }),
        )
        .await;
    assert_eq!(bot.status, StatusCode::CREATED);
    assert_eq!(bot.json()["status"], "received");
    assert_eq!(app.get("/api/autopilot/issues").await.json(), json!([]));
}

async fn feedback_cors_allows_only_the_configured_sites() {
    use axum::body::Body;
    use axum::http::Request;
    let app = app().await;
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/autopilot/feedback")
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = app.send(preflight("https://shop.example")).await;
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    let refused = app.send(preflight("https://evil.example")).await;
    assert!(refused
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    // The rest of the API gets no CORS at all.
    let api = Request::builder()
        .method("OPTIONS")
        .uri("/api/autopilot/issues")
        .header(header::ORIGIN, "https://shop.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    assert!(app
        .send(api)
        .await
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
}

async fn no_request_body_may_exceed_the_upload_cap() {
    // A server-function upload, larger than any attachment may be: refused before it is read.
    let mut body =
        b"--XB\r\nContent-Disposition: form-data; name=\"issue_id\"\r\n\r\n1\r\n--XB\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
            .to_vec();
    body.extend(std::iter::repeat_n(b'a', 26 * 1024 * 1024));
    body.extend(b"\r\n--XB--\r\n");
    let app = app().await;
    app.create("x").await;
    let r = app
        .raw(
            "POST",
            "/api/upload_attachment",
            "multipart/form-data; boundary=XB",
            body,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        r.text().chars().take(200).collect::<String>()
    );
    assert_eq!(
        app.get("/api/autopilot/issues/1/attachments").await.json(),
        json!([])
    );
}

/// A ready issue filed through the API, claimed by runner `r1`: its id and the run.
async fn claimed_by_a_runner(app: &common::TestApp) -> (i64, app::domain::Run) {
    let issue = app
        .json(
            "POST",
            "/api/autopilot/issues",
            json!({ "title": "agent work", "status": "ready" }),
        )
        .await
        .json();
    let id = issue["id"].as_i64().unwrap();
    let (_, run) = app.store.claim_next("r1", 60_000).await.unwrap().unwrap();
    (id, run)
}

async fn a_reviewer_reads_the_change_and_requests_changes_on_picked_lines() {
    use app::domain::{RunOutcome, Status};
    let app = app().await;
    let (id, run) = claimed_by_a_runner(&app).await;
    let patch = "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n\
                 @@ -1,2 +1,3 @@\n fn main() {\n-    old();\n+    new();\n+    </script><b>x</b>\n";
    let finish = app::store::RunFinish {
        branch: Some("autopilot/issue-1".into()),
        patches: Some(app::store::RunPatches {
            branch: patch.into(),
            run: patch.into(),
            truncated: false,
        }),
        ..app::store::RunFinish::new(RunOutcome::Review, Status::InReview)
    };
    assert!(app
        .store
        .finish_run("r1", run.id, id, finish)
        .await
        .unwrap());

    // The drawer, rendered on the server: the files, the lines, the agent's markup as text.
    let page = app
        .call(&app.member(), "GET", &format!("/?issue={id}"), None, "")
        .await
        .text();
    assert!(
        page.contains(r#"<table class="diff" data-file="src/lib.rs">"#),
        "{page}"
    );
    assert!(
        page.contains("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>x</b>"), "{page}");
    assert!(page.contains("Request changes") && page.contains("Approve"));
    assert!(
        page.contains(&format!("changes=run-{}", run.id)),
        "one run's own change"
    );
    assert!(page.contains("git merge --no-ff autopilot/issue-1"));
    let version = app.store.get_issue(id).await.unwrap().version;

    const FORM: &str = "application/x-www-form-urlencoded";
    let app = &app;
    let request = |body: String| async move {
        app.call(
            &app.member(),
            "POST",
            "/api/request_changes",
            Some(FORM),
            body,
        )
        .await
    };
    // Lines the change does not have, or nothing to say: refused, nothing changes.
    for (body, says) in [
        (
            format!("id={id}&version={version}&lines=src%2Flib.rs%3A40"),
            "no such line",
        ),
        (
            format!("id={id}&version={version}&lines=other.rs%3A1"),
            "not in this change",
        ),
        (
            format!("id={id}&version={version}&body=+"),
            "say what to change",
        ),
    ] {
        let r = request(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert!(r.text().contains(says), "{}", r.text());
    }
    let still = app.store.get_issue(id).await.unwrap();
    assert_eq!((still.status, still.version), (Status::InReview, version));

    let r = request(format!(
        "id={id}&version={version}&lines=src%2Flib.rs%3A2-3&body=Call+the+helper+instead"
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let after = app.store.issue_detail(id).await.unwrap();
    assert_eq!(after.issue.status, Status::Ready);
    let comment = &after.comments.last().unwrap().body;
    assert!(comment.contains("`src/lib.rs:2-3`"), "{comment}");
    assert!(
        comment.contains("+    new();\n+    </script><b>x</b>"),
        "{comment}"
    );
    assert!(comment.ends_with("Call the helper instead"), "{comment}");
    assert_eq!(after.comments.last().unwrap().author, "Ann");
    // Once it is out of review there is nothing to ask about.
    let again = request(format!("id={id}&version={}&body=more", after.issue.version)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
}

async fn runs_and_their_logs_are_readable_by_people() {
    use app::domain::{RunOutcome, Status};
    let app = app().await;
    let (id, run) = claimed_by_a_runner(&app).await;
    app.store
        .append_run_log(run.id, "▶ agent started\r\nline two\n")
        .await
        .unwrap();
    let finish = app::store::RunFinish::new(RunOutcome::Review, Status::InReview);
    assert!(app
        .store
        .finish_run("r1", run.id, id, finish)
        .await
        .unwrap());

    let runs = app
        .get(&format!("/api/autopilot/issues/{id}/runs"))
        .await
        .json();
    assert_eq!(runs[0]["outcome"], "review");
    assert_eq!(runs[0]["attempt"], 1);
    let plain = app
        .get(&format!("/api/autopilot/runs/{}/log", run.id))
        .await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.text(), "▶ agent started\r\nline two\n");

    // Browsers get Server-Sent Events: the log, then the end (the run is over).
    let sse = app
        .send(
            axum::http::Request::get(format!("/api/autopilot/runs/{}/log", run.id))
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", app.member_token),
                )
                .header(header::ACCEPT, "text/event-stream")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .text();
    assert!(
        sse.contains("event: log\ndata: ▶ agent started\ndata: line two"),
        "{sse}"
    );
    assert!(sse.contains("event: end"), "{sse}");
    let missing = app.get("/api/autopilot/runs/999/log").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// A live stream request as `token`'s person, its answer kept open (its body not read).
async fn open_stream(app: &TestApp, token: &str, path: &str) -> axum::response::Response {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "text/event-stream")
        .body(axum::body::Body::empty())
        .unwrap();
    app.router.clone().oneshot(request).await.unwrap()
}

async fn each_person_keeps_at_most_a_few_live_streams_and_closing_one_frees_it() {
    let app = app().await;
    let member = app.member_token.clone();
    let mut open = Vec::new();
    for n in 0..common::STREAMS_PER_PERSON {
        let stream = open_stream(&app, &member, "/api/autopilot/stream").await;
        assert_eq!(stream.status(), StatusCode::OK, "stream {n}");
        open.push(stream);
    }
    let refused = open_stream(&app, &member, "/api/autopilot/stream").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body).to_string();
    assert!(
        body.contains("limit_reached") && body.contains("live streams"),
        "{body}"
    );
    // Someone else is not held back by it.
    let admin = app.admin_token.clone();
    let theirs = open_stream(&app, &admin, "/api/autopilot/stream").await;
    assert_eq!(theirs.status(), StatusCode::OK);
    // A closed tab frees its place.
    open.pop();
    let again = open_stream(&app, &member, "/api/autopilot/stream").await;
    assert_eq!(again.status(), StatusCode::OK);
    // Other requests are never counted as streams.
    assert_eq!(
        app.get("/api/autopilot/issues").await.status,
        StatusCode::OK
    );
}

async fn metrics_are_prometheus_text_for_admin_tokens_only() {
    use common::Caller;
    let app = app().await;
    app.create("Counted").await;
    let feedback = app
        .json(
            "POST",
            "/api/autopilot/feedback",
            json!({ "message": "Nice board" }),
        )
        .await;
    assert_eq!(feedback.status, StatusCode::CREATED, "{}", feedback.text());
    let bad = app
        .json("POST", "/api/autopilot/feedback", json!({ "message": "" }))
        .await;
    assert!(bad.status.is_client_error());
    app.get("/api/autopilot/issues/1").await;

    let anonymous = app.status_only(&Caller::Anonymous, "GET", "/metrics").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let member = app.status_only(&app.member(), "GET", "/metrics").await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
    let _stream = open_stream(&app, &app.member_token.clone(), "/api/autopilot/stream").await;
    let scraped = app
        .call(
            &app.admin(),
            "GET",
            "/metrics",
            None,
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(scraped.status, StatusCode::OK, "{}", scraped.text());
    assert!(scraped.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = scraped.text();
    for wanted in [
        "autopilot_issues{status=\"backlog\"}",
        "autopilot_issues{status=\"done\"} 0",
        // By route template, never the raw path.
        "route=\"/api/autopilot/issues/{id}\"",
        "autopilot_http_request_duration_seconds_bucket",
        "autopilot_feedback_total{result=\"accepted\",reason=\"\"}",
        "autopilot_feedback_total{result=\"refused\",reason=\"invalid\"}",
        "autopilot_live_streams",
        "autopilot_db_connections{state=\"max\"}",
        "autopilot_runners 0",
    ] {
        assert!(text.contains(wanted), "{wanted} missing from:\n{text}");
    }
    assert!(
        !text.contains("/api/autopilot/issues/1\""),
        "a raw path became a label"
    );
}

/// Bugs self-heal filed (it files in the background: give it a moment first).
async fn bugs_filed(app: &TestApp) -> usize {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let filter = app::store::IssueFilter {
        kind: Some(app::domain::Kind::Bug),
        ..Default::default()
    };
    app.store.list_issues(&filter).await.unwrap().len()
}

/// A failed server-function call's answer: a 4xx whose JSON names the same status, with the
/// JSON API's `{"error": {"code", "message"}}` beside it, and nothing of the server in it.
fn assert_a_clear_4xx(what: &str, r: &Reply) {
    assert!(
        r.status.is_client_error(),
        "{what}: {} {}",
        r.status,
        r.text().chars().take(300).collect::<String>()
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("{what}: not JSON: {}", r.text()));
    assert_eq!(body["status"], r.status.as_u16(), "{what}: {body}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert!(
        !code.is_empty() && code != "internal" && code != "transport",
        "{what}: {body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {body}");
    for internal in [
        "server function",
        "ServerFn",
        "serde",
        "panicked",
        "app::",
        "src/",
    ] {
        assert!(!message.contains(internal), "{what}: {internal} in {body}");
    }
}

/// Who sends junk: a name, credentials (a header and its value), an `Origin` header.
type Junk = (
    &'static str,
    Option<(&'static str, String)>,
    Option<&'static str>,
);

async fn junk_to_server_functions_is_a_4xx_and_files_no_bug() {
    use axum::body::Body;
    use axum::http::Request;
    let app = app().await;
    app.create("target").await;
    let session = app.sign_in(common::MEMBER_EMAIL).await;
    const FORM: &str = "application/x-www-form-urlencoded";
    let endpoints = [
        "/api/move_issue",
        "/api/update_issue",
        "/api/create_issue",
        "/api/get_card",
        "/api/get_issue_view",
        "/api/request_changes",
        "/api/add_comment",
        "/api/update_user",
        "/api/set_spend_caps",
        "/api/list_board",
        "/api/upload_attachment",
    ];
    let bodies: [(Option<&str>, &[u8]); 8] = [
        (None, b"junk=1"),
        (Some(FORM), b"junk=1"),
        (
            Some(FORM),
            b"id=abc&to=nowhere&version=x&title=t&kind=spaceship&shown=z",
        ),
        (Some(FORM), b"id=99999999999999999999999&version=1"),
        (Some(FORM), b"\xff\xfe\x00not utf-8"),
        (Some(FORM), b"id[=&&=&%zz"),
        (Some("application/json"), br#"{"id": 1, "to": "done"}"#),
        (Some("multipart/form-data"), b"--x\r\n"),
    ];
    let callers: [Junk; 5] = [
        ("anonymous", None, None),
        ("anonymous from the board", None, Some(common::ORIGIN)),
        (
            "member token",
            Some(("authorization", format!("Bearer {}", app.member_token))),
            None,
        ),
        (
            "member session",
            Some(("cookie", session.clone())),
            Some(common::ORIGIN),
        ),
        (
            "member session, no Origin",
            Some(("cookie", session.clone())),
            None,
        ),
    ];
    let (mut calls, mut refused) = (0, 0);
    for endpoint in endpoints {
        for (content_type, body) in bodies {
            for (who, credentials, origin) in &callers {
                let mut req = Request::post(endpoint);
                if let Some(ct) = content_type {
                    req = req.header(header::CONTENT_TYPE, ct);
                }
                if let Some((name, value)) = credentials {
                    req = req.header(*name, value.as_str());
                }
                if let Some(origin) = origin {
                    req = req.header(header::ORIGIN, *origin);
                }
                let r = app.send(req.body(Body::from(body.to_vec())).unwrap()).await;
                let what = format!(
                    "{endpoint} as {who} with {content_type:?} {:?}",
                    String::from_utf8_lossy(body)
                );
                // Some junk happens to be a valid call (`list_board` ignores fields it does
                // not know): a member gets the board. Anything else is a clear 4xx.
                if !r.status.is_success() {
                    assert_a_clear_4xx(&what, &r);
                    refused += 1;
                }
                calls += 1;
            }
        }
    }
    assert_eq!(calls, 11 * 8 * 5);
    assert!(refused > 400, "{refused} of {calls} refused");
    // Nothing was filed or counted, and the board is as it was.
    assert_eq!(bugs_filed(&app).await, 0, "self-heal filed junk as a bug");
    let issues = app.store.list_issues(&Default::default()).await.unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!((issues[0].version, issues[0].title.as_str()), (1, "target"));
    // The same calls well-formed still work.
    let moved = app
        .call(
            &app.member(),
            "POST",
            "/api/move_issue",
            Some(FORM),
            format!("id={}&to=ready&version=1", issues[0].id),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
}

async fn a_failed_call_answers_with_its_own_status_not_500() {
    const FORM: &str = "application/x-www-form-urlencoded";
    let app = app().await;
    app.create("an issue").await;
    // Errors some calls return without naming their status themselves, and others: each
    // answers with its own status, none is a 5xx, none a bug.
    for (endpoint, body, status) in [
        (
            "/api/get_issue_view",
            "id=1&changes_run=999",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/create_issue",
            "title=t&depends_on=not+numbers",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/get_issue_view", "id=404", StatusCode::NOT_FOUND),
        (
            "/api/move_issue",
            "id=404&to=ready&version=1",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/add_comment",
            "id=404&body=hello",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/update_user",
            "id=404&role=member",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let r = app
            .call(&app.member(), "POST", endpoint, Some(FORM), body)
            .await;
        assert_eq!(r.status, status, "{endpoint}: {}", r.text());
        assert_eq!(r.json()["status"], status.as_u16());
    }
    let r = app
        .call(
            &app.admin(),
            "POST",
            "/api/update_user",
            Some(FORM),
            "id=404&role=member",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "not_found");
    assert_eq!(bugs_filed(&app).await, 0);
}

/// An issue in review whose change adds `src/big.rs`, lines 1-2000 of 100 characters each.
async fn in_review_with_a_big_change(app: &TestApp) -> (i64, i64) {
    let (id, run) = claimed_by_a_runner(app).await;
    let mut patch = String::from("diff --git a/src/big.rs b/src/big.rs\n@@ -0,0 +1,2000 @@\n");
    for n in 0..2000 {
        patch.push_str(&format!("+{n:0>99}\n"));
    }
    finished_in_review(app, id, run.id, patch).await;
    let version = app.store.get_issue(id).await.unwrap().version;
    (id, version)
}

/// Runner "r1" finishes run `run` of issue `id` in review, leaving `patch` on its branch (as
/// the whole branch and as the run's own commit).
async fn finished_in_review(app: &TestApp, id: i64, run: i64, patch: String) {
    use app::domain::{RunOutcome, Status};
    let finish = app::store::RunFinish {
        branch: Some(format!("autopilot/issue-{id}")),
        patches: Some(app::store::RunPatches {
            branch: patch.clone(),
            run: patch,
            truncated: false,
        }),
        ..app::store::RunFinish::new(RunOutcome::Review, Status::InReview)
    };
    assert!(app.store.finish_run("r1", run, id, finish).await.unwrap());
}

/// A big change's drawer carries its first files whole and the others as stand-ins; a stand-in's
/// link shows its file (`files=`), and `get_diff_file` answers one file, of a run of that issue
/// only, escaped like the rest. The hydration data carries none of the diff.
async fn a_later_file_of_a_big_change_loads_by_itself() {
    const FORM: &str = "application/x-www-form-urlencoded";
    let app = app().await;
    let (id, run) = claimed_by_a_runner(&app).await;
    let mut patch = String::new();
    for f in 0..40 {
        patch.push_str(&format!(
            "diff --git a/src/f{f}.rs b/src/f{f}.rs\n@@ -0,0 +1,201 @@\n+</script><b>x</b>\n"
        ));
        for n in 0..200 {
            patch.push_str(&format!("+let line_{n} = \"{}\";\n", "y".repeat(40)));
        }
    }
    finished_in_review(&app, id, run.id, patch).await;
    let page = |query: String| {
        let app = &app;
        async move {
            app.call(
                &app.member(),
                "GET",
                &format!("/?issue={id}{query}"),
                None,
                "",
            )
            .await
            .text()
        }
    };
    let drawer = page(String::new()).await;
    assert!(drawer.contains(r#"data-file="src/f0.rs""#));
    assert!(!drawer.contains(r#"data-file="src/f39.rs""#));
    assert!(drawer.contains(&format!(
        r#"<a class="load-file" href="?issue={id}&amp;files=39#file-39">Show this file</a>"#
    )));
    for script in drawer.split("<script").skip(1) {
        let script = script.split("</script>").next().unwrap_or_default();
        assert!(
            !script.contains("diffstat"),
            "the diff in the hydration data"
        );
    }
    assert!(!drawer.contains("<b>x</b>"));
    let asked = page("&files=39".into()).await;
    assert!(asked.contains(r#"data-file="src/f39.rs""#));
    assert!(asked.contains(r#"href="?issue="#) && asked.len() > drawer.len());

    let file = |body: String| {
        let app = &app;
        async move {
            app.call(
                &app.member(),
                "POST",
                "/api/get_diff_file",
                Some(FORM),
                body,
            )
            .await
        }
    };
    let r = file(format!("id={id}&run={}&index=39", run.id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let html = r.json().as_str().unwrap_or_default().to_string();
    assert!(
        html.starts_with(r#"<details class="diff-file" id="file-39" open>"#),
        "{html}"
    );
    assert!(html.contains(r#"<table class="diff" data-file="src/f39.rs">"#));
    assert!(html.contains("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>"));
    // Only a file the change has, of a run of this issue.
    let other = app.create("no change").await["id"].as_i64().unwrap();
    for body in [
        format!("id={id}&run={}&index=40", run.id),
        format!("id={other}&run={}&index=0", run.id),
        format!("id={id}&run=999&index=0"),
    ] {
        assert_eq!(
            file(body.clone()).await.status,
            StatusCode::NOT_FOUND,
            "{body}"
        );
    }
    assert_eq!(bugs_filed(&app).await, 0);
}

async fn a_change_request_is_checked_first_and_its_quote_bounded() {
    use app::domain::Status;
    const FORM: &str = "application/x-www-form-urlencoded";
    let app = app().await;
    let (id, version) = in_review_with_a_big_change(&app).await;
    let app = &app;
    let request = |body: String| async move {
        app.call(
            &app.member(),
            "POST",
            "/api/request_changes",
            Some(FORM),
            body,
        )
        .await
    };
    let lines = |text: &str| {
        text.replace(':', "%3A")
            .replace('/', "%2F")
            .replace('\n', "%0A")
    };
    for (picked, status, says) in [
        // More than 50 ranges, each of them fine on its own.
        (
            "src/big.rs:1\n".repeat(51),
            StatusCode::BAD_REQUEST,
            "at most 50",
        ),
        // Ten thousand of them (the audit's repro, smaller, under the 2 MB body limit):
        // refused just the same, before any is quoted.
        (
            "src/big.rs:1-2000\n".repeat(10_000),
            StatusCode::BAD_REQUEST,
            "at most 50",
        ),
        // One range whose quote is past a comment's 16 KiB.
        (
            "src/big.rs:1-2000".to_string(),
            StatusCode::BAD_REQUEST,
            "pick fewer",
        ),
        // Fifty ranges that each fit, together past it.
        (
            "src/big.rs:1-100\n".repeat(50),
            StatusCode::BAD_REQUEST,
            "pick fewer",
        ),
    ] {
        let r = request(format!(
            "id={id}&version={version}&lines={}&body=x",
            lines(&picked)
        ))
        .await;
        assert_eq!(r.status, status, "{}", r.text());
        assert!(r.text().contains(says), "{}", r.text());
    }
    let still = app.store.issue_detail(id).await.unwrap();
    assert_eq!(
        (
            still.issue.status,
            still.issue.version,
            still.comments.len()
        ),
        (Status::InReview, version, 0),
        "a refused request changes nothing"
    );
    // An issue not in review is a conflict before its lines are looked at.
    let other = app.create("not in review").await["id"].as_i64().unwrap();
    let r = request(format!(
        "id={other}&version=1&lines={}&body=x",
        lines(&"src/big.rs:1\n".repeat(51))
    ))
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("not in review"), "{}", r.text());
    // Within the bounds it works.
    let r = request(format!(
        "id={id}&version={version}&lines={}&body=Shorter",
        lines("src/big.rs:1-3\nsrc/big.rs:10")
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let comment = &app.store.issue_detail(id).await.unwrap().comments[0].body;
    assert!(comment.contains(&format!("+{:0>99}", 2)), "{comment}");
    assert!(comment.ends_with("Shorter"), "{comment}");
}

async fn the_unpaged_list_is_capped_and_says_so() {
    let app = app().await;
    let person = app::domain::Actor::new(app::domain::Role::Member, "Ann");
    for n in 0..1001 {
        let new = app::domain::NewIssue {
            title: format!("Issue {n}"),
            ..Default::default()
        };
        app.store.create_issue(&person, new).await.unwrap();
    }
    let r = app.get("/api/autopilot/issues").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 1000);
    assert_eq!(r.headers["x-autopilot-list-cap"], "1000");
    assert_eq!(r.headers["x-autopilot-truncated"], "true");
    // A filter that matches fewer: all of them, not truncated.
    let few = app.get("/api/autopilot/issues?q=Issue+1000").await;
    assert!(!few.json().as_array().unwrap().is_empty());
    assert_eq!(few.headers["x-autopilot-list-cap"], "1000");
    assert!(few.headers.get("x-autopilot-truncated").is_none());
    // Paging still reads every one.
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/api/autopilot/issues?limit=1000&cursor={cursor}"))
            .await
            .json();
        seen += page["issues"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 1001);
}

async fn an_issue_takes_at_most_fifty_attachments() {
    let app = app().await;
    let id = app.create("files").await["id"].as_i64().unwrap();
    let path = format!("/api/autopilot/issues/{id}/attachments");
    let upload = |n: usize| {
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f{n}.txt\"\r\n\r\n\
             file {n}\r\n--B--\r\n"
        )
    };
    for n in 0..50 {
        let r = app
            .raw("POST", &path, "multipart/form-data; boundary=B", upload(n))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{n}: {}", r.text());
    }
    let r = app
        .raw("POST", &path, "multipart/form-data; boundary=B", upload(50))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.text().contains("the most an issue may have"),
        "{}",
        r.text()
    );
    assert_eq!(r.error_code(), "invalid");
    let listed = app.get(&path).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 50, "nothing more stored");
    // Another issue has room of its own.
    let other = app.create("more files").await["id"].as_i64().unwrap();
    let r = app
        .raw(
            "POST",
            &format!("/api/autopilot/issues/{other}/attachments"),
            "multipart/form-data; boundary=B",
            upload(51),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

async fn pages_the_app_router_matches_and_axum_does_not_are_never_served_unguarded() {
    let app = app().await;
    app.create("first").await;
    let anonymous = common::Caller::Anonymous;
    for (path, to) in [
        ("/admin/", "/admin"),
        ("/admin/users/", "/admin/users"),
        ("/issues/1/", "/issues/1"),
        ("/issues/1//", "/issues/1"),
        ("/admin/?tab=x", "/admin?tab=x"),
    ] {
        let r = app.call(&anonymous, "GET", path, None, "").await;
        assert_eq!(
            r.status,
            StatusCode::PERMANENT_REDIRECT,
            "{path}: {}",
            r.text()
        );
        assert_eq!(r.location(), to, "{path}");
        assert!(!r.text().contains("<script"), "{path}: {}", r.text());
        // Where it leads, the page guard sends the anonymous caller to sign in.
        let then = app.call(&anonymous, "GET", to, None, "").await;
        assert_eq!(then.status, StatusCode::SEE_OTHER, "{to}");
        assert!(then.location().starts_with("/login"), "{to}");
    }
    // An unknown page is a plain 404: no app, no data, no script; never a way off the site.
    for path in [
        "/nowhere",
        "/nowhere/",
        "//evil.example/",
        "/admin/users/extra",
    ] {
        let r = app.call(&anonymous, "GET", path, None, "").await;
        let page = r.text();
        assert!(
            matches!(
                r.status,
                StatusCode::NOT_FOUND | StatusCode::PERMANENT_REDIRECT
            ),
            "{path}: {}",
            r.status
        );
        assert!(!r.location().contains("evil"), "{path}: {}", r.location());
        assert!(!page.contains("<script"), "{path}: {page}");
        assert!(
            !page.contains("Users") && !page.contains("Runner"),
            "{path}: {page}"
        );
    }
    let r = app.call(&anonymous, "GET", "/nowhere", None, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("Not found"));
    // A member signed in gets the same: the page itself is behind the guard.
    let r = app.call(&app.member(), "GET", "/admin/", None, "").await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
}

async fn a_change_by_another_process_reaches_the_kept_page_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let url = engines::fresh_database(dir.path()).await;
    let app = TestApp::on_database(&url, dir).await;
    app.create("first card").await;
    assert!(app.get("/").await.text().contains("first card"));
    // Another process on the same database (the CLI, another server): PostgreSQL tells this
    // one at once; on SQLite nobody does, and the page is checked again after a second.
    let other = app::store::Store::open(&url).await.unwrap();
    let new = app::domain::NewIssue {
        title: "filed elsewhere".into(),
        ..Default::default()
    };
    let ann = app::domain::Actor::new(app::domain::Role::Member, "Ann");
    other.create_issue(&ann, new).await.unwrap();
    let started = std::time::Instant::now();
    while !app.get("/").await.text().contains("filed elsewhere") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "the kept page never showed the other process' change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
}

async fn a_kept_board_page_is_keyed_on_the_person_not_the_name() {
    let app = app().await;
    app.create("a card").await;
    // A second Ann, a member like the first.
    let token = common::add_person(
        &app.store,
        "ann2@example.com",
        "Ann",
        app::domain::UserRole::Member,
    )
    .await;
    let first = app.call(&app.member(), "GET", "/", None, "").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(app.state.warm_pages.kept(), 1);
    let second = app
        .call(&common::Caller::Bearer(token), "GET", "/", None, "")
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(
        app.state.warm_pages.kept(),
        2,
        "the other Ann was served a page rendered for her, not the first Ann's"
    );
    // The first Ann again: her kept page.
    app.call(&app.member(), "GET", "/", None, "").await;
    assert_eq!(app.state.warm_pages.kept(), 2);
}

/// The board served without a public URL, as `autopilot serve` on a laptop.
async fn without_a_public_url() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = engines::fresh_database(dir.path()).await;
    let store = app::store::Store::open(&url).await.unwrap();
    let auth = server::config::AuthSettings {
        policy: common::default_policy(),
        public_origin: None,
        secure_cookies: false,
        trusted_proxies: Vec::new(),
    };
    let (router, _) = server::build_app(
        store,
        "target/site",
        "127.0.0.1:3000".parse().unwrap(),
        auth,
        None,
        server::config::Intake::default(),
        server::config::Serving::default(),
    );
    (router, dir)
}

async fn without_a_public_url_only_direct_names_are_answered() {
    use tower::ServiceExt;
    let (router, _dir) = without_a_public_url().await;
    let get = |host: &'static str| {
        let router = router.clone();
        async move {
            let req = axum::http::Request::get("/healthz")
                .header(header::HOST, host)
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }
    };
    for host in [
        "127.0.0.1:3000",
        "127.0.0.1",
        "localhost:3000",
        "LOCALHOST.",
        "board.localhost:3000",
        "[::1]:3000",
        "10.1.2.3:3000",
    ] {
        assert_eq!(get(host).await, StatusCode::OK, "{host}");
    }
    // A name the server was not told it has: what DNS rebinding sends.
    for host in [
        "evil.example:3000",
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil.example:3000",
        "[::1]x",
        "127.0.0.1:3000:1",
    ] {
        assert_eq!(get(host).await, StatusCode::FORBIDDEN, "{host}");
    }
}

#[tokio::test]
async fn a_backup_is_private_and_signs_no_one_in() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("board.db").display());
    let app = TestApp::on_database(&url, tempfile::tempdir().unwrap()).await;
    let cookie = app.sign_in(common::MEMBER_EMAIL).await;
    let session = common::Caller::Session(cookie.clone());
    let me = app
        .call(&session, "GET", "/api/autopilot/me", None, "")
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // The live database keeps no id a cookie carries.
    let cookie_id = cookie.split_once('=').unwrap().1.to_string();
    let live = sqlx::SqlitePool::connect(&url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM tower_sessions")
        .fetch_all(&live)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], cookie_id);
    let replayed = common::Caller::Session(format!("autopilot_session={}", stored[0]));
    let r = app
        .call(&replayed, "GET", "/api/autopilot/me", None, "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a stored id signs no one in"
    );

    // The backup: 0600 whatever the umask, and no sessions in it at all.
    let backup = dir.path().join("backup.db");
    let made = tokio::task::spawn_blocking({
        let (url, backup) = (url.clone(), backup.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_autopilot"))
                .args(["db", "backup"])
                .arg(&backup)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let copy = sqlx::SqlitePool::connect(&format!("sqlite://{}", backup.display()))
        .await
        .unwrap();
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    copy.close().await;
    let bytes = std::fs::read(&backup).unwrap();
    for id in [cookie_id.as_str(), stored[0].as_str()] {
        assert!(
            !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
            "a session id is still in the backup's bytes"
        );
    }
    // The person is still signed in on the live board.
    let me = app
        .call(&session, "GET", "/api/autopilot/me", None, "")
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

#[tokio::test]
async fn a_backup_never_writes_over_a_file_or_leaves_half_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("board.db").display());
    let store = app::store::Store::open(&url).await.unwrap();
    let existing = dir.path().join("taken.db");
    std::fs::write(&existing, "someone's file").unwrap();
    let err = store.backup_to(&existing).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "someone's file"
    );
    let nowhere = dir.path().join("no/such/dir/b.db");
    assert!(store.backup_to(&nowhere).await.is_err());
    assert!(!nowhere.exists());
}

on_both_engines!(
    a_change_by_another_process_reaches_the_kept_page_within_a_second,
    a_search_counts_a_common_word_to_a_limit_and_a_rare_one_exactly,
    an_issue_asks_for_an_offered_agent_or_is_refused,
    junk_to_server_functions_is_a_4xx_and_files_no_bug,
    a_failed_call_answers_with_its_own_status_not_500,
    a_change_request_is_checked_first_and_its_quote_bounded,
    a_later_file_of_a_big_change_loads_by_itself,
    the_unpaged_list_is_capped_and_says_so,
    an_issue_takes_at_most_fifty_attachments,
    pages_the_app_router_matches_and_axum_does_not_are_never_served_unguarded,
    a_kept_board_page_is_keyed_on_the_person_not_the_name,
    without_a_public_url_only_direct_names_are_answered,
    a_person_starting_an_issue_takes_it_as_human_work,
    each_person_keeps_at_most_a_few_live_streams_and_closing_one_frees_it,
    metrics_are_prometheus_text_for_admin_tokens_only,
    dependencies_through_the_json_api,
    an_issue_names_an_allowed_model_or_is_refused,
    a_reviewer_reads_the_change_and_requests_changes_on_picked_lines,
    build_outputs_come_precompressed_and_only_hashed_ones_are_immutable,
    the_kept_whole_list_follows_every_change_and_every_lease,
    a_kept_board_page_is_never_stale_and_never_someone_elses,
    pages_and_json_are_compressed_when_asked_and_streams_are_not,
    the_list_pages_with_a_cursor_and_still_answers_the_whole_list,
    healthz_answers_ok,
    create_show_patch_and_list,
    status_changes_follow_the_rules_and_versions,
    a_comment_on_a_blocked_issue_sends_it_back_to_ready,
    attachments_round_trip_as_downloads,
    oversized_attachments_are_refused_with_413,
    bad_input_gets_clear_json_errors,
    an_empty_patch_changes_nothing_and_a_stale_version_is_refused,
    feedback_creates_only_backlog_feedback,
    feedback_rejects_bad_input,
    the_board_renders_server_side_with_its_issues,
    pages_render_while_other_boards_start,
    the_live_stream_sends_changes_and_resumes_after_last_event_id,
    every_column_shows_its_first_cards_with_exact_counts,
    feedback_is_rate_limited_per_client_with_retry_after,
    the_feedback_honeypot_drops_bots_silently,
    feedback_cors_allows_only_the_configured_sites,
    no_request_body_may_exceed_the_upload_cap,
    runs_and_their_logs_are_readable_by_people,
);
