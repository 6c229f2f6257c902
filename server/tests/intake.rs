//! Issues that arrive without a person at the board: the public feedback route's switch and
//! origin check, the scripts other sites load, and self-heal.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use app::error::AppError;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use common::{Caller, TestApp};
use serde_json::json;
use tower::ServiceExt;

fn feedback(origin: Option<&str>, message: &str) -> Request<Body> {
    let mut req =
        Request::post("/api/autopilot/feedback").header(header::CONTENT_TYPE, "application/json");
    if let Some(origin) = origin {
        req = req.header(header::ORIGIN, origin);
    }
    req.body(Body::from(json!({ "message": message }).to_string()))
        .unwrap()
}

async fn feedback_count(app: &TestApp) -> usize {
    app.get("/api/autopilot/issues?kind=feedback")
        .await
        .json()
        .as_array()
        .unwrap()
        .len()
}

async fn a_page_on_a_site_not_allowed_cannot_file_feedback() {
    let app = TestApp::new().await;
    let refused = app.send(feedback(Some("https://evil.example"), "hi")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "forbidden");
    assert_eq!(feedback_count(&app).await, 0);

    let allowed = app.send(feedback(Some("https://shop.example"), "hi")).await;
    assert_eq!(allowed.status, StatusCode::CREATED);
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    // The original widget posts with credentials included: the browser needs this to read
    // the answer, after a preflight that says the same.
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    let preflight = Request::options("/api/autopilot/feedback")
        .header(header::ORIGIN, "https://shop.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap();
    let preflight = app.send(preflight).await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );
    assert_eq!(
        preflight.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    // The board's own pages, and scripts that send no Origin, may file too.
    let own = app
        .send(feedback(Some(common::ORIGIN), "from the board"))
        .await;
    assert_eq!(own.status, StatusCode::CREATED);
    let script = app.send(feedback(None, "from curl")).await;
    assert_eq!(script.status, StatusCode::CREATED);
    assert_eq!(feedback_count(&app).await, 3);
}

async fn admins_can_close_the_public_route_and_open_it_again() {
    let app = TestApp::new().await;
    let set = |caller: Caller, open: bool| {
        let app = &app;
        async move {
            app.call(
                &caller,
                "POST",
                "/api/set_feedback_open",
                Some("application/x-www-form-urlencoded"),
                format!("open={open}"),
            )
            .await
        }
    };
    // Members may not.
    assert_eq!(set(app.member(), false).await.status, StatusCode::FORBIDDEN);
    assert_eq!(set(app.admin(), false).await.status, StatusCode::OK);

    let closed = app.send(feedback(None, "anyone there?")).await;
    assert_eq!(closed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(closed.error_code(), "unavailable");
    assert_eq!(feedback_count(&app).await, 0);
    let switches = app
        .call(
            &app.admin(),
            "POST",
            "/api/get_switches",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(switches.json()["feedback_open"], false);

    assert_eq!(set(app.admin(), true).await.status, StatusCode::OK);
    let open = app.send(feedback(None, "hello again")).await;
    assert_eq!(open.status, StatusCode::CREATED);
    assert_eq!(feedback_count(&app).await, 1);
}

async fn feedback_issues_are_marked_and_filterable() {
    let app = TestApp::new().await;
    app.create("a task").await;
    app.send(feedback(None, "The checkout button is grey"))
        .await;
    let only = app.get("/api/autopilot/issues?kind=feedback").await.json();
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["kind"], "feedback");
    assert_eq!(only[0]["status"], "backlog");
    assert_eq!(only[0]["created_by"], "public");
    let board = app
        .call(&app.member(), "GET", "/?kind=feedback", None, Body::empty())
        .await
        .text();
    assert!(
        board.contains("kind-feedback"),
        "feedback cards carry their mark"
    );
    assert!(
        !board.contains("a task"),
        "the kind filter hides other issues"
    );
}

async fn the_widget_and_the_sdk_are_served_to_any_site() {
    let app = TestApp::new().await;
    for path in ["/autopilot/feedback.js", "/autopilot/sdk.js"] {
        let r = app
            .call(&Caller::Anonymous, "GET", path, None, Body::empty())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert_eq!(r.headers["cross-origin-resource-policy"], "cross-origin");
        assert!(r.text().contains("use strict"));
    }
}

async fn me_names_the_caller_and_needs_a_sign_in() {
    let app = TestApp::new().await;
    let me = app.get("/api/autopilot/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["role"], "member");
    let anonymous = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/api/autopilot/me",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// A router with routes that fail, wrapped by self-heal exactly as the server does it.
fn failing_router(app: &TestApp) -> Router {
    let routes = Router::new()
        .route(
            "/api/boom/{secret}",
            get(|| async {
                if true {
                    panic!("boom: the widget exploded\n   at some/stack/frame.rs:12");
                }
            }),
        )
        .route(
            "/api/broken",
            get(|| async { Err::<(), AppError>(AppError::Internal) }),
        )
        .route("/api/fine", get(|| async { "ok" }));
    server::routes::self_heal::install(routes, &app.state).with_state(app.state.clone())
}

async fn hit(router: &Router, path: &str) -> StatusCode {
    router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
        .status()
}

/// Self-heal files in the background; wait until `n` bugs exist.
async fn bugs(app: &TestApp, n: usize) -> serde_json::Value {
    for _ in 0..100 {
        let bugs = app.get("/api/autopilot/issues?kind=bug").await.json();
        if bugs.as_array().unwrap().len() >= n {
            return bugs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("expected {n} bug(s)");
}

async fn self_heal_files_one_bug_per_failure_and_counts_repeats() {
    let app = TestApp::new().await;
    let router = failing_router(&app);

    assert_eq!(
        hit(&router, "/api/boom/token-s3cret").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let filed = bugs(&app, 1).await;
    let bug = &filed[0];
    assert_eq!(bug["status"], "backlog");
    assert_eq!(bug["created_by"], "system");
    let id = bug["id"].as_i64().unwrap();
    let detail = app.get(&format!("/api/autopilot/issues/{id}")).await.json();
    let body = detail["body"].as_str().unwrap();
    assert!(body.contains("GET"), "{body}");
    assert!(
        body.contains("/api/boom/{secret}"),
        "the route template: {body}"
    );
    assert!(body.contains("panic: boom: the widget exploded"), "{body}");
    assert!(!body.contains("s3cret"), "never the raw URL: {body}");
    assert!(!body.contains("stack/frame"), "no stack: {body}");

    // The server is still up, and the same failure again counts on the same issue.
    assert_eq!(hit(&router, "/api/fine").await, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(
            hit(&router, "/api/boom/other").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    for _ in 0..100 {
        if app.store.failure_occurrences(id).await.unwrap() == Some(3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.store.failure_occurrences(id).await.unwrap(), Some(3));
    let events = app
        .get(&format!("/api/autopilot/issues/{id}/events"))
        .await
        .json();
    let recurred = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "recurred")
        .count();
    assert_eq!(recurred, 2);

    // A different failure is a different issue.
    assert_eq!(
        hit(&router, "/api/broken").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let filed = bugs(&app, 2).await;
    assert_eq!(filed.as_array().unwrap().len(), 2);
}

async fn a_repeat_after_the_issue_is_done_files_a_new_one() {
    let app = TestApp::new().await;
    let report = || app::domain::NewIssue {
        title: "Server error".into(),
        kind: app::domain::Kind::Bug,
        ..Default::default()
    };
    let (first, n) = app
        .store
        .record_failure("GET /x 500 boom", report())
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (again, n) = app
        .store
        .record_failure("GET /x 500 boom", report())
        .await
        .unwrap();
    assert_eq!((again, n), (first, 2));
    let admin = app::domain::Actor::new(app::domain::Role::Admin, "Root");
    app.store
        .update_issue(
            &admin,
            first,
            app::domain::IssuePatch {
                human_only: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for to in ["ready", "in_progress", "in_review", "done"] {
        app.store
            .move_issue(&admin, first, to.parse().unwrap(), None)
            .await
            .unwrap();
    }
    let (fresh, n) = app
        .store
        .record_failure("GET /x 500 boom", report())
        .await
        .unwrap();
    assert_ne!(fresh, first);
    assert_eq!(n, 1);
}

/// A7: feedback is limited per client, and an IPv6 client is its /64: fresh addresses in
/// the same /64 share one allowance (5 a minute), the next /64 has its own.
async fn feedback_from_one_ipv6_64_shares_one_limit() {
    use axum::extract::ConnectInfo;
    use std::net::{IpAddr, SocketAddr};
    let app = TestApp::new().await;
    let from = |peer: &str, message: &str| {
        let mut req = feedback(None, message);
        let peer: IpAddr = peer.parse().unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer, 50_000)));
        req
    };
    for i in 0..5 {
        let r = app
            .send(from(&format!("2001:db8:9:1::{}", i + 1), "from a sibling"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let sibling = app
        .send(from("2001:db8:9:1:abcd:ef01:2345:6789", "one more"))
        .await;
    assert_eq!(
        sibling.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        sibling.text()
    );
    assert_eq!(sibling.error_code(), "rate_limited");
    assert!(sibling.headers.contains_key(header::RETRY_AFTER));
    let neighbour = app.send(from("2001:db8:9:2::1", "next door")).await;
    assert_eq!(
        neighbour.status,
        StatusCode::CREATED,
        "{}",
        neighbour.text()
    );
    assert_eq!(feedback_count(&app).await, 6);
    assert_eq!(app.state.feedback_limits.tracked(), 2);
}

/// A day's feedback from everyone together has a cap (AUTOPILOT_FEEDBACK_PER_DAY), counted
/// in the database, and the hourly clean-up does not reset it: clients that each stay within
/// their minute's allowance are refused once the day's count is reached.
async fn feedback_has_a_daily_cap_that_clean_up_keeps() {
    use axum::extract::ConnectInfo;
    use std::net::{IpAddr, SocketAddr};
    let app = TestApp::new().await;
    let cap = common::FEEDBACK_PER_DAY as usize;
    let from = |client: usize| {
        let mut req = feedback(None, &format!("from client {client}"));
        let peer: IpAddr = format!("198.51.{}.{}", client / 200, client % 200 + 1)
            .parse()
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer, 50_000)));
        req
    };
    for client in 0..cap {
        let r = app.send(from(client)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        if client == cap / 2 {
            app.store.forget_ended_rate_windows().await.unwrap();
        }
    }
    app.store.forget_ended_rate_windows().await.unwrap();
    let over = app.send(from(cap)).await;
    assert_eq!(
        over.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        over.text()
    );
    assert_eq!(over.error_code(), "rate_limited");
    assert!(over.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(feedback_count(&app).await, cap);
}

on_both_engines!(
    feedback_has_a_daily_cap_that_clean_up_keeps,
    feedback_from_one_ipv6_64_shares_one_limit,
    a_page_on_a_site_not_allowed_cannot_file_feedback,
    admins_can_close_the_public_route_and_open_it_again,
    feedback_issues_are_marked_and_filterable,
    the_widget_and_the_sdk_are_served_to_any_site,
    me_names_the_caller_and_needs_a_sign_in,
    self_heal_files_one_bug_per_failure_and_counts_repeats,
    a_repeat_after_the_issue_is_done_files_a_new_one,
);
