//! The original plugin's live channel, `GET /api/autopilot/ws`: a WebSocket that says
//! `{"type":"hello"}` and then one message per change, in the original's words
//! (`issue.created`, `issue.status`, `comment.added`, `issue.updated`), so its board page and
//! scripts built on it stay live. Autopilot's own board uses the event stream
//! (`/api/autopilot/stream`); both follow the same changes and count against the same cap of
//! live streams per person.

use super::extract::{may, Allowed};
use super::live::{changes, LiveStreams, StreamPass};
use app::domain::Event;
use app::error::AppError;
use app::store::Store;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A ping this often keeps proxies from closing a quiet socket.
const PING_EVERY: Duration = Duration::from_secs(30);

/// The most a client may send in one message or frame. The channel only talks to the client
/// (what it sends is read only to notice a close), so this is room for a ping or a close
/// with a reason; a bigger frame is refused from its header, before its payload is read,
/// and ends the socket. (The default, 64 MiB a message, let every open socket hold that much.)
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// The original's live channel: a WebSocket that says `{"type":"hello"}`, then one message
/// per change (`issue.created`, `issue.status`, `comment.added`, `issue.updated`).
#[utoipa::path(get, path = "/api/autopilot/ws", operation_id = "live_socket", tag = "live", security(("bearer" = ["read"]), ("session" = [])),
    params(
        ("Connection" = String, Header, description = "`Upgrade`", pattern = "^[Uu]pgrade$"),
        ("Upgrade" = String, Header, description = "`websocket`", pattern = "^websocket$"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes, base64", pattern = "^[A-Za-z0-9+/]{22}==$")),
    responses((status = 101, description = "Switched to the WebSocket protocol"), super::openapi::ReadErrors))]
pub async fn open(
    State(store): State<Store>,
    State(live): State<Arc<LiveStreams>>,
    Allowed(actor, _): Allowed<may::Read>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    // Not a WebSocket handshake: a 400 in the API's JSON shape, not axum's plain text.
    let upgrade = upgrade.map_err(|rejection| {
        AppError::BadRequest(format!(
            "this route is a WebSocket: open it with an upgrade request ({rejection})"
        ))
    })?;
    let pass = live.enter(&actor)?;
    let start = store.latest_event_id().await?;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| follow(socket, store, start, pass)))
}

async fn follow(mut socket: WebSocket, store: Store, start: i64, _pass: StreamPass) {
    if send(&mut socket, json!({ "type": "hello" })).await.is_err() {
        return;
    }
    let changes = changes(store, start);
    futures_util::pin_mut!(changes);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let sent = tokio::select! {
            event = changes.next() => match event {
                Some(event) => send(&mut socket, in_the_originals_words(&event)).await,
                None => break,
            },
            // What the client says is not read, only whether it is still there. A message
            // over the limit is an error here: the socket ends.
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => Ok(()),
            },
            _ = ping.tick() => socket.send(Message::Ping(Default::default())).await,
        };
        if sent.is_err() {
            break;
        }
    }
}

async fn send(socket: &mut WebSocket, message: serde_json::Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(message.to_string().into())).await
}

/// One change as the original's channel named it, with the fields its clients read.
fn in_the_originals_words(event: &Event) -> serde_json::Value {
    let data: serde_json::Value = serde_json::from_str(&event.data).unwrap_or_default();
    match event.kind.as_str() {
        "created" => {
            json!({ "type": "issue.created", "id": event.issue_id, "status": event.to_status })
        }
        "moved" => {
            json!({ "type": "issue.status", "id": event.issue_id, "status": event.to_status })
        }
        "commented" => json!({
            "type": "comment.added",
            "issue_id": event.issue_id,
            "author_kind": data.get("author_kind"),
        }),
        _ => json!({ "type": "issue.updated", "id": event.issue_id }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::Status;

    fn event(kind: &str, to: Option<Status>, data: &str) -> Event {
        Event {
            id: 1,
            issue_id: Some(7),
            actor: "Ann".into(),
            kind: kind.into(),
            from_status: None,
            to_status: to,
            data: data.into(),
            created_at: 0,
        }
    }

    #[test]
    fn changes_are_named_as_the_original_named_them() {
        let moved = in_the_originals_words(&event("moved", Some(Status::Ready), "{}"));
        assert_eq!(
            moved,
            json!({ "type": "issue.status", "id": 7, "status": "ready" })
        );
        let created = in_the_originals_words(&event("created", Some(Status::Backlog), "{}"));
        assert_eq!(created["type"], "issue.created");
        let commented =
            in_the_originals_words(&event("commented", None, r#"{"author_kind":"agent"}"#));
        assert_eq!(
            commented,
            json!({ "type": "comment.added", "issue_id": 7, "author_kind": "agent" })
        );
        let other = in_the_originals_words(&event("reordered", None, "not json"));
        assert_eq!(other, json!({ "type": "issue.updated", "id": 7 }));
    }
}
