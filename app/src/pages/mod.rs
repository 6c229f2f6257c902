//! The UI: the HTML shell, the router, and one module per page.

mod admin;
mod admin_runner;
mod admin_users;
mod auth;
mod board;
mod changes;
mod issue;
mod live;
mod runs;
mod topbar;

use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

pub use admin::AdminPage;
pub use admin_runner::AdminRunnerPage;
pub use admin_users::AdminUsersPage;
pub use auth::{LoginPage, SetupPage};
pub use board::BoardPage;
pub use issue::IssuePage;
pub use topbar::TopBar;

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Autopilot" />
        <Router>
            <Routes fallback=NotFound>
                // Async: the first HTML holds the whole page, so it works without JavaScript.
                <Route path=StaticSegment("") view=BoardPage ssr=SsrMode::Async />
                <Route
                    path=(StaticSegment("issues"), ParamSegment("id"))
                    view=IssuePage
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("login") view=LoginPage />
                <Route path=StaticSegment("setup") view=SetupPage />
                <Route path=StaticSegment("admin") view=AdminPage ssr=SsrMode::Async />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("runner"))
                    view=AdminRunnerPage
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("users"))
                    view=AdminUsersPage
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="not-found">
            <h1>"Not found"</h1>
            <p>
                <a href="/">"Back to the board"</a>
            </p>
        </main>
    }
}

/// Marks the page once the browser has hydrated it: tests wait for this before clicking, and
/// CSS can tell a live page from a static one.
pub fn hydration_marker() -> Signal<&'static str> {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Signal::derive(move || if hydrated.get() { "true" } else { "false" })
}

/// A failure to load or do something, announced to screen readers.
fn error_note(err: &AppError) -> AnyView {
    view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any()
}

/// The error of an action's last run, if it failed.
fn action_error<T: 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> impl Fn() -> Option<AnyView> + Send + Sync + 'static {
    move || match value.get() {
        Some(Err(err)) => Some(error_note(&err)),
        _ => None,
    }
}
