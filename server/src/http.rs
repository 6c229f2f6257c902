//! The HTTP server loop: axum's router on hyper, with the limits a server next to a public
//! feedback route needs and `axum::serve` does not set. A client must send its request
//! headers within `header_timeout` (slow clients sending a line at a time, and kept-alive
//! connections left idle, are closed), and at most `max_connections` are open at once (more
//! wait to be accepted), and a request, its body included, is answered within
//! `request_timeout` (408 past it: a body sent a byte at a time is cut off; live streams are
//! not, their answer starts at once), so a few hundred slow connections cannot take the server.
//! At most `max_requests` are handled at once (live streams aside: they are capped per person,
//! see `routes::live`); more wait up to `queue_timeout` for a turn, then get a 503. Which
//! requests are live streams is decided by their route, never by a header alone: any client
//! can send `Accept: text/event-stream`.

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::TimeoutLayer;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_requests: usize,
    pub queue_timeout: Duration,
}

/// How long a request waits for a turn when `max_requests` are being handled.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long requests going on at shutdown may take to finish (live streams end by themselves).
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests going on finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let app = tower::ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .service(app);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let turns = Arc::new(Semaphore::new(limits.max_requests.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(%err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let turns = turns.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // What `into_make_service_with_connect_info` gives handlers: the peer's address.
            request.extensions_mut().insert(ConnectInfo(remote));
            let (app, turns) = (app.clone(), turns.clone());
            async move {
                // A live stream lasts as long as its page is open: it does not take a turn.
                let _turn = if is_live_stream(&request) {
                    None
                } else {
                    match tokio::time::timeout(limits.queue_timeout, turns.acquire_owned()).await {
                        Ok(Ok(turn)) => Some(turn),
                        _ => return Ok(busy()),
                    }
                };
                app.oneshot(request).await
            }
        });
        let connection = builder
            // With upgrades: the original's live channel is a WebSocket.
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or sends garbage ends its own connection, nothing else.
            let _ = connection.await;
            drop(permit);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {} s after shutdown; closing them",
            DRAIN.as_secs()
        );
    }
}

/// Whether a request opens one of the board's live streams, which take no turn: a GET of
/// `/api/autopilot/stream`, or of `/api/autopilot/runs/{id}/log` asking for events (without
/// `Accept: text/event-stream` that route answers the whole log at once, an ordinary read).
/// Everything else takes a turn, whatever it accepts. The original's WebSocket takes one too,
/// but only until its upgrade is answered: the socket itself runs outside the handler.
pub fn is_live_stream<B>(request: &hyper::Request<B>) -> bool {
    if request.method() != axum::http::Method::GET {
        return false;
    }
    let path = request.uri().path();
    if path == "/api/autopilot/stream" {
        return true;
    }
    let run_id = path
        .strip_prefix("/api/autopilot/runs/")
        .and_then(|rest| rest.strip_suffix("/log"));
    run_id.is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        && wants_event_stream(request.headers())
}

/// Whether the client asks for a live stream: EventSource sends `Accept: text/event-stream`,
/// nothing else does. Only ever a choice between two answers of a streaming route; never a
/// reason to skip a limit (see [`is_live_stream`]).
pub fn wants_event_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// The answer when no turn came in time; counted apart, since the router never saw it.
fn busy() -> axum::response::Response {
    use axum::response::IntoResponse;
    metrics::counter!("autopilot_http_busy_total").increment(1);
    app::error::AppError::Unavailable(
        "the server is busy; nothing was changed, try again shortly".into(),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn only_the_stream_routes_are_live_streams() {
        let request = |method: &str, path: &str, accept: &str| {
            hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("accept", accept)
                .body(())
                .unwrap()
        };
        let sse = "text/event-stream";
        assert!(is_live_stream(&request(
            "GET",
            "/api/autopilot/stream",
            sse
        )));
        assert!(is_live_stream(&request(
            "GET",
            "/api/autopilot/stream",
            "*/*"
        )));
        assert!(is_live_stream(&request(
            "GET",
            "/api/autopilot/runs/12/log",
            sse
        )));
        for (method, path, accept) in [
            ("GET", "/healthz", sse),
            ("POST", "/login", sse),
            ("POST", "/api/autopilot/stream", sse),
            ("GET", "/api/autopilot/runs/12/log", "*/*"),
            ("GET", "/api/autopilot/runs//log", sse),
            ("GET", "/api/autopilot/runs/1/2/log", sse),
            ("GET", "/api/autopilot/runs/x/log", sse),
            ("GET", "/api/autopilot/stream/", sse),
            ("GET", "/api/autopilot/ws", sse),
            ("GET", "/", sse),
        ] {
            assert!(
                !is_live_stream(&request(method, path, accept)),
                "{method} {path}"
            );
        }
    }

    /// One GET on its own connection: the status line and the body.
    async fn fetch(addr: std::net::SocketAddr, path: &str, accept: &str) -> (String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer).to_string();
        let status = answer.lines().next().unwrap_or_default().to_string();
        (status, answer)
    }

    #[tokio::test]
    async fn requests_past_the_limit_wait_a_little_then_get_a_503_and_only_stream_routes_need_no_turn(
    ) {
        let gate = Arc::new(tokio::sync::Notify::new());
        let held = gate.clone();
        let app = Router::new()
            .route(
                "/slow",
                get(move || {
                    let gate = held.clone();
                    async move {
                        gate.notified().await;
                        "slow"
                    }
                }),
            )
            .route("/quick", get(|| async { "quick" }))
            .route("/api/autopilot/stream", get(|| async { "stream" }))
            .route("/api/autopilot/runs/{id}/log", get(|| async { "log" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_connections: 64,
            max_requests: 2,
            queue_timeout: Duration::from_millis(300),
        };
        tokio::spawn(serve(listener, app, limits, std::future::pending()));

        let slow: Vec<_> = (0..2)
            .map(|_| tokio::spawn(fetch(addr, "/slow", "*/*")))
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, answer) = fetch(addr, "/quick", "*/*").await;
        assert!(status.contains("503"), "{answer}");
        assert!(answer.contains("busy"), "{answer}");
        // Asking for an event stream is no way around the limit: only the stream routes are.
        let (status, _) = fetch(addr, "/quick", "text/event-stream").await;
        assert!(
            status.contains("503"),
            "a header skipped the request limit: {status}"
        );
        let (status, _) = fetch(addr, "/api/autopilot/runs/3/log", "*/*").await;
        assert!(status.contains("503"), "a whole log took no turn: {status}");
        let (status, _) = fetch(addr, "/api/autopilot/stream", "*/*").await;
        assert!(
            status.contains("200"),
            "a live stream waited for a turn: {status}"
        );
        let (status, _) = fetch(addr, "/api/autopilot/runs/3/log", "text/event-stream").await;
        assert!(
            status.contains("200"),
            "a run's live log waited for a turn: {status}"
        );

        gate.notify_waiters();
        for request in slow {
            let (status, _) = request.await.unwrap();
            assert!(status.contains("200"), "{status}");
        }
        let (status, _) = fetch(addr, "/quick", "*/*").await;
        assert!(
            status.contains("200"),
            "the turns were not given back: {status}"
        );
    }
}
