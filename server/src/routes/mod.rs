//! The HTTP surface. Two halves:
//! - public: `/healthz`, the feedback route, static files;
//! - protected: the JSON API, sign-in, and the board (Leptos pages and server functions),
//!   behind the session layer and the `same_origin` and `pages` guards.
//!
//! The feedback route sits on the public half, so no session or origin layer can ever apply
//! to it, and nothing of the protected half is reachable through it.

mod assets;
mod auth;
mod client;
mod extract;
mod feedback;
mod headers;
mod invite;
mod issues;
pub mod live;
mod mcp;
pub mod metrics;
mod oidc;
pub mod openapi;
mod plain;
mod runs;
pub mod self_heal;
mod socket;
mod warm;
mod webhooks;

pub use assets::built_with_hashes;
pub use auth::{LoginLimits, SetupToken, PROVIDER_STARTS_PER_MINUTE};
pub use feedback::{FeedbackLimits, SDK_JS, WIDGET_JS};

use crate::config::AuthSettings;
use app::error::AppError;
use app::store::Store;
use app::{shell, App};
use axum::extract::{FromRef, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos::server_fn::ServerFn;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What every handler shares, behind one `Arc`: axum clones the state for every layer and
/// extractor of every request, so a clone must be one counter, not dozens of fields.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for app::domain::AllowedModels {
    fn from_ref(state: &AppState) -> Self {
        state.models.clone()
    }
}

impl FromRef<AppState> for app::domain::AllowedAgents {
    fn from_ref(state: &AppState) -> Self {
        state.agents.clone()
    }
}

impl FromRef<AppState> for Arc<live::LiveStreams> {
    fn from_ref(state: &AppState) -> Self {
        state.live.clone()
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub auth: Arc<AuthSettings>,
    pub setup_token: SetupToken,
    pub login_limits: Arc<LoginLimits>,
    pub feedback_limits: Arc<FeedbackLimits>,
    /// Sites allowed to post feedback from their pages (CORS).
    pub feedback_origins: Arc<Vec<String>>,
    /// File a bug when a request fails (AUTOPILOT_SELF_HEAL).
    pub self_heal: bool,
    pub models: app::domain::AllowedModels,
    /// Agents an issue may ask for (the default first).
    pub agents: app::domain::AllowedAgents,
    /// Rendered board pages, kept until the next change.
    pub warm_pages: Arc<warm::WarmPages>,
    /// The JSON API's whole-list answer, kept until the next change.
    pub warm_list: Arc<warm::WarmList>,
    /// Live streams open now, capped per person.
    pub live: Arc<live::LiveStreams>,
    /// Who may read `/metrics`.
    pub metrics: crate::config::MetricsAccess,
    /// Single sign-on, and who may sign in with a password.
    pub sign_in: crate::oidc::SignIn,
}

pub fn router(state: AppState) -> Router {
    // The page handlers are cloned for every request routed to them (kept pages too), so
    // they hold the state (one `Arc`) and take what a render needs only when rendering.
    let for_context = state.clone();
    let for_shell = state.clone();
    let board = Router::new()
        .leptos_routes_with_context(
            &state,
            route_list(),
            move || {
                let state = &for_context;
                provide_context(state.store.clone());
                provide_context(state.auth.policy);
                provide_context(state.models.clone());
                provide_context(state.agents.clone());
                provide_context(state.sign_in.options());
            },
            move || shell(for_shell.leptos_options.clone()),
        )
        .layer(axum::middleware::from_fn(server_fn_calls));

    let sessions = SessionManagerLayer::new(state.store.session_store())
        .with_name(session_cookie_name(state.auth.secure_cookies))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.auth.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::milliseconds(state.auth.policy.idle_ms),
        ));

    let protected = OpenApiRouter::new()
        .routes(routes!(metrics::serve))
        .routes(routes!(socket::open))
        .merge(issues::router())
        .merge(runs::router())
        .merge(webhooks::router())
        .merge(auth::router())
        .merge(invite::router())
        .merge(oidc::router())
        .merge(OpenApiRouter::from(board))
        // Outermost first. One `layer` call for the lot: axum wraps each call's layer around
        // every route in a box of its own, and clones the matched route's boxes for each
        // request (a kept page spent a tenth of its time making and dropping them).
        .layer(
            ServiceBuilder::new()
                .layer(sessions)
                .layer(from_fn_with_state(state.clone(), guards)),
        )
        // No request body may exceed the largest upload, whatever reads it (server functions
        // stream multipart without a cap of their own). A layer of its own: the ones inside
        // take axum's body, not the limited one it passes on.
        .layer(RequestBodyLimitLayer::new(issues::UPLOAD_BODY_LIMIT));

    let (app, spec) = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(healthz))
        .routes(routes!(old_board_address))
        .routes(routes!(openapi::spec))
        .merge(feedback::router(&state.feedback_origins))
        .merge(mcp::router(&state))
        .merge(protected)
        .split_for_parts();
    let spec = openapi::with_choices(openapi::finish(spec), &state.models.0, &state.agents.0);
    let spec = openapi::SpecJson::new(&spec);
    let app = app.merge(openapi::docs()).layer(axum::Extension(spec));
    let app = if state.self_heal {
        self_heal::install(app, &state)
    } else {
        app
    };
    let routed = app
        .route_layer(axum::middleware::from_fn(metrics::name_route))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state.clone());
    // Outermost first, around the router as a whole rather than through `Router::layer`:
    // that wraps every route in the lot, and each middleware clones what it wraps for every
    // request, so a request cloned the rest of its route's stack once per layer. Around the
    // router, what they clone is the router: one `Arc`.
    let stack = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(axum::middleware::from_fn(metrics::track))
        // Pages and JSON travel compressed when the browser asks (brotli at its fast
        // level, or gzip); live streams are left alone (tower-http's default
        // predicate). The build's own files come precompressed from disk (see
        // `assets`), and kept pages with their own copies (see `warm`), so they are
        // not done twice.
        .layer(CompressionLayer::new().br(true).gzip(true))
        // Inside compression: it reads a page's nonce from the page as written.
        .layer(from_fn_with_state(state.clone(), headers::security))
        .layer(from_fn_with_state(state.clone(), known_host))
        .layer(CatchPanicLayer::custom(self_heal::panic_response))
        .service(routed);
    Router::new().fallback_service(stack)
}

/// The signed-in half's guards, in this order: no cross-site writes on the session cookie
/// (`auth::same_origin`), anonymous people to the login page and members out of admin pages
/// (`auth::pages`), then a kept board page if there is one (`warm::board_pages`). One
/// middleware, not three: each clones what it wraps for every request.
async fn guards(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(refused) = auth::same_origin(&state, &request) {
        return refused.into_response();
    }
    match auth::pages(&state, request).await {
        Ok(request) => warm::board_pages(&state, request, next).await,
        Err(answer) => answer,
    }
}

/// Over https the session cookie takes the `__Host-` prefix: browsers then only accept it
/// from this host, over https, for the whole site, so no sibling subdomain can set or shadow
/// it.
fn session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-autopilot_session"
    } else {
        "autopilot_session"
    }
}

/// The app's routes, worked out once per process. Leptos works them out by rendering the app
/// with resource loading suppressed by a process-wide flag, so doing it again while another
/// router serves pages (the tests build many) leaves a page's resources pending forever
/// (leptos-rs/leptos#4773).
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The original's board address: the board is at `/` now.
#[utoipa::path(get, path = "/autopilot", tag = "service", security(()),
    responses((status = 308, description = "To `/`", headers(("Location" = String)))))]
async fn old_board_address() -> Redirect {
    Redirect::permanent("/")
}

/// Whether this server can reach its database: for load balancers and `systemctl`.
#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses(
        (status = 200, description = "`ok`", content_type = "text/plain", body = String),
        (status = 503, description = "`database unavailable`", content_type = "text/plain", body = String)))]
async fn healthz(State(store): State<Store>) -> Response {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// Unknown API paths get a JSON 404; anything else is a static file, or a plain 404 page.
///
/// The app itself is never rendered here: this fallback sits outside the session layer and
/// the page guard, so a page rendered here would skip them (a path the app's router matches
/// and axum's does not, such as `/admin/` with its trailing slash, would show the admin shell
/// to anyone). A page address with a trailing slash is sent to the address without it, which
/// the guard then sees.
async fn not_found(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/api/") {
        return AppError::not_found("API route").into_response();
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return not_found_page(&state.leptos_options);
    }
    let probe = file_request(&request);
    let file = static_file(&state.leptos_options, probe).await;
    if file.status() != StatusCode::NOT_FOUND {
        return assets::with_cache_policy(&path, state.leptos_options.hash_files, file);
    }
    match without_trailing_slash(request.uri()) {
        Some(page) => Redirect::permanent(&page).into_response(),
        None => not_found_page(&state.leptos_options),
    }
}

/// A file of the built site (precompressed copies when the browser takes them). Directories
/// are not files: no index pages, no redirects to a directory's address.
async fn static_file(options: &LeptosOptions, probe: Request) -> Response {
    use tower::ServiceExt;
    let serve = tower_http::services::ServeDir::new(options.site_root.as_ref())
        .append_index_html_on_directories(false)
        .precompressed_gzip()
        .precompressed_br();
    match serve.oneshot(probe).await {
        Ok(response) => response.into_response(),
        Err(err) => {
            tracing::error!(%err, "reading a static file");
            AppError::Internal.into_response()
        }
    }
}

/// The request for a static file: the address and the headers that choose what is sent.
fn file_request(request: &Request) -> Request {
    let mut probe = Request::new(axum::body::Body::empty());
    *probe.method_mut() = request.method().clone();
    *probe.uri_mut() = request.uri().clone();
    for name in [
        http::header::ACCEPT_ENCODING,
        http::header::IF_MODIFIED_SINCE,
        http::header::IF_UNMODIFIED_SINCE,
        http::header::RANGE,
    ] {
        if let Some(value) = request.headers().get(&name) {
            probe.headers_mut().insert(name, value.clone());
        }
    }
    probe
}

/// `/admin/?x=1` → `/admin?x=1`; `None` for `/` and for anything that would leave this site
/// (`//host/`: a browser reads `//host` as another site).
fn without_trailing_slash(uri: &axum::http::Uri) -> Option<String> {
    let path = uri.path();
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() == path.len()
        || trimmed.is_empty()
        || !trimmed.starts_with('/')
        || trimmed.starts_with("//")
        || trimmed.contains('\\')
    {
        return None;
    }
    Some(match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_string(),
    })
}

/// The 404 page: written here, with the board's stylesheet and no script.
fn not_found_page(options: &LeptosOptions) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Not found · Autopilot</title>\
         <link rel=\"stylesheet\" href=\"{}\"></head><body><main class=\"not-found\">\
         <h1>Not found</h1><p><a href=\"/\">Back to the board</a></p></main></body></html>",
        assets::stylesheet_href(options)
    );
    (
        StatusCode::NOT_FOUND,
        [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// Calls of the board's server functions (`/api/<name>`), before and after Leptos handles
/// them:
/// - the upload's body must be `multipart/form-data` with a boundary (server_fn's multipart
///   reader panics on anything else), the others' form-encoded when a type is given: 415;
/// - a failed call's status is the one its error names (server_fn answers every error with
///   500, and only some calls set theirs), so a caller's mistake is never a 5xx.
async fn server_fn_calls(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let content_type = request.headers().get(http::header::CONTENT_TYPE).cloned();
    let refused = if path == <app::api::UploadAttachment as ServerFn>::PATH {
        (!has_multipart_boundary(content_type.as_ref()).await).then(|| {
            AppError::UnsupportedMediaType(
                "send the file as multipart/form-data (with a boundary)".into(),
            )
        })
    } else {
        content_type.filter(|ct| !is_form(ct)).map(|_| {
            AppError::UnsupportedMediaType(
                "send the arguments as application/x-www-form-urlencoded".into(),
            )
        })
    };
    if let Some(err) = refused {
        return server_fn_error(err);
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    // Our errors are a few hundred bytes of JSON.
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let named = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["status"].as_u64())
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| s.is_client_error() || s.is_server_error());
    if let Some(status) = named {
        parts.status = status;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The header server_fn puts on a failed call's answer.
const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";

/// An error as a server function answers it (`AppError`'s wire form), with its status.
fn server_fn_error(err: AppError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::to_vec(&err).unwrap_or_default();
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn is_form(content_type: &http::HeaderValue) -> bool {
    content_type.to_str().is_ok_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// Whether multer (which reads server functions' multipart bodies) finds a boundary in this
/// content type: asked of axum's multipart extractor, which uses the same parser.
async fn has_multipart_boundary(content_type: Option<&http::HeaderValue>) -> bool {
    use axum::extract::FromRequest;
    let Some(content_type) = content_type else {
        return false;
    };
    let mut probe = Request::new(axum::body::Body::empty());
    probe
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, content_type.clone());
    axum::extract::Multipart::from_request(probe, &())
        .await
        .is_ok()
}

/// With no `AUTOPILOT_PUBLIC_URL`, the board answers only to the names a browser on this
/// machine or network uses for it directly: an IP address, `localhost` or `*.localhost`. A
/// web page cannot make a browser send any of those for its own name, so DNS rebinding
/// (a hostile page's name pointed at this server) cannot read it. With a public URL, the
/// proxy in front decides which names reach it.
async fn known_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.auth.public_origin.is_none() {
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        if let Some(host) = host {
            if !is_direct_host(&host) {
                return AppError::Forbidden(
                    "this server answers only to localhost or its IP address; set \
                     AUTOPILOT_PUBLIC_URL to serve it under a name"
                        .into(),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// `127.0.0.1:3000`, `[::1]`, `localhost`, `board.localhost:80`: an address, or a loopback
/// name.
fn is_direct_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest.split_once(']').is_some_and(|(ip, port)| {
            ip.parse::<std::net::Ipv6Addr>().is_ok()
                && (port.is_empty() || port.strip_prefix(':').is_some_and(is_port))
        });
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || (name.ends_with(".localhost") && name.len() > ".localhost".len())
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

async fn method_not_allowed() -> Response {
    let mut response =
        AppError::BadRequest("method not allowed on this route".into()).into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
