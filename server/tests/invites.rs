//! Invite links: an admin makes one (the admin page's server function, or the store as the
//! command line does), the invitee opens it and makes their account with its role, once.
//! Used, expired, revoked and unknown links are refused with a page that says which, and
//! nothing is made.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use app::domain::{InviteState, UserRole};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{Caller, Reply, TestApp, ORIGIN};

const FORM: &str = "application/x-www-form-urlencoded";
const DAY_MS: i64 = 24 * 3_600_000;

/// Makes an invite through the admin page's server function; returns the link's path.
async fn invite_as_admin(app: &TestApp, role: &str, days: i64) -> String {
    let made = app
        .call(
            &app.admin(),
            "POST",
            "/api/create_invite",
            Some(FORM),
            format!("role={role}&expires_in_days={days}"),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let path = made.json()["path"].as_str().unwrap().to_string();
    assert!(path.starts_with("/invite/inv_"), "{path}");
    path
}

/// Posts the invite form from the board's own page, as a new visitor.
async fn accept(app: &TestApp, path: &str, name: &str, email: &str, password: &str) -> Reply {
    let body = format!(
        "name={}&email={}&password={}",
        name.replace(' ', "+"),
        email.replace('@', "%40"),
        password.replace(' ', "+")
    );
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

async fn open_page(app: &TestApp, path: &str) -> Reply {
    app.call(&Caller::Anonymous, "GET", path, None, Body::empty())
        .await
}

async fn an_invite_makes_one_account_with_its_role_once() {
    let app = TestApp::new().await;
    let path = invite_as_admin(&app, "admin", 7).await;
    // Only the hash of the secret is stored.
    let secret = path.trim_start_matches("/invite/");
    let hashes: Vec<String> = app
        .store
        .list_invitations()
        .await
        .unwrap()
        .iter()
        .map(|i| format!("{i:?}"))
        .collect();
    assert!(!hashes.concat().contains(secret));

    let page = open_page(&app, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(
        page.text().contains("invited as a admin"),
        "{}",
        page.text()
    );

    let made = accept(
        &app,
        &path,
        "Dee",
        "Dee@Example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    assert_eq!(made.location(), "/");
    let cookie = made.session_cookie().expect("signed in");
    let dee = app.store.user_by_email("dee@example.com").await.unwrap();
    assert_eq!(dee.role, UserRole::Admin);
    assert_eq!(dee.display_name, "Dee");
    let board = app
        .call(
            &Caller::Session(cookie),
            "GET",
            "/api/autopilot/issues",
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(board.status, StatusCode::OK);
    // She signs in with the password she chose.
    assert_eq!(
        app.login_form("dee@example.com", "correct horse battery", None)
            .await
            .location(),
        "/issues?x=1"
    );

    // The link is used: its page and its form both say so, and nothing more is made.
    let again = open_page(&app, &path).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text().contains("used already"), "{}", again.text());
    let users = app.store.count_users().await.unwrap();
    let replay = accept(
        &app,
        &path,
        "Eve",
        "eve@example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(replay.status, StatusCode::GONE);
    assert!(replay.session_cookie().is_none());
    assert_eq!(app.store.count_users().await.unwrap(), users);

    let listed = app
        .call(&app.admin(), "POST", "/api/list_invites", Some(FORM), "")
        .await
        .json();
    assert_eq!(listed[0]["state"], "used");
    assert_eq!(listed[0]["invitation"]["used_by_email"], "dee@example.com");
}

async fn expired_revoked_and_unknown_links_are_refused_with_a_page_that_says_which() {
    let app = TestApp::new().await;
    // Expired: made by the store (as the command line does) with a lifetime already over.
    let (_, expired) = app
        .store
        .create_invitation(UserRole::Member, -DAY_MS, None)
        .await
        .unwrap();
    let expired = app::domain::invite_path(&expired);
    let page = open_page(&app, &expired).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("has expired"), "{}", page.text());
    let users = app.store.count_users().await.unwrap();
    let refused = accept(
        &app,
        &expired,
        "Fay",
        "fay@example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(refused.status, StatusCode::GONE);

    // Revoked by the admin.
    let path = invite_as_admin(&app, "member", 3).await;
    let id = app
        .call(&app.admin(), "POST", "/api/list_invites", Some(FORM), "")
        .await
        .json()[0]["invitation"]["id"]
        .as_i64()
        .unwrap();
    let member_try = app
        .call(
            &app.member(),
            "POST",
            "/api/revoke_invite",
            Some(FORM),
            format!("id={id}"),
        )
        .await;
    assert_eq!(member_try.status, StatusCode::FORBIDDEN);
    let revoked = app
        .call(
            &app.admin(),
            "POST",
            "/api/revoke_invite",
            Some(FORM),
            format!("id={id}"),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    let page = open_page(&app, &path).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("was revoked"), "{}", page.text());
    let refused = accept(
        &app,
        &path,
        "Fay",
        "fay@example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(refused.status, StatusCode::GONE);

    // Never made, or mangled: not found (the same page).
    for bad in ["/invite/inv_0000", "/invite/%3Cscript%3E", "/invite/x"] {
        let page = open_page(&app, bad).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(page.text().contains("not a valid invite link"), "{bad}");
        assert!(!page.text().contains("<script>"), "{bad}");
    }
    assert_eq!(app.store.count_users().await.unwrap(), users);
}

async fn bad_input_shows_the_form_again_and_keeps_the_link_open() {
    let app = TestApp::new().await;
    let path = invite_as_admin(&app, "member", 7).await;
    let users = app.store.count_users().await.unwrap();

    let short = accept(&app, &path, "Gil <b>", "gil@example.com", "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = short.text();
    assert!(text.contains("12 to 256 characters"), "{text}");
    // What was typed comes back (escaped), never the password.
    assert!(text.contains("value=\"Gil &lt;b&gt;\""), "{text}");
    assert!(text.contains("value=\"gil@example.com\""), "{text}");

    let taken = accept(
        &app,
        &path,
        "Ann again",
        common::MEMBER_EMAIL,
        "correct horse battery",
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.text().contains("exists already"), "{}", taken.text());

    let junk = app
        .call(&Caller::Anonymous, "POST", &path, Some("text/plain"), "x")
        .await;
    assert_eq!(junk.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A form from another site's page is refused before anything is looked at.
    let foreign = Request::post(&path)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::ORIGIN, "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from(
            "name=Mal&email=mal%40example.com&password=correct+horse+battery",
        ))
        .unwrap();
    assert_eq!(app.send(foreign).await.status, StatusCode::FORBIDDEN);

    assert_eq!(app.store.count_users().await.unwrap(), users);
    let invite = &app.store.list_invitations().await.unwrap()[0];
    assert_eq!(invite.state(app::store::now_ms()), InviteState::Open);
    let ok = accept(
        &app,
        &path,
        "Gil",
        "gil@example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(
        app.store
            .user_by_email("gil@example.com")
            .await
            .unwrap()
            .role,
        UserRole::Member
    );
}

async fn only_admins_make_invites_and_lifetimes_are_bounded() {
    let app = TestApp::new().await;
    let member = app
        .call(
            &app.member(),
            "POST",
            "/api/create_invite",
            Some(FORM),
            "role=admin&expires_in_days=7",
        )
        .await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
    for days in ["0", "91", "-3"] {
        let r = app
            .call(
                &app.admin(),
                "POST",
                "/api/create_invite",
                Some(FORM),
                format!("role=member&expires_in_days={days}"),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{days}: {}",
            r.text()
        );
    }
    assert!(app.store.list_invitations().await.unwrap().is_empty());
}

/// Two people sending the same link's form at once make one account.
async fn one_link_makes_one_account_when_used_twice_at_once() {
    let app = TestApp::new().await;
    let path = invite_as_admin(&app, "member", 7).await;
    let (a, b) = tokio::join!(
        accept(
            &app,
            &path,
            "Hal",
            "hal@example.com",
            "correct horse battery"
        ),
        accept(
            &app,
            &path,
            "Ivy",
            "ivy@example.com",
            "correct horse battery"
        ),
    );
    let made = [a.status, b.status]
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(made, 1, "{} {}", a.status, b.status);
    assert!([a.status, b.status].contains(&StatusCode::GONE));
    let hal = app.store.user_by_email("hal@example.com").await.is_ok();
    let ivy = app.store.user_by_email("ivy@example.com").await.is_ok();
    assert!(hal ^ ivy);
}

on_both_engines!(
    an_invite_makes_one_account_with_its_role_once,
    expired_revoked_and_unknown_links_are_refused_with_a_page_that_says_which,
    bad_input_shows_the_form_again_and_keeps_the_link_open,
    only_admins_make_invites_and_lifetimes_are_bounded,
    one_link_makes_one_account_when_used_twice_at_once,
);
