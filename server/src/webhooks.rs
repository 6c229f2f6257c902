//! The webhook sender. Every server runs one; an endpoint's lease in the database decides
//! which server sends to it, so each delivery goes out from one server, in order. Requests
//! are signed per Standard Webhooks (or written as a Slack or Discord message), refuse
//! private addresses unless the endpoint allows them (checked on the address the name
//! resolves to, which is the one connected to), time out, read at most a little of the
//! answer, and follow no redirect to another host.

use app::domain::{is_public, private_literal, webhook_retry_delay_ms, Status, WebhookFormat};
use app::store::{Attempt, DeliveryToSend, EndpointToSend, Store};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (the rest is dropped unread).
const RESPONSE_MAX_BYTES: usize = 64 * 1024;
/// An endpoint's lease: longer than a request, renewed before each one. A server killed
/// mid-delivery holds it this long; then another (or the restarted one) sends again.
const LEASE_MS: i64 = 3 * REQUEST_TIMEOUT.as_millis() as i64;
/// Endpoints sent to at once by one server.
const ENDPOINTS_AT_ONCE: usize = 8;
/// Redirects followed (to the same host and port only).
const MAX_REDIRECTS: usize = 3;

/// A resolver that answers only public addresses: the client connects to what it answers,
/// so a name that resolves (or re-resolves) to a private address cannot slip through.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves to a private address ({}): not allowed for this endpoint",
                    all.first().map(|a| a.ip().to_string()).unwrap_or_default()
                )
                .into();
                return Err(err);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The two clients: one that reaches public addresses only, one for endpoints an admin
/// allowed to reach private ones.
#[derive(Clone)]
pub struct Clients {
    public: reqwest::Client,
    any: reqwest::Client,
}

impl Clients {
    pub fn new() -> anyhow::Result<Clients> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(REQUEST_TIMEOUT)
                // A proxy would resolve names itself, past the address check.
                .no_proxy()
                .user_agent(concat!("Autopilot-Webhooks/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    let first = &attempt.previous()[0];
                    let same_place = attempt.url().host_str() == first.host_str()
                        && attempt.url().port_or_known_default() == first.port_or_known_default();
                    if attempt.previous().len() > MAX_REDIRECTS {
                        attempt.error("too many redirects")
                    } else if same_place {
                        attempt.follow()
                    } else {
                        attempt.stop()
                    }
                }))
        };
        Ok(Clients {
            public: builder().dns_resolver(Arc::new(PublicOnly)).build()?,
            any: builder().build()?,
        })
    }
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
/// secret (the current one, and a rotated-out one while it still signs), space-separated.
pub fn signature(secrets: &[String], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    secrets
        .iter()
        .filter_map(|secret| {
            let key = b64
                .decode(
                    secret
                        .strip_prefix(app::domain::WEBHOOK_SECRET_PREFIX)
                        .unwrap_or(secret),
                )
                .ok()?;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
            mac.update(message_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The payload as sent: the stored one with each issue's `url` on the board.
fn with_links(payload: &str, board_url: &str) -> Value {
    let mut value: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    if let Some(issue) = value
        .pointer_mut("/data/issue")
        .and_then(Value::as_object_mut)
    {
        if let Some(id) = issue.get("id").and_then(Value::as_i64) {
            issue.insert(
                "url".into(),
                Value::String(format!("{board_url}/?issue={id}")),
            );
        }
    }
    value
}

fn status_label(value: Option<&Value>) -> String {
    value
        .and_then(|v| serde_json::from_value::<Status>(v.clone()).ok())
        .map(|s| s.label().to_string())
        .unwrap_or_else(|| "?".into())
}

/// The chat line for an event: who did what to which issue. `link(text, url)` writes a link
/// in the chat's markup; `plain` escapes text from people (titles, names, comments).
fn chat_line(
    payload: &Value,
    link: impl Fn(&str, &str) -> String,
    plain: impl Fn(&str) -> String,
) -> String {
    let data = &payload["data"];
    let text = |v: &Value| plain(v.as_str().unwrap_or(""));
    let actor = text(&data["actor"]);
    let issue = &data["issue"];
    let target = match (issue["id"].as_i64(), issue["url"].as_str()) {
        (Some(id), Some(url)) => {
            let title: String = issue["title"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect();
            link(&format!("#{id} {}", plain(&title)), url)
        }
        _ => String::new(),
    };
    match payload["type"].as_str().unwrap_or("") {
        "issue.created" => format!("{actor} filed {target}"),
        "feedback.received" => format!("New feedback: {target}"),
        "issue.moved" => format!(
            "{actor} moved {target} from {} to {}",
            status_label(data.get("from")),
            status_label(data.get("to"))
        ),
        "issue.commented" => {
            let body: String = data["comment"]["body"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect();
            let author = text(&data["comment"]["author"]);
            format!("{author} commented on {target}: {}", plain(&body))
        }
        "issue.assigned" => match issue["assignee"].as_str() {
            Some(who) => format!("{actor} assigned {target} to {}", plain(who)),
            None => format!("{actor} unassigned {target}"),
        },
        "run.started" => format!(
            "The agent started a {} run on {target}",
            text(&data["run"]["kind"]).replace('_', " ")
        ),
        "run.finished" => {
            let run = &data["run"];
            let mut line = format!("A run on {target} ended: {}", text(&run["outcome"]));
            if let Some(cost) = run["cost_usd"].as_f64() {
                line.push_str(&format!(" (${cost:.2})"));
            }
            if let Some(pr) = run["pr_url"].as_str() {
                line.push_str(&format!(" · {}", link("pull request", pr)));
            }
            line
        }
        "ping" => format!("Test event from Autopilot, sent by {actor}"),
        other => format!("{} on {target}", plain(other)),
    }
}

/// Slack's mrkdwn: `&`, `<` and `>` escaped; links as `<url|text>`.
fn slack_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Discord markdown: its markup characters escaped, so a title cannot format or link.
fn discord_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\*_~`|>[]()#-<@:".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The request body for an endpoint's format.
pub fn render(format: WebhookFormat, payload: &str, board_url: &str) -> Vec<u8> {
    let payload = with_links(payload, board_url);
    let body = match format {
        WebhookFormat::Standard => payload,
        WebhookFormat::Slack => {
            let line = chat_line(&payload, |t, u| format!("<{u}|{t}>"), slack_text);
            serde_json::json!({ "text": line })
        }
        WebhookFormat::Discord => {
            let line = chat_line(&payload, |t, u| format!("[{t}](<{u}>)"), discord_text);
            let line: String = line.chars().take(2000).collect();
            // No @everyone or @user ping, whatever a title says.
            serde_json::json!({ "content": line, "allowed_mentions": { "parse": [] } })
        }
    };
    body.to_string().into_bytes()
}

/// Sends one delivery and says how it went.
async fn send(
    clients: &Clients,
    endpoint: &EndpointToSend,
    delivery: &DeliveryToSend,
    board_url: &str,
) -> Attempt {
    let started = Instant::now();
    let failed = |error: String, status: Option<i64>, excerpt: Option<String>| {
        let delay = webhook_retry_delay_ms(delivery.attempts + 1);
        let jitter = rand::random::<f64>() * 0.2 * delay as f64;
        Attempt {
            ok: false,
            status,
            latency_ms: started.elapsed().as_millis() as i64,
            error: Some(error),
            excerpt,
            retry_at: app::store::now_ms() + delay + jitter as i64,
            at: 0,
        }
    };
    let url = match reqwest::Url::parse(&endpoint.url) {
        Ok(url) => url,
        Err(err) => return failed(format!("bad URL: {err}"), None, None),
    };
    // A literal address is connected to without asking the resolver: check it here.
    if let Some(ip) = private_literal(&url).filter(|_| !endpoint.allow_private) {
        return failed(
            format!("{ip} is a private address: not allowed for this endpoint"),
            None,
            None,
        );
    }
    let body = render(endpoint.format, &delivery.payload, board_url);
    let client = if endpoint.allow_private {
        &clients.any
    } else {
        &clients.public
    };
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.clone());
    if endpoint.format == WebhookFormat::Standard {
        let timestamp = app::store::now_ms() / 1000;
        request = request
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&endpoint.secrets, &delivery.message_id, timestamp, &body),
            );
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(err) => return failed(describe(&err), None, None),
    };
    let status = response.status();
    let mut read = Vec::new();
    while read.len() < RESPONSE_MAX_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read.extend_from_slice(&chunk),
            _ => break,
        }
    }
    read.truncate(RESPONSE_MAX_BYTES);
    let excerpt = Some(String::from_utf8_lossy(&read).into_owned()).filter(|t| !t.is_empty());
    if status.is_success() {
        Attempt {
            ok: true,
            status: Some(i64::from(status.as_u16())),
            latency_ms: started.elapsed().as_millis() as i64,
            excerpt,
            ..Attempt::default()
        }
    } else {
        let error = if status.is_redirection() {
            format!("{status}: a redirect to another host is not followed")
        } else {
            status.to_string()
        };
        failed(error, Some(i64::from(status.as_u16())), excerpt)
    }
}

/// A request error in words, with its cause (reqwest's own text hides it).
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sends an endpoint's due deliveries, oldest first, while this server holds its lease and is
/// not stopping. A failure stops the endpoint until its retry comes due: nothing behind it
/// goes first.
async fn drain(
    store: &Store,
    clients: &Clients,
    me: &str,
    endpoint: i64,
    board_url: &str,
    stop: &tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let leased = match store.lease_webhook(endpoint, me, LEASE_MS).await {
            Ok(Some(leased)) => leased,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(%err, endpoint, "webhook lease");
                return;
            }
        };
        let delivery = match store.next_webhook_delivery(endpoint).await {
            Ok(Some(d)) if d.next_attempt_at <= app::store::now_ms() => d,
            Ok(_) => break,
            Err(err) => {
                tracing::warn!(%err, endpoint, "webhook queue");
                break;
            }
        };
        let attempt = send(clients, &leased, &delivery, board_url).await;
        let ok = attempt.ok;
        if !ok {
            tracing::info!(endpoint, delivery = delivery.id, error = ?attempt.error, "webhook delivery failed; will retry");
        }
        match store
            .record_webhook_attempt(endpoint, delivery.id, me, attempt)
            .await
        {
            Ok(true) if ok => continue,
            Ok(_) => break,
            Err(err) => {
                tracing::warn!(%err, endpoint, "recording a webhook attempt");
                break;
            }
        }
    }
    // Another server may take the endpoint at once (on a stop too, so a restart or a deploy
    // does not hold its events for the lease's length).
    let _ = store.release_webhook(endpoint, me).await;
}

/// Starts this server's sender. `board_url` prefixes the issue links in payloads. When `stop`
/// turns true it takes no new delivery, lets the requests in flight finish, and releases its
/// leases; the handle ends then.
pub fn spawn(
    store: Store,
    board_url: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let clients = Clients::new()?;
    // Unique per process: a restarted server waits out a killed one's lease like any other.
    let me = format!(
        "webhooks:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let slots = Arc::new(tokio::sync::Semaphore::new(ENDPOINTS_AT_ONCE));
    // A drain that ends looks again at once: a change that came while it was busy (and was
    // skipped, the endpoint being taken) is not left for the next tick.
    let rescan = Arc::new(tokio::sync::Notify::new());
    Ok(tokio::spawn(async move {
        let mut changes = store.subscribe();
        let mut stopping = stop.clone();
        let mut drains = tokio::task::JoinSet::new();
        while !*stop.borrow() {
            match store.webhooks_due(&me).await {
                Ok(due) => {
                    for endpoint in due {
                        let fresh = busy.lock().map(|mut b| b.insert(endpoint)).unwrap_or(false);
                        if !fresh {
                            continue;
                        }
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let (store, clients, me, board_url, busy, stop, rescan) = (
                            store.clone(),
                            clients.clone(),
                            me.clone(),
                            board_url.clone(),
                            busy.clone(),
                            stop.clone(),
                            rescan.clone(),
                        );
                        drains.spawn(async move {
                            drain(&store, &clients, &me, endpoint, &board_url, &stop).await;
                            if let Ok(mut busy) = busy.lock() {
                                busy.remove(&endpoint);
                            }
                            drop(slot);
                            rescan.notify_one();
                        });
                    }
                }
                Err(err) => tracing::warn!(%err, "webhooks: reading the queue"),
            }
            while drains.try_join_next().is_some() {}
            // A change may have queued deliveries; retries come due with time.
            tokio::select! {
                _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()) => {}
                _ = rescan.notified() => {}
                _ = stopping.wait_for(|stop| *stop) => {}
            }
        }
        while drains.join_next().await.is_some() {}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example from the Standard Webhooks spec's reference implementations.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
        let body = br#"{"test": 2432232314}"#;
        let sig = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotated_secret_signs_alongside_the_new_one() {
        let secrets = vec!["whsec_AAAA".to_string(), "whsec_BBBB".to_string()];
        let sig = signature(&secrets, "msg_1", 1, b"{}");
        assert_eq!(sig.split(' ').count(), 2);
        assert!(sig.split(' ').all(|s| s.starts_with("v1,")));
    }

    #[test]
    fn chat_messages_link_the_issue_and_escape_what_people_wrote() {
        let payload = r#"{"type":"issue.moved","data":{"actor":"Ann <b>","from":"ready","to":"in_review",
            "issue":{"id":7,"title":"Fix <script> & @everyone [x](http://evil)"}}}"#;
        let slack =
            String::from_utf8(render(WebhookFormat::Slack, payload, "https://b.example")).unwrap();
        let slack: Value = serde_json::from_str(&slack).unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                "Ann &lt;b&gt; moved <https://b.example/?issue=7|#7 Fix &lt;script&gt; &amp;"
            ),
            "{text}"
        );
        assert!(text.ends_with("from Ready to In review"), "{text}");
        let discord =
            String::from_utf8(render(WebhookFormat::Discord, payload, "https://b.example"))
                .unwrap();
        let discord: Value = serde_json::from_str(&discord).unwrap();
        let content = discord["content"].as_str().unwrap();
        assert!(content.contains(r"\[x\]\(http\:"), "{content}");
        assert!(
            content.contains("(<https://b.example/?issue=7>)"),
            "{content}"
        );
        assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    }

    #[test]
    fn the_standard_body_is_the_payload_with_links() {
        let payload = r#"{"type":"issue.created","data":{"issue":{"id":3}}}"#;
        let body = render(WebhookFormat::Standard, payload, "http://localhost:3000");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["data"]["issue"]["url"],
            "http://localhost:3000/?issue=3"
        );
    }
}
