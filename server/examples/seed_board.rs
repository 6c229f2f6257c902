//! Writes a board to a new SQLite file, or to an empty PostgreSQL database given by its URL,
//! for benchmarks that drive a real browser (`end2end/bench/interactive.mjs`): N issues spread
//! as on a board in use (80 % done) and an admin who signs in as bench@example.com with the
//! password "bench password 1"; and one issue in review with a 5,000-line change (its id on
//! the second line printed).
//!
//!     cargo run --release -p server --example seed_board -- 1000 target/bench/board.db
//!     cargo run --release -p server --example seed_board -- 1000 postgresql://…/board

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let target = args
        .next()
        .unwrap_or_else(|| "target/bench/board.db".into());
    // As the store tells the engines apart (a file may well be called postgres-board.db).
    let url = if target.starts_with("postgres:") || target.starts_with("postgresql:") {
        target
    } else {
        let path = std::path::Path::new(&target);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        // The store creates a missing SQLite file on first open.
        format!("sqlite://{}", path.display())
    };
    let board = support::ScratchBoard::on(&url, None).await?;
    support::seed(&board.store, 0, n).await?;
    let review = support::seed_patch(&board.store, 5000).await?;
    println!("{url}\n{review}");
    Ok(())
}
