//! The UI: the HTML shell, the router, and one module per page.

mod account;
mod admin;
mod admin_invites;
mod admin_runner;
mod admin_users;
mod admin_webhooks;
mod auth;
mod board;
mod card;
mod changes;
mod issue;
mod live;
mod runs;
mod topbar;

use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{lazy_route, Lazy, LazyRoute, ParamSegment, SsrMode, StaticSegment};

pub use admin::AdminPage;
pub use admin_runner::AdminRunnerPage;
pub use admin_users::AdminUsersPage;
pub use admin_webhooks::AdminWebhooksPage;
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
                // The pages below are their own wasm chunks (`cargo leptos build --split`),
                // fetched when first shown: the board's first paint does not wait for them.
                // Async: the sign-in options (provider button, password form) are in the first
                // HTML, so signing in works without JavaScript.
                <Route
                    path=StaticSegment("login")
                    view={Lazy::<LoginRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route path=StaticSegment("setup") view={Lazy::<SetupRoute>::new()} />
                <Route
                    path=StaticSegment("admin")
                    view={Lazy::<AdminRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("runner"))
                    view={Lazy::<AdminRunnerRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("users"))
                    view={Lazy::<AdminUsersRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("admin"), StaticSegment("webhooks"))
                    view={Lazy::<AdminWebhooksRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("account"), StaticSegment("tokens"))
                    view={Lazy::<AccountTokensRoute>::new()}
                    ssr=SsrMode::Async
                />
                <Route
                    path=(StaticSegment("account"), StaticSegment("sessions"))
                    view={Lazy::<AccountSessionsRoute>::new()}
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}

// One wrapper per lazily loaded page: `#[lazy_route]` wants an `impl LazyRoute for Type`
// block, and names the page's chunk after that type.
struct LoginRoute;
#[lazy_route]
impl LazyRoute for LoginRoute {
    fn data() -> Self {
        LoginRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <LoginPage /> }.into_any()
    }
}

struct SetupRoute;
#[lazy_route]
impl LazyRoute for SetupRoute {
    fn data() -> Self {
        SetupRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <SetupPage /> }.into_any()
    }
}

struct AdminRoute;
#[lazy_route]
impl LazyRoute for AdminRoute {
    fn data() -> Self {
        AdminRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <AdminPage /> }.into_any()
    }
}

struct AdminRunnerRoute;
#[lazy_route]
impl LazyRoute for AdminRunnerRoute {
    fn data() -> Self {
        AdminRunnerRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <AdminRunnerPage /> }.into_any()
    }
}

struct AdminUsersRoute;
#[lazy_route]
impl LazyRoute for AdminUsersRoute {
    fn data() -> Self {
        AdminUsersRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <AdminUsersPage /> }.into_any()
    }
}

struct AdminWebhooksRoute;
#[lazy_route]
impl LazyRoute for AdminWebhooksRoute {
    fn data() -> Self {
        AdminWebhooksRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <AdminWebhooksPage /> }.into_any()
    }
}

struct AccountTokensRoute;
#[lazy_route]
impl LazyRoute for AccountTokensRoute {
    fn data() -> Self {
        AccountTokensRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <account::AccountTokensPage /> }.into_any()
    }
}

struct AccountSessionsRoute;
#[lazy_route]
impl LazyRoute for AccountSessionsRoute {
    fn data() -> Self {
        AccountSessionsRoute
    }
    fn view(_this: Self) -> AnyView {
        view! { <account::AccountSessionsPage /> }.into_any()
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

/// Loads, before hydrating, the chunks of what the server's page already shows. Hydration
/// takes the page as it is and cannot wait for code still on its way, except a lazy route's;
/// the issue panel is a lazy part of the board and of `/issues/{id}`, so it comes first when
/// the address opens an issue.
#[cfg(feature = "hydrate")]
pub async fn load_chunks_for_hydration() {
    let location = window().location();
    let on_issue_page = location
        .pathname()
        .is_ok_and(|path| path.starts_with("/issues/"));
    let drawer_open = location.search().is_ok_and(|search| {
        search
            .trim_start_matches('?')
            .split('&')
            .any(|pair| pair.starts_with("issue="))
    });
    if on_issue_page || drawer_open {
        issue::preload_issue_panel().await;
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
