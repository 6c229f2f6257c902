//! What the benchmarks share: a scratch database with an admin and a bearer token, and the
//! board's router over it.
// Each benchmark uses part of this.
#![allow(dead_code)]

use app::auth::{hash_password, new_token, token_hash, SessionPolicy};
use app::domain::UserRole;
use app::store::Store;
use server::config::{AuthSettings, Intake, Serving};

pub const PASSWORD: &str = "bench password 1";

/// Live streams the bench admin may hold at once, in the router and the built server.
const BENCH_STREAMS: usize = 100_000;

pub struct ScratchBoard {
    pub store: Store,
    /// Where it lives.
    pub url: String,
    /// The admin's bearer token.
    pub token: String,
    _dir: Option<tempfile::TempDir>,
}

impl ScratchBoard {
    /// On a new SQLite file.
    pub async fn new() -> anyhow::Result<ScratchBoard> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        Self::on(&url, Some(dir)).await
    }

    /// On the (empty) database at `url`; `dir`, if any, is removed with the board. The admin
    /// signs in as bench@example.com with [`PASSWORD`].
    pub async fn on(url: &str, dir: Option<tempfile::TempDir>) -> anyhow::Result<ScratchBoard> {
        let store = Store::open(url).await?;
        let hash = hash_password(PASSWORD.into()).await?;
        let user = store
            .create_user("bench@example.com", "Bench", UserRole::Admin, &hash)
            .await?;
        let token = new_token();
        store
            .create_api_token(user.id, "bench", &token_hash(&token))
            .await?;
        Ok(ScratchBoard {
            store,
            url: url.to_string(),
            token,
            _dir: dir,
        })
    }

    /// The whole HTTP application, believing `X-Forwarded-For` from `trusted_proxies`.
    pub fn router(&self, trusted_proxies: Vec<ipnet::IpNet>) -> anyhow::Result<axum::Router> {
        let auth = AuthSettings {
            policy: SessionPolicy {
                idle_ms: 3_600_000,
                max_lifetime_ms: 3_600_000,
            },
            public_origin: None,
            secure_cookies: false,
            trusted_proxies,
        };
        let addr = "127.0.0.1:0".parse()?;
        let store = self.store.clone();
        let (router, _) = server::build_app(
            store,
            "target/site",
            addr,
            auth,
            None,
            Intake::default(),
            // Every client of a benchmark is the one admin: it may hold as many live streams
            // as the benchmark opens (the default cap is per person).
            Serving {
                max_streams_per_person: BENCH_STREAMS,
                ..Serving::default()
            },
        );
        Ok(router)
    }
}

/// Signs in at `base` (a served board) as its admin, as a browser does: answers the session
/// cookie to send back (`name=value`).
#[allow(dead_code)]
pub async fn sign_in(base: &str) -> anyhow::Result<String> {
    use http_body_util::Full;
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let form = format!(
        "email=bench%40example.com&password={}",
        PASSWORD.replace(' ', "+")
    );
    let request = axum::http::Request::post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", base)
        .body(Full::from(form))?;
    let answer = client.request(request).await?;
    let cookie = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("autopilot_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    cookie.ok_or_else(|| anyhow::anyhow!("signing in at {base} gave no session cookie"))
}

/// Median time (ms) of 20 authorised GETs of `path` through `router`, and the answer's size.
/// A `{n}` in the path becomes the request's number: board pages are kept warm per address,
/// so `/?n={n}` renders every time.
pub async fn median_ms(
    router: &axum::Router,
    path: &str,
    token: &str,
) -> anyhow::Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut size = 0;
    for n in 0..20 {
        let (ms, bytes) = time_ms(router, &path.replace("{n}", &n.to_string()), token).await?;
        times.push(ms);
        size = bytes;
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], size))
}

/// One GET of `path` as the bench admin: milliseconds until the whole body was read, and its
/// size.
pub async fn time_ms(
    router: &axum::Router,
    path: &str,
    token: &str,
) -> anyhow::Result<(f64, usize)> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())?;
    let started = std::time::Instant::now();
    let res = router.clone().oneshot(req).await?;
    let body = res.into_body().collect().await?.to_bytes();
    Ok((started.elapsed().as_secs_f64() * 1000.0, body.len()))
}

/// Issues `from..to`, spread as on a board in use: 80 % done, the rest in the open columns.
pub async fn seed(store: &Store, from: usize, to: usize) -> anyhow::Result<()> {
    use app::domain::{Actor, NewIssue, Role, Status};
    let person = Actor::new(Role::Admin, "Bench");
    for i in from..to {
        let status = match i % 10 {
            0 => Status::Backlog,
            1 => Status::Ready,
            2 => Status::InProgress,
            3 => Status::InReview,
            _ => Status::Done,
        };
        let new = NewIssue {
            title: format!("Issue number {i} with a realistic title of some length"),
            body: "Some body text. ".repeat(20),
            human_only: true,
            status: Some(Status::Ready).filter(|_| status != Status::Backlog),
            ..Default::default()
        };
        let issue = store.create_issue(&person, new).await?;
        let walk: &[Status] = match status {
            Status::InProgress => &[Status::InProgress],
            Status::InReview => &[Status::InProgress, Status::InReview],
            Status::Done => &[Status::InProgress, Status::InReview, Status::Done],
            _ => &[],
        };
        for &to in walk {
            store.move_issue(&person, issue.id, to, None).await?;
        }
    }
    Ok(())
}

/// The built binary serving a board in a process of its own, so its memory can be read.
pub struct BuiltServer {
    child: std::process::Child,
    pub port: u16,
    /// `http://127.0.0.1:port`
    pub base: String,
}

impl BuiltServer {
    /// Starts `bin` (e.g. `target/release/autopilot`) on the database at `url` and waits until
    /// it answers `/healthz`.
    pub async fn start(bin: &str, url: &str) -> anyhow::Result<BuiltServer> {
        Self::start_with(bin, url, &[]).await
    }

    /// [`BuiltServer::start`] with more environment (which wins over the defaults).
    pub async fn start_with(
        bin: &str,
        url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<BuiltServer> {
        use hyper_util::client::legacy::Client;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(bin)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .env(
                "AUTOPILOT_MAX_STREAMS_PER_PERSON",
                BENCH_STREAMS.to_string(),
            )
            .envs(env.iter().copied())
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {bin}: {e} (build it first)"))?;
        let server = BuiltServer {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client: Client<_, http_body_util::Full<bytes::Bytes>> =
            Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        for _ in 0..100 {
            let req = axum::http::Request::get(format!("{}/healthz", server.base))
                .body(http_body_util::Full::default())?;
            if client
                .request(req)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(server);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!("the server at {bin} did not start")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process' resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        memory_kib(self.pid()).0
    }

    /// How the server exited, if it has.
    pub fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Stops the server as a service manager does (SIGTERM) and waits up to a minute for it
    /// to exit; how it exited.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()?;
        anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        anyhow::bail!(
            "the server did not exit within a minute of SIGTERM; its threads (name, state, \
             where they wait):\n{}",
            threads_of(self.pid())
        )
    }
}

/// A process' threads, one a line: name, state and the kernel function each waits in.
fn threads_of(pid: u32) -> String {
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return "(gone)".into();
    };
    let mut lines: Vec<String> = tasks
        .flatten()
        .map(|task| {
            let dir = task.path();
            let stat = read(dir.join("stat"));
            // The state follows the name's closing parenthesis.
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            format!(
                "  {} {} {}",
                read(dir.join("comm")).trim(),
                state.unwrap_or("?"),
                read(dir.join("wchan")).trim()
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// A process' resident memory and its peak so far, in KiB.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

impl Drop for BuiltServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a live stream until its next `change` event.
pub async fn next_change(body: &mut hyper::body::Incoming) -> anyhow::Result<()> {
    use http_body_util::BodyExt;
    let mut seen = String::new();
    while !seen.contains("event: change") {
        let Some(frame) = body.frame().await else {
            anyhow::bail!("stream ended")
        };
        if let Ok(data) = frame?.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    Ok(())
}

/// An issue in review whose run committed a patch of about `lines` changed lines (Rust code,
/// 100 lines a file), as the runner would have kept it. Returns the issue's id.
pub async fn seed_patch(store: &Store, lines: usize) -> anyhow::Result<i64> {
    use app::domain::{Actor, NewIssue, Role, RunOutcome, Status};
    use app::store::{RunFinish, RunPatches};
    let person = Actor::new(Role::Admin, "Bench");
    let issue = store
        .create_issue(
            &person,
            NewIssue {
                title: format!("A change of {lines} lines to review"),
                status: Some(Status::Ready),
                ..Default::default()
            },
        )
        .await?;
    let mut patch = String::new();
    for file in 0..lines.div_ceil(100) {
        patch.push_str(&format!(
            "diff --git a/src/module_{file}.rs b/src/module_{file}.rs\n\
             --- a/src/module_{file}.rs\n+++ b/src/module_{file}.rs\n@@ -1,60 +1,100 @@\n"
        ));
        for i in 0..100 {
            let code = format!("let value_{i} = compute(\"item {i}\", {i}) * 2; // step {i}");
            match i % 5 {
                0 => patch.push_str(&format!("-    {code}\n+    {code} + 1;\n")),
                1 | 2 => patch.push_str(&format!("+    {code}\n")),
                _ => patch.push_str(&format!("     {code}\n")),
            }
        }
    }
    store.register_runner("bench-runner", "bench", 1).await?;
    let (_, run) = store
        .claim_next("bench-runner", 60_000)
        .await?
        .ok_or_else(|| anyhow::anyhow!("nothing to claim"))?;
    let finish = RunFinish {
        branch: Some(format!("autopilot/issue-{}", issue.id)),
        patches: Some(RunPatches {
            branch: patch.clone(),
            run: patch,
            truncated: false,
        }),
        ..RunFinish::new(RunOutcome::Review, Status::InReview)
    };
    store
        .finish_run("bench-runner", run.id, issue.id, finish)
        .await?;
    Ok(issue.id)
}

/// The body of [`seed_bulk`], once per engine.
macro_rules! seed_rows {
    ($conn:expr, $from:expr, $to:expr) => {{
        use app::domain::Status;
        const BATCH: usize = 2000;
        let body = "Some body text. ".repeat(20);
        let now = app::store::now_ms();
        let mut start = $from;
        while start < $to {
            let end = (start + BATCH).min($to);
            let mut tx = $conn.begin().await?;
            let mut issues = sqlx::QueryBuilder::new(
                "INSERT INTO issues (id, title, body, status, human_only, created_by, position, \
                 version, created_at, updated_at) ",
            );
            let mut events = Vec::new();
            issues.push_values(start..end, |mut row, i| {
                let (status, walk): (Status, &[Status]) = match i % 10 {
                    0 => (Status::Backlog, &[]),
                    1 => (Status::Ready, &[]),
                    2 => (Status::InProgress, &[Status::InProgress]),
                    3 => (Status::InReview, &[Status::InProgress, Status::InReview]),
                    _ => (
                        Status::Done,
                        &[Status::InProgress, Status::InReview, Status::Done],
                    ),
                };
                let id = i as i64 + 1;
                // Each issue a millisecond after the one before, so the done column's order
                // is the filing order, as with one request each.
                let at = now + i as i64;
                // Last in its column, as filed one by one: done takes 6 of every 10 issues.
                let position = match status {
                    Status::Done => (i / 10 * 6 + i % 10 - 4) as f64 + 1.0,
                    _ => (i / 10) as f64 + 1.0,
                };
                row.push_bind(id)
                    .push_bind(format!(
                        "Issue number {i} with a realistic title of some length"
                    ))
                    .push_bind(body.clone())
                    .push_bind(status)
                    .push_bind(true)
                    .push_bind("Bench")
                    .push_bind(position)
                    .push_bind(1 + walk.len() as i64)
                    .push_bind(at)
                    .push_bind(at);
                let first = if status == Status::Backlog {
                    Status::Backlog
                } else {
                    Status::Ready
                };
                events.push((id, "created", None, first, at));
                let mut from = first;
                for &to in walk {
                    events.push((id, "moved", Some(from), to, at));
                    from = to;
                }
            });
            issues.build().execute(&mut *tx).await?;
            for chunk in events.chunks(1000) {
                let mut sql = sqlx::QueryBuilder::new(
                    "INSERT INTO events (issue_id, actor, kind, from_status, to_status, data, \
                     created_at) ",
                );
                sql.push_values(chunk, |mut row, (id, kind, from, to, at)| {
                    row.push_bind(*id)
                        .push_bind("Bench")
                        .push_bind(*kind)
                        .push_bind(from.map(|s: Status| s.as_str()))
                        .push_bind(to.as_str())
                        .push_bind("{}")
                        .push_bind(*at);
                });
                sql.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            start = end;
        }
    }};
}

/// Issues `from..to` straight into the database at `url`, as [`seed`] files them (the same
/// columns, positions and events), in transactions of 2,000: 100,000 issues in seconds rather
/// than an hour of one request each. The schema must be there; its triggers, if any, run.
pub async fn seed_bulk(url: &str, from: usize, to: usize) -> anyhow::Result<()> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        seed_rows!(conn, from, to);
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        seed_rows!(conn, from, to);
        sqlx::query("SELECT setval(pg_get_serial_sequence('issues', 'id'), MAX(id)) FROM issues")
            .execute(&mut conn)
            .await?;
        sqlx::query("SELECT setval(pg_get_serial_sequence('events', 'id'), MAX(id)) FROM events")
            .execute(&mut conn)
            .await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
    }
    Ok(())
}
