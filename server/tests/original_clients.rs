//! Scripts written for the original plugin keep working: its board page (`web/board.html` in
//! togo-framework/autopilot) and its HTTP tests (`autopilot_test.go`) replayed call by call,
//! with a member's token, checking the status codes and the JSON fields they read. Written
//! from reading them; the calls are theirs, the checks are what their code reads back.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::http::StatusCode;
use common::TestApp;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

const API: &str = "/api/autopilot";

/// What the board page's `load()` and `render()` read of each listed issue.
fn assert_card_fields(issue: &Value) {
    for field in ["id", "title", "kind", "status"] {
        assert!(!issue[field].is_null(), "{field} missing in {issue}");
    }
    for field in ["assignee", "branch"] {
        assert!(issue.get(field).is_some(), "{field} missing in {issue}");
    }
}

/// What `openDrawer()` reads: `{issue, comments}` with the issue's status, title, id, pr_url,
/// body and result, and each comment's author, author_kind, created_at and body.
fn assert_drawer_fields(detail: &Value) {
    let issue = &detail["issue"];
    for field in ["id", "title", "status", "body"] {
        assert!(!issue[field].is_null(), "issue.{field} missing in {detail}");
    }
    for field in ["pr_url", "result"] {
        assert!(issue.get(field).is_some(), "issue.{field} missing");
    }
    for comment in detail["comments"].as_array().expect("comments") {
        for field in ["author", "author_kind", "created_at", "body"] {
            assert!(!comment[field].is_null(), "{field} missing in {comment}");
        }
    }
    assert!(detail["attachments"].is_array());
}

/// A JSON call as the member (`path` under the API) that must answer `expected`: its JSON.
async fn call(app: &TestApp, method: &str, path: &str, body: Value, expected: StatusCode) -> Value {
    let reply = app.json(method, &format!("{API}{path}"), body).await;
    assert_eq!(reply.status, expected, "{method} {path}: {}", reply.text());
    reply.json()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let reply = app.get(&format!("{API}{path}")).await;
    assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.text());
    reply.json()
}

/// The original's `setStatus()`, once per status, each answered with the moved issue.
async fn move_through(app: &TestApp, id: i64, statuses: &[&str]) {
    for to in statuses {
        let path = format!("/issues/{id}/status");
        let moved = call(app, "POST", &path, json!({ "status": to }), StatusCode::OK).await;
        assert_eq!(moved["status"], *to);
    }
}

async fn the_board_page_lists_creates_opens_moves_and_comments() {
    let app = &TestApp::new().await;
    let me = get(app, "/me").await;

    // load(): the whole list, an array.
    assert_eq!(get(app, "/issues").await, json!([]));

    // create(): the new-issue form, kinds feature, bug and chore, straight to ready or not.
    let mut ids = Vec::new();
    for (title, kind, status) in [
        ("Export as CSV", "feature", "backlog"),
        ("Fix the login loop", "bug", "ready"),
        ("Bump the linter", "chore", "backlog"),
    ] {
        let body = json!({ "title": title, "body": "details", "kind": kind, "status": status,
                           "created_by": "human" });
        let issue = call(app, "POST", "/issues", body, StatusCode::CREATED).await;
        assert_eq!(issue["status"], status);
        assert_eq!(
            issue["created_by"], me["name"],
            "created_by is the caller, never what was sent"
        );
        ids.push(issue["id"].as_i64().unwrap());
    }
    let chore = get(app, &format!("/issues/{}", ids[2])).await;
    assert_eq!(chore["kind"], "task", "the original's chore is a task");

    let listed = get(app, "/issues").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    listed.iter().for_each(assert_card_fields);
    let ready = get(app, "/issues?status=ready").await;
    assert_eq!(ready.as_array().unwrap().len(), 1);

    // openDrawer(): `{issue, comments}`, and the same fields at the top level for Autopilot's
    // own clients.
    let id = ids[0];
    let detail = get(app, &format!("/issues/{id}")).await;
    assert_drawer_fields(&detail);
    assert_eq!(detail["issue"]["title"], "Export as CSV");
    assert_eq!(detail["title"], "Export as CSV");
    assert_eq!(detail["issue"]["id"], detail["id"]);

    // setStatus(): "Hand to agents", "Return to backlog"; then, as human work (only a runner
    // takes agent work to In progress), on to review, "Re-run" and "Accept".
    let human_work = json!({ "human_only": true });
    call(
        app,
        "PATCH",
        &format!("/issues/{id}"),
        human_work,
        StatusCode::OK,
    )
    .await;
    move_through(
        app,
        id,
        &["ready", "backlog", "ready", "in_progress", "in_review"],
    )
    .await;
    move_through(app, id, &["ready", "in_progress", "in_review", "done"]).await;
    let path = format!("/issues/{id}/status");
    let unknown = json!({ "status": "doing" });
    call(
        app,
        "POST",
        &path,
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // addComment(): author and author_kind are sent, and decided by the server.
    let path = format!("/issues/{id}/comments");
    let body = json!({ "author": "human", "author_kind": "agent", "body": "Looks good" });
    let answer = call(app, "POST", &path, body, StatusCode::CREATED).await;
    assert_eq!(answer["unblocked"], false);
    assert_eq!(answer["comment"]["body"], "Looks good");
    assert_eq!(
        answer["comment"]["author_kind"], "human",
        "a person's comment, whatever the caller claims"
    );
    assert_eq!(answer["comment"]["author"], me["name"]);
    let detail = get(app, &format!("/issues/{id}")).await;
    assert_drawer_fields(&detail);
    assert_eq!(detail["comments"].as_array().unwrap().len(), 1);
    assert_eq!(get(app, &path).await[0]["body"], "Looks good");
}

/// `TestHumanCommentUnblocks`: a person's answer on a blocked issue sends it back to ready.
async fn a_human_comment_unblocks() {
    let app = &TestApp::new().await;
    let body = json!({ "title": "blocked one", "human_only": true });
    let id = call(app, "POST", "/issues", body, StatusCode::CREATED).await["id"]
        .as_i64()
        .unwrap();
    move_through(app, id, &["ready", "in_progress", "blocked"]).await;
    let path = format!("/issues/{id}/comments");
    let body = json!({ "author": "fady", "author_kind": "human", "body": "use postgres" });
    let answer = call(app, "POST", &path, body, StatusCode::CREATED).await;
    assert_eq!(answer["unblocked"], true);
    let detail = get(app, &format!("/issues/{id}")).await;
    assert_eq!(detail["issue"]["status"], "ready");
}

/// `TestPriorityAndHumanOnlyPersist`: create with a priority and human_only, then patch the
/// priority to the original's `critical` (Autopilot's `urgent`).
async fn priority_and_human_only_persist() {
    let app = &TestApp::new().await;
    let body = json!({ "title": "guarded", "kind": "bug", "priority": "high", "human_only": true });
    let issue = call(app, "POST", "/issues", body, StatusCode::CREATED).await;
    assert_eq!(
        (issue["priority"].as_str(), issue["human_only"].as_bool()),
        (Some("high"), Some(true))
    );
    let id = issue["id"].as_i64().unwrap();

    let patch = json!({ "priority": "critical", "human_only": false });
    call(
        app,
        "PATCH",
        &format!("/issues/{id}"),
        patch,
        StatusCode::OK,
    )
    .await;
    let got = get(app, &format!("/issues/{id}")).await;
    assert_eq!(got["issue"]["priority"], "urgent", "critical is urgent");
    assert_eq!(got["issue"]["human_only"], false);
}

/// `TestAttachmentUploadServeRoundTrip`: the upload answers `{id, name, size, url}`, `url`
/// gives the bytes back, and the issue lists it.
async fn an_upload_round_trips_through_its_url() {
    let app = &TestApp::new().await;
    let id = app.create("with media").await["id"].as_i64().unwrap();
    let boundary = "GoMultipartBoundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"shot.png\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nPNG-BYTES-123\r\n--{boundary}--\r\n"
    );
    let up = app
        .raw(
            "POST",
            &format!("{API}/issues/{id}/attachments"),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    let attachment = up.json();
    assert_eq!(attachment["name"], "shot.png");
    assert_eq!(attachment["size"], 13);
    assert!(!attachment["id"].is_null());
    let url = attachment["url"].as_str().expect("url");

    let served = app.get(url).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, b"PNG-BYTES-123");

    let listed = get(app, &format!("/issues/{id}/attachments")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["url"], url);
    let detail = get(app, &format!("/issues/{id}")).await;
    assert_eq!(detail["attachments"][0]["name"], "shot.png");
    assert_eq!(detail["attachments"][0]["url"], url);
}

/// Fields that are neither the original's nor Autopilot's are refused by name, and nothing is
/// written.
async fn unknown_fields_are_still_refused_by_name() {
    let app = &TestApp::new().await;
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let body = json!({ "title": "x", "created_by": "human", "colour": "red" });
    let answer = call(app, "POST", "/issues", body, refused).await;
    assert!(answer.to_string().contains("colour"), "{answer}");
    assert_eq!(get(app, "/issues").await, json!([]));

    let id = app.create("x").await["id"].as_i64().unwrap();
    let path = format!("/issues/{id}/comments");
    let body = json!({ "author": "a", "body": "hi", "mood": "happy" });
    let answer = call(app, "POST", &path, body, refused).await;
    assert!(answer.to_string().contains("mood"), "{answer}");
    assert_eq!(get(app, &path).await, json!([]));
}

/// The board page's live channel: a WebSocket at `/api/autopilot/ws` that says hello, then
/// names each change; the page reloads on anything but hello.
async fn the_live_socket_says_hello_then_names_each_change() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = server::http::Limits {
        header_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        max_connections: 64,
        max_requests: 16,
        queue_timeout: Duration::from_secs(5),
    };
    tokio::spawn(server::http::serve(
        listener,
        app.router.clone(),
        limits,
        std::future::pending(),
    ));

    let url = format!("ws://{addr}{API}/ws");
    let anonymous = tokio_tungstenite::connect_async(url.as_str()).await;
    assert!(anonymous.is_err(), "the socket needs a token or a session");

    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", app.member_token).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(next_message(&mut socket).await, json!({ "type": "hello" }));

    let id = app.create("live").await["id"].as_i64().unwrap();
    let created = next_message(&mut socket).await;
    assert_eq!(
        (created["type"].as_str(), created["id"].as_i64()),
        (Some("issue.created"), Some(id))
    );
    app.json(
        "POST",
        &format!("{API}/issues/{id}/status"),
        json!({ "status": "ready" }),
    )
    .await;
    let moved = next_message(&mut socket).await;
    assert_eq!(
        moved,
        json!({ "type": "issue.status", "id": id, "status": "ready" })
    );
    app.json(
        "POST",
        &format!("{API}/issues/{id}/comments"),
        json!({ "body": "hi" }),
    )
    .await;
    let commented = next_message(&mut socket).await;
    assert_eq!(
        commented,
        json!({ "type": "comment.added", "issue_id": id, "author_kind": "human" })
    );

    // The original's page opens it with its session cookie: fine from the board's own origin,
    // refused from another site's page (which no CORS rule would stop from reading it).
    let cookie = app.sign_in(common::MEMBER_EMAIL).await;
    let from = |origin: &str| {
        let mut request = url.as_str().into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("cookie", cookie.parse().unwrap());
        headers.insert("origin", origin.parse().unwrap());
        request
    };
    let (mut ours, _) = tokio_tungstenite::connect_async(from(common::ORIGIN))
        .await
        .expect("the board's own page may open it");
    assert_eq!(next_message(&mut ours).await, json!({ "type": "hello" }));
    match tokio_tungstenite::connect_async(from("http://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("a foreign page's socket was not refused: {other:?}"),
    }
}

/// The socket's next text message, as JSON.
async fn next_message<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("open")
            .expect("no error");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

on_both_engines!(
    the_board_page_lists_creates_opens_moves_and_comments,
    a_human_comment_unblocks,
    priority_and_human_only_persist,
    an_upload_round_trips_through_its_url,
    unknown_fields_are_still_refused_by_name,
    the_live_socket_says_hello_then_names_each_change,
);
