//! The agent's loop at size, on both engines: a board of N issues (most done, as on a board used
//! for years), then each step of the loop timed (median of 50) next to a bare read of one issue
//! on the same database in the same run. Figures, not assertions:
//!
//!     cargo run --release -p server --example loop_bench -- 10000 [sqlite|postgres|both]
//!
//! The steps: the board's query (its cards carry the loop's marks), a claim, a run finishing
//! on a question, the answer, a plan approved, failing checks sent back, two review comments
//! brought in (and the same again: nothing new), and the session a run left.

use app::domain::{Actor, NewIssue, Role, RunOutcome, Status};
use app::store::{ForgeItem, IssueFilter, RunFinish, Store};
use std::time::{Duration, Instant};

#[path = "../../app/tests/support/engines.rs"]
#[allow(unused_macros)]
mod engines;
mod support;

const REPEAT: usize = 50;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let engines = match args.next().as_deref() {
        None | Some("both") => vec![engines::Engine::Sqlite, engines::Engine::Postgres],
        Some("sqlite") => vec![engines::Engine::Sqlite],
        Some("postgres") => vec![engines::Engine::Postgres],
        Some(other) => anyhow::bail!("unknown engine {other}: sqlite, postgres or both"),
    };
    for engine in engines {
        engines::use_engine(engine);
        let dir = tempfile::tempdir()?;
        let store = Store::open(&engines::fresh_database(dir.path()).await).await?;
        println!("\n== {engine:?}, {n} issues");
        bench(&store, n).await?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of the durations.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn bench(store: &Store, n: usize) -> anyhow::Result<()> {
    let person = Actor::new(Role::Admin, "Bench");
    let seeding = Instant::now();
    support::seed(store, 0, n).await?;
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    // The agent's issues: REPEAT of them, each taken once around the loop.
    let mut agent_issues = Vec::new();
    for i in 0..REPEAT {
        let new = NewIssue {
            title: format!("Agent issue {i}"),
            status: Some(Status::Ready),
            plan_first: Some(i % 2 == 0),
            ..Default::default()
        };
        agent_issues.push(store.create_issue(&person, new).await?.id);
    }

    let mut steps: Vec<(&str, Vec<Duration>)> = Vec::new();
    let mut time = |name: &'static str, d: Duration| match steps.iter_mut().find(|s| s.0 == name) {
        Some(step) => step.1.push(d),
        None => steps.push((name, vec![d])),
    };
    for &id in &agent_issues {
        let at = Instant::now();
        store.get_issue(id).await?;
        time("bare read of one issue (baseline)", at.elapsed());

        let at = Instant::now();
        store.board_issues(&IssueFilter::default(), |_| 50).await?;
        time("the board's cards (50 a column)", at.elapsed());

        let at = Instant::now();
        let (issue, run) = store
            .claim_next("bench", 60_000)
            .await?
            .ok_or_else(|| anyhow::anyhow!("nothing to claim"))?;
        time("claim (the run's kind decided)", at.elapsed());

        let finish = RunFinish {
            comment: Some((app::domain::AuthorKind::Agent, "Formal or casual?".into())),
            session_id: Some(format!("session-{}", issue.id)),
            ..RunFinish::new(RunOutcome::Blocked, Status::Blocked)
        };
        let at = Instant::now();
        store.finish_run("bench", run.id, issue.id, finish).await?;
        time("a run ends on a question", at.elapsed());

        let at = Instant::now();
        store.answer_question(&person, issue.id, "Casual.").await?;
        time("the answer (back to ready)", at.elapsed());

        let at = Instant::now();
        store.last_session(issue.id).await?;
        time("the session to resume", at.elapsed());

        // Around again: a plan (plan-first issues) or a change, then review.
        let (_, run) = store
            .claim_next("bench", 60_000)
            .await?
            .ok_or_else(|| anyhow::anyhow!("nothing to claim"))?;
        let (outcome, plan) = if issue.plan_first {
            (RunOutcome::Planned, true)
        } else {
            (RunOutcome::Review, false)
        };
        let finish = RunFinish {
            pr_url: Some("https://github.com/acme/app/pull/1".into()),
            ..RunFinish::new(outcome, Status::InReview)
        };
        store.finish_run("bench", run.id, issue.id, finish).await?;
        if plan {
            let at = Instant::now();
            store.approve_plan(&person, issue.id, None).await?;
            time("a plan approved", at.elapsed());
            let (_, run) = store
                .claim_next("bench", 60_000)
                .await?
                .ok_or_else(|| anyhow::anyhow!("nothing to claim"))?;
            let finish = RunFinish {
                pr_url: Some("https://github.com/acme/app/pull/1".into()),
                ..RunFinish::new(RunOutcome::Review, Status::InReview)
            };
            store.finish_run("bench", run.id, issue.id, finish).await?;
        }
        let items: Vec<ForgeItem> = (0..2)
            .map(|k| ForgeItem {
                key: format!("github:line:{}-{k}", issue.id),
                author: "carol on GitHub".into(),
                body: "> Rename this.".into(),
                requests_changes: false,
            })
            .collect();
        let at = Instant::now();
        store.import_forge_comments(issue.id, &items).await?;
        time("two review comments brought in", at.elapsed());
        let at = Instant::now();
        store.import_forge_comments(issue.id, &items).await?;
        time("the same again (nothing new)", at.elapsed());

        let at = Instant::now();
        store.checks_failed(issue.id, 0, 2, "logs").await?;
        time("failing checks sent back", at.elapsed());
        // Out of the way: the next claim takes the next agent issue.
        store
            .move_issue(&person, issue.id, Status::Backlog, None)
            .await?;
    }
    let baseline = ms(median(steps[0].1.clone()));
    for (name, times) in steps {
        let m = ms(median(times));
        println!(
            "{name:<40} {m:>7.2} ms  {:>5.1}x the baseline",
            m / baseline
        );
    }
    Ok(())
}
