//! The Autopilot server: configuration, the HTTP router, the operator CLI and (behind the
//! `runner` feature) the agent runner. `main.rs` only parses the command line and calls in here.

pub mod agents;
pub mod cli;
pub mod config;
pub mod http;
pub mod oidc;
pub mod routes;
#[cfg(feature = "runner")]
pub mod runner;
pub mod webhooks;

use anyhow::Context;
use app::store::Store;
use config::{AuthSettings, Intake, Serving};
use leptos::prelude::LeptosOptions;
use routes::{AppState, FeedbackLimits, LoginLimits, SetupToken};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The whole HTTP application over an open store. `site_root` holds the built wasm, JS and CSS;
/// `setup_token` is the first-run secret, if there is no user yet; `intake` how feedback and
/// self-heal reports come in.
pub fn build_app(
    store: Store,
    site_root: &str,
    addr: SocketAddr,
    auth: AuthSettings,
    setup_token: Option<String>,
    intake: Intake,
    serving: Serving,
) -> (axum::Router, AppState) {
    let sign_in = oidc::SignIn::default();
    build_app_with(
        store,
        site_root,
        addr,
        auth,
        setup_token,
        intake,
        serving,
        sign_in,
    )
}

/// [`build_app`], with single sign-on and the password rule as given.
#[allow(clippy::too_many_arguments)]
pub fn build_app_with(
    store: Store,
    site_root: &str,
    addr: SocketAddr,
    auth: AuthSettings,
    setup_token: Option<String>,
    intake: Intake,
    serving: Serving,
    sign_in: oidc::SignIn,
) -> (axum::Router, AppState) {
    routes::metrics::recorder();
    app::highlight::warm_in_background();
    let mut leptos_options = LeptosOptions::builder()
        .output_name("autopilot")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    leptos_options.hash_files = routes::built_with_hashes(&leptos_options);
    let state = AppState::new(routes::Shared {
        leptos_options,
        store,
        auth: Arc::new(auth),
        setup_token: SetupToken::new(setup_token),
        login_limits: Arc::new(LoginLimits::default()),
        feedback_limits: Arc::new(FeedbackLimits::new(intake.feedback_per_day)),
        feedback_origins: Arc::new(intake.feedback_origins),
        self_heal: intake.self_heal,
        models: app::domain::AllowedModels(Arc::new(intake.models)),
        agents: app::domain::AllowedAgents(Arc::new(intake.agents)),
        warm_pages: Arc::default(),
        warm_list: Arc::default(),
        live: Arc::new(routes::live::LiveStreams::new(
            serving.max_streams_per_person,
        )),
        metrics: serving.metrics,
        sign_in,
    });
    (routes::router(state.clone()), state)
}

/// Single sign-on and the password rule, from the settings, said at start-up.
fn sign_in(args: &config::ServeArgs) -> anyhow::Result<oidc::SignIn> {
    let password = args.sign_in.password_signin;
    let oidc = match args.sign_in.oidc(args.public_url.as_deref())? {
        Some(settings) => {
            tracing::info!(
                issuer = %settings.issuer,
                redirect_uri = %settings.redirect_uri,
                "single sign-on is on: register this redirect URI at the provider"
            );
            if settings.allowed_domains.is_empty()
                && settings.allowed_groups.is_empty()
                && settings.admin_groups.is_empty()
            {
                tracing::warn!(
                    "no AUTOPILOT_OIDC_ALLOWED_DOMAINS, _ALLOWED_GROUPS or _ADMIN_GROUPS: only \
                     people already linked, or invited, can sign in through the provider"
                );
            }
            Some(Arc::new(oidc::Oidc::new(settings)?))
        }
        None => None,
    };
    tracing::info!(?password, "password sign-in");
    Ok(oidc::SignIn { oidc, password })
}

/// What the command line asks for: serving (the default) or one of the admin commands.
pub async fn run(command_line: config::Cli) -> anyhow::Result<()> {
    use config::Command;
    match command_line.command {
        Some(Command::Serve(args)) => serve(*args).await,
        Some(Command::User(command)) => cli::run_user(command).await,
        Some(Command::Token(command)) => cli::run_token(command).await,
        Some(Command::Invite(command)) => cli::run_invite(command).await,
        Some(Command::Db(command)) => cli::run_db(command).await,
        None => serve(command_line.serve).await,
    }
}

/// Opens the database, builds the router and serves until SIGINT or SIGTERM.
pub async fn serve(args: config::ServeArgs) -> anyhow::Result<()> {
    let auth = args.auth_settings()?;
    let database_url = args.database.url();
    let shown = app::store::masked_url(&database_url);
    let store = Store::open_with(&database_url, &args.pool.open_options())
        .await
        .with_context(|| format!("opening the database {shown}"))?
        .with_attachment_quota(attachment_quota(
            std::env::var("AUTOPILOT_ATTACHMENTS_MAX_MB")
                .ok()
                .as_deref(),
        )?);
    tracing::info!("the board's data: {shown}");
    let site_root = args.site_root();
    if !site_root.join("pkg").is_dir() {
        tracing::warn!(
            "the built site is not at {} (no pkg/ in it): pages will come without their script \
             and styles; build it with `cargo leptos build` or set LEPTOS_SITE_ROOT",
            site_root.display()
        );
    }
    let setup_token = first_run_token(&store, &args, &database_url).await?;
    let shutdown = shutdown_signal()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut runner_args = args.runner.clone();
    runner_args.server_paths = args.database.private_paths();
    let runner = start_runner(&store, &runner_args, stop_rx.clone()).await?;

    let intake = Intake {
        feedback_origins: config::feedback_origins(&args.feedback_origins)?,
        feedback_per_day: args.feedback_per_day,
        self_heal: args.self_heal,
        models: args
            .models
            .iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
        agents: args
            .runner
            .offered_agents()?
            .into_iter()
            .map(|a| a.name)
            .collect(),
    };
    if intake.self_heal {
        tracing::info!("self-heal is on: failing requests file bugs");
    }
    let sign_in = sign_in(&args)?;
    let (app, state) = build_app_with(
        store,
        &site_root.to_string_lossy(),
        args.addr,
        auth,
        setup_token,
        intake,
        args.serving(),
        sign_in,
    );
    let webhook_store = state.store.clone();
    spawn_housekeeping(state);

    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    // The address bound (with port 0 the system picks the port).
    let bound = listener.local_addr().unwrap_or(args.addr);
    tracing::info!("Autopilot is listening on http://{bound}");
    let webhooks = webhooks::spawn(
        webhook_store,
        board_url(args.public_url.as_deref(), bound),
        stop_rx.clone(),
    )?;
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut stopping = stop_rx.clone();
    http::serve(listener, app, args.http_limits(), async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    })
    .await;
    if let Some(runner) = runner {
        // The runner stops its agent and gives its issue back; give it time to say so.
        if tokio::time::timeout(Duration::from_secs(30), runner)
            .await
            .is_err()
        {
            tracing::error!("the runner did not stop within 30 s");
        }
    }
    // Requests to webhook endpoints in flight finish (each has its timeout), and the sender
    // lets go of its endpoints, so another server takes them at once.
    if tokio::time::timeout(Duration::from_secs(15), webhooks)
        .await
        .is_err()
    {
        tracing::error!("the webhook sender did not stop within 15 s");
    }
    tracing::info!("Autopilot stopped");
    Ok(())
}

/// The attachments' quota: 50 files and 100 MiB an issue, and in all
/// `AUTOPILOT_ATTACHMENTS_MAX_MB` MiB (10 GiB when unset).
fn attachment_quota(max_mb: Option<&str>) -> anyhow::Result<app::store::AttachmentQuota> {
    let mut quota = app::store::AttachmentQuota::DEFAULT;
    if let Some(text) = max_mb.map(str::trim).filter(|t| !t.is_empty()) {
        let mb = text
            .parse::<i64>()
            .ok()
            .filter(|mb| (1..=1 << 30).contains(mb))
            .with_context(|| {
                format!("AUTOPILOT_ATTACHMENTS_MAX_MB must be a number of MiB, 1 or more (got '{text}')")
            })?;
        quota.bytes_in_all = mb * 1024 * 1024;
    }
    Ok(quota)
}

/// With no user yet, a random one-time link for creating the first admin goes to the log.
async fn first_run_token(
    store: &Store,
    args: &config::ServeArgs,
    database_url: &str,
) -> anyhow::Result<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let token = app::auth::new_secret("");
    let exe = std::env::current_exe()
        .map(|exe| exe.display().to_string())
        .unwrap_or_else(|_| "autopilot".into());
    let command =
        format!("{exe} user add --email you@example.com --name \"Your Name\" --role admin");
    // A command that works as printed, from any directory: the default database by its path.
    let command = match &args.database.database_url {
        Some(_) => format!("`{command}` with this server's DATABASE_URL"),
        None => format!("`{command} --database-url {database_url}`"),
    };
    tracing::warn!(
        "No users yet. Create the first admin at {}/setup?token={token} (or run {command})",
        board_url(args.public_url.as_deref(), args.addr),
    );
    Ok(Some(token))
}

/// Where a browser reaches the board: the public URL when set, else the listening address,
/// with a wildcard address (`0.0.0.0`, `::`) named as `localhost`, which a browser can open.
fn board_url(public_url: Option<&str>, addr: std::net::SocketAddr) -> String {
    match public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if addr.ip().is_unspecified() => format!("http://localhost:{}", addr.port()),
        None => format!("http://{addr}"),
    }
}

/// Periodic clean-up: expired sessions, and rate-limit state of quiet clients.
fn spawn_housekeeping(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut minutes = 0u64;
        loop {
            tick.tick().await;
            state.login_limits.forget_quiet();
            state.feedback_limits.forget_quiet();
            // Claims of runners that died (kill -9, lost machine) go back to ready even when
            // no runner is left to notice.
            if let Err(err) = state.store.expire_leases().await {
                tracing::error!(%err, "expiring runner leases");
            }
            if minutes.is_multiple_of(60) {
                let _ = state.store.delete_expired_sessions().await;
                let over = state.auth.policy.cutoffs(app::store::now_ms());
                let _ = state.store.forget_ended_sessions(over).await;
                let _ = state.store.forget_ended_rate_windows().await;
                let _ = state.store.prune_webhook_deliveries().await;
            }
            minutes += 1;
        }
    });
}

/// Starts the runner when AUTOPILOT_RUNNER=1, after checking its settings.
#[cfg(feature = "runner")]
async fn start_runner(
    store: &Store,
    args: &config::RunnerArgs,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if !args.enabled {
        tracing::info!("the runner is off (AUTOPILOT_RUNNER is not 1): no agent will run");
        return Ok(None);
    }
    let running = runner::start(store.clone(), args, stop)
        .await
        .context("the runner cannot start")?;
    Ok(Some(running))
}

#[cfg(not(feature = "runner"))]
async fn start_runner(
    _store: &Store,
    args: &config::RunnerArgs,
    _stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if args.enabled {
        tracing::error!(
            "AUTOPILOT_RUNNER=1 is set, but this binary was built without the `runner` feature: \
             no agent will run. Rebuild with `--features runner` (the default build has it)."
        );
    }
    Ok(None)
}

/// Listens for Ctrl-C and SIGTERM from the moment it is made, so a signal that arrives while
/// the server is still starting (the runner may already be working) is not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    })
}

#[cfg(test)]
mod tests {
    use super::{attachment_quota, board_url};

    #[test]
    fn the_attachments_quota_is_read_from_its_setting_or_refused() {
        let default = app::store::AttachmentQuota::DEFAULT;
        assert_eq!(attachment_quota(None).unwrap(), default);
        assert_eq!(attachment_quota(Some(" ")).unwrap(), default);
        assert_eq!(
            attachment_quota(Some("2048")).unwrap().bytes_in_all,
            2048 * 1024 * 1024
        );
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(attachment_quota(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_setup_link_is_one_a_browser_can_open() {
        let any: std::net::SocketAddr = "0.0.0.0:3000".parse().unwrap();
        assert_eq!(board_url(None, any), "http://localhost:3000");
        let any6: std::net::SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(board_url(None, any6), "http://localhost:8080");
        let local: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert_eq!(board_url(None, local), "http://127.0.0.1:3000");
        let public = Some("https://board.example.com/");
        assert_eq!(board_url(public, any), "https://board.example.com");
    }
}
