//! Accounts and sessions: sign-in, rotation, expiry, logout, disabling, password changes,
//! rate limits, first-run set-up, and cross-site refusal.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use app::auth::{hash_password, SessionPolicy};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use common::{Caller, TestApp, ADMIN_EMAIL, MEMBER_EMAIL, ORIGIN, PASSWORD};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const ISSUES: &str = "/api/autopilot/issues";

async fn status_as(app: &TestApp, cookie: &str) -> StatusCode {
    app.call(
        &Caller::Session(cookie.into()),
        "GET",
        ISSUES,
        None,
        Body::empty(),
    )
    .await
    .status
}

async fn anonymous_people_are_sent_to_login_and_scripts_get_401() {
    let app = TestApp::new().await;
    let page = app
        .call(&Caller::Anonymous, "GET", "/?issue=3", None, Body::empty())
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?next=/%3Fissue%3D3");
    let api = app
        .call(&Caller::Anonymous, "GET", ISSUES, None, Body::empty())
        .await;
    assert_eq!(
        (api.status, api.error_code().as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let login = app
        .call(&Caller::Anonymous, "GET", "/login", None, Body::empty())
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text().contains("Sign in to Autopilot"));
}

async fn signing_in_sets_a_hardened_cookie_and_goes_where_asked() {
    let app = TestApp::new().await;
    let r = app.login_form(MEMBER_EMAIL, PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/issues?x=1");
    let set_cookie = r.set_cookie_header();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = r.session_cookie().unwrap();
    let id = cookie.split_once('=').unwrap().1;
    assert!(id.len() >= 22, "a 128-bit id, got {id}");
    assert_eq!(status_as(&app, &cookie).await, StatusCode::OK);
    // Already signed in: the login page sends you to the board.
    let again = app
        .call(
            &Caller::Session(cookie),
            "GET",
            "/login",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(again.location(), "/");
}

async fn the_session_id_changes_at_sign_in() {
    let app = TestApp::new().await;
    let first = app.sign_in(MEMBER_EMAIL).await;
    let r = app.login_form(MEMBER_EMAIL, PASSWORD, Some(&first)).await;
    let second = r.session_cookie().expect("a new cookie");
    assert_ne!(first, second);
    assert_eq!(status_as(&app, &second).await, StatusCode::OK);
    assert_eq!(
        status_as(&app, &first).await,
        StatusCode::UNAUTHORIZED,
        "the old id is dead"
    );
}

async fn logout_deletes_the_session_server_side() {
    let app = TestApp::new().await;
    let cookie = app.sign_in(MEMBER_EMAIL).await;
    let r = app
        .call(
            &Caller::Session(cookie.clone()),
            "POST",
            "/logout",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?signed_out=1");
    // Replaying the old cookie does not bring the session back.
    assert_eq!(status_as(&app, &cookie).await, StatusCode::UNAUTHORIZED);
}

async fn an_idle_session_expires() {
    let policy = SessionPolicy {
        idle_ms: 1_000,
        max_lifetime_ms: 3_600_000,
    };
    let app = TestApp::build(policy, None, true).await;
    let cookie = app.sign_in(MEMBER_EMAIL).await;
    assert_eq!(status_as(&app, &cookie).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(status_as(&app, &cookie).await, StatusCode::UNAUTHORIZED);
}

async fn a_session_has_an_absolute_lifetime() {
    let policy = SessionPolicy {
        idle_ms: 3_600_000,
        max_lifetime_ms: 2_000,
    };
    let app = TestApp::build(policy, None, true).await;
    let cookie = app.sign_in(MEMBER_EMAIL).await;
    let signed_in = tokio::time::Instant::now();
    // Activity keeps renewing the idle timer, but not the absolute lifetime. (Generous margins:
    // CI machines are slow and busy.)
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(status_as(&app, &cookie).await, StatusCode::OK);
    }
    tokio::time::sleep_until(signed_in + Duration::from_millis(2_300)).await;
    assert_eq!(status_as(&app, &cookie).await, StatusCode::UNAUTHORIZED);
}

async fn disabling_a_user_ends_their_sessions_tokens_and_sign_ins() {
    let app = TestApp::new().await;
    let cookie = app.sign_in(MEMBER_EMAIL).await;
    let user = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    app.store.set_disabled(user.id, true).await.unwrap();
    assert_eq!(status_as(&app, &cookie).await, StatusCode::UNAUTHORIZED);
    let token = app
        .call(&app.member(), "GET", ISSUES, None, Body::empty())
        .await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED);
    let again = app.login_form(MEMBER_EMAIL, PASSWORD, None).await;
    assert!(
        again.location().starts_with("/login?error=invalid"),
        "{}",
        again.location()
    );
    assert!(again.session_cookie().is_none());
}

async fn changing_a_password_ends_every_session() {
    let app = TestApp::new().await;
    let laptop = app.sign_in(MEMBER_EMAIL).await;
    let phone = app.sign_in(MEMBER_EMAIL).await;
    let user = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let hash = hash_password("a brand new password".into()).await.unwrap();
    app.store.set_password_hash(user.id, &hash).await.unwrap();
    assert_eq!(status_as(&app, &laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_as(&app, &phone).await, StatusCode::UNAUTHORIZED);
    let r = app
        .login_form(MEMBER_EMAIL, "a brand new password", None)
        .await;
    assert!(r.session_cookie().is_some());
}

async fn failures_look_the_same_for_unknown_emails_and_wrong_passwords() {
    let app = TestApp::new().await;
    let wrong_password = app.login_form(MEMBER_EMAIL, "not the password", None).await;
    let unknown_email = app.login_form("nobody@example.com", PASSWORD, None).await;
    assert_eq!(wrong_password.status, unknown_email.status);
    assert_eq!(wrong_password.location(), unknown_email.location());
    assert!(wrong_password.session_cookie().is_none());
}

/// The login form, posted from the board's page by a client at `peer` (what the server's
/// socket would say: `ConnectInfo`, which the rate limits read).
async fn login_from(app: &TestApp, peer: &str, email: &str, password: &str) -> common::Reply {
    let body = format!(
        "email={}&password={}&next=%2F",
        email.replace('@', "%40"),
        password.replace(' ', "+")
    );
    let mut req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(body))
        .unwrap();
    let peer: IpAddr = peer.parse().unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer, 40_000)));
    app.send(req).await
}

fn refused_as_rate(r: &common::Reply) -> bool {
    r.location().starts_with("/login?error=rate") && r.session_cookie().is_none()
}

fn refused_as_invalid(r: &common::Reply) -> bool {
    r.location().starts_with("/login?error=invalid") && r.session_cookie().is_none()
}

async fn login_attempts_are_rate_limited_per_account_and_per_address() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        let r = app.login_form(MEMBER_EMAIL, "wrong password!", None).await;
        assert!(refused_as_invalid(&r), "{}", r.location());
    }
    // From the address that guessed, even the right password is refused for a while.
    let r = app.login_form(MEMBER_EMAIL, PASSWORD, None).await;
    assert!(refused_as_rate(&r), "{}", r.location());
    // The address is limited too, whatever the account: 10 failures, then it waits.
    for i in 0..5 {
        let r = app
            .login_form(&format!("other{i}@example.com"), "x", None)
            .await;
        assert!(refused_as_invalid(&r), "{}", r.location());
    }
    let r = app.login_form(ADMIN_EMAIL, PASSWORD, None).await;
    assert!(refused_as_rate(&r), "{}", r.location());
}

/// A8: guesses from other addresses never keep the owner out.
async fn the_owner_signs_in_from_their_own_address_while_others_guess() {
    let app = TestApp::new().await;
    for attacker in 1..=5 {
        let from = format!("203.0.113.{attacker}");
        for _ in 0..5 {
            let r = login_from(&app, &from, MEMBER_EMAIL, "wrong password!").await;
            assert!(refused_as_invalid(&r), "{from}: {}", r.location());
        }
        // Each guessing address earns "too many attempts" for itself.
        let r = login_from(&app, &from, MEMBER_EMAIL, PASSWORD).await;
        assert!(refused_as_rate(&r), "{from}: {}", r.location());
    }
    let owner = login_from(&app, "198.51.100.20", MEMBER_EMAIL, PASSWORD).await;
    assert_eq!(owner.status, StatusCode::SEE_OTHER);
    assert_eq!(owner.location(), "/", "the owner was refused");
    let cookie = owner.session_cookie().expect("signed in");
    assert_eq!(status_as(&app, &cookie).await, StatusCode::OK);
    // The owner's own typos, then a success, leave them with a clean slate there.
    for _ in 0..4 {
        let r = login_from(&app, "198.51.100.20", MEMBER_EMAIL, "a typo, sorry").await;
        assert!(refused_as_invalid(&r), "{}", r.location());
    }
    let again = login_from(&app, "198.51.100.20", MEMBER_EMAIL, PASSWORD).await;
    assert!(again.session_cookie().is_some(), "{}", again.location());
    for _ in 0..4 {
        let r = login_from(&app, "198.51.100.20", MEMBER_EMAIL, "a typo, sorry").await;
        assert!(
            refused_as_invalid(&r),
            "the success did not clear the count: {}",
            r.location()
        );
    }
}

/// A7: an IPv6 client is counted by its /64, so its 2^64 addresses are one client.
async fn an_ipv6_neighbour_in_the_same_64_shares_the_limit() {
    let app = TestApp::new().await;
    for i in 0..5 {
        // A new address each time, all in one /64.
        let from = format!("2001:db8:7:1::{:x}", 0x100 + i);
        let r = login_from(&app, &from, MEMBER_EMAIL, "wrong password!").await;
        assert!(refused_as_invalid(&r), "{from}: {}", r.location());
    }
    let sibling = login_from(&app, "2001:db8:7:1:ffff:1:2:3", MEMBER_EMAIL, PASSWORD).await;
    assert!(
        refused_as_rate(&sibling),
        "a sibling in the same /64 was not limited: {}",
        sibling.location()
    );
    // The next /64 over is someone else.
    let other = login_from(&app, "2001:db8:7:2::1", MEMBER_EMAIL, PASSWORD).await;
    assert!(other.session_cookie().is_some(), "{}", other.location());
    // An IPv4 client seen through a dual-stack socket is that IPv4 client.
    for _ in 0..5 {
        let r = login_from(&app, "::ffff:192.0.2.9", ADMIN_EMAIL, "wrong password!").await;
        assert!(refused_as_invalid(&r), "{}", r.location());
    }
    let same = login_from(&app, "192.0.2.9", ADMIN_EMAIL, PASSWORD).await;
    assert!(refused_as_rate(&same), "{}", same.location());
}

/// A1: what a client sends is bounded before it is counted or kept.
async fn oversized_sign_in_forms_are_refused_and_nothing_is_kept() {
    let app = TestApp::build(common::default_policy(), Some("a-setup-token"), true).await;
    let huge = format!(
        "email={}%40example.com&password=x",
        "a".repeat(2 * 1024 * 1024)
    );
    for path in ["/login", "/setup"] {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .body(Body::from(huge.clone()))
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.text()
        );
        assert_eq!(r.error_code(), "payload_too_large", "{path}");
    }
    assert_eq!(app.state.login_limits.tracked(), 0, "a limiter kept a key");
    // Under the form limit but over the longest email: the usual refusal, nothing counted.
    let long = format!("{}@example.com", "b".repeat(300));
    for _ in 0..20 {
        let r = login_from(&app, "203.0.113.50", &long, PASSWORD).await;
        assert!(refused_as_invalid(&r), "{}", r.location());
    }
    let too_long_password = "p".repeat(300);
    let r = login_from(&app, "203.0.113.50", MEMBER_EMAIL, &too_long_password).await;
    assert!(refused_as_invalid(&r), "{}", r.location());
    assert_eq!(app.state.login_limits.tracked(), 0, "a limiter kept a key");
    // Junk is a 4xx, never a 500.
    let junk = Request::post("/setup")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from("not a form"))
        .unwrap();
    let junk = app.send(junk).await;
    assert_eq!(
        junk.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        junk.text()
    );
    let junk = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(vec![0xff, 0xfe, b'=', 0x00]))
        .unwrap();
    let junk = app.send(junk).await;
    assert!(junk.status.is_redirection(), "{}", junk.status);
    // The owner is not affected by any of it.
    let owner = login_from(&app, "203.0.113.50", MEMBER_EMAIL, PASSWORD).await;
    assert!(owner.session_cookie().is_some(), "{}", owner.location());
}

/// The original's WebSocket route asked for without a handshake: a JSON 400, not a 500 or
/// axum's plain text.
async fn a_plain_get_of_the_websocket_route_is_a_json_400() {
    let app = TestApp::new().await;
    let r = app
        .call(
            &app.member(),
            "GET",
            "/api/autopilot/ws",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.error_code(), "bad_request");
    let anonymous = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/api/autopilot/ws",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn the_setup_token_creates_the_first_admin_once() {
    let app = TestApp::build(common::default_policy(), Some("s3cret-token"), false).await;
    let home = app
        .call(&Caller::Anonymous, "GET", "/", None, Body::empty())
        .await;
    assert_eq!(home.location(), "/setup");
    let page = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/setup?token=x",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);

    let post = |token: &str, email: &str| {
        let body = format!("token={token}&email={email}&name=Ada&password=correct+horse+battery");
        Request::post("/setup")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .body(Body::from(body))
            .unwrap()
    };
    let wrong = app.send(post("guess", "ada%40example.com")).await;
    assert!(
        wrong.location().contains("error=token"),
        "{}",
        wrong.location()
    );
    assert_eq!(app.store.count_users().await.unwrap(), 0);

    let ok = app.send(post("s3cret-token", "ada%40example.com")).await;
    assert_eq!(ok.location(), "/");
    let cookie = ok.session_cookie().expect("signed in");
    let admin = app.store.user_by_email("ada@example.com").await.unwrap();
    assert_eq!(admin.role, app::domain::UserRole::Admin);
    assert_eq!(status_as(&app, &cookie).await, StatusCode::OK);

    let replay = app.send(post("s3cret-token", "eve%40example.com")).await;
    assert_eq!(replay.location(), "/login");
    assert_eq!(app.store.count_users().await.unwrap(), 1);
    let closed = app
        .call(
            &Caller::Anonymous,
            "GET",
            "/setup?token=s3cret-token",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(closed.location(), "/login");
}

async fn cross_site_writes_on_the_session_are_refused_but_bearer_tokens_pass() {
    let app = TestApp::new().await;
    let cookie = app.sign_in(MEMBER_EMAIL).await;
    let body = r#"{"title":"from elsewhere"}"#;
    let foreign = app
        .call(
            &Caller::ForeignSession(cookie.clone()),
            "POST",
            ISSUES,
            Some("application/json"),
            body,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    // Origin alone (older browsers send no Sec-Fetch-Site).
    let req = Request::post(ISSUES)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);
    let own = app
        .call(
            &Caller::Session(cookie),
            "POST",
            ISSUES,
            Some("application/json"),
            body,
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED);
    let mut token_req = Request::post(ISSUES)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.member_token),
        )
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::from(body))
        .unwrap();
    token_req
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(app.send(token_req).await.status, StatusCode::CREATED);
    // Login CSRF is refused too.
    let forged = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::from("email=ann%40example.com&password=x"))
        .unwrap();
    assert_eq!(app.send(forged).await.status, StatusCode::FORBIDDEN);
}

async fn a_revoked_or_unknown_token_is_refused() {
    let app = TestApp::new().await;
    let user = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    assert_eq!(
        app.store.revoke_api_tokens(user.id, "test").await.unwrap(),
        1
    );
    let r = app
        .call(&app.member(), "GET", ISSUES, None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let junk = app
        .call(
            &Caller::Bearer("ap_nope".into()),
            "GET",
            ISSUES,
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(junk.status, StatusCode::UNAUTHORIZED);
}

async fn actions_are_recorded_under_the_callers_name() {
    let app = TestApp::new().await;
    let issue = app.create("named").await;
    assert_eq!(issue["created_by"], "Ann");
    let events = app
        .get(&format!("/api/autopilot/issues/{}/events", issue["id"]))
        .await
        .json();
    assert_eq!(events[0]["actor"], "Ann");
}

on_both_engines!(
    anonymous_people_are_sent_to_login_and_scripts_get_401,
    signing_in_sets_a_hardened_cookie_and_goes_where_asked,
    the_session_id_changes_at_sign_in,
    logout_deletes_the_session_server_side,
    an_idle_session_expires,
    a_session_has_an_absolute_lifetime,
    disabling_a_user_ends_their_sessions_tokens_and_sign_ins,
    changing_a_password_ends_every_session,
    failures_look_the_same_for_unknown_emails_and_wrong_passwords,
    login_attempts_are_rate_limited_per_account_and_per_address,
    the_owner_signs_in_from_their_own_address_while_others_guess,
    an_ipv6_neighbour_in_the_same_64_shares_the_limit,
    oversized_sign_in_forms_are_refused_and_nothing_is_kept,
    a_plain_get_of_the_websocket_route_is_a_json_400,
    the_setup_token_creates_the_first_admin_once,
    cross_site_writes_on_the_session_are_refused_but_bearer_tokens_pass,
    a_revoked_or_unknown_token_is_refused,
    actions_are_recorded_under_the_callers_name,
);
