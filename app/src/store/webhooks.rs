//! Webhook endpoints and their outbox. A change to the board writes its deliveries in the
//! same transaction as the change (see [`EventRecord::write`]), so an event is never lost
//! between the change and the queue. The sender (`server/src/webhooks.rs`) takes an endpoint's
//! lease, sends its deliveries oldest first, and records each attempt here.

use super::{now_ms, on_pool, on_tx, EventRecord, Store, Tx};
use crate::domain::{
    parse_webhook_events, EndpointState, Issue, WebhookDelivery, WebhookEndpoint, WebhookEvent,
    WebhookFormat, WebhookInput, WEBHOOK_GIVE_UP_MS, WEBHOOK_ROTATION_OVERLAP_MS,
    WEBHOOK_SCHEMA_VERSION, WEBHOOK_SECRET_PREFIX,
};
use crate::error::{AppError, AppResult};
use serde_json::{json, Value};

const ENDPOINT_SELECT: &str = "SELECT e.id, e.url, e.format, e.events, e.description, e.enabled,
    e.allow_private, e.failures, e.failing_since, e.last_error, e.off_reason,
    e.old_secret_until, e.created_by, e.created_at, e.updated_at,
    (SELECT COUNT(*) FROM webhook_deliveries d
      WHERE d.endpoint_id = e.id AND d.state = 'pending') AS pending,
    (SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
      WHERE d.endpoint_id = e.id AND d.state = 'pending' AND d.attempts > 0) AS next_retry_at
    FROM webhook_endpoints e";

const DELIVERY_COLUMNS: &str = "id, endpoint_id, message_id, event_type, issue_id, state,
    attempts, next_attempt_at, last_attempt_at, last_status, last_latency_ms, last_error,
    response_excerpt, created_at, delivered_at";

/// Delivered rows are kept this long for the log, then pruned.
const DELIVERED_KEPT_MS: i64 = 30 * 24 * 3_600_000;
/// The most a response excerpt or an error keeps.
const EXCERPT_MAX_CHARS: usize = 500;

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: i64,
    url: String,
    format: String,
    events: String,
    description: String,
    enabled: bool,
    allow_private: bool,
    failures: i64,
    failing_since: Option<i64>,
    last_error: Option<String>,
    off_reason: Option<String>,
    old_secret_until: Option<i64>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    pending: i64,
    next_retry_at: Option<i64>,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        WebhookEndpoint {
            id: row.id,
            state: EndpointState::of(row.enabled, row.failures),
            url: row.url,
            format: row.format.parse().unwrap_or(WebhookFormat::Standard),
            events: parse_webhook_events(&row.events),
            description: row.description,
            enabled: row.enabled,
            allow_private: row.allow_private,
            failures: row.failures,
            failing_since: row.failing_since,
            last_error: row.last_error,
            off_reason: row.off_reason,
            pending: row.pending,
            next_retry_at: row.next_retry_at,
            old_secret_until: row.old_secret_until,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// What the sender needs to send an endpoint's deliveries: its address and secrets.
#[derive(Clone, Debug)]
pub struct EndpointToSend {
    pub id: i64,
    pub url: String,
    pub format: WebhookFormat,
    pub allow_private: bool,
    /// The current secret, then the rotated-out one while it still signs.
    pub secrets: Vec<String>,
}

/// A delivery the sender is about to attempt.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryToSend {
    pub id: i64,
    pub message_id: String,
    pub event_type: String,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// How one attempt went.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    pub ok: bool,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    /// When to try again after a failure (the sender picks it, with jitter).
    pub retry_at: i64,
    /// When it was made (Unix ms); 0: now, by the database's clock.
    pub at: i64,
}

/// A new secret: `whsec_` and base64 of 32 random bytes.
fn new_webhook_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{WEBHOOK_SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A new `webhook-id`: the same for every endpoint that hears the event and on every attempt.
fn new_message_id() -> String {
    crate::auth::new_secret("msg_")
}

fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_MAX_CHARS).collect()
}

/// RFC 3339, as the payload's `timestamp`.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The issue as a payload shows it (the sender adds its `url`).
fn issue_json(issue: &Issue) -> Value {
    json!({
        "id": issue.id,
        "title": issue.title,
        "status": issue.status,
        "kind": issue.kind,
        "priority": issue.priority,
        "assignee": issue.assignee,
        "branch": issue.branch,
        "pr_url": issue.pr_url,
    })
}

/// Every endpoint that queues events now, with the events it hears: turned on, or turned off
/// by the sender after a day of failures (their events wait for the admin); one an admin
/// turned off hears nothing. Read once per change.
async fn listeners(tx: &mut Tx) -> AppResult<Vec<(i64, Vec<WebhookEvent>)>> {
    let rows: Vec<(i64, String)> = on_tx!(tx, e => sqlx::query_as(
        "SELECT id, events FROM webhook_endpoints WHERE enabled OR off_reason IS NOT NULL",
    )
    .fetch_all(e)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, events)| (id, parse_webhook_events(&events)))
        .collect())
}

/// Those of `listeners` that hear `event`.
fn hearing(listeners: &[(i64, Vec<WebhookEvent>)], event: WebhookEvent) -> Vec<i64> {
    listeners
        .iter()
        .filter(|(_, events)| events.contains(&event))
        .map(|(id, _)| *id)
        .collect()
}

/// Queues `event` for every endpoint that hears it, inside the change's transaction.
/// `data` is the event's own part of the payload; the issue, when there is one, is added.
pub(super) async fn enqueue(
    tx: &mut Tx,
    event: WebhookEvent,
    issue_id: Option<i64>,
    actor: &str,
    data: Value,
    now: i64,
) -> AppResult<()> {
    let endpoints = hearing(&listeners(tx).await?, event);
    enqueue_for(tx, &endpoints, event, issue_id, actor, data, now).await
}

/// Queues `event` for these endpoints, inside the caller's transaction.
async fn enqueue_for(
    tx: &mut Tx,
    endpoints: &[i64],
    event: WebhookEvent,
    issue_id: Option<i64>,
    actor: &str,
    data: Value,
    now: i64,
) -> AppResult<()> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let mut data = match data {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    data.insert("actor".into(), json!(actor));
    if let Some(id) = issue_id {
        let issue = super::issues::fetch_issue(tx, id).await?;
        data.insert("issue".into(), issue_json(&issue));
    }
    let message_id = new_message_id();
    let payload = json!({
        "type": event.as_str(),
        "timestamp": rfc3339(now),
        "schema_version": WEBHOOK_SCHEMA_VERSION,
        "data": data,
    })
    .to_string();
    for endpoint in endpoints {
        on_tx!(tx, e => sqlx::query(
            "INSERT INTO webhook_deliveries
                 (endpoint_id, message_id, event_type, issue_id, payload, next_attempt_at,
                  created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(endpoint)
        .bind(&message_id)
        .bind(event.as_str())
        .bind(issue_id)
        .bind(&payload)
        .bind(now)
        .execute(e)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// Makes an endpoint's waiting deliveries due at `now` (their order is kept).
async fn send_waiting_now(tx: &mut Tx, endpoint: i64, now: i64) -> AppResult<()> {
    on_tx!(tx, e => sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $1
         WHERE endpoint_id = $2 AND state = 'pending'",
    )
    .bind(now)
    .bind(endpoint)
    .execute(e)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// The webhook events one line of the audit log makes, and each one's own data.
async fn events_of(tx: &mut Tx, record: &EventRecord<'_>) -> AppResult<Vec<(WebhookEvent, Value)>> {
    Ok(match record.kind {
        "created" => {
            let mut events = vec![(WebhookEvent::IssueCreated, json!({}))];
            if record.data.get("kind").and_then(Value::as_str) == Some("feedback") {
                events.push((WebhookEvent::FeedbackReceived, json!({})));
            }
            events
        }
        "moved" => vec![(
            WebhookEvent::IssueMoved,
            json!({ "from": record.from, "to": record.to }),
        )],
        "commented" => {
            let Some(comment_id) = record.data.get("comment_id").and_then(Value::as_i64) else {
                return Ok(vec![]);
            };
            let comment: Option<(String, String, String)> = on_tx!(tx, e => sqlx::query_as(
                "SELECT author_kind, author, body FROM comments WHERE id = $1",
            )
            .bind(comment_id)
            .fetch_optional(e)
            .await)?;
            comment
                .map(|(author_kind, author, body)| {
                    let comment = json!({
                        "id": comment_id, "author": author, "author_kind": author_kind,
                        "body": body,
                    });
                    vec![(WebhookEvent::IssueCommented, json!({ "comment": comment }))]
                })
                .unwrap_or_default()
        }
        "updated" => {
            let assigned = record
                .data
                .get("fields")
                .and_then(Value::as_array)
                .is_some_and(|fields| fields.iter().any(|f| f == "assignee"));
            if assigned {
                vec![(WebhookEvent::IssueAssigned, json!({}))]
            } else {
                vec![]
            }
        }
        _ => vec![],
    })
}

/// Queues what one line of the audit log means for webhooks (called by [`EventRecord::write`]).
/// With no endpoint, it costs one read, and the event's own data is not looked up.
pub(super) async fn on_event(tx: &mut Tx, record: &EventRecord<'_>, now: i64) -> AppResult<()> {
    let listeners = listeners(tx).await?;
    if listeners.is_empty() {
        return Ok(());
    }
    let label = record.actor.label();
    for (event, data) in events_of(tx, record).await? {
        let endpoints = hearing(&listeners, event);
        enqueue_for(
            tx,
            &endpoints,
            event,
            Some(record.issue_id),
            &label,
            data,
            now,
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Adds an endpoint; answers it and its secret (shown once).
    pub async fn create_webhook(
        &self,
        admin: &str,
        input: WebhookInput,
    ) -> AppResult<(WebhookEndpoint, String)> {
        let input = input.validate()?;
        let secret = new_webhook_secret();
        let now = now_ms();
        let (id,): (i64,) = on_pool!(self, e => sqlx::query_as(
            "INSERT INTO webhook_endpoints (url, format, events, description, enabled,
                 allow_private, secret, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(&input.url)
        .bind(input.format.as_str())
        .bind(input.events_text())
        .bind(&input.description)
        .bind(input.enabled)
        .bind(input.allow_private)
        .bind(&secret)
        .bind(admin)
        .bind(now)
        .fetch_one(e)
        .await)?;
        Ok((self.webhook(id).await?, secret))
    }

    /// Every endpoint, oldest first.
    pub async fn list_webhooks(&self) -> AppResult<Vec<WebhookEndpoint>> {
        let sql = format!("{ENDPOINT_SELECT} ORDER BY e.id");
        let rows = on_pool!(self, e => sqlx::query_as::<_, EndpointRow>(&sql).fetch_all(e).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn webhook(&self, id: i64) -> AppResult<WebhookEndpoint> {
        let sql = format!("{ENDPOINT_SELECT} WHERE e.id = $1");
        on_pool!(self, e => sqlx::query_as::<_, EndpointRow>(&sql).bind(id).fetch_optional(e).await)?
            .map(Into::into)
            .ok_or_else(|| AppError::not_found(format!("webhook {id}")))
    }

    /// Changes an endpoint. Turning it on again starts afresh: the failure count is cleared
    /// and its waiting deliveries go at once, in order.
    pub async fn update_webhook(&self, id: i64, input: WebhookInput) -> AppResult<WebhookEndpoint> {
        let input = input.validate()?;
        let now = now_ms();
        let before = self.webhook(id).await?;
        let turned_on = input.enabled && !before.enabled;
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, format = $2, events = $3, description = $4,
                 enabled = $5, allow_private = $6, updated_at = $7,
                 off_reason = CASE WHEN $5 THEN NULL ELSE off_reason END,
                 failures = CASE WHEN $8 THEN 0 ELSE failures END,
                 failing_since = CASE WHEN $8 THEN NULL ELSE failing_since END
             WHERE id = $9",
        )
        .bind(&input.url)
        .bind(input.format.as_str())
        .bind(input.events_text())
        .bind(&input.description)
        .bind(input.enabled)
        .bind(input.allow_private)
        .bind(now)
        .bind(turned_on)
        .bind(id)
        .execute(e)
        .await
        .map(|_| ()))?;
        if turned_on {
            send_waiting_now(&mut tx, id, now).await?;
        }
        self.commit(tx).await?;
        self.webhook(id).await
    }

    /// Removes an endpoint and its deliveries.
    pub async fn delete_webhook(&self, id: i64) -> AppResult<()> {
        let done = on_pool!(self, e => sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(AppError::not_found(format!("webhook {id}")));
        }
        Ok(())
    }

    /// A new secret for an endpoint (answered once). The old one keeps signing alongside it
    /// for a day, so the receiver can switch without dropping a request.
    pub async fn rotate_webhook_secret(&self, id: i64) -> AppResult<String> {
        let secret = new_webhook_secret();
        let now = now_ms();
        let done = on_pool!(self, e => sqlx::query(
            "UPDATE webhook_endpoints SET old_secret = secret, old_secret_until = $1,
                 secret = $2, updated_at = $3
             WHERE id = $4",
        )
        .bind(now + WEBHOOK_ROTATION_OVERLAP_MS)
        .bind(&secret)
        .bind(now)
        .bind(id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(AppError::not_found(format!("webhook {id}")));
        }
        Ok(secret)
    }

    /// An endpoint's deliveries, newest first, `before` a delivery id when paging back.
    pub async fn webhook_deliveries(
        &self,
        endpoint: i64,
        before: Option<i64>,
        limit: i64,
    ) -> AppResult<Vec<WebhookDelivery>> {
        self.webhook(endpoint).await?;
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
             WHERE endpoint_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        Ok(
            on_pool!(self, e => sqlx::query_as::<_, WebhookDelivery>(&sql)
            .bind(endpoint)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 200))
            .fetch_all(e)
            .await)?,
        )
    }

    /// Sends a delivery again: a new delivery with the same `webhook-id` and payload, queued
    /// behind the endpoint's others.
    pub async fn redeliver_webhook(
        &self,
        endpoint: i64,
        delivery: i64,
    ) -> AppResult<WebhookDelivery> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let inserted: Option<(i64,)> = on_tx!(&mut tx, e => sqlx::query_as(
            "INSERT INTO webhook_deliveries
                 (endpoint_id, message_id, event_type, issue_id, payload, next_attempt_at,
                  created_at)
             SELECT endpoint_id, message_id, event_type, issue_id, payload, $1, $1
               FROM webhook_deliveries WHERE id = $2 AND endpoint_id = $3
             RETURNING id",
        )
        .bind(now)
        .bind(delivery)
        .bind(endpoint)
        .fetch_optional(e)
        .await)?;
        let Some((id,)) = inserted else {
            return Err(AppError::not_found(format!(
                "delivery {delivery} of webhook {endpoint}"
            )));
        };
        self.commit(tx).await?;
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
        Ok(
            on_pool!(self, e => sqlx::query_as::<_, WebhookDelivery>(&sql)
            .bind(id)
            .fetch_one(e)
            .await)?,
        )
    }

    /// Sends what waits for an endpoint now instead of at its next scheduled retry.
    pub async fn retry_webhook_now(&self, endpoint: i64) -> AppResult<WebhookEndpoint> {
        self.webhook(endpoint).await?;
        let mut tx = self.begin_write().await?;
        send_waiting_now(&mut tx, endpoint, now_ms()).await?;
        self.commit(tx).await?;
        self.webhook(endpoint).await
    }

    /// Queues a `ping` for one endpoint ("Send test event").
    pub async fn ping_webhook(&self, endpoint: i64, admin: &str) -> AppResult<()> {
        self.webhook(endpoint).await?;
        let mut tx = self.begin_write().await?;
        let ping = WebhookEvent::Ping;
        enqueue_for(&mut tx, &[endpoint], ping, None, admin, json!({}), now_ms()).await?;
        self.commit(tx).await
    }

    // ---- The sender's side ----

    /// Endpoints with a delivery due now whose lease is free (or already `sender`'s).
    pub async fn webhooks_due(&self, sender: &str) -> AppResult<Vec<i64>> {
        let now = self.db_now().await?;
        let rows: Vec<(i64,)> = on_pool!(self, e => sqlx::query_as(
            "SELECT e.id FROM webhook_endpoints e
             WHERE e.enabled AND (e.sender IS NULL OR e.sender = $1 OR e.sender_until < $2)
               AND EXISTS (SELECT 1 FROM webhook_deliveries d
                           WHERE d.endpoint_id = e.id AND d.state = 'pending'
                             AND d.next_attempt_at <= $2)",
        )
        .bind(sender)
        .bind(now)
        .fetch_all(e)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Takes (or renews) an endpoint's lease for `lease_ms`: while `sender` holds it, no other
    /// server sends to this endpoint, which keeps its deliveries in order and each sent by one.
    pub async fn lease_webhook(
        &self,
        endpoint: i64,
        sender: &str,
        lease_ms: i64,
    ) -> AppResult<Option<EndpointToSend>> {
        let now = self.db_now().await?;
        type Leased = (String, String, bool, String, Option<String>, Option<i64>);
        let row: Option<Leased> = on_pool!(self, e => sqlx::query_as(
                "UPDATE webhook_endpoints SET sender = $1, sender_until = $2
                 WHERE id = $3 AND enabled
                   AND (sender IS NULL OR sender = $1 OR sender_until < $4)
                 RETURNING url, format, allow_private, secret, old_secret, old_secret_until",
            )
            .bind(sender)
            .bind(now + lease_ms)
            .bind(endpoint)
            .bind(now)
            .fetch_optional(e)
            .await)?;
        Ok(
            row.map(|(url, format, allow_private, secret, old, old_until)| {
                let mut secrets = vec![secret];
                if let (Some(old), Some(until)) = (old, old_until) {
                    if until > now {
                        secrets.push(old);
                    }
                }
                EndpointToSend {
                    id: endpoint,
                    url,
                    format: format.parse().unwrap_or(WebhookFormat::Standard),
                    allow_private,
                    secrets,
                }
            }),
        )
    }

    /// Lets another server take the endpoint at once.
    pub async fn release_webhook(&self, endpoint: i64, sender: &str) -> AppResult<()> {
        on_pool!(self, e => sqlx::query(
            "UPDATE webhook_endpoints SET sender = NULL, sender_until = NULL
             WHERE id = $1 AND sender = $2",
        )
        .bind(endpoint)
        .bind(sender)
        .execute(e)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The endpoint's oldest pending delivery: the only one it may be sent (order).
    pub async fn next_webhook_delivery(&self, endpoint: i64) -> AppResult<Option<DeliveryToSend>> {
        Ok(on_pool!(self, e => sqlx::query_as::<_, DeliveryToSend>(
            "SELECT id, message_id, event_type, payload, attempts, next_attempt_at
             FROM webhook_deliveries WHERE endpoint_id = $1 AND state = 'pending'
             ORDER BY id LIMIT 1",
        )
        .bind(endpoint)
        .fetch_optional(e)
        .await)?)
    }

    /// Records an attempt, if `sender` still holds the endpoint (else another server has taken
    /// over, and this answer is dropped: the delivery is sent again, with the same id).
    /// A success closes the circuit; a failure schedules the retry, and a day of failures
    /// turns the endpoint off. Answers whether the endpoint is still this sender's.
    pub async fn record_webhook_attempt(
        &self,
        endpoint: i64,
        delivery: i64,
        sender: &str,
        attempt: Attempt,
    ) -> AppResult<bool> {
        let now = match attempt.at {
            0 => self.db_now().await?,
            at => at,
        };
        let error = attempt.error.as_deref().map(excerpt);
        let body = attempt.excerpt.as_deref().map(excerpt);
        let mut tx = self.begin_write().await?;
        let held: Option<(i64, Option<i64>)> = on_tx!(&mut tx, e => sqlx::query_as(
            "SELECT failures, failing_since FROM webhook_endpoints WHERE id = $1 AND sender = $2",
        )
        .bind(endpoint)
        .bind(sender)
        .fetch_optional(e)
        .await)?;
        let Some((failures, failing_since)) = held else {
            return Ok(false);
        };
        on_tx!(&mut tx, e => sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $1,
                 last_status = $2, last_latency_ms = $3, last_error = $4, response_excerpt = $5,
                 state = CASE WHEN $6 THEN 'delivered' ELSE state END,
                 delivered_at = CASE WHEN $6 THEN $1 END,
                 next_attempt_at = CASE WHEN $6 THEN next_attempt_at ELSE $7 END
             WHERE id = $8",
        )
        .bind(now)
        .bind(attempt.status)
        .bind(attempt.latency_ms)
        .bind(&error)
        .bind(&body)
        .bind(attempt.ok)
        .bind(attempt.retry_at)
        .bind(delivery)
        .execute(e)
        .await
        .map(|_| ()))?;
        if attempt.ok {
            on_tx!(&mut tx, e => sqlx::query(
                "UPDATE webhook_endpoints SET failures = 0, failing_since = NULL, last_error = NULL
                 WHERE id = $1",
            )
            .bind(endpoint)
            .execute(e)
            .await
            .map(|_| ()))?;
        } else {
            let since = failing_since.unwrap_or(now);
            let give_up = now - since >= WEBHOOK_GIVE_UP_MS;
            let reason = give_up.then(|| {
                format!(
                    "turned off after failing for a day ({} attempts in a row; last: {})",
                    failures + 1,
                    error.as_deref().unwrap_or("no answer")
                )
            });
            on_tx!(&mut tx, e => sqlx::query(
                "UPDATE webhook_endpoints SET failures = failures + 1, failing_since = $1,
                     last_error = $2, enabled = CASE WHEN $3 THEN FALSE ELSE enabled END,
                     off_reason = COALESCE($4, off_reason)
                 WHERE id = $5",
            )
            .bind(since)
            .bind(&error)
            .bind(give_up)
            .bind(&reason)
            .bind(endpoint)
            .execute(e)
            .await
            .map(|_| ()))?;
            if give_up {
                tracing::warn!(
                    endpoint,
                    "webhook endpoint turned off after a day of failures"
                );
            }
        }
        // Not `commit`: the board did not change, so live streams need not wake.
        match tx {
            super::Db::Sqlite(tx) => tx.commit().await?,
            super::Db::Postgres(tx) => tx.commit().await?,
        }
        Ok(true)
    }

    /// Drops delivered deliveries older than a month (the log keeps the rest).
    pub async fn prune_webhook_deliveries(&self) -> AppResult<u64> {
        let cutoff = now_ms() - DELIVERED_KEPT_MS;
        let done = on_pool!(self, e => sqlx::query(
            "DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_at < $1",
        )
        .bind(cutoff)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
