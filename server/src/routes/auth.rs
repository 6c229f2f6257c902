//! Signing in and out, first-run set-up, and the two guards every protected request passes:
//! `same_origin` (no cross-site writes riding on the session cookie) and `pages` (anonymous
//! people are sent to the login page, members kept out of admin pages).

use super::AppState;
use app::auth::{self, hash_password, secrets_match, verify_password};
use app::domain::{validate_display_name, validate_email, validate_password, Role};
use app::error::AppError;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use leptos::prelude::LeptosOptions;
use serde::Deserialize;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/setup", post(setup))
}

/// The one-time secret that lets the first admin be created; printed to the log at start-up
/// while there are no users, gone once used.
#[derive(Clone, Default)]
pub struct SetupToken(Arc<Mutex<Option<String>>>);

impl SetupToken {
    pub fn new(token: Option<String>) -> Self {
        SetupToken(Arc::new(Mutex::new(token)))
    }

    fn matches(&self, candidate: &str) -> bool {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard
            .as_deref()
            .is_some_and(|t| secrets_match(t, candidate))
    }

    fn consume(&self) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// Login attempts allowed per client address and per account (OWASP: slow down guessing,
/// without locking an account for good).
pub struct LoginLimits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            by_address: RateLimiter::keyed(per_minute(10)),
            by_account: RateLimiter::keyed(per_minute(5)),
        }
    }
}

impl LoginLimits {
    fn allow(&self, address: IpAddr, account: &str) -> bool {
        // Both are charged, so spraying many accounts from one address is limited too.
        let address_ok = self.by_address.check_key(&address).is_ok();
        let account_ok = self.by_account.check_key(&account.to_string()).is_ok();
        address_ok && account_ok
    }

    /// Drops the state of keys that have been quiet; call now and then to bound memory.
    pub fn forget_quiet(&self) {
        self.by_address.retain_recent();
        self.by_account.retain_recent();
    }
}

/// Where to go after signing in: only a path on this site, never another host.
pub fn safe_next(next: &str) -> &str {
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if same_site {
        next
    } else {
        "/"
    }
}

fn to_login(error: &str, next: &str) -> Redirect {
    let next = safe_next(next);
    Redirect::to(&format!(
        "/login?error={error}&next={}",
        app::percent::path(next)
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    request: Request,
) -> Result<Response, AppError> {
    let (parts, body) = request.into_parts();
    let address = super::client::client_address(&parts, &state.auth.trusted_proxies);
    let request = Request::from_parts(parts, body);
    let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &()).await else {
        return Ok(to_login("invalid", "/").into_response());
    };
    let account = form.email.trim().to_lowercase();
    if !state.login_limits.allow(address, &account) {
        tracing::warn!(%address, "login rate limit hit");
        return Ok(to_login("rate", &form.next).into_response());
    }
    let candidate = match validate_email(&form.email) {
        Ok(email) => state.store.login_candidate(&email).await?,
        Err(_) => None,
    };
    let (user, hash) = match candidate {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    // Always verify (a dummy hash for unknown emails): the answer and its timing must not
    // tell which emails exist.
    let password_ok = verify_password(form.password, hash).await;
    match user {
        Some(user) if password_ok && !user.is_disabled() => {
            auth::sign_in(&session, &user).await?;
            tracing::info!(user = user.id, "signed in");
            Ok(Redirect::to(safe_next(&form.next)).into_response())
        }
        _ => {
            tracing::info!(%address, "failed sign-in");
            Ok(to_login("invalid", &form.next).into_response())
        }
    }
}

async fn logout(session: Session) -> Result<Redirect, AppError> {
    auth::sign_out(&session).await?;
    Ok(Redirect::to("/login?signed_out=1"))
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// Creates the first admin, once, with the token from the server log.
async fn setup(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SetupForm>,
) -> Result<Response, AppError> {
    if state.store.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    let back = |error: &str| {
        Redirect::to(&format!(
            "/setup?token={}&error={error}",
            app::percent::query_value(&form.token)
        ))
        .into_response()
    };
    if !state.setup_token.matches(&form.token) {
        return Ok(back("token"));
    }
    let Ok(email) = validate_email(&form.email) else {
        return Ok(back("email"));
    };
    let Ok(name) = validate_display_name(&form.name) else {
        return Ok(back("name"));
    };
    if validate_password(&form.password).is_err() {
        return Ok(back("password"));
    }
    let hash = hash_password(form.password).await?;
    let Some(admin) = state.store.create_first_admin(&email, &name, &hash).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    state.setup_token.consume();
    auth::sign_in(&session, &admin).await?;
    tracing::info!(user = admin.id, "first admin created");
    Ok(Redirect::to("/").into_response())
}

fn is_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.starts_with("Bearer "))
}

/// Refuses state-changing requests sent by another site's page (CSRF). Browsers say where a
/// request comes from in `Sec-Fetch-Site` and `Origin`; requests with neither are not from a
/// browser page. Bearer-token requests carry no ambient credential, so they pass. A WebSocket
/// opened by another site's page is refused too: it is a GET, but no CORS rule keeps that
/// page from reading what the socket says.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && !request.headers().contains_key(header::UPGRADE);
    if safe || is_bearer(request.headers()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let allowed = match (fetch_site, origin) {
        (Some(site), _) => site == "same-origin" || site == "none",
        (None, Some(origin)) => origin_is_ours(
            origin,
            state.auth.public_origin.as_deref(),
            headers.get(header::HOST).and_then(|h| h.to_str().ok()),
        ),
        (None, None) => true,
    };
    if allowed {
        next.run(request).await
    } else {
        tracing::warn!(?fetch_site, ?origin, path = %request.uri().path(), "cross-site write refused");
        AppError::Forbidden("cross-site request refused".into()).into_response()
    }
}

/// The board's own origin is `--public-url` when set, otherwise whatever host the request was
/// sent to.
pub(super) fn origin_is_ours(
    origin: &str,
    public_origin: Option<&str>,
    host: Option<&str>,
) -> bool {
    let origin = origin.to_ascii_lowercase();
    match (public_origin, host) {
        (Some(public), _) => origin == public,
        (None, Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host.to_ascii_lowercase()),
        (None, None) => false,
    }
}

/// Page requests: a path with no file extension, outside the API and the built assets.
fn is_page(request: &Request) -> bool {
    let path = request.uri().path();
    matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !path.starts_with("/pkg/")
        && path != "/metrics"
        && !path.rsplit('/').next().unwrap_or_default().contains('.')
}

/// Sends anonymous people to the login page (or the first-run page), keeps members out of
/// admin pages, and keeps `/setup` closed once someone exists.
pub async fn pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_page(&request) {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let (mut parts, body) = request.into_parts();
    let actor = auth::authenticate(&parts, &state.store, state.auth.policy).await;
    if let Ok(actor) = &actor {
        parts.extensions.insert(auth::Authenticated(actor.clone()));
    }
    let request = Request::from_parts(parts, body);
    match (path.as_str(), actor) {
        ("/setup", _) => match state.store.count_users().await {
            Ok(0) => next.run(request).await,
            Ok(_) => Redirect::to("/login").into_response(),
            Err(err) => err.into_response(),
        },
        ("/login", Ok(_)) => Redirect::to("/").into_response(),
        ("/login", Err(_)) => next.run(request).await,
        (_, Ok(actor)) if path.starts_with("/admin") && actor.role != Role::Admin => {
            forbidden_page(&state.leptos_options)
        }
        (_, Ok(_)) => next.run(request).await,
        (_, Err(AppError::Unauthorized)) => match state.store.count_users().await {
            Ok(0) => Redirect::to("/setup").into_response(),
            _ => {
                let wanted = request
                    .uri()
                    .path_and_query()
                    .map(|pq| pq.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                Redirect::to(&format!(
                    "/login?next={}",
                    app::percent::path(safe_next(&wanted))
                ))
                .into_response()
            }
        },
        (_, Err(other)) => other.into_response(),
    }
}

fn forbidden_page(options: &LeptosOptions) -> Response {
    let css = super::assets::stylesheet_href(options);
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Admins only · Autopilot</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="{css}"></head>
<body><main class="not-found"><h1>Admins only</h1><p>This page is for admins. <a href="/">Back to the board</a></p></main></body></html>"#
    );
    (StatusCode::FORBIDDEN, Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::{origin_is_ours, safe_next};

    #[test]
    fn only_our_own_origin_is_ours() {
        assert!(origin_is_ours(
            "http://127.0.0.1:3000",
            None,
            Some("127.0.0.1:3000")
        ));
        assert!(!origin_is_ours(
            "http://evil.example",
            None,
            Some("127.0.0.1:3000")
        ));
        assert!(!origin_is_ours("null", None, Some("127.0.0.1:3000")));
        assert!(origin_is_ours(
            "https://Board.example",
            Some("https://board.example"),
            Some("x")
        ));
        assert!(!origin_is_ours(
            "http://board.example",
            Some("https://board.example"),
            None
        ));
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/issues/4?x=1"), "/issues/4?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:x",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
