//! What a board page weighs when every column is full, as a busy team's board is (an even
//! spread of statuses): the HTML, compressed, and what it is made of (the cards' markup, the
//! data the page carries for hydrating, the rest). Figures, not assertions:
//!
//!     cargo run --release -p server --example page_bench -- 10000

use app::domain::{Actor, NewIssue, Role, Status};
use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use std::io::Write;
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
        // Six columns, one sixth each.
        let walk: &[Status] = match i % 6 {
            0 => &[],
            1 => &[Status::Ready],
            2 => &[Status::Ready, Status::InProgress],
            3 => &[Status::Ready, Status::InProgress, Status::Blocked],
            4 => &[Status::Ready, Status::InProgress, Status::InReview],
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
    eprintln!(
        "seeded {n} issues in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let router = board.router(Vec::new())?;
    let req = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())?;
    let res = router.oneshot(req).await?;
    let page = res.into_body().collect().await?.to_bytes();
    let html = String::from_utf8_lossy(&page);

    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gzip.write_all(&page)?;
    let gzipped = gzip.finish()?.len();
    let mut brotli = Vec::new();
    brotli::BrotliCompress(
        &mut &page[..],
        &mut brotli,
        &brotli::enc::BrotliEncoderParams {
            quality: 5,
            ..Default::default()
        },
    )?;

    let scripts: usize = pieces(&html, "<script", "</script>").map(str::len).sum();
    let cards: Vec<&str> = pieces(&html, "<li class=\"card\"", "</li>").collect();
    let card_bytes: usize = cards.iter().map(|c| c.len()).sum();
    let elements: usize = cards
        .iter()
        .map(|c| c.matches('<').count() - c.matches("</").count())
        .sum();
    let per_card = |total: usize| total / cards.len().max(1);
    println!(
        "board page, {n} issues, every column full: {} cards; {:.1} KB of HTML (goal: at most \
         150), {:.1} KB gzip 6 / {:.1} KB brotli 5 (goal: at most 25)",
        cards.len(),
        kb(page.len()),
        kb(gzipped),
        kb(brotli.len()),
    );
    println!(
        "  of which: cards {:.1} KB ({} B and {:.1} elements a card), scripts (the data for \
         hydrating, the loader) {:.1} KB ({} B a card), the rest {:.1} KB",
        kb(card_bytes),
        per_card(card_bytes),
        elements as f64 / cards.len().max(1) as f64,
        kb(scripts),
        per_card(scripts),
        kb(page.len() - card_bytes - scripts),
    );
    Ok(())
}

fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1000.0
}

/// Every piece of `text` from `start` to the next `end` (both included).
fn pieces<'a>(text: &'a str, start: &'a str, end: &'a str) -> impl Iterator<Item = &'a str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let at = rest.find(start)?;
        let len = rest[at..].find(end)? + end.len();
        let piece = &rest[at..at + len];
        rest = &rest[at + len..];
        Some(piece)
    })
}
