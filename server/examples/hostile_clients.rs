//! The security audit's open doors, tried against the built server on loopback, each for a
//! bounded count and time: the server's memory and `/healthz` latency before and after each,
//! what the attack's requests were answered, and whether the board's owner could still sign
//! in. Figures, not assertions (the tests assert):
//!
//!     cargo build --release -p server --examples && scripts/build-release.sh
//!     target/release/examples/hostile_clients 10 target/release/autopilot
//!
//! Arguments: a size (1 is a quick look; each attack's count grows with it; default 5) and
//! the binary (default target/release/autopilot). The attacks:
//! - A1: sign-in forms of about 2 MB with a fresh email each, from 8 clients at once, and
//!   forms under the size limit with an email far over 254 characters;
//! - A2: with `AUTOPILOT_MAX_REQUESTS=1` and the one turn held by a sign-in whose body
//!   trickles in, requests that send `Accept: text/event-stream` (a second server);
//! - A7: wrong passwords from a new IPv6 /64 each time, 32 × size at once (up to 256; every
//!   one costs a hash);
//! - A8: wrong guesses at the owner's account from many addresses, then the owner from theirs;
//! - A11: WebSocket frames of 4 MiB on 15 sockets.
//!
//! The server believes `X-Forwarded-For` from 127.0.0.1 (AUTOPILOT_TRUSTED_PROXIES), which is
//! how one process plays many clients.

use axum::http::{header, Request, StatusCode};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

mod support;
use support::{memory_kib, BuiltServer};

/// The server as attacked: believing `X-Forwarded-For` from loopback (each attack plays many
/// addresses), and logging nothing (every refused request would be an error line).
const HOSTILE_ENV: &[(&str, &str)] = &[
    ("RUST_LOG", "off"),
    ("AUTOPILOT_TRUSTED_PROXIES", "127.0.0.1"),
];

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// The owner's own address (through the trusted proxy).
const OWNER_ADDRESS: &str = "198.51.100.1";
const OWNER_EMAIL: &str = "bench@example.com";

/// No attack runs longer than this.
const ATTACK_TIME: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let bin = args
        .next()
        .unwrap_or_else(|| "target/release/autopilot".into());
    let board = support::ScratchBoard::new().await?;
    support::seed(&board.store, 0, 50).await?;
    let server = BuiltServer::start_with(&bin, &board.url, HOSTILE_ENV).await?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let target = Target {
        client: client.clone(),
        base: server.base.clone(),
    };
    println!(
        "hostile clients, size {size}, against {bin} (pid {})",
        server.pid()
    );
    let mut report = Report::new(&server, &target).await;

    // A1: sign-ins with huge emails (about 2 MB: the form's cap), then many with long ones
    // (past the address' length limit), 8 clients at once.
    for (count, fill, length, what) in [
        (8 * size, 'a', 1_900_000, "a 1.9 MB email"),
        (500 * size, 'b', 7_000, "a 7,000-character email"),
    ] {
        let answers = Tally::default();
        let started = Instant::now();
        let (t, a) = (target.clone(), answers.clone());
        flood(8, count, move |i| {
            let (target, answers) = (t.clone(), a.clone());
            async move {
                let email = format!("{i:08x}{}%40example.com", fill.to_string().repeat(length));
                let body = format!("email={email}&password=x");
                let answer = target.login(body, &format!("203.0.113.{}", i % 250)).await;
                answers.count(answer);
            }
        })
        .await;
        report
            .after(
                &format!("A1 {count} sign-ins with {what}"),
                &answers,
                started,
            )
            .await;
    }

    // A2: a second server with one turn; the turn held by a trickled sign-in body.
    {
        let narrow_env = [HOSTILE_ENV, &[("AUTOPILOT_MAX_REQUESTS", "1")]].concat();
        let narrow = BuiltServer::start_with(&bin, &board.url, &narrow_env).await?;
        let narrow_target = Target {
            client: client.clone(),
            base: narrow.base.clone(),
        };
        let mut trickle = tokio::net::TcpStream::connect(("127.0.0.1", narrow.port)).await?;
        trickle
            .write_all(
                b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \
                  application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\na",
            )
            .await?;
        let dribbling = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if trickle.write_all(b"a").await.is_err() {
                    return;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let answers = Tally::default();
        let started = Instant::now();
        let bypass = 4 * size;
        let (t, a) = (narrow_target.clone(), answers.clone());
        flood(bypass, bypass, move |_| {
            let (target, answers) = (t.clone(), a.clone());
            async move {
                let req = Request::get(format!("{}/healthz", target.base))
                    .header(header::ACCEPT, "text/event-stream")
                    .body(Full::default());
                let answer = match req {
                    Ok(req) => target.send(req).await,
                    Err(_) => Answer::Failed,
                };
                answers.count(answer);
            }
        })
        .await;
        let took = started.elapsed();
        let (rss_held, _) = memory_kib(narrow.pid());
        dribbling.abort();
        let _ = dribbling.await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (rss_free, _) = memory_kib(narrow.pid());
        println!(
            "A2 {bypass} GET /healthz with Accept: text/event-stream while the one turn is \
             held: {} in {:.1} s (before the fix: 200 at once)\n   its server (one turn): RSS \
             {} → {} MiB, /healthz once the turn is free {:.1} ms",
            answers.summary(),
            took.as_secs_f64(),
            rss_held / 1024,
            rss_free / 1024,
            narrow_target.healthz_ms().await,
        );
    }

    // A7: every attempt from a new IPv6 /64, each a wrong password on a real account: each
    // costs a hash, so the hash gate and the busy answer are what hold.
    let flood_size = 64 * size;
    let answers = Tally::default();
    let started = Instant::now();
    let mid_flood = {
        let target = target.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            target.healthz_ms().await
        })
    };
    let (t, a) = (target.clone(), answers.clone());
    // Enough at once that some wait past the hash gate's 3 s on a small machine.
    flood(32 * size.min(8), flood_size, move |i| {
        let (target, answers) = (t.clone(), a.clone());
        async move {
            let from = format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff);
            let body = format!("email=bench%40example.com&password=guess+number+{i}");
            answers.count(target.login(body, &from).await);
        }
    })
    .await;
    let during = mid_flood.await.unwrap_or(f64::NAN);
    report
        .after(
            &format!(
                "A7 {flood_size} wrong passwords, each from a new /64 (healthz during: \
                 {during:.1} ms)"
            ),
            &answers,
            started,
        )
        .await;
    report.owner_line(&target).await;

    // A8: many addresses guess at the owner's account, past every limit, then the owner.
    let addresses = 10 * size;
    let answers = Tally::default();
    let started = Instant::now();
    let (t, a) = (target.clone(), answers.clone());
    flood(16, addresses * 7, move |i| {
        let (target, answers) = (t.clone(), a.clone());
        async move {
            let from = format!("192.0.2.{}", i % addresses.min(250));
            let body = "email=bench%40example.com&password=wrong+wrong+wrong".to_string();
            answers.count(target.login(body, &from).await);
        }
    })
    .await;
    report
        .after(
            &format!(
                "A8 {} wrong guesses at the owner's account from {} addresses",
                addresses * 7,
                addresses.min(250)
            ),
            &answers,
            started,
        )
        .await;
    report.owner_line(&target).await;
    // One more wrong guess from a guessing address, then at once the right password from it.
    let wrong = target
        .login(
            "email=bench%40example.com&password=wrong+wrong+wrong".to_string(),
            "192.0.2.0",
        )
        .await;
    let right = target
        .login(
            "email=bench%40example.com&password=bench+password+1".to_string(),
            "192.0.2.0",
        )
        .await;
    println!(
        "   a guessing address: one more wrong guess {wrong}, then the right password {right} \
         (it waits longer after each failure)"
    );

    // A11: 15 sockets (under the per-person cap of 16), each sends one 4 MiB frame.
    let rounds = size.min(4);
    let closed = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    for _ in 0..rounds {
        let mut tasks = Vec::new();
        for _ in 0..15 {
            let (base, token) = (server.base.clone(), board.token.clone());
            let (closed, opened) = (closed.clone(), opened.clone());
            tasks.push(tokio::spawn(async move {
                if let Ok(true) = big_frame(&base, &token).await {
                    closed.fetch_add(1, Ordering::Relaxed);
                }
                opened.fetch_add(1, Ordering::Relaxed);
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        // The sockets' places among the owner's live streams are given back as they close.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let frames = Tally::default();
    frames.add("closed by the server", closed.load(Ordering::Relaxed));
    frames.add(
        "not closed or not opened",
        opened.load(Ordering::Relaxed) - closed.load(Ordering::Relaxed),
    );
    report
        .after(
            &format!("A11 {} sockets each sending a 4 MiB frame", 15 * rounds),
            &frames,
            started,
        )
        .await;
    report.owner_line(&target).await;
    Ok(())
}

/// Runs `make(i)` for i in 0..count, `parallel` at a time, for at most [`ATTACK_TIME`].
async fn flood<F, Fut>(parallel: usize, count: usize, make: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let deadline = Instant::now() + ATTACK_TIME;
    let mut workers = Vec::new();
    for _ in 0..parallel.max(1) {
        let (next, make) = (next.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() > deadline {
                    return;
                }
                make(i).await;
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
}

/// Opens the original's WebSocket, sends one 4 MiB frame, and says whether the server closed
/// the socket within 10 s.
async fn big_frame(base: &str, token: &str) -> anyhow::Result<bool> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("{}/api/autopilot/ws", base.replace("http://", "ws://"));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let _hello = socket.next().await;
    // The server may close before the frame is all written: that is what it should do.
    let _ = socket.send(Message::binary(vec![b'x'; 4 << 20])).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok();
    Ok(closed)
}

/// What one request was answered.
#[derive(Clone, Debug)]
enum Answer {
    Status(StatusCode, String),
    /// The connection ended before an answer (a server that stops reading a refused body
    /// may close while the client still sends).
    Failed,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Status(status, location) if location.is_empty() => {
                write!(f, "{}", status.as_u16())
            }
            Answer::Status(status, location) => {
                let what = location
                    .split_once("error=")
                    .map(|(_, e)| e.split('&').next().unwrap_or_default())
                    .unwrap_or(location);
                write!(f, "{} {what}", status.as_u16())
            }
            Answer::Failed => write!(f, "cut off"),
        }
    }
}

/// How many requests got each answer.
#[derive(Clone, Default)]
struct Tally(Arc<Mutex<BTreeMap<String, usize>>>);

impl Tally {
    fn count(&self, answer: Answer) {
        self.add(&answer.to_string(), 1);
    }

    fn add(&self, what: &str, n: usize) {
        if n > 0 {
            let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
            *counts.entry(what.to_string()).or_default() += n;
        }
    }

    fn summary(&self) -> String {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|(what, n)| format!("{n}× {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Clone)]
struct Target {
    client: HttpClient,
    base: String,
}

impl Target {
    async fn send(&self, req: Request<Full<Bytes>>) -> Answer {
        match tokio::time::timeout(Duration::from_secs(30), self.client.request(req)).await {
            Ok(Ok(res)) => {
                let status = res.status();
                let location = res
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let _ = res.into_body().collect().await;
                Answer::Status(status, location)
            }
            _ => Answer::Failed,
        }
    }

    /// Posts the sign-in form as a client at `from`.
    async fn login(&self, body: String, from: &str) -> Answer {
        let req = Request::post(format!("{}/login", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", from)
            .body(Full::from(body));
        match req {
            Ok(req) => self.send(req).await,
            Err(_) => Answer::Failed,
        }
    }

    /// Whether the owner signs in from their own address: the answer's redirect and cookie.
    async fn owner_signs_in(&self) -> (bool, String) {
        let req = Request::post(format!("{}/login", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", OWNER_ADDRESS)
            .body(Full::from(format!(
                "email={}&password=bench+password+1",
                OWNER_EMAIL.replace('@', "%40")
            )));
        let Ok(req) = req else {
            return (false, "no request".into());
        };
        match self.client.request(req).await {
            Ok(res) => {
                let cookie = res
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .any(|c| c.as_bytes().starts_with(b"autopilot_session="));
                let location = res
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let status = res.status().as_u16();
                let _ = res.into_body().collect().await;
                (
                    cookie && location == "/",
                    format!("{status} to {location:?}"),
                )
            }
            Err(err) => (false, err.to_string()),
        }
    }

    /// The median of 5 GETs of `/healthz`, in ms.
    async fn healthz_ms(&self) -> f64 {
        let mut times = Vec::new();
        for _ in 0..5 {
            let Ok(req) = Request::get(format!("{}/healthz", self.base)).body(Full::default())
            else {
                continue;
            };
            let started = Instant::now();
            let ok = matches!(self.send(req).await, Answer::Status(s, _) if s.is_success());
            times.push(if ok {
                started.elapsed().as_secs_f64() * 1000.0
            } else {
                f64::INFINITY
            });
        }
        times.sort_by(f64::total_cmp);
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

/// Memory and latency before and after each attack.
struct Report {
    pid: u32,
    target: Target,
    rss_kib: u64,
    healthz_ms: f64,
}

impl Report {
    /// The owner signs in first: the figures at rest then include what one sign-in keeps
    /// (a hashing thread's work memory, 19 MiB, kept for the next).
    async fn new(server: &BuiltServer, target: &Target) -> Report {
        Report::owner_says(target).await;
        let (rss_kib, _) = memory_kib(server.pid());
        let healthz_ms = target.healthz_ms().await;
        println!(
            "at rest, after one sign-in: RSS {} MiB, /healthz {healthz_ms:.1} ms",
            rss_kib / 1024
        );
        Report {
            pid: server.pid(),
            target: target.clone(),
            rss_kib,
            healthz_ms,
        }
    }

    async fn after(&mut self, attack: &str, answers: &Tally, started: Instant) {
        let took = started.elapsed();
        let (rss, peak) = memory_kib(self.pid);
        let healthz = self.target.healthz_ms().await;
        println!(
            "{attack}: {} in {:.1} s\n   RSS {} → {} MiB (peak so far {} MiB), /healthz {:.1} → {healthz:.1} ms",
            answers.summary(),
            took.as_secs_f64(),
            self.rss_kib / 1024,
            rss / 1024,
            peak / 1024,
            self.healthz_ms,
        );
        self.rss_kib = rss;
        self.healthz_ms = healthz;
    }

    async fn owner_line(&self, target: &Target) {
        Report::owner_says(target).await;
    }

    async fn owner_says(target: &Target) {
        let (signed_in, how) = target.owner_signs_in().await;
        println!(
            "   the owner signs in from their own address: {} ({how})",
            if signed_in { "yes" } else { "NO" }
        );
    }
}
