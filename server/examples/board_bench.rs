//! Seeds a database with N issues and measures how long the board page takes to render on the
//! server, and how big it is. Figures, not assertions:
//!
//!     cargo run --release -p server --example board_bench -- 10000
//!
//! The done column is capped (the most recent 30), so the page stays small however much
//! history piles up; most seeded issues are done, as on a board that has been used for years.

use app::domain::{Actor, NewIssue, Role, Status};
use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use std::time::Instant;
use tower::ServiceExt;

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let board = support::ScratchBoard::new().await?;
    let (store, token) = (board.store.clone(), board.token.clone());

    let seeding = Instant::now();
    let person = Actor::new(Role::Admin, "Bench");
    for i in 0..n {
        // 80 % finished; the rest in backlog, ready and in progress.
        let walk: &[Status] = match i % 10 {
            0 => &[],
            1 => &[Status::Ready],
            2 => &[Status::Ready, Status::InProgress],
            _ => &[
                Status::Ready,
                Status::InProgress,
                Status::InReview,
                Status::Done,
            ],
        };
        let new = NewIssue {
            title: format!("Issue number {i} with a realistic title of some length"),
            body: "Some body text. ".repeat(20),
            human_only: true,
            ..Default::default()
        };
        let issue = store.create_issue(&person, new).await?;
        for &to in walk {
            store.move_issue(&person, issue.id, to, None).await?;
        }
    }
    println!(
        "seeded {n} issues in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let router = board.router(Vec::new())?;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..20 {
        let req = Request::get("/")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())?;
        let started = Instant::now();
        let res = router.clone().oneshot(req).await?;
        let body = res.into_body().collect().await?.to_bytes();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
    }
    // The first request renders; the others find the page kept warm (nothing changed).
    let first = times[0];
    times.sort_by(f64::total_cmp);
    // Every request rendered anew (a different address each time, so never kept warm).
    let (rendered, _) = support::median_ms(&router, "/?n={n}", &token).await?;
    println!(
        "board page (SSR) with {n} issues: rendered median {rendered:.1} ms (first {first:.1} ms), \
         kept warm median {:.1} ms, p95 {:.1} ms; {} KiB of HTML (goal: < 50 ms median, \
         < 300 KB)",
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        size / 1024
    );
    Ok(())
}
