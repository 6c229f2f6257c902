//! Webhooks on both engines: admins manage endpoints through the API (and nobody else can),
//! the board's changes are delivered signed and in order to a real HTTP receiver, a failing
//! receiver is retried and its circuit shows, a day of failures turns an endpoint off without
//! losing what waits, private addresses are refused unless allowed, redirects to another host
//! are not followed, and big answers are cut short. (scripts/webhook-check.sh checks the
//! signatures with the `standardwebhooks` library, kill -9 and a receiver that is down.)

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use common::{Caller, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver got: each request's headers and body.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Value)>>>);

impl Received {
    fn all(&self) -> Vec<(HeaderMap, Value)> {
        self.0.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Value)> {
        for _ in 0..200 {
            if self.0.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.all()
    }
}

/// A receiver on 127.0.0.1 answering `status` (shared, so a test can change it), and its
/// address.
async fn receiver(status: Arc<Mutex<u16>>) -> (String, Received) {
    let got = Received::default();
    let sink = got.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (sink, status) = (sink.clone(), status.clone());
                async move {
                    let code = *status.lock().unwrap();
                    if code < 300 {
                        let value = serde_json::from_str(&body).unwrap_or(Value::Null);
                        sink.0.lock().unwrap().push((headers, value));
                    }
                    (StatusCode::from_u16(code).unwrap(), "x".repeat(100_000))
                }
            }),
        )
        .route(
            "/elsewhere",
            axum::routing::post(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [("location", "http://127.0.0.2:9/hook")],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

/// This board's sender, running until the test ends.
fn spawn_sender(app: &TestApp, board_url: &str) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Never stopped: the test's runtime ends it.
    std::mem::forget(stop);
    server::webhooks::spawn(app.store.clone(), board_url.into(), stopped).unwrap();
}

async fn add_endpoint(app: &TestApp, body: Value) -> (i64, String) {
    let r = app
        .call(
            &app.admin(),
            "POST",
            "/api/autopilot/webhooks",
            Some("application/json"),
            body.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    (
        v["endpoint"]["id"].as_i64().unwrap(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

async fn admin_call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> common::Reply {
    match body {
        Some(body) => {
            app.call(
                &app.admin(),
                method,
                path,
                Some("application/json"),
                body.to_string(),
            )
            .await
        }
        None => {
            app.call(&app.admin(), method, path, None, Body::empty())
                .await
        }
    }
}

async fn deliveries(app: &TestApp, id: i64) -> Vec<Value> {
    let r = admin_call(
        app,
        "GET",
        &format!("/api/autopilot/webhooks/{id}/deliveries"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json().as_array().unwrap().clone()
}

/// The endpoint's delivery log once `done` holds for it, or as it is after 10 s.
async fn wait_log(app: &TestApp, id: i64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let all = deliveries(app, id).await;
        if done(&all) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    deliveries(app, id).await
}

/// The log once it holds `n` deliveries, all delivered. The receiver has a request before the
/// sender records its answer, so a test that saw the requests arrive waits for the log too.
async fn wait_delivered(app: &TestApp, id: i64, n: usize) -> Vec<Value> {
    wait_log(app, id, |all| {
        all.len() >= n && all.iter().all(|d| d["state"] == "delivered")
    })
    .await
}

/// Waits until the endpoint's newest delivery has been tried `attempts` times.
async fn wait_attempts(app: &TestApp, id: i64, attempts: i64) -> Value {
    let tried = |all: &[Value]| {
        all.first()
            .is_some_and(|d| d["attempts"].as_i64() >= Some(attempts))
    };
    let all = wait_log(app, id, tried).await;
    assert!(tried(&all), "no attempt recorded: {all:?}");
    all[0].clone()
}

async fn only_admins_manage_endpoints_and_bad_input_changes_nothing() {
    let app = TestApp::new().await;
    let good = json!({"url": "https://hooks.example/x", "events": ["issue.moved"]});
    // A member, or an admin's token without the admin scope: refused.
    let r = app
        .call(
            &app.member(),
            "POST",
            "/api/autopilot/webhooks",
            Some("application/json"),
            good.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let narrow = common::add_token(&app.store, common::ADMIN_EMAIL, "read,write", None).await;
    let r = app
        .call(
            &Caller::Bearer(narrow),
            "GET",
            "/api/autopilot/webhooks",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("admin"), "{}", r.text());
    let r = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/api/autopilot/webhooks",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Bad input: a clear 4xx each, and nothing made.
    for (body, field) in [
        (
            json!({"url": "ftp://x.example", "events": ["issue.moved"]}),
            "url",
        ),
        (
            json!({"url": "https://user:pw@x.example", "events": ["issue.moved"]}),
            "password",
        ),
        (json!({"url": "https://x.example", "events": []}), "events"),
        (
            json!({"url": "https://x.example", "events": ["issue.deleted"]}),
            "issue.deleted",
        ),
        (
            json!({"url": "https://x.example", "events": ["issue.moved"], "format": "teams"}),
            "teams",
        ),
        (
            json!({"url": "https://x.example", "events": ["issue.moved"], "secret": "mine"}),
            "secret",
        ),
        (json!({"url": 7, "events": ["issue.moved"]}), "url"),
        (
            json!({"url": "https://x.example", "events": ["issue.moved"], "description": "d".repeat(201)}),
            "description",
        ),
    ] {
        let r = admin_call(&app, "POST", "/api/autopilot/webhooks", Some(body.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        assert!(r.text().contains(field), "{body}: {}", r.text());
    }
    let r = app
        .call(
            &app.admin(),
            "POST",
            "/api/autopilot/webhooks",
            Some("application/json"),
            "{not json",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let huge = json!({"url": "https://x.example", "events": vec!["issue.moved"; 5000]});
    let r = admin_call(&app, "POST", "/api/autopilot/webhooks", Some(huge)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(app.store.list_webhooks().await.unwrap().is_empty());

    // Add, read, change, rotate, remove.
    let (id, secret) = add_endpoint(&app, good.clone()).await;
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    let listed = admin_call(&app, "GET", "/api/autopilot/webhooks", None)
        .await
        .json();
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["state"], "active");
    assert_eq!(listed[0]["format"], "standard");
    assert!(listed[0].get("secret").is_none(), "{listed}");
    assert!(!listed.to_string().contains(&secret));
    let changed = admin_call(
        &app,
        "PUT",
        &format!("/api/autopilot/webhooks/{id}"),
        Some(json!({"url": "https://chat.example/hook", "events": ["run.finished", "run.finished"], "format": "slack", "enabled": false})),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let changed = changed.json();
    assert_eq!(changed["events"], json!(["run.finished"]));
    assert_eq!(changed["state"], "off");
    let rotated = admin_call(
        &app,
        "POST",
        &format!("/api/autopilot/webhooks/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert!(rotated.json()["old_secret_until"].as_i64().unwrap() > app::store::now_ms());
    for missing in [
        ("GET", "/api/autopilot/webhooks/999".to_string()),
        ("DELETE", "/api/autopilot/webhooks/999".to_string()),
        ("POST", "/api/autopilot/webhooks/999/test".to_string()),
        ("GET", "/api/autopilot/webhooks/999/deliveries".to_string()),
        (
            "POST",
            format!("/api/autopilot/webhooks/{id}/deliveries/999/redeliver"),
        ),
    ] {
        let r = admin_call(&app, missing.0, &missing.1, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing:?}: {}", r.text());
    }
    let r = admin_call(&app, "GET", "/api/autopilot/webhooks/abc", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = admin_call(
        &app,
        "DELETE",
        &format!("/api/autopilot/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(app.store.list_webhooks().await.unwrap().is_empty());
}

async fn changes_are_delivered_signed_in_order_with_the_issue_and_who() {
    let app = TestApp::new().await;
    let status = Arc::new(Mutex::new(200));
    let (base, got) = receiver(status.clone()).await;
    let events = [
        "issue.created",
        "issue.moved",
        "issue.commented",
        "issue.assigned",
    ];
    let (id, secret) = add_endpoint(
        &app,
        json!({"url": format!("{base}/hook"), "events": events, "allow_private": true}),
    )
    .await;
    // An admin-turned-off endpoint hears nothing, so queues nothing.
    let (off, _) = add_endpoint(
        &app,
        json!({"url": format!("{base}/hook"), "events": events, "allow_private": true, "enabled": false}),
    )
    .await;
    spawn_sender(&app, "https://board.example");

    let issue = app.create("Webhooks fire").await;
    let n = issue["id"].as_i64().unwrap();
    let r = app
        .json(
            "POST",
            &format!("/api/autopilot/issues/{n}/status"),
            json!({"status": "ready"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    app.json(
        "POST",
        &format!("/api/autopilot/issues/{n}/comments"),
        json!({"body": "Looks right"}),
    )
    .await;
    let version = app.get(&format!("/api/autopilot/issues/{n}")).await.json()["version"].clone();
    let r = app
        .json(
            "PATCH",
            &format!("/api/autopilot/issues/{n}"),
            json!({"assignee": "ann", "version": version}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let all = got.wait_for(4).await;
    let kinds: Vec<&str> = all
        .iter()
        .map(|(_, v)| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, events, "in the order they happened");
    for (headers, body) in &all {
        let id = headers["webhook-id"].to_str().unwrap();
        let ts: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((ts - app::store::now_ms() / 1000).abs() < 60);
        let raw = body.to_string();
        let expected =
            server::webhooks::signature(std::slice::from_ref(&secret), id, ts, raw.as_bytes());
        assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
        assert_eq!(body["schema_version"], 1);
        assert_eq!(body["data"]["issue"]["id"], n);
        assert_eq!(
            body["data"]["issue"]["url"],
            format!("https://board.example/?issue={n}")
        );
        assert_eq!(body["data"]["actor"], "Ann");
    }
    assert_eq!(all[1].1["data"]["from"], "backlog");
    assert_eq!(all[1].1["data"]["to"], "ready");
    assert_eq!(all[2].1["data"]["comment"]["body"], "Looks right");
    assert_eq!(all[3].1["data"]["issue"]["assignee"], "ann");
    let ids: std::collections::HashSet<_> =
        all.iter().map(|(h, _)| h["webhook-id"].clone()).collect();
    assert_eq!(ids.len(), 4);

    // The log says each was delivered, with its status and latency; the turned-off endpoint
    // queued nothing.
    let log = wait_delivered(&app, id, 4).await;
    assert_eq!(log.len(), 4);
    assert!(log
        .iter()
        .all(|d| d["state"] == "delivered" && d["last_status"] == 200));
    assert!(log
        .iter()
        .all(|d| d["response_excerpt"].as_str().unwrap() == "x".repeat(500)));
    assert!(deliveries(&app, off).await.is_empty());

    // Redeliver: the same webhook-id and body again.
    let first = &log[3];
    let r = admin_call(
        &app,
        "POST",
        &format!(
            "/api/autopilot/webhooks/{id}/deliveries/{}/redeliver",
            first["id"]
        ),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let again = got.wait_for(5).await;
    assert_eq!(again[4].0["webhook-id"], all[0].0["webhook-id"]);
    assert_eq!(again[4].1, all[0].1);

    // A test event reaches the endpoint whatever it chose.
    let r = admin_call(
        &app,
        "POST",
        &format!("/api/autopilot/webhooks/{id}/test"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let with_ping = got.wait_for(6).await;
    assert_eq!(with_ping[5].1["type"], "ping");
}

async fn a_failing_receiver_is_retried_in_order_and_a_day_of_failures_turns_it_off() {
    let app = TestApp::new().await;
    let status = Arc::new(Mutex::new(503));
    let (base, got) = receiver(status.clone()).await;
    let (id, _) = add_endpoint(
        &app,
        json!({"url": format!("{base}/hook"), "events": ["issue.created"], "allow_private": true}),
    )
    .await;
    spawn_sender(&app, "http://b");
    let first = app.create("one").await["id"].clone();
    let failed = wait_attempts(&app, id, 1).await;
    assert_eq!(failed["state"], "pending");
    assert_eq!(failed["last_status"], 503);
    assert!(failed["last_error"].as_str().unwrap().contains("503"));
    let wait =
        failed["next_attempt_at"].as_i64().unwrap() - failed["last_attempt_at"].as_i64().unwrap();
    assert!(
        (4_000..=6_500).contains(&wait),
        "first retry after about 5 s: {wait}"
    );
    // What comes after waits behind it: order per endpoint.
    app.create("two").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = deliveries(&app, id).await;
    assert_eq!(log[0]["attempts"], 0, "{log:?}");

    // The receiver is fixed; "retry now" sends both, in order.
    *status.lock().unwrap() = 200;
    let r = admin_call(
        &app,
        "POST",
        &format!("/api/autopilot/webhooks/{id}/retry"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let all = got.wait_for(2).await;
    assert_eq!(all[0].1["data"]["issue"]["id"], first);
    assert_eq!(all[1].1["data"]["issue"]["title"], "two");
    // Both answers recorded (the receiver had them first): nothing waits, nothing failed.
    let delivered = wait_delivered(&app, id, 2).await;
    assert!(
        delivered.iter().all(|d| d["state"] == "delivered"),
        "{delivered:?}"
    );
    let endpoint = admin_call(&app, "GET", &format!("/api/autopilot/webhooks/{id}"), None)
        .await
        .json();
    assert_eq!(endpoint["failures"], 0);
    assert_eq!(endpoint["pending"], 0);

    // The circuit: several failures in a row show as failing; a day of them turns the endpoint
    // off, keeping what waits for when an admin turns it on again.
    *status.lock().unwrap() = 500;
    let sender = "test-sender";
    let (other, _) = add_endpoint(
        &app,
        json!({"url": "https://hooks.example/x", "events": ["issue.moved"]}),
    )
    .await;
    let store = &app.store;
    // Held by this test, so the spawned sender keeps off it.
    assert!(store
        .lease_webhook(other, sender, 3_600_000)
        .await
        .unwrap()
        .is_some());
    let moved = app.create("three").await["id"].as_i64().unwrap();
    app.json(
        "POST",
        &format!("/api/autopilot/issues/{moved}/status"),
        json!({"status": "ready"}),
    )
    .await;
    let head = store.next_webhook_delivery(other).await.unwrap().unwrap();
    let fail = |retry_at| app::store::Attempt {
        ok: false,
        status: Some(500),
        error: Some("500 Internal Server Error".into()),
        retry_at,
        ..Default::default()
    };
    for _ in 0..app::domain::WEBHOOK_CIRCUIT_FAILURES {
        assert!(store
            .record_webhook_attempt(other, head.id, sender, fail(0))
            .await
            .unwrap());
    }
    let failing = store.webhook(other).await.unwrap();
    assert_eq!(failing.state, app::domain::EndpointState::Failing);
    assert!(failing.failing_since.is_some());
    assert_eq!(
        failing.next_retry_at,
        Some(0),
        "the retry the last attempt asked for"
    );
    // Another sender's answer is not recorded.
    assert!(!store
        .record_webhook_attempt(other, head.id, "someone-else", fail(0))
        .await
        .unwrap());
    let a_day_later = app::store::Attempt {
        at: app::store::now_ms() + app::domain::WEBHOOK_GIVE_UP_MS + 1_000,
        ..fail(0)
    };
    assert!(store
        .record_webhook_attempt(other, head.id, sender, a_day_later)
        .await
        .unwrap());
    let off = store.webhook(other).await.unwrap();
    assert_eq!(off.state, app::domain::EndpointState::Off);
    assert!(
        off.off_reason.as_deref().unwrap().contains("a day"),
        "{:?}",
        off.off_reason
    );
    assert_eq!(off.pending, 1);
    // Still hearing events while off by failure: nothing is lost.
    app.json(
        "POST",
        &format!("/api/autopilot/issues/{moved}/status"),
        json!({"status": "backlog"}),
    )
    .await;
    assert_eq!(store.webhook(other).await.unwrap().pending, 2);
    let mut input = app::domain::WebhookInput {
        url: off.url.clone(),
        format: off.format,
        events: off.events.clone(),
        description: String::new(),
        enabled: true,
        allow_private: false,
    };
    let on = store.update_webhook(other, input.clone()).await.unwrap();
    assert_eq!(on.state, app::domain::EndpointState::Active);
    assert_eq!(on.failures, 0);
    assert!(on.off_reason.is_none());
    // Turned off by an admin, it hears nothing more.
    input.enabled = false;
    store.update_webhook(other, input).await.unwrap();
    app.json(
        "POST",
        &format!("/api/autopilot/issues/{moved}/status"),
        json!({"status": "ready"}),
    )
    .await;
    assert_eq!(store.webhook(other).await.unwrap().pending, 2);
}

async fn private_addresses_redirects_elsewhere_and_big_answers_are_held_back() {
    let app = TestApp::new().await;
    let status = Arc::new(Mutex::new(200));
    let (base, got) = receiver(status).await;
    let port = base.rsplit(':').next().unwrap().to_string();
    spawn_sender(&app, "http://b");
    // By address, however written: refused at once without the switch, nothing added.
    for url in [
        format!("{base}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://0x7f000001/".to_string(),
        "http://2130706433/".to_string(),
        "http://[::ffff:127.0.0.1]/".to_string(),
        "http://[fd00::1]/".to_string(),
    ] {
        let r = admin_call(
            &app,
            "POST",
            "/api/autopilot/webhooks",
            Some(json!({"url": url, "events": ["issue.created"]})),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.text()
        );
        assert!(r.text().contains("private address"), "{url}: {}", r.text());
    }
    assert!(app.store.list_webhooks().await.unwrap().is_empty());
    // By a name that resolves to loopback: refused when sending (the address the name has
    // then is the one that counts).
    let (named, _) = add_endpoint(
        &app,
        json!({"url": format!("http://localhost:{port}/hook"), "events": ["issue.created"]}),
    )
    .await;
    // Allowed, but answering with a redirect to another host: not followed.
    let (redirected, _) = add_endpoint(
        &app,
        json!({"url": format!("{base}/elsewhere"), "events": ["issue.created"], "allow_private": true}),
    )
    .await;
    app.create("probe").await;
    let d = wait_attempts(&app, named, 1).await;
    assert_eq!(d["state"], "pending");
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("private address"),
        "{d}"
    );
    assert!(d["last_status"].is_null());

    let d = wait_attempts(&app, redirected, 1).await;
    assert_eq!(d["last_status"], 307, "{d}");
    assert!(
        d["last_error"].as_str().unwrap().contains("redirect"),
        "{d}"
    );
    assert!(got.all().is_empty(), "nothing reached the receiver");
}

async fn two_senders_on_one_database_send_each_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let url = engines::fresh_database(dir.path()).await;
    let app = TestApp::on_database(&url, dir).await;
    let status = Arc::new(Mutex::new(200));
    let (base, got) = receiver(status).await;
    add_endpoint(
        &app,
        json!({"url": format!("{base}/hook"), "events": ["issue.created"], "allow_private": true}),
    )
    .await;
    // Two servers' senders: this board's, and one on a pool of its own (another process's,
    // as far as the database can tell).
    spawn_sender(&app, "http://one");
    let other = app::store::Store::open(&url).await.unwrap();
    let (keep, stopped) = tokio::sync::watch::channel(false);
    server::webhooks::spawn(other, "http://one".into(), stopped).unwrap();
    let mut titles = Vec::new();
    for n in 0..30 {
        let title = format!("event {n}");
        app.create(&title).await;
        titles.push(title);
    }
    let all = got.wait_for(30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all_now = got.all();
    assert_eq!(all_now.len(), 30, "each once: {}", all_now.len());
    let seen: Vec<String> = all
        .iter()
        .map(|(_, v)| v["data"]["issue"]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, titles, "in order");
    drop(keep);
}

async fn feedback_is_heard_and_a_stopped_sender_lets_go_of_its_endpoints() {
    let app = TestApp::new().await;
    let (base, got) = receiver(Arc::new(Mutex::new(200))).await;
    let (id, _) = add_endpoint(
        &app,
        json!({"url": format!("{base}/hook"), "events": ["issue.created", "feedback.received"], "allow_private": true}),
    )
    .await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sender = server::webhooks::spawn(app.store.clone(), "http://b".into(), stopped).unwrap();
    // Feedback from the widget: an issue created, and feedback received.
    let req = axum::http::Request::post("/api/autopilot/feedback")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"message": "The checkout button is grey"}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::CREATED);
    let all = got.wait_for(2).await;
    let kinds: Vec<_> = all.iter().map(|(_, v)| v["type"].clone()).collect();
    assert_eq!(kinds, ["issue.created", "feedback.received"]);
    assert_eq!(all[1].1["data"]["actor"], "public");
    assert_eq!(all[1].1["data"]["issue"]["kind"], "feedback");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(15), sender)
        .await
        .expect("the sender stops")
        .unwrap();
    // Its lease is gone: another server may take the endpoint at once.
    assert!(app
        .store
        .lease_webhook(id, "next-server", 30_000)
        .await
        .unwrap()
        .is_some());
}

async fn chat_endpoints_get_a_readable_line() {
    let app = TestApp::new().await;
    let (base, got) = receiver(Arc::new(Mutex::new(200))).await;
    for format in ["slack", "discord"] {
        add_endpoint(
            &app,
            json!({"url": format!("{base}/hook"), "events": ["issue.moved"], "format": format, "allow_private": true}),
        )
        .await;
    }
    spawn_sender(&app, "https://board.example");
    let n = app.create("Ship <it> @everyone").await["id"]
        .as_i64()
        .unwrap();
    app.json(
        "POST",
        &format!("/api/autopilot/issues/{n}/status"),
        json!({"status": "ready"}),
    )
    .await;
    let all = got.wait_for(2).await;
    let slack = all
        .iter()
        .find_map(|(_, v)| v["text"].as_str())
        .expect("slack");
    assert_eq!(
        slack,
        format!("Ann moved <https://board.example/?issue={n}|#{n} Ship &lt;it&gt; @everyone> from Backlog to Ready")
    );
    let discord = all
        .iter()
        .find(|(_, v)| v["content"].is_string())
        .expect("discord");
    assert!(
        discord.0.get("webhook-signature").is_none(),
        "chat requests are not signed"
    );
    let content = discord.1["content"].as_str().unwrap();
    assert!(
        content.contains(&format!("(<https://board.example/?issue={n}>)")),
        "{content}"
    );
    assert_eq!(discord.1["allowed_mentions"]["parse"], json!([]));
}

#[tokio::test]
async fn the_contract_describes_each_request_an_endpoint_gets() {
    let app = TestApp::new().await;
    let spec = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/api/openapi.json",
            None,
            Body::empty(),
        )
        .await
        .json();
    for event in app::domain::WebhookEvent::ALL {
        let post = &spec["webhooks"][event.as_str()]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/WebhookPayload",
            "{event:?}"
        );
        let headers: Vec<_> = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(
            headers,
            ["webhook-id", "webhook-timestamp", "webhook-signature"]
        );
    }
    let schemas = &spec["components"]["schemas"];
    assert!(schemas["WebhookPayload"]["properties"]["schema_version"].is_object());
    assert_eq!(
        schemas["WebhookFormat"]["enum"],
        json!(["standard", "slack", "discord"])
    );
    assert!(schemas["WebhookEvent"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("run.finished")));
}

on_both_engines!(
    two_senders_on_one_database_send_each_event_once_in_order,
    feedback_is_heard_and_a_stopped_sender_lets_go_of_its_endpoints,
    chat_endpoints_get_a_readable_line,
);

on_both_engines!(
    only_admins_manage_endpoints_and_bad_input_changes_nothing,
    changes_are_delivered_signed_in_order_with_the_issue_and_who,
    a_failing_receiver_is_retried_in_order_and_a_day_of_failures_turns_it_off,
    private_addresses_redirects_elsewhere_and_big_answers_are_held_back,
);
