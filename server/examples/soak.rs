//! The soak: the built server under a mixed workload for a set time, on SQLite and on
//! PostgreSQL. People read the board page and the JSON list (whole and paged), open issues,
//! move them through legal transitions and comment; live streams open and close; the public
//! posts feedback from many addresses; the server's own runner claims and finishes agent
//! issues with the tests' fake agent. Every minute it prints requests per second, p50 and p99
//! per kind, errors, and the server's memory and open file descriptors; at the end a verdict
//! and a consistency check of the database. `scripts/soak.sh` builds and runs it:
//!
//!     soak [minutes] [binary] [sqlite|postgres|both] [issues]
//!
//! Defaults: 30 minutes, target/release/autopilot, both engines, 2,000 seeded issues. It exits
//! non-zero when a goal fails: zero 5xx and no other unexpected answer; memory and open file
//! descriptors flat after warm-up (under 5 % growth over the last two thirds); every event's
//! issue exists, the history agrees with each issue's status, the JSON list's counts per
//! status and the issue and comment totals match the database and what the driver created, no
//! claim or run is left behind once the server stopped (SIGTERM).
//!
//! The driver never opens the board through the store: the binary under test makes and owns
//! its schema (a driver built from a newer tree would migrate the database past what an older
//! binary knows, and the binary would refuse to start). People and tokens come from the
//! binary's own command line, the board is seeded over HTTP, and the closing checks read the
//! database with plain SQL.

use axum::http::{header, Method, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[path = "../../app/tests/support/engines.rs"]
#[allow(unused_macros)]
mod engines;
mod support;

/// The tests' stand-in for the Claude Code CLI; `FAKE:brief` in a title makes it think for a
/// second, then write a file (the issue goes to review).
const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-claude");
/// People working the board at once (half members, half admins), each with a short pause
/// between actions, as people clicking.
const PEOPLE: usize = 8;
/// Live streams held open at once, each for 5 to 30 seconds, then closed and opened again.
const WATCHERS: usize = 6;
/// A new agent issue is filed and moved to ready this often.
const AGENT_EVERY: Duration = Duration::from_secs(10);
/// One feedback post from a new address this often, plus a burst from one address each minute
/// past its limit of 5 (the 429s are deliberate and counted apart).
const FEEDBACK_EVERY: Duration = Duration::from_millis(1500);
/// Growth allowed over the last two thirds of the run.
const FLAT: f64 = 0.05;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let minutes: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(30)
        .max(1);
    let bin = args
        .next()
        .unwrap_or_else(|| "target/release/autopilot".into());
    let engines = match args.next().as_deref() {
        None | Some("both") => vec![Engine::Sqlite, Engine::Postgres],
        Some("sqlite") => vec![Engine::Sqlite],
        Some("postgres") => vec![Engine::Postgres],
        Some(other) => anyhow::bail!("unknown engine {other}: sqlite, postgres or both"),
    };
    let issues: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let mut failed = Vec::new();
    for engine in engines {
        let goals = soak(engine, minutes, &bin, issues).await?;
        if !goals.iter().all(|g| g.met) {
            failed.push(engine.name());
        }
    }
    if failed.is_empty() {
        println!("\nsoak: every goal met");
        Ok(())
    } else {
        println!("\nsoak: goals failed on {}", failed.join(" and "));
        std::process::exit(1)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// One goal of the verdict.
struct Goal {
    what: String,
    met: bool,
}

/// One engine: set up, seed, drive the workload for `minutes`, check. Returns the verdict.
async fn soak(engine: Engine, minutes: u64, bin: &str, issues: usize) -> anyhow::Result<Vec<Goal>> {
    let dir = tempfile::tempdir()?;
    // The cluster lives as long as this engine's run (it is stopped when dropped at the end).
    let cluster = (engine == Engine::Postgres).then(engines::start_cluster);
    let url = match &cluster {
        None => format!("sqlite://{}", dir.path().join("soak.db").display()),
        Some(cluster) => {
            use sqlx::Connection;
            let mut admin =
                sqlx::PgConnection::connect(&format!("{}/postgres", cluster.url())).await?;
            sqlx::query("CREATE DATABASE soak")
                .execute(&mut admin)
                .await?;
            format!("{}/soak", cluster.url())
        }
    };
    let repo = git_repo(dir.path())?;
    let worktrees = dir.path().join("worktrees");
    let env = [
        // Warnings, but not one per deliberate feedback 429.
        ("RUST_LOG", "warn,server::routes::feedback=error"),
        // One process plays the whole public: each feedback post says its address.
        ("AUTOPILOT_TRUSTED_PROXIES", "127.0.0.1"),
        ("AUTOPILOT_FEEDBACK_PER_DAY", "1000000"),
        ("AUTOPILOT_RUNNER", "1"),
        ("AUTOPILOT_WORKDIR", &path_str(&repo)),
        ("AUTOPILOT_WORKTREES_DIR", &path_str(&worktrees)),
        ("AUTOPILOT_CLAUDE_BIN", FAKE),
        ("AUTOPILOT_AGENT_ID", "soak"),
        ("AUTOPILOT_RUNNER_CONCURRENCY", "2"),
        ("AUTOPILOT_POLL_SECONDS", "3"),
        ("AUTOPILOT_TIMEOUT_SECONDS", "60"),
        ("AUTOPILOT_LEASE_SECONDS", "30"),
    ];
    let mut server = support::BuiltServer::start_with(bin, &url, &env).await?;
    let pid = server.pid();
    let tokens = Tokens {
        member: person(bin, &url, "member")?,
        admin: person(bin, &url, "admin")?,
    };
    let client: HttpClient = Client::builder(TokioExecutor::new())
        // Under the server's 10 s idle cut-off, so a pooled connection is never reused just as
        // the server closes it.
        .pool_idle_timeout(Duration::from_secs(5))
        .build_http();
    let board = Board {
        client,
        base: server.base.clone(),
        tokens,
        stats: Arc::default(),
    };
    let name = engine.name();
    println!("\n== soak on {name}: {bin} (pid {pid}), {minutes} minute(s)");
    let started = Instant::now();
    let seeded = seed(&board, issues).await?;
    println!(
        "seeded {} issues over HTTP in {:.1} s (80 % done, human-only); {PEOPLE} people, \
         {WATCHERS} live streams, feedback every {} ms, an agent issue every {} s",
        seeded.len(),
        started.elapsed().as_secs_f64(),
        FEEDBACK_EVERY.as_millis(),
        AGENT_EVERY.as_secs()
    );
    board
        .stats
        .issues_created
        .store(seeded.len() as u64, Ordering::Relaxed);

    let (stop, stopped) = watch::channel(false);
    let seeded = Arc::new(seeded);
    let mut tasks = Vec::new();
    for n in 0..PEOPLE {
        let (board, seeded, stopped) = (board.clone(), seeded.clone(), stopped.clone());
        tasks.push(tokio::spawn(async move {
            person_works(board, n, seeded, stopped).await
        }));
    }
    for n in 0..WATCHERS {
        let (board, stopped) = (board.clone(), stopped.clone());
        tasks.push(tokio::spawn(async move {
            watch_stream(board, n, stopped).await
        }));
    }
    tasks.push(tokio::spawn(post_feedback(board.clone(), stopped.clone())));
    tasks.push(tokio::spawn(feed_runner(board.clone(), stopped.clone())));

    let mut samples = Vec::new();
    for minute in 1..=minutes {
        let sample = watch_one_minute(pid).await;
        print_minute(name, minute, minutes, &sample, &board.stats);
        samples.push(sample);
        if let Some(exit) = server.exited()? {
            stop.send(true)?;
            anyhow::bail!("the server exited in minute {minute} of the soak ({exit})");
        }
    }
    stop.send(true)?;
    for task in tasks {
        task.await?;
    }

    let db = CheckDb::open(&url).await?;
    println!("\n-- {name}: workload stopped; waiting for the runner to finish what it holds");
    wait_for_runner(&db).await?;
    let mut goals = verdict_of_traffic(&board.stats, &samples, minutes);
    goals.extend(list_matches_database(&board, &db).await?);
    let exit = server.terminate()?;
    goals.push(Goal {
        what: format!("the server stops cleanly on SIGTERM ({exit})"),
        met: exit.success(),
    });
    goals.extend(database_is_consistent(&db, &board.stats).await?);
    println!("\n-- verdict on {name}");
    for goal in &goals {
        println!(
            "{} {}",
            if goal.met { "met   " } else { "FAILED" },
            goal.what
        );
    }
    db.close().await;
    if let Some(cluster) = cluster {
        cluster.stop("fast");
    }
    Ok(goals)
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A git checkout with one commit, for the runner to cut issue branches from.
fn git_repo(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo)?;
    std::fs::write(repo.join("README.md"), "# Soak\n")?;
    let git = |args: &[&str]| -> anyhow::Result<()> {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=Soak", "-c", "user.email=soak@example.com"])
            .args(args)
            .current_dir(&repo)
            .status()?;
        anyhow::ensure!(status.success(), "git {args:?} failed");
        Ok(())
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "."])?;
    git(&["commit", "-qm", "start"])?;
    Ok(repo)
}

/// A person of `role` added with the binary's own command line; returns their new token.
fn person(bin: &str, url: &str, role: &str) -> anyhow::Result<String> {
    let email = format!("{role}@example.com");
    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = std::process::Command::new(bin)
            .args(args)
            .args(["--database-url", url])
            .env("AUTOPILOT_PASSWORD", support::PASSWORD)
            .env("RUST_LOG", "error")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "autopilot {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    run(&[
        "user", "add", "--email", &email, "--name", role, "--role", role,
    ])?;
    let printed = run(&[
        "token",
        "create",
        "--email",
        &email,
        "--name",
        "soak",
        "--scope",
        "read,write,move,admin",
    ])?;
    printed
        .lines()
        .last()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("token create printed nothing"))
}

#[derive(Clone)]
struct Tokens {
    member: String,
    admin: String,
}

/// What one kind of request got in a minute (or in all).
#[derive(Default, Clone)]
struct Tally {
    ms: Vec<f64>,
    ok: u64,
    /// 5xx.
    server_errors: u64,
    /// Any other answer nobody should get, and failed connections.
    unexpected: u64,
    /// 429 from a deliberate limit (feedback).
    limited: u64,
    /// A move that lost a race with another person (409, 422): the first one wins.
    refused: u64,
}

#[derive(Default)]
struct Stats {
    minute: Mutex<BTreeMap<&'static str, Tally>>,
    total: Mutex<BTreeMap<&'static str, Tally>>,
    /// The first few errors, word for word, for the report.
    errors: Mutex<Vec<String>>,
    issues_created: AtomicU64,
    comments_added: AtomicU64,
    runs_reviewed: AtomicU64,
    runs_blocked: AtomicU64,
    stream_changes: AtomicU64,
    streams_open: AtomicUsize,
}

impl Stats {
    fn count(&self, kind: &'static str, ms: f64, answer: Result<u16, String>, refusals: &[u16]) {
        let mut minute = self.minute.lock().unwrap_or_else(|e| e.into_inner());
        let tally = minute.entry(kind).or_default();
        tally.ms.push(ms);
        let error = match answer {
            Ok(status) if status < 400 => {
                tally.ok += 1;
                None
            }
            Ok(429) => {
                tally.limited += 1;
                None
            }
            Ok(status) if refusals.contains(&status) => {
                tally.refused += 1;
                None
            }
            Ok(status) if status >= 500 => {
                tally.server_errors += 1;
                Some(format!("{kind}: {status}"))
            }
            Ok(status) => {
                tally.unexpected += 1;
                Some(format!("{kind}: {status}"))
            }
            Err(err) => {
                tally.unexpected += 1;
                Some(format!("{kind}: {err}"))
            }
        };
        if let Some(error) = error {
            let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            if errors.len() < 20 {
                errors.push(error);
            }
        }
    }

    /// The minute's tallies, moved into the totals.
    fn take_minute(&self) -> BTreeMap<&'static str, Tally> {
        let minute = std::mem::take(&mut *self.minute.lock().unwrap_or_else(|e| e.into_inner()));
        let mut total = self.total.lock().unwrap_or_else(|e| e.into_inner());
        for (kind, t) in &minute {
            let sum = total.entry(kind).or_default();
            sum.ok += t.ok;
            sum.server_errors += t.server_errors;
            sum.unexpected += t.unexpected;
            sum.limited += t.limited;
            sum.refused += t.refused;
        }
        minute
    }
}

/// The server as its clients see it, counting every answer.
#[derive(Clone)]
struct Board {
    client: HttpClient,
    base: String,
    tokens: Tokens,
    stats: Arc<Stats>,
}

impl Board {
    fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            // As a browser asks: the server compresses each answer.
            .header(header::ACCEPT_ENCODING, "br, gzip");
        Ok(match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::from(serde_json::to_vec(body)?))?,
            None => builder.body(Full::default())?,
        })
    }

    /// Sends, reads the whole answer, counts it under `kind`; the answer if it was a success.
    /// `refusals` are statuses that are a normal outcome of this request.
    async fn send(
        &self,
        kind: &'static str,
        req: anyhow::Result<Request<Full<Bytes>>>,
        refusals: &[u16],
    ) -> Option<Bytes> {
        let started = Instant::now();
        let answer = async {
            let res = self.client.request(req?).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        }
        .await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match answer {
            Ok((status, body)) => {
                self.stats.count(kind, ms, Ok(status.as_u16()), refusals);
                if status.is_server_error() {
                    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).to_string();
                    let mut errors = self.stats.errors.lock().unwrap_or_else(|e| e.into_inner());
                    if errors.len() < 20 {
                        errors.push(format!("  its answer: {text}"));
                    }
                }
                status.is_success().then_some(body)
            }
            Err(err) => {
                self.stats.count(kind, ms, Err(err.to_string()), refusals);
                None
            }
        }
    }

    async fn get_json(&self, kind: &'static str, path: &str, token: &str) -> Option<Value> {
        let body = self
            .send(kind, self.request(Method::GET, path, token, None), &[])
            .await?;
        decode(&body)
    }

    /// A call for set-up and checks, not counted: fails unless it succeeds. Asks for no
    /// compression, so the answer is plain JSON.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.request(method.clone(), path, token, body.as_ref())?;
        req.headers_mut().remove(header::ACCEPT_ENCODING);
        let res = self.client.request(req).await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// A small random number source (xorshift); each task has its own.
struct Dice(u64);

impl Dice {
    fn new(n: usize) -> Dice {
        let now = app::store::now_ms() as u64;
        Dice((now ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below((to - from) as usize) as u64)
    }
}

/// Sleeps `time`, or less when the soak is stopping; false once it is.
async fn pause(stopped: &mut watch::Receiver<bool>, time: Duration) -> bool {
    let _ = tokio::time::timeout(time, stopped.wait_for(|s| *s)).await;
    !*stopped.borrow()
}

/// `issues` human-only issues spread as on a board in use (80 % done, the rest over the open
/// columns), like `support::seed` but over HTTP, four at a time. Returns their ids.
async fn seed(board: &Board, issues: usize) -> anyhow::Result<Vec<i64>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (board, next) = (board.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= issues {
                    return anyhow::Ok(ids);
                }
                let walk: &[&str] = match i % 10 {
                    0 => &[],
                    1 => &[],
                    2 => &["in_progress"],
                    3 => &["in_progress", "in_review"],
                    _ => &["in_progress", "in_review", "done"],
                };
                let new = json!({
                    "title": format!("Issue number {i} with a realistic title of some length"),
                    "body": "Some body text. ".repeat(20),
                    "human_only": true,
                    "status": if i % 10 == 0 { "backlog" } else { "ready" },
                });
                let token = &board.tokens.admin;
                let issue = board
                    .call(Method::POST, "/api/autopilot/issues", token, Some(new))
                    .await?;
                let id = issue["id"]
                    .as_i64()
                    .ok_or_else(|| anyhow::anyhow!("a new issue without an id: {issue}"))?;
                for to in walk {
                    let path = format!("/api/autopilot/issues/{id}/status");
                    board
                        .call(Method::POST, &path, token, Some(json!({ "status": to })))
                        .await?;
                }
                ids.push(id);
            }
        }));
    }
    let mut ids = Vec::new();
    for worker in workers {
        ids.extend(worker.await??);
    }
    Ok(ids)
}

/// One person: reads the board (page, drawer, filters), the JSON list (whole and paged),
/// opens issues, moves them on and comments, with a pause between actions.
async fn person_works(
    board: Board,
    n: usize,
    seeded: Arc<Vec<i64>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut dice = Dice::new(n);
    let token = if n.is_multiple_of(2) {
        board.tokens.member.clone()
    } else {
        board.tokens.admin.clone()
    };
    let get = |path: String| board.request(Method::GET, &path, &token, None);
    while pause(&mut stopped, dice.millis(50, 250)).await {
        let id = seeded[dice.below(seeded.len())];
        match dice.below(20) {
            0..=5 => {
                let path = match dice.below(5) {
                    0 => format!("/?issue={id}"),
                    1 => format!("/?q=number+{}", dice.below(100)),
                    2 => "/?ready=100".to_string(),
                    _ => "/".to_string(),
                };
                board.send("board", get(path), &[]).await;
            }
            6..=7 => {
                let path = match dice.below(3) {
                    0 => "/api/autopilot/issues?status=ready",
                    _ => "/api/autopilot/issues",
                };
                board.send("list whole", get(path.to_string()), &[]).await;
            }
            8..=9 => {
                // Two pages of 100 from a random status, as a script reads a column.
                let status =
                    ["backlog", "ready", "in_progress", "in_review", "done"][dice.below(5)];
                let mut path = format!("/api/autopilot/issues?status={status}&limit=100");
                for _ in 0..2 {
                    let Some(page) = board.get_json("list page", &path, &token).await else {
                        break;
                    };
                    let Some(cursor) = page["next_cursor"].as_str().map(escape) else {
                        break;
                    };
                    path =
                        format!("/api/autopilot/issues?status={status}&limit=100&cursor={cursor}");
                }
            }
            10..=14 => move_on(&board, &token, id, &mut dice).await,
            15..=16 => {
                let body = json!({ "body": format!("A comment on #{id}, with a few words.") });
                let path = format!("/api/autopilot/issues/{id}/comments");
                let req = board.request(Method::POST, &path, &token, Some(&body));
                if board.send("comment", req, &[]).await.is_some() {
                    board.stats.comments_added.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                board
                    .send("issue", get(format!("/api/autopilot/issues/{id}")), &[])
                    .await;
            }
        }
    }
}

/// Opens an issue and moves it one step on round the board, naming the version read: another
/// person may have moved it since (a 409 or 422: the first one wins). Done issues are mostly
/// left alone (one in 16 is reopened), so the board stays mostly done.
async fn move_on(board: &Board, token: &str, id: i64, dice: &mut Dice) {
    let path = format!("/api/autopilot/issues/{id}");
    let req = board.request(Method::GET, &path, token, None);
    let Some(body) = board.send("issue", req, &[]).await else {
        return;
    };
    // Compressed or not, the issue's status and version are what a person saw.
    let Some(issue) = decode(&body) else {
        return;
    };
    let to = match issue["status"].as_str() {
        Some("backlog") | Some("blocked") => "ready",
        Some("ready") => "in_progress",
        Some("in_progress") => "in_review",
        Some("in_review") => "done",
        Some("done") if dice.below(16) == 0 => "backlog",
        _ => return,
    };
    let change = json!({ "status": to, "version": issue["version"] });
    let req = board.request(
        Method::POST,
        &format!("{path}/status"),
        token,
        Some(&change),
    );
    board.send("move", req, &[409, 422]).await;
}

/// A cursor as a query value: it is the server's to shape, and may need escaping.
fn escape(cursor: &str) -> String {
    url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect()
}

/// An answer's JSON, whether the server compressed it (brotli or gzip) or not.
fn decode(body: &[u8]) -> Option<Value> {
    use std::io::Read;
    if let Ok(value) = serde_json::from_slice(body) {
        return Some(value);
    }
    let mut plain = Vec::new();
    if body.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .ok()?;
    } else {
        brotli_decompressor::Decompressor::new(body, 4096)
            .read_to_end(&mut plain)
            .ok()?;
    }
    serde_json::from_slice(&plain).ok()
}

/// One open board: follows the live stream for 5 to 30 seconds, closes it, opens it again.
async fn watch_stream(board: Board, n: usize, mut stopped: watch::Receiver<bool>) {
    let mut dice = Dice::new(100 + n);
    let token = if n.is_multiple_of(2) {
        &board.tokens.member
    } else {
        &board.tokens.admin
    };
    while pause(&mut stopped, dice.millis(200, 2000)).await {
        let req = match board.request(Method::GET, "/api/autopilot/stream", token, None) {
            Ok(req) => req,
            Err(_) => return,
        };
        let started = Instant::now();
        let res = board.client.request(req).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut body = match res {
            Ok(res) => {
                let status = res.status();
                board
                    .stats
                    .count("stream open", ms, Ok(status.as_u16()), &[]);
                if status != StatusCode::OK {
                    continue;
                }
                res.into_body()
            }
            Err(err) => {
                board
                    .stats
                    .count("stream open", ms, Err(err.to_string()), &[]);
                continue;
            }
        };
        board.stats.streams_open.fetch_add(1, Ordering::Relaxed);
        let until = tokio::time::Instant::now() + dice.millis(5_000, 30_000);
        let mut stop = stopped.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                _ = stop.wait_for(|s| *s) => break,
                frame = body.frame() => match frame {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let changes = String::from_utf8_lossy(&data).matches("event: change").count();
                            board.stats.stream_changes.fetch_add(changes as u64, Ordering::Relaxed);
                        }
                    }
                    // The server ended a stream it should have kept open.
                    other => {
                        let why = match other {
                            Some(Err(err)) => err.to_string(),
                            _ => "ended by the server".to_string(),
                        };
                        board.stats.count("stream cut", 0.0, Err(why), &[]);
                        break;
                    }
                },
            }
        }
        board.stats.streams_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The public: feedback from a new address each time, and once a minute a burst of 7 from one
/// address (its limit is 5 a minute: the last two get a deliberate 429).
async fn post_feedback(board: Board, mut stopped: watch::Receiver<bool>) {
    let mut dice = Dice::new(200);
    // The first burst comes early, so a one-minute run has one too.
    let mut next_burst = Instant::now() + Duration::from_secs(20);
    let mut sent = 0u64;
    while pause(&mut stopped, FEEDBACK_EVERY).await {
        let posts = if Instant::now() >= next_burst {
            next_burst += Duration::from_secs(60);
            7
        } else {
            1
        };
        let address = format!(
            "10.{}.{}.{}",
            dice.below(256),
            dice.below(256),
            1 + dice.below(254)
        );
        for _ in 0..posts {
            sent += 1;
            let body = json!({ "message": format!("Feedback {sent}: the page felt slow today."), "page": "https://shop.example/cart" });
            let req = board
                .request(Method::POST, "/api/autopilot/feedback", "", Some(&body))
                .and_then(|mut req| {
                    req.headers_mut().remove(header::AUTHORIZATION);
                    req.headers_mut()
                        .insert("x-forwarded-for", address.parse()?);
                    Ok(req)
                });
            if board.send("feedback", req, &[]).await.is_some() {
                board.stats.issues_created.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Work for the server's runner: every few seconds a new agent issue is filed and moved to
/// ready (the runner claims it and the fake agent finishes it into review), and what reached
/// review is approved (done). Blocked agent issues are counted: the fake agent never blocks.
async fn feed_runner(board: Board, mut stopped: watch::Receiver<bool>) {
    let token = board.tokens.admin.clone();
    let mut filed = 0;
    while pause(&mut stopped, AGENT_EVERY).await {
        filed += 1;
        let new = json!({ "title": format!("Agent task {filed} FAKE:brief"), "status": "backlog" });
        let req = board.request(Method::POST, "/api/autopilot/issues", &token, Some(&new));
        if let Some(issue) = board
            .send("runner", req, &[])
            .await
            .and_then(|b| decode(&b))
        {
            board.stats.issues_created.fetch_add(1, Ordering::Relaxed);
            let path = format!("/api/autopilot/issues/{}/status", issue["id"]);
            let ready = json!({ "status": "ready" });
            let req = board.request(Method::POST, &path, &token, Some(&ready));
            board.send("runner", req, &[]).await;
        }
        for (status, counter) in [
            ("in_review", &board.stats.runs_reviewed),
            ("blocked", &board.stats.runs_blocked),
        ] {
            let path = format!("/api/autopilot/issues?status={status}&q=Agent+task&limit=100");
            let req = board.request(Method::GET, &path, &token, None);
            let Some(page) = board
                .send("runner", req, &[])
                .await
                .and_then(|b| decode(&b))
            else {
                continue;
            };
            for issue in page["issues"].as_array().into_iter().flatten() {
                counter.fetch_add(1, Ordering::Relaxed);
                // Approved, or a blocked one shelved, so it is counted once.
                let to = if status == "in_review" {
                    "done"
                } else {
                    "backlog"
                };
                let path = format!("/api/autopilot/issues/{}/status", issue["id"]);
                let change = json!({ "status": to });
                let req = board.request(Method::POST, &path, &token, Some(&change));
                board.send("runner", req, &[]).await;
            }
        }
    }
}

/// The server's resources over one minute, read every second.
struct Sample {
    /// Resident memory at the minute's end, and the process' peak so far (KiB).
    rss_kib: u64,
    peak_kib: u64,
    /// Open file descriptors: the fewest and the most seen. Client connections come and go
    /// with the load; a leak raises the floor.
    fds_min: usize,
    fds_max: usize,
}

async fn watch_one_minute(pid: u32) -> Sample {
    let mut fds_min = usize::MAX;
    let mut fds_max = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        fds_min = fds_min.min(fds);
        fds_max = fds_max.max(fds);
    }
    let (rss_kib, peak_kib) = support::memory_kib(pid);
    Sample {
        rss_kib,
        peak_kib,
        fds_min,
        fds_max,
    }
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn print_minute(engine: &str, minute: u64, of: u64, sample: &Sample, stats: &Stats) {
    let tallies = stats.take_minute();
    println!(
        "\n[{engine} {minute:>2}/{of} min] server RSS {:.1} MiB (peak {:.1}), open fds {}-{}, \
         streams open {}, changes seen on streams {}, agent runs reviewed {} (blocked {})",
        sample.rss_kib as f64 / 1024.0,
        sample.peak_kib as f64 / 1024.0,
        sample.fds_min,
        sample.fds_max,
        stats.streams_open.load(Ordering::Relaxed),
        stats.stream_changes.load(Ordering::Relaxed),
        stats.runs_reviewed.load(Ordering::Relaxed),
        stats.runs_blocked.load(Ordering::Relaxed),
    );
    println!(
        "  {:<12} {:>7} {:>8} {:>8} {:>6} {:>5} {:>10} {:>5} {:>7}",
        "kind", "req/s", "p50 ms", "p99 ms", "ok", "5xx", "unexpected", "429", "refused"
    );
    for (kind, mut t) in tallies {
        t.ms.sort_by(f64::total_cmp);
        println!(
            "  {kind:<12} {:>7.1} {:>8.1} {:>8.1} {:>6} {:>5} {:>10} {:>5} {:>7}",
            t.ms.len() as f64 / 60.0,
            percentile(&t.ms, 50),
            percentile(&t.ms, 99),
            t.ok,
            t.server_errors,
            t.unexpected,
            t.limited,
            t.refused
        );
    }
}

/// Zero 5xx, nothing unexpected, and memory and descriptors flat over the last two thirds.
fn verdict_of_traffic(stats: &Stats, samples: &[Sample], minutes: u64) -> Vec<Goal> {
    stats.take_minute();
    let total = stats
        .total
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let sum = |f: fn(&Tally) -> u64| total.values().map(f).sum::<u64>();
    let (ok, server_errors, unexpected) = (
        sum(|t| t.ok),
        sum(|t| t.server_errors),
        sum(|t| t.unexpected),
    );
    println!(
        "\n-- in all: {ok} answered, {server_errors} 5xx, {unexpected} unexpected, {} deliberate \
         429s, {} moves that lost a race",
        sum(|t| t.limited),
        sum(|t| t.refused)
    );
    for error in stats
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("  {error}");
    }
    let mut goals = vec![
        Goal {
            what: format!("zero 5xx ({server_errors})"),
            met: server_errors == 0,
        },
        Goal {
            what: format!("no other unexpected answer or failed connection ({unexpected})"),
            met: unexpected == 0,
        },
    ];
    // The first third is warm-up (caches, pools, the allocator settling); the rest must be
    // flat. A run of a minute or two has no warm-up worth the name: its growth is reported but
    // judges nothing (the one-minute run in scripts/test.sh only proves the soak still runs).
    let judged = minutes >= 3;
    // Each end of the window is the median of three minutes around it: the descriptors'
    // floor moves by one or two with the connections open at that moment, which is 5 % of
    // about 40.
    let from = (samples.len() / 3).saturating_sub(1);
    let to = samples.len().saturating_sub(2);
    let around = |minute: usize, value: fn(&Sample) -> f64| {
        let near = &samples[minute.saturating_sub(1)..(minute + 2).min(samples.len())];
        let mut values: Vec<f64> = near.iter().map(value).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let growth = |a: f64, b: f64| (b - a) / a.max(1.0);
    let rss: fn(&Sample) -> f64 = |s| s.rss_kib as f64 / 1024.0;
    let fds: fn(&Sample) -> f64 = |s| s.fds_min as f64;
    for (what, value) in [
        ("server memory (RSS, MiB)", rss),
        ("open file descriptors (the floor)", fds),
    ] {
        let (a, b) = (around(from, value), around(to, value));
        let g = growth(a, b);
        goals.push(Goal {
            what: format!(
                "{what} flat after warm-up: {a:.1} -> {b:.1}, {:+.1} % (goal < {:.0} %){}",
                g * 100.0,
                FLAT * 100.0,
                if judged {
                    ""
                } else {
                    "; not judged: too short for a warm-up"
                }
            ),
            met: !judged || g < FLAT,
        });
    }
    goals
}

/// The database the server wrote, read directly (read-only on SQLite).
enum CheckDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl CheckDb {
    async fn open(url: &str) -> anyhow::Result<CheckDb> {
        use std::str::FromStr;
        Ok(if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
            CheckDb::Sqlite(sqlx::SqlitePool::connect_with(options).await?)
        } else {
            CheckDb::Postgres(sqlx::PgPool::connect(url).await?)
        })
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            CheckDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            CheckDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }

    async fn counts(&self, sql: &str) -> anyhow::Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> = match self {
            CheckDb::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
            CheckDb::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
        };
        Ok(rows.into_iter().collect())
    }

    async fn close(&self) {
        match self {
            CheckDb::Sqlite(pool) => pool.close().await,
            CheckDb::Postgres(pool) => pool.close().await,
        }
    }
}

/// Waits (up to two minutes) until no agent issue is waiting or being worked, so the board
/// holds still for the checks.
async fn wait_for_runner(db: &CheckDb) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let busy = db
            .count(
                "SELECT COUNT(*) FROM issues \
                 WHERE human_only = FALSE AND status IN ('ready', 'in_progress')",
            )
            .await?;
        if busy == 0 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            println!("  {busy} agent issue(s) still waiting or worked after two minutes");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The JSON list, read whole page by page, counts the same issues per status as the database,
/// and as many as the driver created (seeded, agent issues, feedback filed).
async fn list_matches_database(board: &Board, db: &CheckDb) -> anyhow::Result<Vec<Goal>> {
    let mut listed: BTreeMap<String, i64> = BTreeMap::new();
    let mut path = "/api/autopilot/issues?limit=1000".to_string();
    loop {
        let page = board
            .call(Method::GET, &path, &board.tokens.admin, None)
            .await?;
        for issue in page["issues"].as_array().into_iter().flatten() {
            let status = issue["status"].as_str().unwrap_or("?").to_string();
            *listed.entry(status).or_default() += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => {
                path = format!("/api/autopilot/issues?limit=1000&cursor={}", escape(next))
            }
            None => break,
        }
    }
    let stored = db
        .counts("SELECT status, COUNT(*) FROM issues GROUP BY status")
        .await?;
    let created = board.stats.issues_created.load(Ordering::Relaxed) as i64;
    let in_db: i64 = stored.values().sum();
    Ok(vec![
        Goal {
            what: format!("the JSON list's counts per status match the database: {listed:?}"),
            met: listed == stored,
        },
        Goal {
            what: format!(
                "issues in the database ({in_db}) = issues the driver created ({created})"
            ),
            met: in_db == created,
        },
    ])
}

/// After the server stopped: every event names an issue that exists, each issue's status is
/// the one its history ends on, every person's comment that was answered 201 is there, and
/// nothing is left claimed, running or registered as running.
async fn database_is_consistent(db: &CheckDb, stats: &Stats) -> anyhow::Result<Vec<Goal>> {
    let comments = stats.comments_added.load(Ordering::Relaxed) as i64;
    let checks = [
        (
            "events whose issue is missing",
            "SELECT COUNT(*) FROM events e WHERE e.issue_id IS NULL \
             OR NOT EXISTS (SELECT 1 FROM issues i WHERE i.id = e.issue_id)",
            0,
        ),
        (
            "issues whose status is not where their history ends",
            "SELECT COUNT(*) FROM issues i WHERE i.status <> COALESCE(\
             (SELECT e.to_status FROM events e WHERE e.issue_id = i.id \
              AND e.to_status IS NOT NULL ORDER BY e.id DESC LIMIT 1), 'none')",
            0,
        ),
        (
            "issues claimed by a runner that is gone (all are, once the server stopped)",
            "SELECT COUNT(*) FROM issues i WHERE i.claimed_by IS NOT NULL \
             AND (i.status <> 'in_progress' OR NOT EXISTS \
             (SELECT 1 FROM runners r WHERE r.id = i.claimed_by AND r.stopped_at IS NULL))",
            0,
        ),
        (
            "issues claimed at all after the stop",
            "SELECT COUNT(*) FROM issues WHERE claimed_by IS NOT NULL",
            0,
        ),
        (
            "runs left running",
            "SELECT COUNT(*) FROM runs WHERE finished_at IS NULL",
            0,
        ),
        (
            "runners still registered as running",
            "SELECT COUNT(*) FROM runners WHERE stopped_at IS NULL",
            0,
        ),
        (
            "people's comments (the driver got 201 for each)",
            "SELECT COUNT(*) FROM comments WHERE author_kind = 'human'",
            comments,
        ),
    ];
    let mut goals = Vec::new();
    for (what, sql, want) in checks {
        let found = db.count(sql).await?;
        goals.push(Goal {
            what: format!("{what}: {found} (want {want})"),
            met: found == want,
        });
    }
    // The fake agent always writes its file: every run should end in review.
    let runs = db
        .counts("SELECT COALESCE(outcome, 'none'), COUNT(*) FROM runs GROUP BY outcome")
        .await?;
    let reviewed = runs.get("review").copied().unwrap_or(0);
    goals.push(Goal {
        what: format!("the runner claimed and finished agent issues, all into review: {runs:?}"),
        met: reviewed > 0 && reviewed == runs.values().sum::<i64>(),
    });
    Ok(goals)
}
