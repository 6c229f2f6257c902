//! The server's own memory on a big board: seeds N issues, starts the built binary on them in
//! its own process, loads the board page M times (8 clients at once), and reads the process'
//! resident memory. For comparison it reads the same right after start-up. Figures, not
//! assertions:
//!
//!     cargo leptos build --release
//!     cargo run --release -p server --example memory_bench -- 10000 1000
//!
//! Arguments: issues (default 10000), board loads (default 1000), the binary (default
//! target/release/autopilot), the engine (`sqlite`, the default, or `postgres`: a throwaway
//! cluster the benchmark starts and stops itself).

use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[path = "../../app/tests/support/engines.rs"]
#[allow(unused_macros)]
mod engines;
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
    let engine = args.next().unwrap_or_else(|| "sqlite".into());
    let cluster = (engine == "postgres").then(engines::start_cluster);
    let measured = measure(n, loads, &bin, cluster.as_ref()).await;
    if let Some(cluster) = cluster {
        cluster.stop("fast");
    }
    measured
}

async fn measure(
    n: usize,
    loads: usize,
    bin: &str,
    cluster: Option<&engines::Cluster>,
) -> anyhow::Result<()> {
    let board = match cluster {
        // The cluster is this benchmark's alone: its own database will do.
        Some(cluster) => {
            support::ScratchBoard::on(&format!("{}/postgres", cluster.url()), None).await?
        }
        None => support::ScratchBoard::new().await?,
    };
    // Straight into the database (as filed one by one, in a fraction of the time).
    support::seed_bulk(&board.url, 0, n).await?;

    let server = support::BuiltServer::start(bin, &board.url).await?;
    let base = server.base.clone();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let started = server.rss_kib();

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
    let after = server.rss_kib();
    let engine = if cluster.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "server with {n} issues on {engine}: {:.1} MiB resident after start-up, {:.1} MiB after {loads} \
         board loads (goal: under 100 MiB)",
        started as f64 / 1024.0,
        after as f64 / 1024.0
    );
    Ok(())
}
