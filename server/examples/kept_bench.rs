//! The kept board page (served from memory until the next change) against nginx serving the
//! same bytes from files: requests per second with 32 clients, in brotli, gzip and as it is,
//! and a reload's 304, asked for as a browser asks (signed in, with a session cookie). nginx gets the page's own compressed bytes (`gzip_static`; it has no
//! brotli module here, so brotli is compared with `gzip_static`). Same client, same run;
//! figures, not assertions:
//!
//!     cargo run --release -p server --example kept_bench -- 1000 5
//!
//! Arguments: issues on the board (default 1000), seconds per measurement (default 5).
//! Needs `/usr/sbin/nginx` (AUTOPILOT_NGINX to use another); without it, prints ours alone.

use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

const CLIENTS: usize = 32;
/// The ports of this bench's servers (ours, nginx).
const OURS: u16 = 3401;
const NGINX: u16 = 3402;
/// The goal: at least half of nginx's rate, for each coding.
const GOAL: f64 = 0.5;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    // The server on a runtime of its own (two workers, like nginx's two), the clients on
    // another: both servers then share the machine with the same clients.
    // Named, so a profile (`perf report --comm`) tells the two apart.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()?;
    let board = server.block_on(async {
        let board = support::ScratchBoard::new().await?;
        support::seed(&board.store, 0, n).await?;
        anyhow::Ok(board)
    })?;
    let router = board.router(Vec::new())?;
    server.spawn(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", OURS)).await?;
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    });
    let result = clients.block_on(run(n, seconds));
    // Not waiting for the server's runtime to wind down its open connections.
    if let Err(err) = &result {
        eprintln!("Error: {err:#}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

/// nginx, stopped when the bench ends, however it ends.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers too.
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

async fn run(n: usize, seconds: u64) -> anyhow::Result<()> {
    let ours = format!("http://127.0.0.1:{OURS}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // As a browser asks: with a session cookie.
    let cookie = &support::sign_in(&ours).await?;
    // The page as kept, and its compressed forms once they are made.
    let identity = fetch(&ours, "/", cookie, None, None).await?;
    let mut tries = 0;
    let (br, gz) = loop {
        tries += 1;
        anyhow::ensure!(tries < 500, "the page's compressed forms were never made");
        let br = fetch(&ours, "/", cookie, Some("br"), None).await?;
        let gz = fetch(&ours, "/", cookie, Some("gzip"), None).await?;
        // Until they are made, the compression layer compresses per answer, with no ETag.
        let made = |f: &Fetched, coding| f.encoding.as_deref() == Some(coding) && f.etag.is_some();
        if made(&br, "br") && made(&gz, "gzip") {
            break (br, gz);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "{n} issues, {CLIENTS} clients, {seconds} s each, this machine, one run. The board page: \
         {} KiB, {} KiB brotli, {} KiB gzip",
        identity.body.len() / 1024,
        br.body.len() / 1024,
        gz.body.len() / 1024
    );
    let dir = tempfile::tempdir()?;
    let www = dir.path().join("www");
    std::fs::create_dir(&www)?;
    std::fs::write(www.join("board.html"), &identity.body)?;
    std::fs::write(www.join("board.html.gz"), &gz.body)?;
    let nginx = start_nginx(dir.path());
    if let Err(err) = &nginx {
        println!("nginx did not start ({err:#}): autopilot's figures alone");
    }
    let theirs = format!("http://127.0.0.1:{NGINX}");
    let Some(etag) = br.etag.clone() else {
        let dump = std::env::temp_dir().join("kept_bench_page.html");
        std::fs::write(&dump, &identity.body)?;
        anyhow::bail!(
            "the page was not kept (no ETag): it is in {}",
            dump.display()
        );
    };

    let cases = [
        ("brotli", Some("br"), None, br.body.len(), Some("gzip")),
        ("gzip", Some("gzip"), None, gz.body.len(), Some("gzip")),
        ("as it is", None, None, identity.body.len(), None),
        (
            "reload (304)",
            Some("br"),
            Some(etag.as_str()),
            0,
            Some("gzip"),
        ),
    ];
    for (what, coding, held, size, nginx_coding) in cases {
        let ask = Ask {
            coding,
            held,
            size,
            cookie: cookie.clone(),
        };
        let (ours_rate, ours_median) = load(&ours, "/", &ask, seconds).await?;
        let Ok(_) = &nginx else {
            println!("{what:<13}: autopilot {ours_rate:>7.0} req/s (median {ours_median:.1} ms)");
            continue;
        };
        // nginx's own ETag for the file, for its 304.
        let nginx_etag = if held.is_some() {
            fetch(&theirs, "/board.html", cookie, nginx_coding, None)
                .await?
                .etag
        } else {
            None
        };
        let theirs_ask = Ask {
            coding: nginx_coding,
            held: nginx_etag.as_deref(),
            size: match nginx_coding {
                Some(_) if held.is_none() => gz.body.len(),
                _ => size,
            },
            cookie: cookie.clone(),
        };
        let (nginx_rate, nginx_median) = load(&theirs, "/board.html", &theirs_ask, seconds).await?;
        let ratio = ours_rate / nginx_rate;
        let verdict = if ratio >= GOAL { "met" } else { "not met" };
        let against = match (coding, held) {
            (Some("br"), None) => "nginx gzip_static (it has no brotli module)",
            (Some(_), None) => "nginx gzip_static",
            (None, _) => "nginx, the same file",
            (Some(_), Some(_)) => "nginx's 304",
        };
        println!(
            "{what:<13}: autopilot {ours_rate:>7.0} req/s (median {ours_median:.1} ms), \
             {against} {nginx_rate:>7.0} req/s (median {nginx_median:.1} ms): {ratio:.2}x \
             (goal: {GOAL}x: {verdict})"
        );
    }
    // For scale: an answer that costs one database round trip.
    let (ping_rate, _) = load(
        &ours,
        "/healthz",
        &Ask {
            coding: None,
            held: None,
            size: 2,
            cookie: cookie.clone(),
        },
        seconds,
    )
    .await?;
    println!("for scale: autopilot's /healthz (one database query) {ping_rate:.0} req/s");
    drop(nginx);
    Ok(())
}

/// nginx in the foreground, serving `dir/www` on [`NGINX`], with files of its own in `dir`.
fn start_nginx(dir: &std::path::Path) -> anyhow::Result<Nginx> {
    let bin = std::env::var("AUTOPILOT_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    let d = dir.display();
    let conf = format!(
        "worker_processes 2;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/client; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           types {{ text/html html; }}\n\
           sendfile on; tcp_nopush on; keepalive_requests 1000000;\n\
           server {{\n\
             listen 127.0.0.1:{NGINX};\n\
             root {d}/www;\n\
             gzip_static on; gzip_vary on;\n\
           }}\n\
         }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let nginx = Nginx(
        std::process::Command::new(bin)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir)
            .arg("-g")
            .arg("daemon off;")
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(50));
        if std::net::TcpStream::connect(("127.0.0.1", NGINX)).is_ok() {
            return Ok(nginx);
        }
    }
    anyhow::bail!("nothing listens on {NGINX}")
}

struct Fetched {
    body: Bytes,
    encoding: Option<String>,
    etag: Option<String>,
}

async fn fetch(
    base: &str,
    path: &str,
    cookie: &str,
    coding: Option<&str>,
    held: Option<&str>,
) -> anyhow::Result<Fetched> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let res = client
        .request(request(base, path, cookie, coding, held)?)
        .await?;
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status == StatusCode::OK, "{base}{path}: {status}");
    let text = |h: &HeaderMap, name| {
        h.get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(Fetched {
        body,
        encoding: text(&headers, header::CONTENT_ENCODING),
        etag: text(&headers, header::ETAG),
    })
}

fn request(
    base: &str,
    path: &str,
    cookie: &str,
    coding: Option<&str>,
    held: Option<&str>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut req = Request::get(format!("{base}{path}")).header(header::COOKIE, cookie);
    if let Some(coding) = coding {
        req = req.header(header::ACCEPT_ENCODING, coding);
    }
    if let Some(held) = held {
        req = req.header(header::IF_NONE_MATCH, held);
    }
    Ok(req.body(Full::default())?)
}

/// What each request asks for and what its answer must be: `coding` in `Accept-Encoding`,
/// `held` in `If-None-Match` (then a 304), and the body's size.
struct Ask<'a> {
    coding: Option<&'a str>,
    held: Option<&'a str>,
    size: usize,
    /// The session cookie.
    cookie: String,
}

/// `CLIENTS` clients asking for `path` as fast as answers come: requests per second and the
/// median latency. Every answer is checked (status, coding, size), so a fallback to another
/// coding cannot pass for speed.
async fn load(base: &str, path: &str, ask: &Ask<'_>, seconds: u64) -> anyhow::Result<(f64, f64)> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    let expected = if ask.held.is_some() {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    for _ in 0..CLIENTS {
        let (client, stop, done) = (client.clone(), stop.clone(), done.clone());
        let (base, path, cookie) = (base.to_string(), path.to_string(), ask.cookie.clone());
        let (coding, held) = (ask.coding.map(str::to_string), ask.held.map(str::to_string));
        let size = ask.size;
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = request(&base, &path, &cookie, coding.as_deref(), held.as_deref())?;
                let started = Instant::now();
                let res = client.request(req).await?;
                let status = res.status();
                let encoding = res.headers().get(header::CONTENT_ENCODING).cloned();
                let body = res.into_body().collect().await?.to_bytes();
                anyhow::ensure!(status == expected, "{base}{path}: {status}");
                if held.is_none() {
                    anyhow::ensure!(
                        encoding.as_ref().map(|e| e.as_bytes())
                            == coding.as_deref().map(str::as_bytes),
                        "{base}{path}: sent as {encoding:?}, not {coding:?}"
                    );
                }
                anyhow::ensure!(
                    body.len() == size,
                    "{base}{path}: {} bytes, not {size}",
                    body.len()
                );
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(times)
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for worker in workers {
        times.extend(worker.await??);
    }
    times.sort_by(f64::total_cmp);
    Ok((
        rate,
        times.get(times.len() / 2).copied().unwrap_or_default(),
    ))
}
