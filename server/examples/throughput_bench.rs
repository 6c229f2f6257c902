//! Requests per second with 32 clients at once: Autopilot's board page and JSON list against a
//! bare axum + sqlx handler written here, which reads the same rows per request and writes
//! plain HTML or JSON (no sign-in, no Leptos). Same process, same SQLite file, same run, so the
//! ratio is what to read on a noisy machine. Figures, not assertions:
//!
//!     cargo run --release -p server --example throughput_bench -- 1000 5
//!
//! Arguments: issues on the board (default 1000), seconds per measurement (default 5).

use axum::extract::State;
use axum::http::{header, Request};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sqlx::SqlitePool;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

const CLIENTS: usize = 32;

/// The card columns the board reads, and the same order per column.
const CARDS: &str = "SELECT id, title, status, kind, priority, human_only, assignee, claimed_by \
                     FROM issues WHERE status = $1";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    // The servers' warnings and errors (RUST_LOG to see more), so a failed request says why.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let board = support::ScratchBoard::new().await?;
    // Straight into the database: 100,000 issues in seconds.
    support::seed_bulk(&board.url, 0, n).await?;

    let ours = serve(board.router(Vec::new())?).await?;
    let pool = SqlitePool::connect(&board.url).await?;
    let bare = axum::Router::new()
        .route("/", get(bare_board))
        .route("/api/autopilot/issues", get(bare_list))
        .with_state(pool);
    let bare = serve(bare).await?;

    println!("{n} issues, {CLIENTS} clients, {seconds} s each, this machine, one run");
    for (what, path, goal) in [
        ("board page", "/", 1.0),
        ("JSON list", "/api/autopilot/issues", 1.5),
    ] {
        let (ours_rate, ours_median) = load(&ours, path, &board.token, seconds).await?;
        let (bare_rate, bare_median) = load(&bare, path, &board.token, seconds).await?;
        println!(
            "{what:<10}: autopilot {ours_rate:>7.0} req/s (median {ours_median:.1} ms), \
             bare axum + sqlx {bare_rate:>7.0} req/s (median {bare_median:.1} ms): {:.2}x \
             (goal: {goal:.1}x)",
            ours_rate / bare_rate
        );
    }
    // The same, while the board changes ten times a second (every kept page goes stale).
    let mover = {
        let store = board.store.clone();
        let person = app::domain::Actor::new(app::domain::Role::Admin, "Bench");
        let new = app::domain::NewIssue {
            title: "Moved all the time".into(),
            human_only: true,
            ..Default::default()
        };
        let id = store.create_issue(&person, new).await?.id;
        tokio::spawn(async move {
            use app::domain::Status;
            for to in [Status::Ready, Status::Backlog].into_iter().cycle() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if store.move_issue(&person, id, to, None).await.is_err() {
                    break;
                }
            }
        })
    };
    let (ours_rate, ours_median) = load(&ours, "/", &board.token, seconds).await?;
    let (bare_rate, bare_median) = load(&bare, "/", &board.token, seconds).await?;
    mover.abort();
    println!(
        "board page, a change every 100 ms: autopilot {ours_rate:.0} req/s (median \
         {ours_median:.1} ms), bare {bare_rate:.0} req/s (median {bare_median:.1} ms): {:.2}x",
        ours_rate / bare_rate
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(rss) = status.lines().find(|l| l.starts_with("VmHWM")) {
            println!("peak memory of this process (both servers and the clients): {rss}");
        }
    }
    Ok(())
}

async fn serve(router: axum::Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

/// `CLIENTS` clients asking for `path` as fast as answers come: requests per second and the
/// median latency.
async fn load(base: &str, path: &str, token: &str, seconds: u64) -> anyhow::Result<(f64, f64)> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (client, stop, done) = (client.clone(), stop.clone(), done.clone());
        let (url, auth) = (format!("{base}{path}"), format!("Bearer {token}"));
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = Request::get(&url)
                    .header(header::AUTHORIZATION, &auth)
                    .body(Full::default())?;
                let started = Instant::now();
                let res = client.request(req).await?;
                let status = res.status();
                let body = res.into_body().collect().await?.to_bytes();
                anyhow::ensure!(
                    status.is_success(),
                    "{url}: {status}: {}",
                    String::from_utf8_lossy(&body)
                );
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(times)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for worker in workers {
        times.extend(worker.await??);
    }
    times.sort_by(f64::total_cmp);
    Ok((
        rate,
        times.get(times.len() / 2).copied().unwrap_or_default(),
    ))
}

/// The bare board: the same per-column queries (first 50 by position; done by recency) and
/// counts, written as plain HTML.
async fn bare_board(State(pool): State<SqlitePool>) -> axum::response::Response {
    type Card = (
        i64,
        String,
        String,
        String,
        i64,
        bool,
        Option<String>,
        Option<String>,
    );
    let mut html = String::from("<!doctype html><main>");
    for status in [
        "backlog",
        "ready",
        "in_progress",
        "blocked",
        "in_review",
        "done",
    ] {
        let order = if status == "done" {
            " ORDER BY updated_at DESC, id DESC LIMIT 50"
        } else {
            " ORDER BY position, id LIMIT 50"
        };
        let cards: Vec<Card> = match sqlx::query_as(&format!("{CARDS}{order}"))
            .bind(status)
            .fetch_all(&pool)
            .await
        {
            Ok(cards) => cards,
            Err(err) => {
                return (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    err.to_string(),
                )
                    .into_response()
            }
        };
        html.push_str(&format!("<section><h2>{status}</h2><ol>"));
        for (id, title, _, kind, priority, _, assignee, _) in cards {
            html.push_str(&format!(
                "<li>#{id} {} {kind} {priority} {}</li>",
                escape(&title),
                escape(assignee.as_deref().unwrap_or(""))
            ));
        }
        html.push_str("</ol></section>");
    }
    let counts: Vec<(String, i64)> =
        // The counts the store's triggers keep, as Autopilot reads them.
        match sqlx::query_as("SELECT status, n FROM issue_counts")
            .fetch_all(&pool)
            .await
        {
            Ok(counts) => counts,
            Err(err) => {
                return (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    err.to_string(),
                )
                    .into_response()
            }
        };
    for (status, n) in counts {
        html.push_str(&format!("<p>{status}: {n}</p>"));
    }
    html.push_str("</main>");
    Html(html).into_response()
}

/// The bare list: the first 1,000 issues (Autopilot's cap) with what they depend on, as JSON
/// (the columns the store reads; a column the store gains must be added here, or the rows do
/// not decode).
async fn bare_list(State(pool): State<SqlitePool>) -> axum::response::Response {
    let rows = async {
        let mut issues: Vec<app::domain::Issue> = sqlx::query_as(
            "SELECT id, title, body, status, kind, priority, human_only, assignee, created_by, \
             claimed_by, claimed_at, lease_expires_at, branch, pr_url, pr_checks, result, \
             position, version, created_at, updated_at, model, agent, question, plan_first, \
             plan_state, next_run, ci_fix_attempts FROM issues ORDER BY position, id \
             LIMIT 1000",
        )
        .fetch_all(&pool)
        .await?;
        let edges: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT issue_id, depends_on FROM issue_dependencies ORDER BY issue_id, depends_on",
        )
        .fetch_all(&pool)
        .await?;
        let mut by_issue = std::collections::HashMap::<i64, Vec<i64>>::new();
        for (issue, on) in edges {
            by_issue.entry(issue).or_default().push(on);
        }
        for issue in &mut issues {
            issue.depends_on = by_issue.remove(&issue.id).unwrap_or_default();
        }
        sqlx::Result::Ok(issues)
    };
    match rows.await {
        Ok(rows) => axum::Json(rows).into_response(),
        Err::<_, sqlx::Error>(err) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            err.to_string(),
        )
            .into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The baseline must read what Autopilot's list reads, or the ratio means nothing (and a
/// column the store gains makes its rows fail to decode: every bare answer a 500).
#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn get_json(router: axum::Router, token: &str) -> anyhow::Result<serde_json::Value> {
        let req = Request::get("/api/autopilot/issues")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(axum::body::Body::empty())?;
        let res = router.oneshot(req).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(serde_json::from_slice(&body)?)
    }

    #[tokio::test]
    async fn the_bare_list_reads_the_same_rows_as_autopilot() -> anyhow::Result<()> {
        let board = support::ScratchBoard::new().await?;
        support::seed(&board.store, 0, 12).await?;
        let person = app::domain::Actor::new(app::domain::Role::Admin, "Bench");
        let patch = app::domain::IssuePatch {
            depends_on: Some(vec![1, 2]),
            ..Default::default()
        };
        board.store.update_issue(&person, 3, patch).await?;
        let pool = SqlitePool::connect(&board.url).await?;
        let bare = axum::Router::new()
            .route("/api/autopilot/issues", get(bare_list))
            .with_state(pool);
        let ours = get_json(board.router(Vec::new())?, &board.token).await?;
        let theirs = get_json(bare, &board.token).await?;
        assert_eq!(ours.as_array().map(Vec::len), Some(12));
        assert_eq!(ours[2]["depends_on"], serde_json::json!([1, 2]));
        assert_eq!(ours, theirs);
        Ok(())
    }
}
