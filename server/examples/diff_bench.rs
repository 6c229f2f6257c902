//! Reviewing a big change: the drawer of an issue whose run committed a 5,000-line patch,
//! rendered on the server (parse, colours, HTML, the page around it; the first open with its
//! quick colouring pass, then from the cache once the full pass is done), against the same drawer for an issue with no change (the baseline, same
//! run). Figures, not assertions:
//!
//!     cargo run --release -p server --example diff_bench -- 5000
//!
//! Arguments: changed lines (default 5000). The browser's side (`end2end/bench/interactive.mjs`)
//! is measured by `scripts/bench.sh`.

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let lines: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let board = support::ScratchBoard::new().await?;
    let plain = {
        let person = app::domain::Actor::new(app::domain::Role::Admin, "Bench");
        let new = app::domain::NewIssue {
            title: "No change yet".into(),
            ..Default::default()
        };
        board.store.create_issue(&person, new).await?.id
    };
    let big = support::seed_patch(&board.store, lines).await?;
    let router = board.router(Vec::new())?;
    let token = &board.token;
    let (base_ms, base_size) =
        support::median_ms(&router, &format!("/?issue={plain}&n={{n}}"), token).await?;
    // The first open colours what it can in a short pass; a full pass in the background
    // colours the rest for later viewers, who take it from the cache.
    let (first_ms, first_size) =
        support::time_ms(&router, &format!("/?issue={big}"), token).await?;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (ms, size) = support::median_ms(&router, &format!("/?issue={big}&n={{n}}"), token).await?;
    println!(
        "drawer with a {lines}-line change: first open {first_ms:.1} ms ({} KiB, partly \
         coloured), then median {ms:.1} ms, {} KiB of HTML (fully coloured); without a change \
         {base_ms:.1} ms, {} KiB ({:.1}x) (goal: opens in under 300 ms)",
        first_size / 1024,
        size / 1024,
        base_size / 1024,
        ms / base_ms.max(0.001)
    );
    Ok(())
}
