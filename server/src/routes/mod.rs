//! The HTTP surface: the JSON API under `/api/autopilot`, the public feedback route on its own
//! router, the board (Leptos SSR and server functions) and static files.

mod extract;
mod feedback;
mod issues;

use app::error::AppError;
use app::store::Store;
use app::{shell, App};
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(issues::router())
        // Public and unauthenticated: on its own router so no session or origin layer added to
        // the rest of the API can ever apply to it, and nothing of the rest is reachable here.
        .merge(feedback::router())
        .fallback(api_not_found)
        .method_not_allowed_fallback(api_method_not_allowed);

    let store = state.store.clone();
    let board = Router::new()
        .leptos_routes_with_context(
            &state,
            generate_route_list(App),
            move || provide_context(store.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));

    Router::new()
        .route("/healthz", get(healthz))
        .route("/autopilot", get(|| async { Redirect::permanent("/") }))
        .nest("/api/autopilot", api)
        .merge(board)
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            AppError::Internal.into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

async fn healthz(State(store): State<Store>) -> Response {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

async fn api_not_found() -> AppError {
    AppError::not_found("API route")
}

async fn api_method_not_allowed() -> Response {
    let mut response =
        AppError::BadRequest("method not allowed on this route".into()).into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}
