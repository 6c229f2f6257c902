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

async fn an_admin_ends_all_of_someones_sessions() {
    let app = TestApp::new().await;
    let ann = app.store.user_by_email(MEMBER_EMAIL).await.unwrap();
    let (laptop, phone) = (
        Caller::Session(app.sign_in(MEMBER_EMAIL).await),
        Caller::Session(app.sign_in(MEMBER_EMAIL).await),
    );
    let me = |who: &Caller| {
        let who = who.clone();
        let app = &app;
        async move {
            app.call(&who, "GET", "/api/autopilot/me", None, Body::empty())
                .await
                .status
        }
    };
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
