//! One move with many boards listening: every board follows the live stream and, when the
//! change arrives, fetches what it shows of it. Now that is one card (`get_card`); before, it
//! was the whole board (`list_board`). Both are measured in the same run, over real HTTP on
//! this machine. Figures, not assertions:
//!
//!     cargo run --release -p server --example live_bench -- 200 1000
//!
//! Arguments: boards listening (default 200), issues on the board (default 1000).

use app::domain::{Actor, NewIssue, Role, Status};
use axum::http::{header, Request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let boards: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let board = support::ScratchBoard::new().await?;
    support::seed(&board.store, 0, n).await?;
    let person = Actor::new(Role::Admin, "Bench");
    let moved = board
        .store
        .create_issue(
            &person,
            NewIssue {
                title: "The card that moves".into(),
                ..Default::default()
            },
        )
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = board.router(Vec::new())?;
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(boards * 2)
        .build_http();

    println!("{boards} boards listening, {n} issues, one move each way, this machine");
    for (what, fetch) in [
        ("one card (get_card, now)", format!("id={}", moved.id)),
        ("whole board (list_board, before)", String::new()),
    ] {
        let endpoint = if fetch.is_empty() {
            "list_board"
        } else {
            "get_card"
        };
        // Every board opens its stream and waits for the next change.
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(boards);
        let mut watchers = Vec::new();
        for _ in 0..boards {
            let (client, base, token) = (client.clone(), base.clone(), board.token.clone());
            let (fetch, ready) = (fetch.clone(), ready_tx.clone());
            watchers.push(tokio::spawn(async move {
                let req = Request::get(format!("{base}/api/autopilot/stream"))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Full::default())?;
                let res = client.request(req).await?;
                anyhow::ensure!(res.status().is_success(), "stream: {}", res.status());
                let mut body = res.into_body();
                ready.send(()).await?;
                support::next_change(&mut body).await?;
                let arrived = Instant::now();
                let req = Request::post(format!("{base}/api/{endpoint}"))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Full::from(fetch))?;
                let res = client.request(req).await?;
                anyhow::ensure!(res.status().is_success(), "{endpoint}: {}", res.status());
                let bytes = res.into_body().collect().await?.to_bytes().len();
                anyhow::Ok((arrived, Instant::now(), bytes))
            }));
        }
        for _ in 0..boards {
            ready_rx.recv().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let to = if board.store.get_issue(moved.id).await?.status == Status::Backlog {
            Status::Ready
        } else {
            Status::Backlog
        };
        board.store.move_issue(&person, moved.id, to, None).await?;
        let mut shown = Vec::new();
        let mut bytes = 0;
        let mut first_fetch = None::<Instant>;
        let mut last_done = started;
        for watcher in watchers {
            let (arrived, done, size) = watcher.await??;
            shown.push(done.duration_since(started).as_secs_f64() * 1000.0);
            first_fetch = Some(first_fetch.map_or(arrived, |f| f.min(arrived)));
            last_done = last_done.max(done);
            bytes += size;
        }
        shown.sort_by(f64::total_cmp);
        let busy = last_done.duration_since(first_fetch.unwrap_or(started));
        println!(
            "{what:<34}: every board shows the move after p50 {:.0} ms, p99 {:.0} ms; \
             the server answered all {boards} fetches in {:.0} ms, {} KiB in all \
             (goal: p99 < 500 ms)",
            shown[shown.len() / 2],
            shown[(shown.len() * 99 / 100).min(shown.len() - 1)],
            busy.as_secs_f64() * 1000.0,
            bytes / 1024
        );
    }
    Ok(())
}
