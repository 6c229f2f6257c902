//! Webhooks at size, on both engines: a board of N issues (most done), then
//! - what the outbox adds to a change: the median of 50 moves with no endpoint (the baseline),
//!   with one endpoint hearing them, and with four;
//! - the delivery lag at 100 events a second for 5 s (the time from the change's commit to the
//!   receiver having it), with one endpoint and with four (one slot against four), next to
//!   the change's own time in the same run.
//!
//! Figures, not assertions:
//!
//!     cargo run --release -p server --example webhook_bench -- 10000 [sqlite|postgres|both]

use app::domain::{Actor, NewIssue, Role, Status, WebhookEvent, WebhookFormat, WebhookInput};
use app::store::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../../app/tests/support/engines.rs"]
#[allow(unused_macros)]
mod engines;
mod support;

const REPEAT: usize = 50;
const RATE: u64 = 100;
const SECONDS: u64 = 5;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let engines = match args.next().as_deref() {
        None | Some("both") => vec![engines::Engine::Sqlite, engines::Engine::Postgres],
        Some("sqlite") => vec![engines::Engine::Sqlite],
        Some("postgres") => vec![engines::Engine::Postgres],
        Some(other) => anyhow::bail!("unknown engine {other}: sqlite, postgres or both"),
    };
    for engine in engines {
        engines::use_engine(engine);
        let dir = tempfile::tempdir()?;
        let store = Store::open(&engines::fresh_database(dir.path()).await).await?;
        println!("\n== {engine:?}, {n} issues");
        bench(&store, n).await?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A receiver on 127.0.0.1 noting when each issue's event arrived.
async fn receiver() -> anyhow::Result<(String, Arc<Mutex<Vec<(i64, Instant)>>>)> {
    let got: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if let Some(id) = value["data"]["issue"]["id"].as_i64() {
                    if let Ok(mut got) = sink.lock() {
                        got.push((id, Instant::now()));
                    }
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/hook"), got))
}

async fn add_endpoints(store: &Store, url: &str, count: usize) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let input = WebhookInput {
            url: url.into(),
            format: WebhookFormat::Standard,
            events: vec![WebhookEvent::IssueMoved],
            description: String::new(),
            enabled: true,
            allow_private: true,
        };
        ids.push(store.create_webhook("bench", input).await?.0.id);
    }
    Ok(ids)
}

async fn remove_endpoints(store: &Store, ids: &[i64]) -> anyhow::Result<()> {
    for id in ids {
        store.delete_webhook(*id).await?;
    }
    Ok(())
}

/// The median time of REPEAT moves (backlog → ready and back).
async fn moves(store: &Store, person: &Actor, issues: &[i64]) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for &id in issues {
        for to in [Status::Ready, Status::Backlog] {
            let at = Instant::now();
            store.move_issue(person, id, to, None).await?;
            times.push(at.elapsed());
        }
    }
    times.sort();
    Ok(percentile(&times, 0.5))
}

async fn bench(store: &Store, n: usize) -> anyhow::Result<()> {
    let person = Actor::new(Role::Admin, "Bench");
    let seeding = Instant::now();
    support::seed(store, 0, n).await?;
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());
    let mut issues = Vec::new();
    for i in 0..REPEAT {
        let new = NewIssue {
            title: format!("Moved {i}"),
            ..Default::default()
        };
        issues.push(store.create_issue(&person, new).await?.id);
    }
    let (url, got) = receiver().await?;

    // What the outbox adds to a change (no sender running: only the writes are timed).
    let bare = moves(store, &person, &issues).await?;
    println!(
        "a move, no endpoint (baseline)         {:>7.2} ms",
        ms(bare)
    );
    for count in [1, 4] {
        let ids = add_endpoints(store, &url, count).await?;
        let with = moves(store, &person, &issues).await?;
        println!(
            "a move, {count} endpoint{} hearing it          {:>7.2} ms  ({:.2}x the baseline)",
            if count == 1 { " " } else { "s" },
            ms(with),
            ms(with) / ms(bare)
        );
        remove_endpoints(store, &ids).await?;
    }

    // Delivery lag at RATE events a second, with the sender running.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sender = server::webhooks::spawn(store.clone(), "http://bench".into(), stopped)?;
    for count in [1, 4] {
        let ids = add_endpoints(store, &url, count).await?;
        got.lock().map(|mut g| g.clear()).ok();
        let mut committed = Vec::new();
        let mut change_times = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
        for flip in 0..(RATE * SECONDS) as usize {
            tick.tick().await;
            let id = issues[flip % issues.len()];
            let to = if (flip / issues.len()).is_multiple_of(2) {
                Status::Ready
            } else {
                Status::Backlog
            };
            let at = Instant::now();
            store.move_issue(&person, id, to, None).await?;
            let done = Instant::now();
            change_times.push(done - at);
            committed.push((id, at, done));
        }
        let expected = committed.len() * count;
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.lock().map(|g| g.len()).unwrap_or(0) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let arrivals = got.lock().map(|g| g.clone()).unwrap_or_default();
        // Each endpoint gets the events in order: the k-th arrival of an issue matches the
        // k-th change to it, per endpoint; matching the i-th event to the i-th arrival of the
        // same issue, endpoint after endpoint, is close enough for a lag figure.
        let mut lags = Vec::new();
        let mut used = vec![0usize; arrivals.len()];
        // An event can arrive before `move_issue` has returned (the sender wakes at the
        // commit): it belongs to the change that started before it, and its lag counts as 0.
        for (id, started, done) in &committed {
            for _ in 0..count {
                if let Some(pos) = arrivals
                    .iter()
                    .enumerate()
                    .position(|(i, (a, at))| a == id && used[i] == 0 && *at >= *started)
                {
                    used[pos] = 1;
                    lags.push(arrivals[pos].1.saturating_duration_since(*done));
                }
            }
        }
        let slow = lags.iter().filter(|l| l.as_millis() > 100).count();
        lags.sort();
        change_times.sort();
        println!(
            "lag at {RATE}/s, {count} endpoint{}: p50 {:.1} ms, p99 {:.1} ms, {slow} over 100 ms ({} of {expected} arrived); the change itself: p50 {:.2} ms, p99 {:.2} ms",
            if count == 1 { "" } else { "s" },
            lags.first().map(|_| ms(percentile(&lags, 0.5))).unwrap_or(f64::NAN),
            lags.first().map(|_| ms(percentile(&lags, 0.99))).unwrap_or(f64::NAN),
            arrivals.len(),
            ms(percentile(&change_times, 0.5)),
            ms(percentile(&change_times, 0.99)),
        );
        remove_endpoints(store, &ids).await?;
    }
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(15), sender).await;
    Ok(())
}
