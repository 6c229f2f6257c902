//! Several `autopilot` processes on one PostgreSQL, as a team runs them: board servers behind
//! a proxy and runners on other hosts, sharing nothing but the database. Each test starts its
//! own cluster, so it can stop and restart it under the processes.
#![cfg(feature = "runner")]

#[path = "../../app/tests/support/engines.rs"]
mod engines;

use app::auth::{hash_password, new_token, token_hash};
use app::domain::{Actor, NewIssue, Role, Status, UserRole};
use app::store::Store;
use engines::Cluster;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FAKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake-claude");

/// One test of this file at a time: each starts a cluster and a handful of processes, and the
/// timings they check (a second for a live update) are for a machine not doing two at once.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const PASSWORD: &str = "correct horse battery";

/// One `autopilot` process, killed when dropped.
struct Process {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Starts `autopilot serve` on `url` with extra settings and waits until it answers.
#[test]
fn with_log_format_json_every_log_line_is_a_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("board.db").display());
    let env = [
        ("AUTOPILOT_LOG_FORMAT", "json".to_string()),
        ("RUST_LOG", "info".to_string()),
    ];
    let server = start(dir.path(), "json-logs", &url, &env);
    curl(&server.base(), "GET", "/healthz", None, None);
    let log = server.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(
            event["level"].is_string() && event["fields"].is_object(),
            "{line}"
        );
    }
    assert!(log.contains("Autopilot is listening"), "{log}");
}

fn start(dir: &Path, name: &str, url: &str, env: &[(&str, String)]) -> Process {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_autopilot"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", url)
        .env("AUTOPILOT_DB_ACQUIRE_TIMEOUT_SECONDS", "2")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let process = Process { child, port, log };
    for _ in 0..200 {
        if curl(&process.base(), "GET", "/healthz", None, None).0 == 200 {
            return process;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name} did not start: {}", process.log_text());
}

/// A runner host: its own checkout (a clone of `origin`), the fake agent.
fn start_runner(
    dir: &Path,
    name: &str,
    url: &str,
    origin: &Path,
    extra: &[(&str, String)],
) -> Process {
    let checkout = dir.join(format!("{name}-checkout"));
    git(
        dir,
        &[
            "clone",
            "-q",
            &origin.to_string_lossy(),
            &checkout.to_string_lossy(),
        ],
    );
    let mut env = vec![
        ("AUTOPILOT_RUNNER", "1".to_string()),
        ("AUTOPILOT_WORKDIR", checkout.to_string_lossy().into_owned()),
        ("AUTOPILOT_CLAUDE_BIN", FAKE.to_string()),
        ("AUTOPILOT_AGENT_ID", name.to_string()),
        ("AUTOPILOT_LEASE_SECONDS", "3".to_string()),
        ("AUTOPILOT_TIMEOUT_SECONDS", "60".to_string()),
    ];
    env.extend(extra.iter().cloned());
    start(dir, name, url, &env)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with one commit, for the runners to clone.
fn origin_repo(dir: &Path) -> PathBuf {
    let repo = dir.join("origin");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# A project\n").unwrap();
    git(&repo, &["add", "."]);
    git(
        &repo,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@x",
            "commit",
            "-qm",
            "start",
        ],
    );
    repo
}

/// `(status, body)` of one request (0 when nothing answered), with a bearer token or cookie.
fn curl(
    base: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "--max-time",
        "10",
        "-X",
        method,
        "-w",
        "\n%{http_code}",
    ]);
    if let Some(auth) = auth {
        if auth.contains('=') {
            cmd.args(["-H", &format!("Cookie: {auth}")]);
        } else {
            cmd.args(["-H", &format!("Authorization: Bearer {auth}")]);
        }
    }
    if let Some(body) = body {
        cmd.args([
            "-H",
            "content-type: application/json",
            "--data-binary",
            body,
        ]);
    }
    let out = cmd.arg(format!("{base}{path}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Adds the admin root@example.com and returns a bearer token of theirs.
async fn admin_token(store: &Store) -> String {
    let hash = hash_password(PASSWORD.into()).await.unwrap();
    let admin = store
        .create_user("root@example.com", "Root", UserRole::Admin, &hash)
        .await
        .unwrap();
    let token = new_token();
    store
        .create_api_token(admin.id, "test", &token_hash(&token))
        .await
        .unwrap();
    token
}

/// A cluster with one board on it, an admin and their token.
struct Board {
    cluster: Cluster,
    url: String,
    store: Store,
    token: String,
    dir: tempfile::TempDir,
}

impl Board {
    async fn new() -> Board {
        let cluster = engines::start_cluster();
        let url = format!("{}/postgres", cluster.url());
        let store = Store::open(&url).await.unwrap();
        let token = admin_token(&store).await;
        Board {
            cluster,
            url,
            store,
            token,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn server(&self, name: &str) -> Process {
        start(self.dir.path(), name, &self.url, &[])
    }

    async fn ready(&self, title: &str) -> i64 {
        let new = NewIssue {
            title: title.into(),
            status: Some(Status::Ready),
            ..Default::default()
        };
        self.store
            .create_issue(&Actor::new(Role::Member, "Ann"), new)
            .await
            .unwrap()
            .id
    }
}

async fn in_column(
    store: &Store,
    status: Status,
) -> app::error::AppResult<Vec<app::domain::Issue>> {
    let filter = app::store::IssueFilter {
        status: Some(status),
        ..Default::default()
    };
    store.list_issues(&filter).await
}

/// Follows a server's live stream; lines arrive on the channel.
fn follow_stream(process: &Process, token: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new("curl")
        .args(["-sN", "-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("{}/api/autopilot/stream", process.base()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a stream line containing all of `needles`; returns how long it took.
fn wait_line(rx: &mpsc::Receiver<String>, needles: &[&str], within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
            if needles.iter().all(|n| line.contains(n)) {
                return Some(started.elapsed());
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_share_sessions_tokens_live_updates_limits_and_wake_runners() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let board = Board::new().await;
    let a = board.server("a");
    let b = board.server("b");

    // A token works on every server.
    for server in [&a, &b] {
        assert_eq!(
            curl(
                &server.base(),
                "GET",
                "/api/autopilot/issues",
                Some(&board.token),
                None
            )
            .0,
            200
        );
    }

    // Signed in through A is signed in on B.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-H",
            &format!("Origin: {}", a.base()),
        ])
        .args([
            "--data",
            &format!(
                "email=root%40example.com&password={}&next=%2F",
                PASSWORD.replace(' ', "+")
            ),
        ])
        .arg(format!("{}/login", a.base()))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&out.stdout).into_owned();
    let cookie = headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {headers}"))
        .to_string();
    let (status, body) = curl(
        &b.base(),
        "GET",
        "/api/autopilot/issues",
        Some(&cookie),
        None,
    );
    assert_eq!(status, 200, "the session from A on B: {body}");

    // Signed out through A is signed out on B at once: B keeps what it read of a session only
    // until it hears of a change, and a sign-out is announced to every server.
    let (status, body) = curl(&a.base(), "POST", "/logout", Some(&cookie), None);
    assert_eq!(status, 303, "signing out on A: {body}");
    let started = Instant::now();
    let refused = loop {
        let (status, _) = curl(
            &b.base(),
            "GET",
            "/api/autopilot/issues",
            Some(&cookie),
            None,
        );
        if status == 401 || started.elapsed() > Duration::from_secs(3) {
            break status == 401;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(refused, "B still let the signed-out session in after 3 s");
    // Well within the second after which B would read the session again anyway.
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "B took {:?} to hear of the sign-out",
        started.elapsed()
    );

    // A move made through A reaches a stream on B within a second.
    let (mut stream, lines) = follow_stream(&b, &board.token);
    std::thread::sleep(Duration::from_millis(500));
    let (status, body) = curl(
        &a.base(),
        "POST",
        "/api/autopilot/issues",
        Some(&board.token),
        Some(r#"{"title":"Seen everywhere FAKE:edit"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let id = json(&body)["id"].as_i64().unwrap();
    let (status, body) = curl(
        &a.base(),
        "POST",
        &format!("/api/autopilot/issues/{id}/status"),
        Some(&board.token),
        Some(r#"{"status":"ready"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let needle = format!("\"issue_id\":{id}");
    let took = wait_line(
        &lines,
        &[&needle, "\"kind\":\"moved\""],
        Duration::from_secs(1),
    );
    let _ = stream.kill();
    assert!(
        took.is_some(),
        "the move on A did not reach B's stream within a second"
    );

    // The per-client feedback cap (5 a minute) holds across both servers together.
    let feedback = r#"{"message":"The button does nothing."}"#;
    let mut statuses = Vec::new();
    for server in [&a, &b, &a, &b, &a, &b] {
        statuses.push(
            curl(
                &server.base(),
                "POST",
                "/api/autopilot/feedback",
                None,
                Some(feedback),
            )
            .0,
        );
    }
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429]);

    // An issue made ready on A wakes a runner idling on another host at once, not at its
    // next poll (a minute away).
    let origin = origin_repo(board.dir.path());
    let runner = start_runner(
        board.dir.path(),
        "runner-c",
        &board.url,
        &origin,
        &[("AUTOPILOT_POLL_SECONDS", "60".into())],
    );
    // Let it take the ready issue above, then go idle.
    for _ in 0..100 {
        if board.store.get_issue(id).await.unwrap().status == Status::InReview {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        board.store.get_issue(id).await.unwrap().status,
        Status::InReview,
        "{}",
        runner.log_text()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, body) = curl(
        &a.base(),
        "POST",
        "/api/autopilot/issues",
        Some(&board.token),
        Some(r#"{"title":"Wake up FAKE:edit","status":"ready"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let woke = json(&body)["id"].as_i64().unwrap();
    let started = Instant::now();
    while board.store.get_issue(woke).await.unwrap().status == Status::Ready
        && started.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "the runner took {waited:?} to claim (poll is 60 s)"
    );
    drop(runner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_away_requests_fail_fast_and_come_back_by_themselves() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let board = Board::new().await;
    let a = board.server("a");
    let token = board.token.clone();

    // Writes under traffic; PostgreSQL restarts in the middle.
    let writer = {
        let base = a.base();
        let token = token.clone();
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < Duration::from_secs(8) {
                n += 1;
                let body = format!(r#"{{"title":"write {n}"}}"#);
                let (status, _) = curl(
                    &base,
                    "POST",
                    "/api/autopilot/issues",
                    Some(&token),
                    Some(&body),
                );
                if status == 201 {
                    acknowledged.push(format!("write {n}"));
                } else {
                    assert!(
                        matches!(status, 503),
                        "a write during the restart answered {status}"
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    board.cluster.stop("immediate");

    // Away: /healthz says so, and the API answers a clear JSON error quickly, never a hang.
    let started = Instant::now();
    let (status, body) = curl(&a.base(), "GET", "/healthz", None, None);
    assert_eq!(status, 503, "{body}");
    let (status, body) = curl(
        &a.base(),
        "GET",
        "/api/autopilot/issues",
        Some(&token),
        None,
    );
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(
        json(&body)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("storage"),
        "{body}"
    );
    assert!(
        took < Duration::from_secs(8),
        "answers took {took:?} with the database away"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    board.cluster.start();
    let acknowledged = writer.join().unwrap();
    assert!(
        acknowledged.len() > 10,
        "too few writes got through: {}",
        acknowledged.len()
    );

    // Back by itself, and nothing acknowledged was lost.
    let mut healthy = false;
    for _ in 0..50 {
        if curl(&a.base(), "GET", "/healthz", None, None).0 == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "{}", a.log_text());
    let (status, body) = curl(
        &a.base(),
        "GET",
        "/api/autopilot/issues",
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let titles: Vec<String> = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    for title in &acknowledged {
        assert!(titles.contains(title), "acknowledged '{title}' is lost");
    }
    let (status, _) = curl(
        &a.base(),
        "POST",
        "/api/autopilot/issues",
        Some(&token),
        Some(r#"{"title":"after"}"#),
    );
    assert_eq!(status, 201);
}

/// The whole team: 2 board servers and 4 runner hosts on one PostgreSQL, 200 ready issues.
/// A runner is killed with SIGKILL mid-run and PostgreSQL restarts in the middle; every issue
/// still ends in review, and no issue is ever worked by two runners at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_four_runners_work_200_issues_through_faults() {
    let _serial = ONE_AT_A_TIME.lock().await;
    const ISSUES: usize = 200;
    let board = Board::new().await;
    let origin = origin_repo(board.dir.path());
    let a = board.server("a");
    let b = board.server("b");
    let mut ids = Vec::new();
    for i in 0..ISSUES {
        // A few slow ones, so that a runner is surely mid-run when it is killed. Appending: a
        // rerun after a lost run (whose commit stays on the branch) still changes something,
        // as a real agent continuing the branch would.
        let mode = if i % 25 == 0 {
            "FAKE:slowappend"
        } else {
            "FAKE:append"
        };
        ids.push(board.ready(&format!("Issue {i} {mode}")).await);
    }
    let (mut stream, lines) = follow_stream(&b, &board.token);
    let mut runners: Vec<Option<Process>> = (1..=4)
        .map(|n| {
            Some(start_runner(
                board.dir.path(),
                &format!("runner-{n}"),
                &board.url,
                &origin,
                &[("AUTOPILOT_POLL_SECONDS", "3".into())],
            ))
        })
        .collect();

    // SIGKILL runner-1 while it works a slow issue.
    let started = Instant::now();
    let victim = loop {
        let working = in_column(&board.store, Status::InProgress).await.unwrap();
        if let Some(issue) = working
            .iter()
            .find(|i| i.claimed_by.as_deref() == Some("runner-1") && i.title.contains("slow"))
        {
            break issue.id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "runner-1 never took a slow issue"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if let Some(mut killed) = runners[0].take() {
        let _ = killed.child.kill(); // SIGKILL
        let _ = killed.child.wait();
    }

    // A move through A reaches B's stream while the runners work.
    let (status, body) = curl(
        &a.base(),
        "POST",
        "/api/autopilot/issues",
        Some(&board.token),
        Some(r#"{"title":"A person's issue"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let person_issue = json(&body)["id"].as_i64().unwrap();
    let needle = format!("\"issue_id\":{person_issue}");
    // Four agents at work on two cores: allow more than the quiet second of the test above.
    let took = wait_line(&lines, &[&needle], Duration::from_secs(10));
    println!("a change through A reached B's stream in {took:?} under load");
    assert!(took.is_some(), "B's stream missed A's change");

    // PostgreSQL restarts in the middle of it all.
    tokio::time::sleep(Duration::from_secs(1)).await;
    board.cluster.restart();

    // Everything ends in review.
    let started = Instant::now();
    loop {
        let reviewed = in_column(&board.store, Status::InReview)
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        if reviewed == ISSUES {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let logs: Vec<String> = runners.iter().flatten().map(Process::log_text).collect();
            let mut stuck = Vec::new();
            for id in &ids {
                let issue = board.store.get_issue(*id).await.unwrap();
                if issue.status != Status::InReview {
                    let said = board.store.list_comments(*id).await.unwrap_or_default();
                    let last = said.last().map(|c| c.body.clone()).unwrap_or_default();
                    stuck.push(format!("#{id} {:?}: {last}", issue.status));
                }
            }
            panic!(
                "only {reviewed} of {ISSUES} issues in review; not: {stuck:#?}; runner logs: \
                 {logs:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stream.kill();

    // Exactly one successful run per issue; runs of one issue never overlap; only the killed
    // runner's issue and runs cut by the restart were lost.
    let mut lost = 0;
    for id in &ids {
        let mut runs = board.store.runs_for_issue(*id).await.unwrap();
        runs.reverse();
        let reviews = runs
            .iter()
            .filter(|r| r.outcome.as_deref() == Some("review"))
            .count();
        assert_eq!(
            reviews, 1,
            "issue {id} has {reviews} successful runs: {runs:?}"
        );
        for pair in runs.windows(2) {
            let first_end = pair[0].finished_at.unwrap_or(i64::MAX);
            assert!(
                first_end <= pair[1].started_at,
                "issue {id} was worked twice at once: {runs:?}"
            );
        }
        lost += runs
            .iter()
            .filter(|r| r.outcome.as_deref() != Some("review"))
            .count();
    }
    let victim_runs = board.store.runs_for_issue(victim).await.unwrap();
    assert!(
        victim_runs
            .iter()
            .any(|r| r.runner_id == "runner-1" && r.outcome.as_deref() == Some("lost")),
        "{victim_runs:?}"
    );
    assert!(
        victim_runs
            .iter()
            .any(|r| r.runner_id != "runner-1" && r.outcome.as_deref() == Some("review")),
        "{victim_runs:?}"
    );
    assert!(lost < 20, "{lost} runs lost");
    // Tidy up the fake agents the killed runner left behind.
    let _ = Command::new("pkill").args(["-f", "fake-claude"]).status();
}

/// `autopilot db copy` moves a SQLite board into an empty PostgreSQL database: afterwards the
/// API answers the same on both, the same password and token work, and new ids follow the
/// copied ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_board_copied_to_postgres_answers_the_same() {
    let _serial = ONE_AT_A_TIME.lock().await;
    use app::domain::{AuthorKind, RunOutcome};
    use app::store::{RunFinish, Switch};
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("board.db").display());
    let store = Store::open(&sqlite).await.unwrap();
    let token = admin_token(&store).await;
    let hash = hash_password(PASSWORD.into()).await.unwrap();
    store
        .create_user("ann@example.com", "Ann", UserRole::Member, &hash)
        .await
        .unwrap();
    let ann = Actor::new(Role::Member, "Ann");
    let mut ids = Vec::new();
    for i in 0..30 {
        let new = NewIssue {
            title: format!("Issue {i} ✓ «quoted»"),
            body: format!("Body of {i}\nwith lines"),
            human_only: i % 3 == 0,
            ..Default::default()
        };
        let issue = store.create_issue(&ann, new).await.unwrap();
        if i % 2 == 0 {
            store
                .move_issue(&ann, issue.id, Status::Ready, None)
                .await
                .unwrap();
        }
        store
            .add_comment(&ann, issue.id, &format!("comment on {i}"))
            .await
            .unwrap();
        ids.push(issue.id);
    }
    let waiting = app::domain::IssuePatch {
        depends_on: Some(vec![ids[1], ids[2]]),
        ..Default::default()
    };
    store.update_issue(&ann, ids[3], waiting).await.unwrap();
    store
        .add_attachment(
            &ann,
            ids[1],
            "bytes.bin",
            Some("application/octet-stream"),
            &[0, 159, 146, 150, 255],
        )
        .await
        .unwrap();
    store
        .register_runner("copy-runner", "host", 42)
        .await
        .unwrap();
    let (issue, run) = store
        .claim_next("copy-runner", 60_000)
        .await
        .unwrap()
        .unwrap();
    store
        .append_run_log(run.id, "● a log line\n")
        .await
        .unwrap();
    let patches = app::store::RunPatches {
        branch: "diff --git a/a b/a\n@@ -0,0 +1 @@\n+«line» ✓\n".into(),
        run: "diff --git a/a b/a\n".into(),
        truncated: true,
    };
    let finish = RunFinish {
        comment: Some((AuthorKind::Agent, "Ready for review.".into())),
        branch: Some(format!("autopilot/issue-{}", issue.id)),
        cost_usd: Some(0.25),
        num_turns: Some(7),
        patches: Some(patches.clone()),
        ..RunFinish::new(RunOutcome::Review, Status::InReview)
    };
    store
        .finish_run("copy-runner", run.id, issue.id, finish)
        .await
        .unwrap();
    store
        .set_switch(
            &Actor::new(Role::Admin, "Root"),
            Switch::FeedbackOpen,
            false,
        )
        .await
        .unwrap();
    drop(store);

    let postgres = engines::fresh_postgres_database().await;
    let copy = |to: &str| {
        Command::new(env!("CARGO_BIN_EXE_autopilot"))
            .args(["db", "copy", "--from", &sqlite, "--to", to])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = copy(&postgres);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("issues: 30 row(s)"));
    // A second copy into the now-full database is refused, and changes nothing.
    let again = copy(&postgres);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a board"));

    // What the API does not show came along too: the run's patches for review.
    let copied = Store::open(&postgres).await.unwrap();
    assert_eq!(copied.run_patches(run.id).await.unwrap(), Some(patches));
    assert_eq!(
        copied.get_issue(ids[3]).await.unwrap().depends_on,
        vec![ids[1], ids[2]]
    );
    drop(copied);

    let a = start(dir.path(), "on-sqlite", &sqlite, &[]);
    let b = start(dir.path(), "on-postgres", &postgres, &[]);
    let mut paths = vec![
        "/api/autopilot/issues".to_string(),
        "/api/autopilot/me".to_string(),
        format!("/api/autopilot/issues/{}/runs", issue.id),
        format!("/api/autopilot/runs/{}/log", run.id),
        "/api/autopilot/uploads/1".to_string(),
    ];
    for id in &ids {
        paths.push(format!("/api/autopilot/issues/{id}"));
        paths.push(format!("/api/autopilot/issues/{id}/events"));
    }
    for path in &paths {
        let (sa, ba) = curl(&a.base(), "GET", path, Some(&token), None);
        let (sb, bb) = curl(&b.base(), "GET", path, Some(&token), None);
        assert_eq!(sa, 200, "{path}: {ba}");
        assert_eq!((sa, &ba), (sb, &bb), "{path} differs");
    }
    // Settings came along; the feedback route is still closed.
    let feedback = r#"{"message":"hello"}"#;
    assert_eq!(
        curl(
            &b.base(),
            "POST",
            "/api/autopilot/feedback",
            None,
            Some(feedback)
        )
        .0,
        503
    );
    // New ids follow the copied ones on every table.
    let (status, body) = curl(
        &b.base(),
        "POST",
        "/api/autopilot/issues",
        Some(&token),
        Some(r#"{"title":"after the move"}"#),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(json(&body)["id"].as_i64(), Some(31));
    let (status, body) = curl(
        &b.base(),
        "POST",
        "/api/autopilot/issues/31/comments",
        Some(&token),
        Some(r#"{"body":"new"}"#),
    );
    assert_eq!(status, 201, "{body}");
}
