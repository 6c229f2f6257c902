//! The Autopilot server: configuration, the HTTP router, and (behind the `runner` feature) the
//! agent runner. `main.rs` only parses the command line and calls in here.

pub mod config;
pub mod routes;
#[cfg(feature = "runner")]
pub mod runner;

use anyhow::Context;
use app::store::Store;
use leptos::prelude::LeptosOptions;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// The whole HTTP application over an open store. `site_root` holds the built wasm, JS and CSS.
pub fn build_app(store: Store, site_root: &str, addr: SocketAddr) -> axum::Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("autopilot")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    routes::router(routes::AppState {
        leptos_options,
        store,
    })
}

/// Opens the database, builds the router and serves until SIGINT or SIGTERM.
pub async fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.database_url)
        .await
        .with_context(|| format!("opening the database {}", args.database_url))?;
    start_runner(&store);

    let app = build_app(store, &args.site_root, args.addr);

    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    tracing::info!("Autopilot is listening on http://{}", args.addr);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")?;
    tracing::info!("Autopilot stopped");
    Ok(())
}

#[cfg(feature = "runner")]
fn start_runner(store: &Store) {
    runner::start_if_enabled(store.clone());
}

#[cfg(not(feature = "runner"))]
fn start_runner(_store: &Store) {
    if config::runner_flag_set() {
        tracing::error!(
            "AUTOPILOT_RUNNER=1 is set, but this binary was built without the `runner` feature: \
             no agent will run. Rebuild with `--features runner` (the default build has it)."
        );
    }
}

/// Resolves on Ctrl-C or SIGTERM, letting in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
