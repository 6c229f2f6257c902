//! SQLite and PostgreSQL side by side, in one run on this machine: the board page (SSR, each
//! request rendered: none is served from the warm pages) and
//! the JSON list with 1,000 and 10,000 issues, and claims per second with 8 runners racing.
//! Figures, not assertions:
//!
//!     cargo run --release -p server --example engines_bench
//!
//! PostgreSQL is a throwaway cluster from Debian's package that the benchmark starts itself
//! (`scripts/setup.sh --tests` installs it), with fsync off as in the tests.

use app::domain::{Actor, NewIssue, Role, Status};
use std::time::Instant;

#[path = "../../app/tests/support/engines.rs"]
#[allow(unused_macros)]
mod engines;
mod support;

const RUNNERS: usize = 8;
const CLAIMS: usize = 400;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = engines::start_cluster();
    println!("engine      issues  board SSR median  JSON list median  page KiB");
    let mut rows = Vec::new();
    for engine in ["sqlite", "postgres"] {
        let board = scratch(engine, &cluster).await?;
        let mut seeded = 0;
        for n in [1_000, 10_000] {
            support::seed(&board.store, seeded, n).await?;
            seeded = n;
            let router = board.router(Vec::new())?;
            let (page, size) = support::median_ms(&router, "/?n={n}", &board.token).await?;
            let (list, _) =
                support::median_ms(&router, "/api/autopilot/issues?n={n}", &board.token).await?;
            println!(
                "{engine:<10} {n:>7}  {page:>13.1} ms  {list:>13.1} ms  {:>8}",
                size / 1024
            );
            rows.push((engine, n, page, list));
        }
    }
    for n in [1_000, 10_000] {
        let pick = |e: &str| rows.iter().find(|r| r.0 == e && r.1 == n).copied();
        if let (Some(s), Some(p)) = (pick("sqlite"), pick("postgres")) {
            println!(
                "postgres / sqlite at {n}: board {:.2}x, list {:.2}x (above 1: PostgreSQL slower)",
                p.2 / s.2,
                p.3 / s.3
            );
        }
    }

    println!("\nclaims: {RUNNERS} runners racing for {CLAIMS} ready issues");
    let mut rates = Vec::new();
    for engine in ["sqlite", "postgres"] {
        let board = scratch(engine, &cluster).await?;
        let person = Actor::new(Role::Member, "Bench");
        for i in 0..CLAIMS {
            let new = NewIssue {
                title: format!("Ready {i}"),
                status: Some(Status::Ready),
                ..Default::default()
            };
            board.store.create_issue(&person, new).await?;
        }
        let started = Instant::now();
        let mut racers = Vec::new();
        for r in 0..RUNNERS {
            let store = board.store.clone();
            racers.push(tokio::spawn(async move {
                let id = format!("bench-runner-{r}");
                store.register_runner(&id, "bench", r as i64).await?;
                let mut claimed = 0usize;
                while store.claim_next(&id, 60_000).await?.is_some() {
                    claimed += 1;
                }
                anyhow::Ok(claimed)
            }));
        }
        let mut total = 0;
        for racer in racers {
            total += racer.await??;
        }
        let rate = total as f64 / started.elapsed().as_secs_f64();
        println!("{engine:<10} {total} claims, {rate:.0} claims/s");
        rates.push(rate);
    }
    if let [sqlite, postgres] = rates[..] {
        println!(
            "postgres / sqlite claims per second: {:.2}x",
            postgres / sqlite
        );
    }
    cluster.stop("fast");
    Ok(())
}

async fn scratch(
    engine: &str,
    cluster: &engines::Cluster,
) -> anyhow::Result<support::ScratchBoard> {
    let dir = tempfile::tempdir()?;
    let url = match engine {
        "sqlite" => format!("sqlite://{}", dir.path().join("bench.db").display()),
        _ => {
            use sqlx::Connection;
            let name = format!("bench_{}", app::store::now_ms());
            let mut admin =
                sqlx::PgConnection::connect(&format!("{}/postgres", cluster.url())).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            format!("{}/{name}", cluster.url())
        }
    };
    support::ScratchBoard::on(&url, Some(dir)).await
}
