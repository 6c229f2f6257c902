//! Single sign-on against a real OpenID provider: panva's certified `oidc-provider` from npm
//! (end2end/oidc/provider.mjs, installed by `npm ci` in end2end/), started here with node.
//! A client plays the browser: it follows the provider's redirects and fills in its
//! development login and consent pages; the board runs in-process on each database engine.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;

mod common;

use app::domain::UserRole;
use app::store::Store;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{Reply, ORIGIN};
use http_body_util::BodyExt;
use openidconnect::reqwest;
use server::oidc::{Oidc, OidcSettings, SignIn};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tower::ServiceExt;

const REDIRECT: &str = "http://board.test/auth/oidc/callback";

/// The provider, stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts it, or `None` (with a note) when node or the npm package is missing.
    fn start() -> Option<Provider> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/oidc/provider.mjs");
        let package = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../end2end/node_modules/oidc-provider"
        );
        if Command::new("node").arg("--version").output().is_err() {
            eprintln!("SKIPPED: node is not installed; the OpenID provider tests need it");
            return None;
        }
        assert!(
            std::path::Path::new(package).is_dir(),
            "oidc-provider is not installed: run `npm ci` in end2end/ (scripts/setup.sh --tests does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("node")
            .arg(script)
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_REDIRECT_URI", REDIRECT)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines.next().and_then(Result::ok).unwrap_or_default();
        assert!(
            ready.starts_with("ready "),
            "the provider did not start: {ready:?}"
        );
        // Keep reading, so the provider never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Some(Provider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        })
    }

    /// How many times the provider's keys were fetched.
    async fn jwks_fetches(&self) -> u64 {
        reqwest::Client::new()
            .get(format!("{}/__test/jwks-fetches", self.issuer))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn control(&self, what: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/__test/{what}", self.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
}

fn settings(issuer: &str) -> OidcSettings {
    OidcSettings {
        issuer: issuer.to_string(),
        client_id: "autopilot".into(),
        client_secret: Some("autopilot-test-secret".into()),
        redirect_uri: REDIRECT.into(),
        label: "Test ID".into(),
        allowed_domains: vec!["example.com".into()],
        allowed_groups: Vec::new(),
        admin_groups: vec!["autopilot-admins".into()],
        groups_claim: "groups".into(),
    }
}

/// The board, in-process, with single sign-on at `issuer`, and one password admin.
struct Board {
    router: axum::Router,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Board {
    async fn new(issuer: &str, password: app::api::PasswordSignIn) -> Board {
        let dir = tempfile::tempdir().unwrap();
        let url = engines::fresh_database(dir.path()).await;
        let store = Store::open(&url).await.unwrap();
        common::add_person(&store, common::ADMIN_EMAIL, "Root", UserRole::Admin).await;
        common::add_person(&store, common::MEMBER_EMAIL, "Ann", UserRole::Member).await;
        let auth = server::config::AuthSettings {
            policy: common::default_policy(),
            public_origin: Some(ORIGIN.into()),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
        };
        let sign_in = SignIn {
            oidc: Some(std::sync::Arc::new(Oidc::new(settings(issuer)).unwrap())),
            password,
        };
        let (router, _) = server::build_app_with(
            store.clone(),
            "target/site",
            "127.0.0.1:0".parse().unwrap(),
            auth,
            None,
            server::config::Intake::default(),
            server::config::Serving::default(),
            sign_in,
        );
        Board {
            router,
            store,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Starts a sign-in at the board (from `start`), goes through the provider's login and
    /// consent pages as `login`, and returns the callback address the provider sent back,
    /// with the board's session cookie of that browser.
    async fn through_provider(&self, start: &str, login: &str) -> (String, String) {
        let started = self.get(start, None).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.text());
        let cookie = started.session_cookie().expect("a session for the sign-in");
        let callback = browse_provider(&started.location(), login).await;
        let path = callback
            .strip_prefix("http://board.test")
            .unwrap()
            .to_string();
        (path, cookie)
    }

    /// A whole sign-in: the callback's answer, and the session cookie.
    async fn sign_in(&self, login: &str) -> (Reply, String) {
        let (callback, cookie) = self
            .through_provider("/auth/oidc/start?next=%2Fissues%2F1", login)
            .await;
        let reply = self.get(&callback, Some(&cookie)).await;
        let cookie = reply.session_cookie().unwrap_or(cookie);
        (reply, cookie)
    }

    async fn signed_in(&self, cookie: &str) -> bool {
        self.get("/api/autopilot/issues", Some(cookie)).await.status == StatusCode::OK
    }
}

/// A browser at the provider: follows redirects (keeping the provider's cookies), answers its
/// login page as `login` and its consent page with "Continue", until the provider sends the
/// browser back to the board. Returns that address.
async fn browse_provider(start: &str, login: &str) -> String {
    let client = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar: HashMap<String, String> = HashMap::new();
    let mut url = start.to_string();
    let mut form: Option<String> = None;
    for _ in 0..20 {
        let cookies = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = match form.take() {
            Some(body) => client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
            None => client.get(&url),
        };
        let r = request.header("cookie", cookies).send().await.unwrap();
        for set in r.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("expires=Thu, 01 Jan 1970") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        let status = r.status().as_u16();
        if (300..400).contains(&status) {
            let location = r.headers()["location"].to_str().unwrap().to_string();
            let next = reqwest::Url::parse(&url).unwrap().join(&location).unwrap();
            if next.as_str().starts_with("http://board.test/") {
                return next.to_string();
            }
            url = next.to_string();
            continue;
        }
        let page = r.text().await.unwrap();
        assert_eq!(status, 200, "{url}: {page}");
        let action = page
            .split("<form")
            .nth(1)
            .and_then(|f| f.split("action=\"").nth(1))
            .and_then(|a| a.split('"').next())
            .unwrap_or_else(|| panic!("no form on {url}: {page}"))
            .replace("&amp;", "&");
        url = reqwest::Url::parse(&url)
            .unwrap()
            .join(&action)
            .unwrap()
            .to_string();
        form = Some(if page.contains("value=\"login\"") {
            format!("prompt=login&login={login}&password=anything")
        } else {
            assert!(page.contains("value=\"consent\""), "{page}");
            "prompt=consent".to_string()
        });
    }
    panic!("the provider never sent the browser back");
}

async fn an_allowed_person_signs_in_and_is_found_again_by_issuer_and_subject() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let before = board.store.count_users().await.unwrap();

    let (reply, cookie) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.location(), "/issues/1");
    assert!(board.signed_in(&cookie).await);
    let bob = board.store.user_by_email("bob@example.com").await.unwrap();
    assert_eq!(bob.role, UserRole::Member);
    assert_eq!(bob.display_name, "Bob Member");

    // In an admin group: an admin.
    let (reply, _) = board.sign_in("ada").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let ada = board.store.user_by_email("ada@example.com").await.unwrap();
    assert_eq!(ada.role, UserRole::Admin);

    // The admin groups are followed at every sign-in: demoted here, Ada is an admin again
    // at her next sign-in, as the provider still puts her in the group.
    board
        .store
        .set_role(ada.id, UserRole::Member)
        .await
        .unwrap();
    let (reply, _) = board.sign_in("ada").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let ada = board.store.user_by_email("ada@example.com").await.unwrap();
    assert_eq!(ada.role, UserRole::Admin);

    // Again: the same account, nothing new, and no group makes Bob an admin.
    let (reply, cookie) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(board.signed_in(&cookie).await);
    assert_eq!(board.store.count_users().await.unwrap(), before + 2);
    let bob = board.store.user_by_email("bob@example.com").await.unwrap();
    assert_eq!(bob.role, UserRole::Member);

    // Found by issuer and subject, not by email: a disabled account stays out.
    // Disabling him ends the session he has through the provider at once.
    board.store.set_disabled(bob.id, true).await.unwrap();
    assert!(!board.signed_in(&cookie).await);
    let (reply, cookie) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text().contains("disabled"), "{}", reply.text());
    assert!(!board.signed_in(&cookie).await);
}

async fn outsiders_are_refused_and_nothing_is_made() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let before = board.store.count_users().await.unwrap();
    let (reply, cookie) = board.sign_in("eve").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text().contains("not allowed in"), "{}", reply.text());
    assert!(!board.signed_in(&cookie).await);
    assert_eq!(board.store.count_users().await.unwrap(), before);
    // The login page offers the provider.
    let login = board.get("/login", None).await;
    assert!(
        login.text().contains("Sign in with Test ID"),
        "{}",
        login.text()
    );
}

async fn a_replayed_or_tampered_callback_is_refused() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let before = board.store.count_users().await.unwrap();

    // A wrong state: refused, and the sign-in it spoiled is over.
    let (callback, cookie) = board.through_provider("/auth/oidc/start", "bob").await;
    let tampered = callback.replace("state=", "state=x");
    let r = board.get(&tampered, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("does not match"), "{}", r.text());
    let r = board.get(&callback, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(board.store.count_users().await.unwrap(), before);

    // From another browser (no session of this sign-in): refused.
    let (callback, cookie) = board.through_provider("/auth/oidc/start", "bob").await;
    let r = board.get(&callback, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("not started in this browser"),
        "{}",
        r.text()
    );

    // The real one works once; the same callback again is refused.
    let ok = board.get(&callback, Some(&cookie)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    let signed = ok.session_cookie().unwrap();
    let replay = board.get(&callback, Some(&signed)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    // The provider refuses a code used once, even with a fresh sign-in's state.
    let (fresh, fresh_cookie) = board.through_provider("/auth/oidc/start", "bob").await;
    let fresh_state = fresh
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let old_code = callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let mixed = format!("/auth/oidc/callback?code={old_code}&state={fresh_state}");
    let r = board.get(&mixed, Some(&fresh_cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(board.store.count_users().await.unwrap(), before + 1);
}

async fn a_key_rotation_at_the_provider_is_followed() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let (reply, _) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let (reply, _) = board.sign_in("cy").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    // The keys are kept between sign-ins.
    assert_eq!(provider.jwks_fetches().await, 1);
    // Signed with a key the board has not seen: it fetches the keys again, once.
    provider.control("rotate").await;
    let (reply, cookie) = board.sign_in("ada").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert!(board.signed_in(&cookie).await);
    assert_eq!(provider.jwks_fetches().await, 2);
    let (reply, _) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(provider.jwks_fetches().await, 2);
}

async fn an_expired_id_token_is_refused() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let before = board.store.count_users().await.unwrap();
    provider.control("expire").await;
    let (reply, cookie) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(
        reply.text().contains("did not check out"),
        "{}",
        reply.text()
    );
    assert!(!board.signed_in(&cookie).await);
    assert_eq!(board.store.count_users().await.unwrap(), before);
}

/// ID tokens signed with the provider's own key, but for another client or as another issuer,
/// and one whose claims were changed after signing: each refused, nobody made or signed in.
async fn foreign_and_tampered_id_tokens_are_refused() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let before = board.store.count_users().await.unwrap();
    // "did not check out" is the page of an ID token that failed verification (not of a
    // failed exchange, nor of a missing token).
    for how in ["foreign-audience", "foreign-issuer", "tampered"] {
        provider.control(how).await;
        let (reply, cookie) = board.sign_in("bob").await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{how}: {}",
            reply.text()
        );
        let text = reply.text().to_lowercase();
        assert!(text.contains("did not check out"), "{how}: {text}");
        assert!(!board.signed_in(&cookie).await, "{how}");
        assert_eq!(board.store.count_users().await.unwrap(), before, "{how}");
    }
    // The honest provider again: the same person signs in.
    provider.control("honest").await;
    let (reply, cookie) = board.sign_in("bob").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert!(board.signed_in(&cookie).await);
}

/// Each sign-in started keeps a session until it ends: one client starts at most 20 a minute,
/// then gets a 429 saying how long to wait.
async fn starting_sign_ins_is_limited_per_client() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    for n in 0..server::routes::PROVIDER_STARTS_PER_MINUTE {
        let r = board.get("/auth/oidc/start", None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "start {n}: {}", r.text());
    }
    let r = board.get("/auth/oidc/start", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=4).contains(&wait), "{wait}");
    assert!(r.text().contains("Too many sign-ins"), "{}", r.text());
    assert!(
        r.session_cookie().is_none(),
        "a refused start keeps no session"
    );
}

async fn an_invitation_lets_an_outsider_in_with_its_role_once() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let board = Board::new(&provider.issuer, Default::default()).await;
    let (_, secret) = board
        .store
        .create_invitation(UserRole::Admin, 3_600_000, None)
        .await
        .unwrap();
    let page = board.get(&app::domain::invite_path(&secret), None).await;
    assert!(
        page.text().contains("Sign in with Test ID"),
        "{}",
        page.text()
    );
    let start = format!("/auth/oidc/start?invite={secret}");
    let (callback, cookie) = board.through_provider(&start, "ivy").await;
    let reply = board.get(&callback, Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let ivy = board
        .store
        .user_by_email("ivy@elsewhere.test")
        .await
        .unwrap();
    assert_eq!(ivy.role, UserRole::Admin);
    // Used: the next outsider with the same link is refused before the provider.
    let again = board.get(&start, None).await;
    assert_eq!(again.status, StatusCode::GONE);
    // Ivy comes back through the provider alone, found by her subject.
    let (reply, _) = board.sign_in("ivy").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
}

async fn an_issuer_that_is_down_is_said_and_passwords_still_work() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let board = Board::new(&format!("http://127.0.0.1:{port}"), Default::default()).await;
    let r = board.get("/auth/oidc/start", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().contains("cannot be reached"), "{}", r.text());
    let login = password_login(&board, common::MEMBER_EMAIL).await;
    assert_eq!(login.location(), "/");
}

async fn password_login(board: &Board, email: &str) -> Reply {
    let body = format!(
        "email={}&password={}&next=%2F",
        email.replace('@', "%40"),
        common::PASSWORD.replace(' ', "+")
    );
    let req = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(body))
        .unwrap();
    board.send(req).await
}

async fn password_sign_in_can_be_kept_for_admins_or_turned_off() {
    use app::api::PasswordSignIn;
    let port = 9; // nothing is asked of the provider here
    let issuer = format!("http://127.0.0.1:{port}");
    let admins = Board::new(&issuer, PasswordSignIn::Admins).await;
    let member = password_login(&admins, common::MEMBER_EMAIL).await;
    assert!(
        member.location().starts_with("/login?error=invalid"),
        "{}",
        member.location()
    );
    let admin = password_login(&admins, common::ADMIN_EMAIL).await;
    assert_eq!(admin.location(), "/");
    let page = admins.get("/login", None).await.text();
    assert!(page.contains("for admins only"), "{page}");

    let off = Board::new(&issuer, PasswordSignIn::Off).await;
    let admin = password_login(&off, common::ADMIN_EMAIL).await;
    assert!(
        admin.location().starts_with("/login?error=password_off"),
        "{}",
        admin.location()
    );
    let page = off.get("/login", None).await.text();
    assert!(!page.contains("name=\"password\""), "{page}");
    assert!(page.contains("Sign in with Test ID"), "{page}");
}

on_both_engines!(
    an_allowed_person_signs_in_and_is_found_again_by_issuer_and_subject,
    outsiders_are_refused_and_nothing_is_made,
    a_replayed_or_tampered_callback_is_refused,
    a_key_rotation_at_the_provider_is_followed,
    an_expired_id_token_is_refused,
    foreign_and_tampered_id_tokens_are_refused,
    starting_sign_ins_is_limited_per_client,
    an_invitation_lets_an_outsider_in_with_its_role_once,
    an_issuer_that_is_down_is_said_and_passwords_still_work,
    password_sign_in_can_be_kept_for_admins_or_turned_off,
);
