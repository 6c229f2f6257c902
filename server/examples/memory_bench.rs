//! The server's own memory on a big board: seeds N issues, starts the built binary on them in
//! its own process, loads the board page M times (8 clients at once), and reads the process'
//! resident memory. For comparison it reads the same right after start-up. Figures, not
//! assertions:
//!
//!     cargo leptos build --release
//!     cargo run --release -p server --example memory_bench -- 10000 1000
//!
//! Arguments: issues (default 10000), board loads (default 1000), the binary (default
//! target/release/autopilot).

use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod support;

const CLIENTS: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let loads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let bin = args
        .next()
        .unwrap_or_else(|| "target/release/autopilot".into());
    let board = support::ScratchBoard::new().await?;
    support::seed(&board.store, 0, n).await?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = std::process::Command::new(&bin)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &board.url)
        .env("RUST_LOG", "warn")
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut up = false;
    for _ in 0..100 {
        let req = Request::get(format!("{base}/healthz")).body(Full::default())?;
        if client
            .request(req)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::ensure!(up, "the server at {bin} did not start");
    let rss = |pid: u32| -> String {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            })
            .unwrap_or_default()
    };
    let started = rss(server.id());

    let left = Arc::new(AtomicUsize::new(loads));
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (client, left) = (client.clone(), left.clone());
        let (url, auth) = (format!("{base}/"), format!("Bearer {}", board.token));
        workers.push(tokio::spawn(async move {
            while left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let req = Request::get(&url)
                    .header(header::AUTHORIZATION, &auth)
                    .body(Full::default())?;
                let res = client.request(req).await?;
                anyhow::ensure!(res.status().is_success(), "board: {}", res.status());
                res.into_body().collect().await?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let after = rss(server.id());
    println!(
        "server with {n} issues: {started} resident after start-up, {after} after {loads} board loads"
    );
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
