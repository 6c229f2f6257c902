//! A real router over a fresh database (SQLite or PostgreSQL, see `engines`), with two people (a member and an admin),
//! a bearer token for each, and helpers to call it as anyone.
#![allow(dead_code)]

use app::auth::{hash_password, token_hash, SessionPolicy};
use app::domain::UserRole;
use app::store::{OpenOptions, Store};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use server::config::AuthSettings;
use tower::ServiceExt;

pub const MEMBER_EMAIL: &str = "ann@example.com";
pub const ADMIN_EMAIL: &str = "root@example.com";
pub const PASSWORD: &str = "correct horse battery";
pub const ORIGIN: &str = "http://board.test";

/// Who a request is sent as.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Bearer(String),
    /// A session cookie (`name=value`), sent from the board's own origin.
    Session(String),
    /// A session cookie, sent from another site's page.
    ForeignSession(String),
}

pub struct TestApp {
    pub router: Router,
    pub state: server::routes::AppState,
    pub store: Store,
    pub member_token: String,
    pub admin_token: String,
    _dir: tempfile::TempDir,
}

/// Where the built site is read from, and the origin the board is served at.
struct Site<'a> {
    root: &'a str,
    origin: &'a str,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The session cookie this reply sets, as `name=value`.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("autopilot_session="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string)
    }

    pub fn set_cookie_header(&self) -> String {
        self.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

/// The live-stream cap of test apps (small, so a test can reach it).
pub const STREAMS_PER_PERSON: usize = 4;
/// Public feedback the test board takes in a day: small, so a test can reach it.
pub const FEEDBACK_PER_DAY: u32 = 40;

/// Adds a person with the tests' password, and a bearer token of theirs, which it returns.
pub async fn add_person(store: &Store, email: &str, name: &str, role: UserRole) -> String {
    let hash = hash_password(PASSWORD.into()).await.unwrap();
    let person = store.create_user(email, name, role, &hash).await.unwrap();
    let token = app::auth::new_token();
    store
        .create_api_token(person.id, "test", &token_hash(&token))
        .await
        .unwrap();
    token
}

/// Another bearer token for the person with this email: `scopes` a comma list
/// (`read,move`), `expires_at` Unix ms.
pub async fn add_token(
    store: &Store,
    email: &str,
    scopes: &str,
    expires_at: Option<i64>,
) -> String {
    let person = store.user_by_email(email).await.unwrap();
    let token = app::auth::new_token();
    let scopes = app::domain::Scopes::parse(scopes).unwrap();
    store
        .create_scoped_token(
            person.id,
            scopes.to_string().as_str(),
            &token_hash(&token),
            scopes,
            expires_at,
        )
        .await
        .unwrap();
    token
}

pub fn default_policy() -> SessionPolicy {
    SessionPolicy {
        idle_ms: 8 * 3_600_000,
        max_lifetime_ms: 7 * 24 * 3_600_000,
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::build(default_policy(), None, true).await
    }

    /// `people`: whether to create the member and the admin (false for first-run tests).
    pub async fn build(policy: SessionPolicy, setup_token: Option<&str>, people: bool) -> TestApp {
        Self::build_on_site(policy, setup_token, people, "target/site").await
    }

    /// The same, serving the built site (wasm, JS, CSS, public files) from `site_root`.
    pub async fn build_on_site(
        policy: SessionPolicy,
        setup_token: Option<&str>,
        people: bool,
        site_root: &str,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = crate::engines::fresh_database(dir.path()).await;
        let options = OpenOptions::default();
        let site = Site {
            root: site_root,
            origin: ORIGIN,
        };
        Self::build_with(&url, dir, &options, policy, setup_token, people, site).await
    }

    /// The board as served at `origin` (`https://…`: Secure cookies and HSTS).
    pub async fn at_origin(origin: &str) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = crate::engines::fresh_database(dir.path()).await;
        let site = Site {
            root: "target/site",
            origin,
        };
        let options = OpenOptions::default();
        Self::build_with(&url, dir, &options, default_policy(), None, true, site).await
    }

    /// The application on the database at `url` (SQLite: where the test put it).
    pub async fn on_database(url: &str, dir: tempfile::TempDir) -> TestApp {
        Self::on_database_with(url, dir, &OpenOptions::default()).await
    }

    /// The same, with the pool opened with `options` (a short busy timeout, say).
    pub async fn on_database_with(
        url: &str,
        dir: tempfile::TempDir,
        options: &OpenOptions,
    ) -> TestApp {
        Self::build_with(
            url,
            dir,
            options,
            default_policy(),
            None,
            true,
            Site {
                root: "target/site",
                origin: ORIGIN,
            },
        )
        .await
    }

    async fn build_with(
        url: &str,
        dir: tempfile::TempDir,
        options: &OpenOptions,
        policy: SessionPolicy,
        setup_token: Option<&str>,
        people: bool,
        site: Site<'_>,
    ) -> TestApp {
        let store = Store::open_with(url, options).await.expect("open store");
        let (mut member_token, mut admin_token) = (String::new(), String::new());
        if people {
            member_token = add_person(&store, MEMBER_EMAIL, "Ann", UserRole::Member).await;
            admin_token = add_person(&store, ADMIN_EMAIL, "Root", UserRole::Admin).await;
        }
        let auth = AuthSettings {
            policy,
            public_origin: Some(site.origin.into()),
            secure_cookies: site.origin.starts_with("https://"),
            trusted_proxies: Vec::new(),
        };
        let (router, state) = server::build_app(
            store.clone(),
            site.root,
            "127.0.0.1:0".parse().unwrap(),
            auth,
            setup_token.map(str::to_string),
            server::config::Intake {
                feedback_origins: vec!["https://shop.example".to_string()],
                feedback_per_day: FEEDBACK_PER_DAY,
                self_heal: true,
                models: vec!["model-a".to_string(), "model-b".to_string()],
                agents: vec!["claude".to_string(), "gemini".to_string()],
            },
            server::config::Serving {
                max_streams_per_person: STREAMS_PER_PERSON,
                ..Default::default()
            },
        );
        TestApp {
            router,
            state,
            store,
            member_token,
            admin_token,
            _dir: dir,
        }
    }

    pub fn member(&self) -> Caller {
        Caller::Bearer(self.member_token.clone())
    }

    pub fn admin(&self) -> Caller {
        Caller::Bearer(self.admin_token.clone())
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Any request, as anyone.
    pub async fn call(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        req = match caller {
            Caller::Anonymous => req,
            Caller::Bearer(token) => req.header(header::AUTHORIZATION, format!("Bearer {token}")),
            Caller::Session(cookie) => req
                .header(header::COOKIE, cookie)
                .header(header::ORIGIN, ORIGIN)
                .header("sec-fetch-site", "same-origin"),
            Caller::ForeignSession(cookie) => req
                .header(header::COOKIE, cookie)
                .header(header::ORIGIN, "http://evil.example")
                .header("sec-fetch-site", "cross-site"),
        };
        self.send(req.body(body.into()).unwrap()).await
    }

    /// For endless responses (event streams): the status and headers, without the body.
    pub async fn status_only(&self, caller: &Caller, method: &str, path: &str) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Caller::Bearer(token) = caller {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Caller::Session(cookie) | Caller::ForeignSession(cookie) = caller {
            req = req.header(header::COOKIE, cookie);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .expect("infallible");
        let (status, headers) = (res.status(), res.headers().clone());
        let body = if status.is_success() {
            Vec::new()
        } else {
            res.into_body().collect().await.unwrap().to_bytes().to_vec()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    // The JSON API as the member, with their bearer token.

    pub async fn get(&self, path: &str) -> Reply {
        self.call(&self.member(), "GET", path, None, Body::empty())
            .await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Reply {
        self.call(&self.member(), method, path, Some(content_type), body)
            .await
    }

    pub async fn json(&self, method: &str, path: &str, body: Value) -> Reply {
        self.raw(method, path, "application/json", body.to_string())
            .await
    }

    pub async fn create(&self, title: &str) -> Value {
        let r = self
            .json(
                "POST",
                "/api/autopilot/issues",
                serde_json::json!({ "title": title }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }

    /// Posts the login form from the board's own page.
    pub async fn login_form(&self, email: &str, password: &str, cookie: Option<&str>) -> Reply {
        let body = format!(
            "email={}&password={}&next=%2Fissues%3Fx%3D1",
            email.replace('@', "%40"),
            password.replace(' ', "+")
        );
        let mut req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN);
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// Signs in and returns the session cookie.
    pub async fn sign_in(&self, email: &str) -> String {
        let r = self.login_form(email, PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        r.session_cookie().expect("a session cookie")
    }
}
