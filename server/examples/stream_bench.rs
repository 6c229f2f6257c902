//! Many open live streams: the built server in its own process, S boards following
//! `/api/autopilot/stream`, and a few stalled clients that opened a stream and never read
//! from it again (their socket buffers full). Prints what each open stream costs in server
//! memory, and how fast a change reaches every reading stream while the stalled ones sit
//! there, against the same with only one stream open (the baseline, same run). Figures, not
//! assertions:
//!
//!     cargo leptos build --release
//!     cargo run --release -p server --example stream_bench -- 1000
//!
//! Arguments: streams (default 1000), the binary (default target/release/autopilot).

use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

mod support;

const STALLED: usize = 10;
/// Changes made while the stalled clients do not read: enough to fill their sockets.
const CHANGES_WHILE_STALLED: usize = 400;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let streams: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let bin = args
        .next()
        .unwrap_or_else(|| "target/release/autopilot".into());
    let board = support::ScratchBoard::new().await?;
    support::seed(&board.store, 0, 200).await?;
    let server = support::BuiltServer::start(&bin, &board.url).await?;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let auth = format!("Bearer {}", board.token);
    let issue: serde_json::Value = {
        let req = Request::post(format!("{}/api/autopilot/issues", server.base))
            .header(header::AUTHORIZATION, &auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::from(r#"{"title":"The card that moves"}"#))?;
        serde_json::from_slice(
            &client
                .request(req)
                .await?
                .into_body()
                .collect()
                .await?
                .to_bytes(),
        )?
    };
    let id = issue["id"].as_i64().unwrap_or_default();
    let mover = Mover {
        client: client.clone(),
        base: server.base.clone(),
        auth: auth.clone(),
        id,
        to_ready: true,
    };

    println!("{streams} live streams and {STALLED} stalled ones on the built server, this machine");
    let mut mover = mover;
    let alone = deliver(&client, &server, &auth, 1, &mut mover).await?;
    println!(
        "baseline, one stream open      : a change reaches it after {:.1} ms",
        alone.p50
    );

    let before = server.rss_kib();
    let stalled = stall(&server.base, &auth, STALLED).await?;
    for _ in 0..CHANGES_WHILE_STALLED {
        mover.step().await?;
    }
    let run = deliver(&client, &server, &auth, streams, &mut mover).await?;
    let per_stream = (run.rss_open.saturating_sub(before)) as f64 / streams as f64;
    println!(
        "{streams} streams open            : server memory {:.1} MiB -> {:.1} MiB, {per_stream:.0} KiB \
         per stream",
        before as f64 / 1024.0,
        run.rss_open as f64 / 1024.0
    );
    println!(
        "a change reaches all {streams} streams: p50 {:.0} ms, p99 {:.0} ms ({:.1}x the single \
         stream's p50), with {STALLED} stalled clients {CHANGES_WHILE_STALLED} changes behind",
        run.p50,
        run.p99,
        run.p50 / alone.p50.max(0.001)
    );
    drop(stalled);
    Ok(())
}

/// Moves the card back and forth between backlog and ready, over HTTP.
struct Mover {
    client: HttpClient,
    base: String,
    auth: String,
    id: i64,
    to_ready: bool,
}

impl Mover {
    async fn step(&mut self) -> anyhow::Result<()> {
        let to = if self.to_ready { "ready" } else { "backlog" };
        self.to_ready = !self.to_ready;
        let req = Request::post(format!(
            "{}/api/autopilot/issues/{}/status",
            self.base, self.id
        ))
        .header(header::AUTHORIZATION, &self.auth)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::from(format!(r#"{{"status":"{to}"}}"#)))?;
        let res = self.client.request(req).await?;
        anyhow::ensure!(res.status().is_success(), "move: {}", res.status());
        res.into_body().collect().await?;
        Ok(())
    }
}

struct Delivery {
    p50: f64,
    p99: f64,
    rss_open: u64,
}

/// Opens `n` streams, makes one change, and times its arrival on every stream.
async fn deliver(
    client: &HttpClient,
    server: &support::BuiltServer,
    auth: &str,
    n: usize,
    mover: &mut Mover,
) -> anyhow::Result<Delivery> {
    let base = &server.base;
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(n);
    let mut readers = Vec::new();
    for _ in 0..n {
        let (client, ready) = (client.clone(), ready_tx.clone());
        let req = Request::get(format!("{base}/api/autopilot/stream"))
            .header(header::AUTHORIZATION, auth)
            .body(Full::default())?;
        readers.push(tokio::spawn(async move {
            let res = client.request(req).await?;
            anyhow::ensure!(res.status().is_success(), "stream: {}", res.status());
            let mut body = res.into_body();
            ready.send(()).await?;
            support::next_change(&mut body).await?;
            anyhow::Ok(Instant::now())
        }));
    }
    for _ in 0..n {
        ready_rx.recv().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_open = server.rss_kib();
    let started = Instant::now();
    mover.step().await?;
    let mut times = Vec::new();
    for reader in readers {
        times.push(reader.await??.duration_since(started).as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(Delivery {
        p50: times[times.len() / 2],
        p99: times[(times.len() * 99 / 100).min(times.len() - 1)],
        rss_open,
    })
}

/// Clients that ask for the stream with a tiny receive buffer and never read an answer.
async fn stall(base: &str, auth: &str, n: usize) -> anyhow::Result<Vec<tokio::net::TcpStream>> {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse()?;
    let mut held = Vec::new();
    for _ in 0..n {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let mut stream = socket.connect(addr).await?;
        let request = format!(
            "GET /api/autopilot/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        held.push(stream);
    }
    Ok(held)
}
