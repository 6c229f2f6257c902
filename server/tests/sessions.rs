//! Ending sessions, on both engines: an admin ends all of someone's sessions (they sign in
//! again everywhere; their tokens keep working); members cannot.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::{add_token, Caller, TestApp, ADMIN_EMAIL, MEMBER_EMAIL};

const FORM: &str = "application/x-www-form-urlencoded";

/// Whether `who` is signed in: the status of `/me`.
async fn me_status(app: &TestApp, who: Caller) -> StatusCode {
    app.call(&who, "GET", "/api/autopilot/me", None, Body::empty())
        .await
        .status
}

async fn an_admin_ends_all_of_someones_sessions() {
    let app = TestApp::new().await;
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let (laptop, phone) = (
        Caller::Session(app.sign_in(MEMBER_EMAIL).await),
        Caller::Session(app.sign_in(MEMBER_EMAIL).await),
    );
    let me = |who: &Caller| me_status(&app, who.clone());
    assert_eq!(me(&laptop).await, StatusCode::OK);
    assert_eq!(me(&phone).await, StatusCode::OK);
    let end = |who: Caller| {
        let app = &app;
        let body = format!("id={}", ann.id);
        async move {
            app.call(
                &who,
                "POST",
                "/api/end_sessions",
                Some(FORM),
                Body::from(body),
            )
            .await
        }
    };
    // A member may not, nor an admin's token without the admin scope.
    let r = end(laptop.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let reader = Caller::Bearer(add_token(&app.store, ADMIN_EMAIL, "read", None).await);
    let r = end(reader).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(
        r.text().contains(r#"lacks the \"admin\" scope"#),
        "{}",
        r.text()
    );
    assert_eq!(
        me(&laptop).await,
        StatusCode::OK,
        "a refused call ended a session"
    );

    let admin = Caller::Session(app.sign_in(ADMIN_EMAIL).await);
    let r = end(admin.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(me(&laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&phone).await, StatusCode::UNAUTHORIZED);
    // Their token keeps working; the admin's own session too; Ann signs in again.
    assert_eq!(me(&app.member()).await, StatusCode::OK);
    assert_eq!(me(&admin).await, StatusCode::OK);
    let again = Caller::Session(app.sign_in(MEMBER_EMAIL).await);
    assert_eq!(me(&again).await, StatusCode::OK);
    // Nobody by that id.
    let r = app
        .call(
            &admin,
            "POST",
            "/api/end_sessions",
            Some(FORM),
            Body::from("id=999"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
}

on_both_engines!(an_admin_ends_all_of_someones_sessions);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// Signs in with a browser's `User-Agent`; the session cookie.
async fn sign_in_with(app: &TestApp, email: &str, user_agent: &str) -> Caller {
    let body = format!(
        "email={}&password={}",
        email.replace('@', "%40"),
        common::PASSWORD.replace(' ', "+")
    );
    let req = axum::http::Request::post("/login")
        .header("content-type", FORM)
        .header("origin", common::ORIGIN)
        .header("user-agent", user_agent)
        .body(Body::from(body))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    Caller::Session(r.session_cookie().expect("a session cookie"))
}

async fn post(app: &TestApp, who: &Caller, endpoint: &str, body: &str) -> common::Reply {
    app.call(
        who,
        "POST",
        endpoint,
        Some(FORM),
        Body::from(body.to_string()),
    )
    .await
}

async fn sessions_of(app: &TestApp, who: &Caller) -> Vec<serde_json::Value> {
    let r = post(app, who, "/api/list_my_sessions", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json().as_array().expect("a list").clone()
}

async fn people_see_and_end_their_own_sessions() {
    let app = TestApp::new().await;
    let laptop = sign_in_with(&app, MEMBER_EMAIL, FIREFOX).await;
    let phone = sign_in_with(&app, MEMBER_EMAIL, IPHONE).await;
    let admin = sign_in_with(&app, ADMIN_EMAIL, FIREFOX).await;

    // Ann sees her two sessions, what they are, and which one she is using; not the admin's.
    let seen = sessions_of(&app, &laptop).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    let current: Vec<_> = seen.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{seen:?}");
    assert_eq!(current[0]["device"], "Firefox on Linux", "{seen:?}");
    let other = seen.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["device"], "Safari on iPhone", "{seen:?}");
    assert!(other["address"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(other["signed_in_at"].as_i64().unwrap() <= other["last_seen_at"].as_i64().unwrap());

    // No token manages sessions, whatever its scopes.
    let token =
        Caller::Bearer(add_token(&app.store, MEMBER_EMAIL, "read,write,move,mcp", None).await);
    let r = post(&app, &token, "/api/list_my_sessions", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // Someone else's session is not hers to end: it is as if there were none by that id.
    let admins = sessions_of(&app, &admin).await;
    let admin_id = admins[0]["id"].as_i64().unwrap();
    let r = post(
        &app,
        &laptop,
        "/api/end_my_session",
        &format!("id={admin_id}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    assert_eq!(sessions_of(&app, &admin).await.len(), 1);
    // Bad input is a 400, and ends nothing.
    let r = post(&app, &laptop, "/api/end_my_session", "id=phone").await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text());
    assert_eq!(sessions_of(&app, &laptop).await.len(), 2);

    // She ends the phone's: the phone is signed out, the laptop is not.
    let phone_id = other["id"].as_i64().unwrap();
    let r = post(
        &app,
        &laptop,
        "/api/end_my_session",
        &format!("id={phone_id}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let me = |who: &Caller| me_status(&app, who.clone());
    assert_eq!(me(&phone).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&laptop).await, StatusCode::OK);
    assert_eq!(sessions_of(&app, &laptop).await.len(), 1);

    // "End all other sessions" ends the rest, and says how many.
    let more = [
        sign_in_with(&app, MEMBER_EMAIL, IPHONE).await,
        sign_in_with(&app, MEMBER_EMAIL, "curl/8.5.0").await,
    ];
    assert_eq!(sessions_of(&app, &laptop).await.len(), 3);
    let r = post(&app, &laptop, "/api/end_my_other_sessions", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), 2);
    for session in &more {
        assert_eq!(me(session).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(me(&laptop).await, StatusCode::OK);

    // Signing out takes the session off the list; an admin's "end all" empties it.
    let admin_user = app.store.user_by_email(ADMIN_EMAIL).await.unwrap();
    let r = app
        .call(&admin, "POST", "/logout", None, Body::empty())
        .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let live = app_policy().cutoffs(app::store::now_ms());
    assert!(app
        .store
        .list_sessions(admin_user.id, live)
        .await
        .unwrap()
        .is_empty());
    let admin = sign_in_with(&app, ADMIN_EMAIL, FIREFOX).await;
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let r = post(&app, &admin, "/api/end_sessions", &format!("id={}", ann.id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(app
        .store
        .list_sessions(ann.id, live)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(me(&laptop).await, StatusCode::UNAUTHORIZED);
}

on_both_engines!(people_see_and_end_their_own_sessions);

fn app_policy() -> app::auth::SessionPolicy {
    app::auth::SessionPolicy {
        idle_ms: 3_600_000,
        max_lifetime_ms: 24 * 3_600_000,
    }
}

/// The store keeps a bounded record: fifty sessions a person, the oldest ending first, and
/// clean-up forgets sessions that are over.
async fn the_session_record_is_bounded_and_cleaned_up() {
    let app = TestApp::new().await;
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let device = app::store::Device {
        user_agent: "x".repeat(10_000),
        address: "192.0.2.7".into(),
    };
    let now = app::store::now_ms();
    let mut ids = Vec::new();
    for n in 0..55 {
        ids.push(
            app.store
                .record_session(&ann, &device, now + n)
                .await
                .unwrap(),
        );
    }
    let live = app_policy().cutoffs(now);
    let kept = app.store.list_sessions(ann.id, live).await.unwrap();
    assert_eq!(kept.len(), app::store::SESSIONS_PER_PERSON as usize);
    assert!(kept.iter().all(|s| s.user_agent.len() == 512));
    assert!(app
        .store
        .session_user(ids[0], ann.id)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .store
        .session_user(ids[54], ann.id)
        .await
        .unwrap()
        .is_some());
    // Not someone else's.
    assert!(app
        .store
        .session_user(ids[54], ann.id + 1)
        .await
        .unwrap()
        .is_none());

    // Idle past the policy: forgotten by the clean-up.
    app.store
        .forget_ended_sessions(app_policy().cutoffs(now + 2 * 3_600_000))
        .await
        .unwrap();
    assert!(app
        .store
        .list_sessions(ann.id, live)
        .await
        .unwrap()
        .is_empty());
    assert!(app
        .store
        .session_user(ids[54], ann.id)
        .await
        .unwrap()
        .is_none());
}

on_both_engines!(the_session_record_is_bounded_and_cleaned_up);
