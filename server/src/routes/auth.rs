//! Signing in and out, first-run set-up, and the two guards every protected request passes:
//! `same_origin` (no cross-site writes riding on the session cookie) and `pages` (anonymous
//! people are sent to the login page, members kept out of admin pages).

use super::client::{client_key, ClientKey, Policy, Strikes};
use super::extract::SignInFrom;
use super::AppState;
use app::auth::{self, hash_password, secrets_match, verify_password};
use app::domain::{
    validate_display_name, validate_email, validate_password, Role, PASSWORD_MAX_CHARS,
};
use app::error::{AppError, ErrorBody};
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::LeptosOptions;
use serde::Deserialize;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The sign-in and set-up forms are a few short fields: anything bigger is refused (413)
/// before it is read, let alone looked at.
pub const FORM_BODY_LIMIT: usize = 8 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(setup))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
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

/// How sign-in attempts are throttled (OWASP: slow guessing down, never lock an account).
///
/// Counted per client (an address; an IPv6 /64, see [`ClientKey`]) and per account *from that
/// client*, so guesses from elsewhere never keep the owner out of their own account: only the
/// client that failed is refused, and only it sees "too many attempts". Each failure past
/// the free ones makes that client wait longer (1 s, 2 s, 4 s… per client; 2 s, 4 s… per
/// account and client). A success gives the client its strike back and clears its count on
/// that account. Failures on an account from everywhere together only slow the failed answers
/// down a little, never refuse anyone.
///
/// The email is validated (at most 254 characters) before any of this, and accounts are kept
/// as a keyed 64-bit hash: no table holds what a client typed, and each holds at most
/// [`STRIKES_CAP`](super::client::STRIKES_CAP) keys.
pub struct LoginLimits {
    by_client: Strikes<ClientKey>,
    by_account_and_client: Strikes<(AccountKey, ClientKey)>,
    by_account: Strikes<AccountKey>,
    /// Sign-ins started at the provider: each keeps a session row until it ends.
    provider_starts: Strikes<ClientKey>,
    /// Keyed with a random key per process: nobody can make two emails share a count.
    hasher: RandomState,
}

/// An account, as the limits know it: a keyed hash of its normalised email.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountKey(u64);

/// Failures on one account from everywhere past this many (in the window below) slow each
/// further failed answer by [`SLOW_STEP`] more, up to [`SLOW_MAX`].
const ACCOUNT_FREE: u32 = 20;
const SLOW_STEP: Duration = Duration::from_millis(50);
const SLOW_MAX: Duration = Duration::from_secs(1);

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            // 10 at once, then about 10 a minute.
            by_client: Strikes::new(Policy {
                free: 10,
                forgive: Duration::from_secs(6),
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            }),
            // 5 at once, then about one a minute.
            by_account_and_client: Strikes::new(Policy {
                free: 5,
                forgive: Duration::from_secs(60),
                base: Duration::from_secs(2),
                cap: Duration::from_secs(15 * 60),
            }),
            // Only counted, never waited on (see `Attempt::failed`).
            by_account: Strikes::new(Policy {
                free: ACCOUNT_FREE,
                forgive: Duration::from_secs(3),
                base: Duration::ZERO,
                cap: Duration::ZERO,
            }),
            provider_starts: Strikes::new(Policy::per_minute(PROVIDER_STARTS_PER_MINUTE)),
            hasher: RandomState::new(),
        }
    }
}

/// Sign-ins a client may start at the provider in a minute (a person needs one or two).
pub const PROVIDER_STARTS_PER_MINUTE: u32 = 20;

impl LoginLimits {
    /// The key of an already validated, normalised email.
    pub fn account(&self, email: &str) -> AccountKey {
        AccountKey(self.hasher.hash_one(email))
    }

    /// Admits one attempt of `client` on `account`, counted as a failure until it is known
    /// not to be one, or says how long that client must wait.
    pub fn admit(&self, client: ClientKey, account: AccountKey) -> Result<Attempt<'_>, Duration> {
        let pair = (account, client);
        let wait = self.by_account_and_client.wait(&pair);
        if !wait.is_zero() {
            return Err(wait);
        }
        self.by_client.take(&client)?;
        if let Err(wait) = self.by_account_and_client.take(&pair) {
            self.by_client.refund(&client);
            return Err(wait);
        }
        Ok(Attempt {
            limits: self,
            client,
            account,
        })
    }

    /// Admits one sign-in started at the provider by `client`, or says how long it must wait.
    pub fn admit_provider_start(&self, client: ClientKey) -> Result<(), Duration> {
        self.provider_starts.take(&client)
    }

    /// Keys held by the limits now (for tests and the hostile-clients example).
    pub fn tracked(&self) -> usize {
        self.by_client.keys()
            + self.by_account_and_client.keys()
            + self.by_account.keys()
            + self.provider_starts.keys()
    }

    /// Drops the state of keys that have been quiet; call now and then to give memory back.
    /// (The tables are capped whether or not this runs.)
    pub fn forget_quiet(&self) {
        self.by_client.forget_quiet();
        self.by_account_and_client.forget_quiet();
        self.by_account.forget_quiet();
        self.provider_starts.forget_quiet();
    }
}

/// One admitted sign-in attempt, counted as a failure from the start: a client that goes
/// away before the answer (its password is being checked all the same) keeps the strike.
/// [`succeeded`](Attempt::succeeded) and [`not_a_guess`](Attempt::not_a_guess) give it back.
pub struct Attempt<'a> {
    limits: &'a LoginLimits,
    client: ClientKey,
    account: AccountKey,
}

impl Attempt<'_> {
    /// A wrong password: the strikes stay. Returns how long to hold the answer back: nothing,
    /// unless the account is failing a lot from everywhere, and then at most a second.
    pub fn failed(self) -> Duration {
        let limits = self.limits;
        let _ = limits.by_account.take(&self.account);
        let count = limits.by_account.count(&self.account);
        SLOW_STEP
            .saturating_mul(count.saturating_sub(ACCOUNT_FREE))
            .min(SLOW_MAX)
    }

    /// Signed in: the client gets its strike back and starts afresh on this account.
    pub fn succeeded(self) {
        self.limits.by_client.refund(&self.client);
        self.limits
            .by_account_and_client
            .clear(&(self.account, self.client));
    }

    /// The password was never checked (every hashing slot busy, the database away): the
    /// strikes are given back.
    pub fn not_a_guess(self) {
        self.limits.by_client.refund(&self.client);
        self.limits
            .by_account_and_client
            .refund(&(self.account, self.client));
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

#[derive(Deserialize, utoipa::ToSchema)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The sign-in form. Answers with a redirect: to `next` when signed in, else back to the
/// sign-in page with `error=invalid` (wrong email or password, or not a form) or
/// `error=rate` (this client must wait). Sets the session cookie.
#[utoipa::path(post, path = "/login", tag = "sign-in", security(()),
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in, or refused: see `Location`",
            headers(("Location" = String, description = "Where the browser goes next"))),
        (status = 400, description = "Not a sign-in form (`bad_request`)", body = ErrorBody),
        (status = 403, description = "A cross-site form (`forbidden`)", body = ErrorBody),
        (status = 413, description = "Over 8 KiB (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not a URL-encoded form (`unsupported_media_type`)", body = ErrorBody),
        (status = 503, description = "Every password-hashing slot is busy, or the database is unavailable: try again", content(
            (String = "text/html"),
            (ErrorBody = "application/json")))))]
async fn login(
    State(state): State<AppState>,
    session: Session,
    SignInFrom(from): SignInFrom,
    request: Request,
) -> Result<Response, AppError> {
    let (parts, body) = request.into_parts();
    let client = client_key(&parts, &state.auth.trusted_proxies);
    let request = Request::from_parts(parts, body);
    let form = match Form::<LoginForm>::from_request(request, &()).await {
        Ok(Form(form)) => form,
        Err(rejection) => return Err(not_a_form(rejection, "sign-in")),
    };
    if state.sign_in.password == app::api::PasswordSignIn::Off {
        return Ok(to_login("password_off", &form.next).into_response());
    }
    // Checked before anything is counted or hashed: no stored account can have such an email
    // or password, and nothing a client typed is kept.
    let Ok(email) = validate_email(&form.email) else {
        return Ok(to_login("invalid", &form.next).into_response());
    };
    if form.password.chars().count() > PASSWORD_MAX_CHARS {
        return Ok(to_login("invalid", &form.next).into_response());
    }
    let account = state.login_limits.account(&email);
    let attempt = match state.login_limits.admit(client, account) {
        Ok(attempt) => attempt,
        Err(wait) => {
            tracing::warn!(%client, wait_s = wait.as_secs(), "sign-in throttled");
            return Ok(to_login("rate", &form.next).into_response());
        }
    };
    let (user, hash) = match state.store.login_candidate(&email).await {
        Ok(Some((user, hash))) => (Some(user), Some(hash)),
        Ok(None) => (None, None),
        Err(err) => {
            attempt.not_a_guess();
            return Err(err);
        }
    };
    // Always verify (a dummy hash for unknown emails): the answer and its timing must not
    // tell which emails exist.
    let password_ok = match verify_password(form.password, hash).await {
        Ok(ok) => ok,
        Err(err) => {
            attempt.not_a_guess();
            return match err {
                // Every hashing slot stayed busy: "try again", nothing counted.
                AppError::Unavailable(_) => Ok(busy_page()),
                other => Err(other),
            };
        }
    };
    match user {
        // With AUTOPILOT_PASSWORD_SIGNIN=admins a member's password opens nothing (answered
        // as a wrong one: the answer tells nobody whether it was right).
        Some(user)
            if password_ok && !user.is_disabled() && state.sign_in.password_allowed(user.role) =>
        {
            attempt.succeeded();
            auth::sign_in(&session, &state.store, &user, &from).await?;
            tracing::info!(user = user.id, "signed in");
            Ok(Redirect::to(safe_next(&form.next)).into_response())
        }
        _ => {
            let slow_down = attempt.failed();
            tracing::info!(%client, "failed sign-in");
            if !slow_down.is_zero() {
                tokio::time::sleep(slow_down).await;
            }
            Ok(to_login("invalid", &form.next).into_response())
        }
    }
}

/// A body that is not the page's form (a browser always sends one): 413 over
/// [`FORM_BODY_LIMIT`], 415 for another content type, else 400, in the JSON error shape.
fn not_a_form(rejection: FormRejection, form: &str) -> AppError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge(format!("a {form} form is at most {FORM_BODY_LIMIT} bytes"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType(format!(
            "the {form} form is sent as application/x-www-form-urlencoded"
        )),
        _ => AppError::BadRequest(format!("not a {form} form")),
    }
}

/// Every password-hashing slot was busy for longer than the short wait: "try again", with
/// nothing counted against the person.
pub(super) fn busy_page() -> Response {
    let html = r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Busy · Autopilot</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main class="not-found"><h1>Busy</h1><p>Too many people are signing in at this moment. Wait a few seconds, then <a href="/login">try again</a>.</p></main></body></html>"#;
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Html(html),
    )
        .into_response()
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/logout", tag = "sign-in", security(()),
    responses(
        (status = 303, description = "Signed out: to the sign-in page",
            headers(("Location" = String, description = "The sign-in page"))),
        (status = 403, description = "A cross-site form (`forbidden`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable (`unavailable`)", body = ErrorBody)))]
async fn logout(State(state): State<AppState>, session: Session) -> Result<Redirect, AppError> {
    auth::sign_out(&session, &state.store).await?;
    Ok(Redirect::to("/login?signed_out=1"))
}

#[derive(Deserialize, utoipa::ToSchema)]
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

/// Creates the first admin, once, with the token from the server log. Once anyone exists it
/// only sends the browser to the sign-in page.
#[utoipa::path(post, path = "/setup", tag = "sign-in", security(()),
    request_body(content = SetupForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Done (to the board), refused (back to the form with `error=`), or already set up (to the sign-in page)",
            headers(("Location" = String, description = "Where the browser goes next"))),
        (status = 400, description = "Not a set-up form (`bad_request`)", body = ErrorBody),
        (status = 403, description = "A cross-site form (`forbidden`)", body = ErrorBody),
        (status = 413, description = "Over 8 KiB (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not a URL-encoded form (`unsupported_media_type`)", body = ErrorBody),
        (status = 503, description = "Every password-hashing slot is busy, or the database is unavailable: try again", content(
            (String = "text/html"),
            (ErrorBody = "application/json")))))]
async fn setup(
    State(state): State<AppState>,
    session: Session,
    SignInFrom(from): SignInFrom,
    form: Result<Form<SetupForm>, FormRejection>,
) -> Result<Response, AppError> {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return Err(not_a_form(rejection, "set-up")),
    };
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
    let hash = match hash_password(form.password).await {
        Ok(hash) => hash,
        Err(AppError::Unavailable(_)) => return Ok(busy_page()),
        Err(other) => return Err(other),
    };
    let Some(admin) = state.store.create_first_admin(&email, &name, &hash).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    state.setup_token.consume();
    auth::sign_in(&session, &state.store, &admin, &from).await?;
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
pub fn same_origin(state: &AppState, request: &Request) -> Result<(), AppError> {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && !request.headers().contains_key(header::UPGRADE);
    if safe || is_bearer(request.headers()) {
        return Ok(());
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
        Ok(())
    } else {
        tracing::warn!(?fetch_site, ?origin, path = %request.uri().path(), "cross-site write refused");
        Err(AppError::Forbidden("cross-site request refused".into()))
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
///
/// The request to pass on (with who is asking, if anyone), or the answer that stops it.
pub async fn pages(state: &AppState, request: Request) -> Result<Request, Response> {
    if !is_page(&request) {
        return Ok(request);
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
            Ok(0) => Ok(request),
            Ok(_) => Err(Redirect::to("/login").into_response()),
            Err(err) => Err(err.into_response()),
        },
        ("/login", Ok(_)) => Err(Redirect::to("/").into_response()),
        // An invitee has no account yet (their link's page says whether it still works), and
        // single sign-on is a way in, like `/login`.
        (p, _) if p.starts_with("/invite/") || p.starts_with("/auth/oidc/") => Ok(request),
        ("/login", Err(_)) => Ok(request),
        (_, Ok(actor)) if path.starts_with("/admin") && actor.role != Role::Admin => {
            Err(forbidden_page(&state.leptos_options))
        }
        (_, Ok(_)) => Ok(request),
        (_, Err(AppError::Unauthorized)) => match state.store.count_users().await {
            Ok(0) => Err(Redirect::to("/setup").into_response()),
            _ => {
                let wanted = request
                    .uri()
                    .path_and_query()
                    .map(|pq| pq.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                Err(Redirect::to(&format!(
                    "/login?next={}",
                    app::percent::path(safe_next(&wanted))
                ))
                .into_response())
            }
        },
        (_, Err(other)) => Err(other.into_response()),
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
    use super::{origin_is_ours, safe_next, ClientKey, LoginLimits, SLOW_MAX};
    use std::net::IpAddr;

    fn client(s: &str) -> ClientKey {
        ClientKey::of(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn failures_from_elsewhere_never_refuse_a_client_that_has_not_failed() {
        let limits = LoginLimits::default();
        let account = limits.account("owner@example.com");
        for n in 0..300u16 {
            let guesser = ClientKey::of(IpAddr::from([198, 51, (n >> 8) as u8, n as u8]));
            for _ in 0..5 {
                let attempt = limits.admit(guesser, account).expect("a free guess");
                assert!(attempt.failed() <= SLOW_MAX);
            }
            assert!(limits.admit(guesser, account).is_err(), "guesser {n}");
        }
        let owner = client("203.0.113.1");
        limits
            .admit(owner, account)
            .expect("the owner was refused")
            .succeeded();
        // The owner's own address is unaffected on other accounts too.
        let other = limits.account("someone@example.com");
        assert!(limits.admit(owner, other).is_ok());
    }

    #[test]
    fn an_attempt_abandoned_mid_check_keeps_its_strike_and_a_success_clears_the_pair() {
        let limits = LoginLimits::default();
        let account = limits.account("owner@example.com");
        let me = client("192.0.2.7");
        for _ in 0..4 {
            let _ = limits.admit(me, account).expect("admitted");
        }
        limits.admit(me, account).expect("admitted").succeeded();
        // The success cleared the four abandoned ones.
        for _ in 0..5 {
            let _ = limits.admit(me, account).expect("admitted");
        }
        assert!(limits.admit(me, account).is_err());
        // Never checked: given back.
        let other = limits.account("other@example.com");
        for _ in 0..20 {
            limits.admit(me, other).expect("admitted").not_a_guess();
        }
    }

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
