//! Bad days for the storage, on a real filesystem: a full disk under the SQLite database, an
//! unwritable database file, and a write lock held past the busy timeout each refuse writes
//! with a clear 503 while reads go on, and writes work again the moment the fault is gone,
//! without a restart; a live board is backed up and the backup checked; slow clients are let go.

#[macro_use]
#[path = "../../app/tests/support/engines.rs"]
mod engines;
mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A 4 MiB tmpfs mounted at a directory, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` where this process may not mount (not root, or a container without the right).
    fn mount(at: &Path) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(at)
            .status()
            .ok()?
            .success();
        mounted.then(|| SmallDisk(at.to_path_buf()))
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while file
            .write_all(&chunk)
            .and_then(|_| file.sync_data())
            .is_ok()
        {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the pool may still be closing its connections to the file.
        let _ = Command::new("umount").arg("--lazy").arg(&self.0).status();
    }
}

const ISSUES: &str = "/api/autopilot/issues";

/// While a storage fault lasts: writes get a clear 503 naming the storage, reads go on.
async fn writes_are_refused_and_reads_go_on(app: &TestApp, issues_before: usize) {
    for attempt in 0..3 {
        let refused = app
            .json(
                "POST",
                ISSUES,
                json!({ "title": "While broken", "body": "x".repeat(20_000) }),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "attempt {attempt}: {}",
            refused.text()
        );
        assert!(refused.text().contains("storage"), "{}", refused.text());
    }
    let listed = app.get(ISSUES).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json().as_array().unwrap().len(), issues_before);
}

/// Once the fault is gone: every connection of the pool writes again (more writes than
/// connections), and nothing refused was half-written.
async fn writes_work_again(app: &TestApp, issues_before: usize) {
    for n in 0..12 {
        let after = app
            .json("POST", ISSUES, json!({ "title": format!("After {n}") }))
            .await;
        assert_eq!(
            after.status,
            StatusCode::CREATED,
            "write {n}: {}",
            after.text()
        );
    }
    let titles: Vec<String> = app
        .get(ISSUES)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        titles.len(),
        issues_before + 12,
        "nothing half-written: {titles:?}"
    );
    assert!(!titles.iter().any(|t| t == "While broken"));
    assert!(
        !titles.iter().any(|t| t.starts_with("Server error")),
        "self-heal files no bug for a 503: {titles:?}"
    );
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_and_they_work_again_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&dir.path().join("disk")) else {
        eprintln!("SKIPPED: this test mounts a small tmpfs, which needs root");
        return;
    };
    let url = format!("sqlite://{}", disk.0.join("board.db").display());
    let app = TestApp::on_database(&url, tempfile::tempdir().unwrap()).await;
    let first = app.json("POST", ISSUES, json!({ "title": "Before" })).await;
    assert_eq!(first.status, StatusCode::CREATED);

    let filler = disk.fill();
    writes_are_refused_and_reads_go_on(&app, 1).await;
    std::fs::remove_file(filler).unwrap();
    writes_work_again(&app, 1).await;
    drop(app);
}

#[tokio::test]
async fn a_database_locked_past_the_busy_timeout_refuses_writes_then_takes_them_again() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("board.db").display());
    let options = app::store::OpenOptions {
        busy_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let app = TestApp::on_database_with(&url, tempfile::tempdir().unwrap(), &options).await;
    let first = app.json("POST", ISSUES, json!({ "title": "Before" })).await;
    assert_eq!(first.status, StatusCode::CREATED);

    // Another process (the sqlite3 shell, a script) holds the write lock and does not let go.
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    writes_are_refused_and_reads_go_on(&app, 1).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    writes_work_again(&app, 1).await;
}

/// Makes a file immutable (ext4 `chattr +i`: not even root may write it, through descriptors
/// already open too) until dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(files: &[PathBuf]) -> Option<Immutable> {
        let done = Command::new("chattr")
            .arg("+i")
            .args(files)
            .status()
            .ok()?
            .success();
        done.then(|| Immutable(files.to_vec()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

#[tokio::test]
async fn an_unwritable_database_file_refuses_writes_then_takes_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("board.db");
    let url = format!("sqlite://{}", db.display());
    let app = TestApp::on_database(&url, tempfile::tempdir().unwrap()).await;
    let first = app.json("POST", ISSUES, json!({ "title": "Before" })).await;
    assert_eq!(first.status, StatusCode::CREATED);

    // The database and its write-ahead log: where every write lands first.
    let files = [db.clone(), dir.path().join("board.db-wal")];
    let Some(locked) = Immutable::set(&files) else {
        eprintln!("SKIPPED: this test needs chattr on ext4 as root");
        return;
    };
    writes_are_refused_and_reads_go_on(&app, 1).await;
    drop(locked);
    writes_work_again(&app, 1).await;
}

#[tokio::test]
async fn a_live_board_is_backed_up_while_written_to_and_the_copy_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("board.db").display());
    let app = TestApp::on_database(&url, tempfile::tempdir().unwrap()).await;
    let backup = dir.path().join("backup.db");
    let autopilot = |args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_autopilot"))
                .args(args)
                .env("DATABASE_URL", url)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        })
    };
    // Writes go on while the backup is made.
    let store = app.store.clone();
    let writer = tokio::spawn(async move {
        let person = app::domain::Actor::new(app::domain::Role::Member, "ann");
        for i in 0..300 {
            let new = app::domain::NewIssue {
                title: format!("Issue {i}"),
                body: "b".repeat(2000),
                ..Default::default()
            };
            store.create_issue(&person, new).await.unwrap();
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let path = backup.to_string_lossy().to_string();
    let made = autopilot(vec!["db".into(), "backup".into(), path.clone()])
        .await
        .unwrap();
    writer.await.unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).contains("backed up to"));

    let checked = autopilot(vec!["db".into(), "check".into(), path.clone()])
        .await
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let report = app::store::check_backup(&backup).await.unwrap();
    assert!(report.issues > 0 && report.issues <= 300, "{report:?}");
    assert_eq!(report.users, 2);
    // One moment's copy: every issue in it has its "created" event, and the board opens.
    let copy = app::store::Store::open(&format!("sqlite://{path}"))
        .await
        .unwrap();
    let issues = copy.list_issues(&Default::default()).await.unwrap();
    assert_eq!(issues.len() as i64, report.issues);
    for issue in issues.iter().take(20) {
        let events = copy.list_events(issue.id).await.unwrap();
        assert_eq!(events[0].kind, "created", "#{}", issue.id);
    }

    // Never over an existing file; a damaged file is called damaged.
    let again = autopilot(vec!["db".into(), "backup".into(), path.clone()])
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bytes = std::fs::read(&backup).unwrap();
    let broken = dir.path().join("broken.db");
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let bad = autopilot(vec![
        "db".into(),
        "check".into(),
        broken.to_string_lossy().to_string(),
    ])
    .await
    .unwrap();
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("malformed") || said.contains("damaged"),
        "{said}"
    );
}

/// The real binary serving a fresh SQLite board in `dir` on `port`.
fn start_server(dir: &Path, port: u16, env: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_autopilot"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("board.db").display()),
        )
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// One GET on a fresh connection: how long until the whole answer came, and its status line.
async fn timed_get(port: u16, path: &str) -> (Duration, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    (
        started.elapsed(),
        text.lines().next().unwrap_or_default().to_string(),
    )
}

use std::time::Duration;

#[tokio::test]
async fn slow_and_idle_clients_are_let_go_and_the_server_stays_quick() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    // A port the system has free now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let mut server = start_server(
        dir.path(),
        port,
        &[
            ("AUTOPILOT_HEADER_TIMEOUT_SECONDS", "2"),
            ("AUTOPILOT_REQUEST_TIMEOUT_SECONDS", "2"),
        ],
    );
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start");

    // 300 clients sending their request headers a line every half second, never finishing.
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()?;
            stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.ok()?;
            let mut byte = [0u8; 1];
            loop {
                tokio::select! {
                    read = stream.read(&mut byte) => match read {
                        Ok(0) | Err(_) => return Some(started.elapsed()),
                        Ok(_) => {}
                    },
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {
                        if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                            return Some(started.elapsed());
                        }
                    }
                }
                if started.elapsed() > Duration::from_secs(20) {
                    return None;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Meanwhile the server answers others at once.
    let (took, status) = timed_get(port, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    println!("/healthz with 300 slow clients connected: {took:?}");

    // A kept-alive connection left idle after its request is closed too.
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle_closed = tokio::time::timeout(Duration::from_secs(6), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;

    // A body sent a byte every half second is cut off: 408, and the connection is let go.
    let mut dribble = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    dribble
        .write_all(b"POST /api/autopilot/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(8), async {
        let mut byte = [0u8; 256];
        loop {
            tokio::select! {
                read = dribble.read(&mut byte) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => answer.extend_from_slice(&byte[..n]),
                },
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if dribble.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "a dribbled body kept its connection for 8 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let mut let_go = Vec::new();
    for task in slow {
        let_go.push(task.await.unwrap());
    }
    let _ = server.kill();
    let _ = server.wait();
    let kept = let_go.iter().filter(|t| t.is_none()).count();
    assert_eq!(kept, 0, "slow clients still connected after 20 s");
    let longest = let_go.iter().flatten().max().copied().unwrap_or_default();
    assert!(
        longest < Duration::from_secs(8),
        "the last slow client was let go after {longest:?}"
    );
    assert!(
        idle_closed.is_ok(),
        "an idle kept-alive connection stayed open"
    );
}

/// The real binary, stopped when dropped (a failed assertion included).
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh port, the real binary serving a fresh board on it with `env`, and the member's
/// bearer token (made in the database before the server starts). Waits until it answers.
async fn serve_board(dir: &Path, env: &[(&str, &str)]) -> (Served, u16, String) {
    let url = format!("sqlite://{}", dir.join("board.db").display());
    let store = app::store::Store::open(&url).await.unwrap();
    let token = common::add_person(
        &store,
        common::MEMBER_EMAIL,
        "Ann",
        app::domain::UserRole::Member,
    )
    .await;
    drop(store);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let server = Served(start_server(dir, port, env));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
            && timed_get(port, "/healthz").await.1.contains("200")
        {
            return (server, port, token);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

/// A GET with extra header lines, on a fresh connection: its status line and how long it took.
async fn get_with(port: u16, path: &str, headers: &str) -> (Duration, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // The status line is enough (a stream's body never ends).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    while !answer.contains(&b'\n') {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    (
        started.elapsed(),
        text.lines().next().unwrap_or_default().to_string(),
    )
}

/// A2, as the audit reproduced it: with one turn, held by a sign-in whose body trickles in,
/// `Accept: text/event-stream` no longer gets another request past the limit. Only the
/// stream routes skip it.
#[tokio::test]
async fn asking_for_an_event_stream_does_not_skip_the_request_limit() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (server, port, _) = serve_board(
        dir.path(),
        &[
            ("AUTOPILOT_MAX_REQUESTS", "1"),
            ("AUTOPILOT_REQUEST_TIMEOUT_SECONDS", "60"),
        ],
    )
    .await;
    // Hold the only turn: a sign-in body sent a byte at a time.
    let mut trickle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    trickle
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\na",
        )
        .await
        .unwrap();
    let dribbling = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if trickle.write_all(b"a").await.is_err() {
                break;
            }
        }
        trickle
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (took, status) = get_with(port, "/healthz", "Accept: text/event-stream\r\n").await;
    assert!(
        status.contains("503"),
        "Accept: text/event-stream skipped the limit: {status} after {took:?}"
    );
    assert!(
        took >= Duration::from_secs(4),
        "no wait for a turn: {took:?}"
    );
    let (_, status) = get_with(port, "/login", "Accept: text/event-stream\r\n").await;
    assert!(status.contains("503"), "{status}");
    // The live stream route is still let through (here to be told to sign in).
    let (took, status) = get_with(
        port,
        "/api/autopilot/stream",
        "Accept: text/event-stream\r\n",
    )
    .await;
    assert!(status.contains("401"), "{status}");
    assert!(took < Duration::from_secs(3), "the stream waited: {took:?}");

    dribbling.abort();
    let _ = dribbling.await;
    // The connection is gone, and with it the turn.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, status) = get_with(port, "/healthz", "").await;
    assert!(status.contains("200"), "{status}");
    drop(server);
}

/// The server process' resident memory and its peak so far, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
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

/// A11: a client frame over the socket's small limit ends that socket, and the server never
/// holds the frame: 15 sockets each sending 4 MiB leave its peak memory where it was.
#[tokio::test]
async fn a_big_websocket_frame_closes_the_socket_and_is_never_held() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let (server, port, token) = serve_board(dir.path(), &[]).await;
    let connect = || {
        let mut request = format!("ws://127.0.0.1:{port}/api/autopilot/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    // A small message is fine and the socket stays.
    let (mut small, _) = connect().await.expect("connect");
    small.next().await.unwrap().unwrap();
    small.send(Message::text("hi")).await.unwrap();
    small.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = server.0.id();
    let (_, peak_before) = memory_kib(pid);
    let mut sockets = Vec::new();
    // One below the per-person cap of 16: the small socket's place may not be free yet.
    for _ in 0..15 {
        let (socket, _) = connect().await.expect("connect");
        sockets.push(socket);
    }
    let big = vec![b'x'; 4 * 1024 * 1024];
    let mut closed = Vec::new();
    for mut socket in sockets {
        let big = big.clone();
        closed.push(tokio::spawn(async move {
            let _hello = socket.next().await;
            // The server may close before the whole frame is written: that is the point.
            let _ = socket.send(Message::binary(big)).await;
            tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match socket.next().await {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                        Some(Ok(_)) => {}
                    }
                }
            })
            .await
            .is_ok()
        }));
    }
    let mut still_open = 0;
    for task in closed {
        if !task.await.unwrap() {
            still_open += 1;
        }
    }
    let (rss_after, peak_after) = memory_kib(pid);
    println!(
        "server memory: peak {peak_before} KiB before, {peak_after} KiB after; {rss_after} KiB now"
    );
    assert_eq!(still_open, 0, "sockets stayed open after a 4 MiB frame");
    assert!(
        peak_after < peak_before + 16 * 1024,
        "the server's peak memory grew from {peak_before} to {peak_after} KiB"
    );
    // And it serves on.
    let (_, status) = timed_get(port, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    drop(server);
}
