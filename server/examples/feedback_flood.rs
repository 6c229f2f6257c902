//! Floods the public feedback route from thousands of client addresses while timing the board,
//! and prints the size of the scripts other sites load. Figures, not assertions:
//!
//!     cargo run --release -p server --example feedback_flood -- 20
//!
//! The argument is how many seconds the flood lasts (default 10). The server listens on a real
//! socket and both the flood and the board requests go over HTTP, from this same process (so
//! on a small machine they also compete for the CPU). The flood comes through a trusted proxy
//! with a new `X-Forwarded-For` address on every request (the worst case: a botnet), so only
//! the global limit stands between it and the database.

use app::domain::{Actor, Kind, NewIssue, Role};
use app::store::IssueFilter;
use axum::http::{header, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

const FLOODERS: usize = 32;
const BOARD_SAMPLES: usize = 40;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    for (name, source) in [
        ("feedback.js", server::routes::WIDGET_JS),
        ("sdk.js", server::routes::SDK_JS),
    ] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(source.as_bytes())?;
        let packed = gz.finish()?.len();
        println!(
            "{name}: {} bytes, {packed} bytes gzipped (budget 8192)",
            source.len()
        );
    }

    let board = support::ScratchBoard::new().await?;
    let (store, token) = (board.store.clone(), board.token.clone());
    let person = Actor::new(Role::Admin, "Bench");
    for i in 0..300 {
        let new = NewIssue {
            title: format!("Open issue {i}"),
            ..Default::default()
        };
        store.create_issue(&person, new).await?;
    }

    // The flood comes from 127.0.0.1: make it the trusted proxy, so X-Forwarded-For counts.
    let router = board.router(vec!["127.0.0.1/32".parse()?])?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    let board = |client: Client<_, Full<Bytes>>, token: String, base: String| async move {
        let mut times = Vec::with_capacity(BOARD_SAMPLES);
        for _ in 0..BOARD_SAMPLES {
            let req = Request::get(format!("{base}/"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Full::default())?;
            let started = Instant::now();
            let res = client.request(req).await?;
            res.into_body().collect().await?;
            times.push(started.elapsed());
        }
        times.sort();
        anyhow::Ok((times[times.len() / 2], times[times.len() * 95 / 100]))
    };

    let (quiet_median, quiet_p95) = board(client.clone(), token.clone(), base.clone()).await?;
    println!(
        "board, quiet: median {:.1} ms, p95 {:.1} ms",
        ms(quiet_median),
        ms(quiet_p95)
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let created = Arc::new(AtomicU64::new(0));
    let limited = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for worker in 0..FLOODERS {
        let (client, stop, base) = (client.clone(), stop.clone(), base.clone());
        let (sent, created, limited) = (sent.clone(), created.clone(), limited.clone());
        flood.push(tokio::spawn(async move {
            let mut n: u32 = 0;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_add(1);
                let fake_client = format!("10.{}.{}.{}", worker, (n >> 8) & 255, n & 255);
                let body = r#"{"message":"spam spam spam","page":"https://x"}"#;
                let Ok(req) = Request::post(format!("{base}/api/autopilot/feedback"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("x-forwarded-for", fake_client)
                    .body(Full::from(body))
                else {
                    continue;
                };
                let Ok(res) = client.request(req).await else {
                    continue;
                };
                let status = res.status();
                let _ = res.into_body().collect().await;
                sent.fetch_add(1, Ordering::Relaxed);
                match status {
                    StatusCode::CREATED => created.fetch_add(1, Ordering::Relaxed),
                    StatusCode::TOO_MANY_REQUESTS => limited.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            }
        }));
    }
    let started = Instant::now();
    let mut flooded = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        flooded.push(board(client.clone(), token.clone(), base.clone()).await?);
    }
    stop.store(true, Ordering::Relaxed);
    for worker in flood {
        worker.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let worst_median = flooded.iter().map(|(m, _)| *m).max().unwrap_or_default();
    let worst_p95 = flooded.iter().map(|(_, p)| *p).max().unwrap_or_default();
    let total = sent.load(Ordering::Relaxed);
    println!(
        "flood: {total} feedback posts in {elapsed:.1} s ({:.0}/s) from {FLOODERS} workers; \
         {} created, {} refused with 429",
        total as f64 / elapsed,
        created.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed)
    );
    println!(
        "board, flooded: worst median {:.1} ms, worst p95 {:.1} ms (over {} rounds of {BOARD_SAMPLES})",
        ms(worst_median),
        ms(worst_p95),
        flooded.len()
    );
    let feedback = store
        .list_issues(&IssueFilter {
            kind: Some(Kind::Feedback),
            ..Default::default()
        })
        .await?;
    println!("feedback issues in the database: {}", feedback.len());
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
