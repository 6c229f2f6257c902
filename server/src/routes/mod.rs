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
mod issues;
pub mod live;
pub mod metrics;
mod runs;
pub mod self_heal;
mod socket;
mod warm;

pub use assets::built_with_hashes;
pub use auth::{LoginLimits, SetupToken};
pub use feedback::{FeedbackLimits, SDK_JS, WIDGET_JS};

use crate::config::AuthSettings;
use app::error::AppError;
use app::store::Store;
use app::{shell, App};
use axum::extract::{FromRef, Request, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

#[derive(Clone, FromRef)]
pub struct AppState {
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
    /// Rendered board pages, kept until the next change.
    pub warm_pages: Arc<warm::WarmPages>,
    /// The JSON API's whole-list answer, kept until the next change.
    pub warm_list: Arc<warm::WarmList>,
    /// Live streams open now, capped per person.
    pub live: Arc<live::LiveStreams>,
    /// Who may read `/metrics`.
    pub metrics: crate::config::MetricsAccess,
}

pub fn router(state: AppState) -> Router {
    let store = state.store.clone();
    let policy = state.auth.policy;
    let models = state.models.clone();
    let board = Router::new().leptos_routes_with_context(
        &state,
        route_list(),
        move || {
            provide_context(store.clone());
            provide_context(policy);
            provide_context(models.clone());
        },
        {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        },
    );

    let sessions = SessionManagerLayer::new(state.store.session_store())
        .with_name(session_cookie_name(state.auth.secure_cookies))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.auth.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::milliseconds(state.auth.policy.idle_ms),
        ));

    let protected = Router::new()
        .route("/metrics", get(metrics::serve))
        .route("/api/autopilot/ws", get(socket::open))
        .merge(issues::router())
        .merge(runs::router())
        .merge(auth::router())
        .merge(board)
        .layer(from_fn_with_state(state.clone(), warm::board_pages))
        .layer(from_fn_with_state(state.clone(), auth::pages))
        .layer(from_fn_with_state(state.clone(), auth::same_origin))
        .layer(sessions)
        // No request body may exceed the largest upload, whatever reads it (server functions
        // stream multipart without a cap of their own).
        .layer(RequestBodyLimitLayer::new(issues::UPLOAD_BODY_LIMIT));

    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/autopilot", get(|| async { Redirect::permanent("/") }))
        .merge(feedback::router(&state.feedback_origins))
        .merge(protected);
    let app = if state.self_heal {
        self_heal::install(app, &state)
    } else {
        app
    };
    app.route_layer(axum::middleware::from_fn(metrics::name_route))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(self_heal::panic_response))
        // Pages and JSON travel compressed when the browser asks (brotli at its fast level,
        // or gzip); live streams are left alone (tower-http's default predicate). The build's
        // own files come precompressed from disk (see `assets`), so they are not done twice.
        // Inside compression: it reads a page's nonce from the page as written.
        .layer(from_fn_with_state(state.clone(), headers::security))
        .layer(CompressionLayer::new().br(true).gzip(true))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
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

async fn healthz(State(store): State<Store>) -> Response {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// Unknown API paths get a JSON 404; anything else is a static file or the app's 404 page.
async fn not_found(State(state): State<AppState>, request: Request) -> Response {
    if request.uri().path().starts_with("/api/") {
        return AppError::not_found("API route").into_response();
    }
    let path = request.uri().path().to_string();
    let hashed = state.leptos_options.hash_files;
    let serve = leptos_axum::file_and_error_handler::<AppState, _>(shell);
    let response = serve(request.uri().clone(), State(state), request).await;
    assets::with_cache_policy(&path, hashed, response)
}

async fn method_not_allowed() -> Response {
    let mut response =
        AppError::BadRequest("method not allowed on this route".into()).into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
