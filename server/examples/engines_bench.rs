//! SQLite and PostgreSQL side by side, in one run on this machine: the board page (SSR, each
//! request rendered: none is served from the warm pages) and
//! the JSON list with 1,000 and 10,000 issues, and claims per second with 8 runners racing.
//! Figures, not assertions:
//!
//!     cargo run --release -p server --example engines_bench
//!
//! With `--scale N` (say 100000) it measures a big board on each engine instead: N issues
//! filed straight into the database, the time the migrations made for a big board take on
//! them, the board page rendered and kept, a JSON page of 50, searches, and the plan of each
//! query a board load runs.
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
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--scale") {
        let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
        let scaled = scale(&cluster, n).await;
        cluster.stop("fast");
        return scaled;
    }
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

/// The first migration of the big board's (counts kept by triggers, search indexes): seeding
/// stops before it, so the time it takes on `n` issues can be measured.
fn scale_migration(engine: &str) -> i64 {
    match engine {
        "sqlite" => 20261206000021,
        _ => 20261206000017,
    }
}

async fn scale(cluster: &engines::Cluster, n: usize) -> anyhow::Result<()> {
    use app::store::IssueFilter;
    for engine in ["sqlite", "postgres"] {
        let (dir, url) = empty_database(engine, cluster).await?;
        // The schema as it was before the big board's migrations, then the issues.
        let mut migrator =
            sqlx::migrate::Migrator::new(std::path::Path::new(&format!("migrations/{engine}")))
                .await?;
        let before: Vec<_> = migrator
            .migrations
            .iter()
            .filter(|m| m.version < scale_migration(engine))
            .cloned()
            .collect();
        migrator.migrations = before.into();
        match engine {
            "sqlite" => {
                let options = std::str::FromStr::from_str(&url)
                    .map(|o: sqlx::sqlite::SqliteConnectOptions| o.create_if_missing(true))?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                let pool = sqlx::SqlitePool::connect_with(options).await?;
                migrator.run(&pool).await?;
                pool.close().await;
            }
            _ => {
                let pool = sqlx::PgPool::connect(&url).await?;
                migrator.run(&pool).await?;
                pool.close().await;
            }
        }
        let seeding = Instant::now();
        support::seed_bulk(&url, 0, n).await?;
        tag_a_few_titles(&url).await?;
        let seeded = seeding.elapsed().as_secs_f64();
        let migrating = Instant::now();
        drop(app::store::Store::open(&url).await?);
        let migrated = migrating.elapsed().as_secs_f64();
        println!(
            "\n{engine}: {n} issues seeded in {seeded:.1} s (in transactions of 2,000); the big \
             board's migrations (counts, search index, indexes) took {migrated:.1} s on them"
        );

        let board = support::ScratchBoard::on(&url, dir).await?;
        let router = board.router(Vec::new())?;
        let token = &board.token;
        let (anew, size) = support::median_ms(&router, "/?n={n}", token).await?;
        let (kept, _) = support::median_ms(&router, "/", token).await?;
        let (page, _) =
            support::median_ms(&router, "/api/autopilot/issues?limit=50&n={n}", token).await?;
        let far = format!(
            "/api/autopilot/issues?limit=50&n={{n}}&q=number%20{}",
            n / 2
        );
        let (page_search, _) = support::median_ms(&router, &far, token).await?;
        println!(
            "board page rendered anew {anew:.1} ms (goal <= 50), kept {kept:.2} ms (goal <= 2), \
             {} KiB; JSON page of 50 {page:.1} ms (goal <= 20), searched {page_search:.1} ms",
            size / 1024
        );
        let few = format!("number {}", n / 2 + 7);
        for (what, q) in [
            ("a word every issue has", "realistic"),
            ("a few issues' words", few.as_str()),
            ("nothing matches", "zebra crossing"),
            ("2 characters every issue has", "re"),
            (
                "2 characters a few titles have (no trigram index: every title read)",
                "qx",
            ),
            ("2 characters, no match (every title read)", "zq"),
        ] {
            let path = format!("/?q={}&n={{n}}", q.replace(' ', "%20"));
            let (ms, _) = support::median_ms(&router, &path, token).await?;
            let filter = IssueFilter {
                q: Some(q.into()),
                ..Default::default()
            };
            let started = Instant::now();
            let found = board.store.board_issues(&filter, |_| 50).await?;
            let store_ms = started.elapsed().as_secs_f64() * 1000.0;
            let matched: i64 = found.counts.iter().map(|(_, n)| n).sum();
            println!(
                "search {q:?} ({what}: {matched} match): board page {ms:.1} ms, its queries \
                 {store_ms:.1} ms (goal <= 100)"
            );
        }
        for (what, filter) in [
            ("the board", IssueFilter::default()),
            (
                "a search",
                IssueFilter {
                    q: Some("number 4242".into()),
                    ..Default::default()
                },
            ),
            (
                "a search of 2 characters",
                IssueFilter {
                    q: Some("qx".into()),
                    ..Default::default()
                },
            ),
        ] {
            println!("\nplans of {what} on {engine}:");
            for (query, plan) in board.store.explain_board(&filter, 50).await? {
                println!("  {query}:");
                for line in plan.lines() {
                    println!("    {line}");
                }
            }
        }
    }
    Ok(())
}

/// Tags a few issues in several columns (one in 9,973) with "qx" in their titles: 2
/// characters that only they have.
async fn tag_a_few_titles(url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let tag = "UPDATE issues SET title = title || ' (qx)' WHERE id % 9973 = 0";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        sqlx::query(tag).execute(&mut conn).await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query(tag).execute(&mut conn).await?;
    }
    Ok(())
}

/// A new empty database of `engine` (on `cluster` for PostgreSQL): its URL, and the
/// directory that holds a SQLite file.
async fn empty_database(
    engine: &str,
    cluster: &engines::Cluster,
) -> anyhow::Result<(Option<tempfile::TempDir>, String)> {
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
    Ok((Some(dir), url))
}

async fn scratch(
    engine: &str,
    cluster: &engines::Cluster,
) -> anyhow::Result<support::ScratchBoard> {
    let (dir, url) = empty_database(engine, cluster).await?;
    support::ScratchBoard::on(&url, dir).await
}
