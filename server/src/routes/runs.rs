//! The runner's records, read by people: an issue's runs, and one run's log, live. The log
//! is Server-Sent Events for browsers (`log` events with the new text, then `end`) and plain
//! text for everyone else.

use super::extract::{may, Allowed, Path};
use super::openapi::ReadErrors;
use super::AppState;
use app::domain::Run;
use app::error::AppError;
use app::store::Store;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(runs))
        .routes(routes!(log))
}

/// The agent's runs on an issue, oldest first.
#[utoipa::path(get, path = "/api/autopilot/issues/{id}/runs", operation_id = "list_runs", tag = "runs", security(("bearer" = ["read"]), ("session" = [])),
    params(("id" = i64, Path, description = "The issue's id")),
    responses((status = 200, description = "Its runs", body = Vec<Run>), ReadErrors))]
async fn runs(
    State(store): State<Store>,
    _: Allowed<may::Read>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Run>>, AppError> {
    store.get_issue(id).await?;
    Ok(axum::Json(store.runs_for_issue(id).await?))
}

/// A run's log: plain text, or with `Accept: text/event-stream` live (`log` events with the
/// new text, then one `end`).
#[utoipa::path(get, path = "/api/autopilot/runs/{id}/log", operation_id = "run_log", tag = "runs", security(("bearer" = ["read"]), ("session" = [])),
    params(("id" = i64, Path, description = "The run's id")),
    responses((status = 200, description = "The log so far", content(
        (String = "text/plain"),
        (String = "text/event-stream"))), ReadErrors))]
async fn log(
    State(store): State<Store>,
    State(live): State<std::sync::Arc<super::live::LiveStreams>>,
    Allowed(actor, _): Allowed<may::Read>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    // One read answers both: the whole log as text, or the first event of the stream.
    let first = store.run_log_since(id, 0).await?;
    if !crate::http::wants_event_stream(&headers) {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            first.0,
        )
            .into_response());
    }
    let cursor = LogCursor {
        _pass: live.enter(&actor)?,
        changes: store.subscribe_run_logs(),
        store,
        id,
        sent: 0,
        pending: Some(first),
        ended: false,
    };
    let events = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next_event().await?;
        Some((Ok::<_, std::convert::Infallible>(event), cursor))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Where one reader of a run's log is.
struct LogCursor {
    store: Store,
    id: i64,
    changes: tokio::sync::watch::Receiver<u64>,
    /// Characters already sent.
    sent: i64,
    /// A read not yet sent (the one made before the stream began).
    pending: Option<(String, i64, bool)>,
    ended: bool,
    /// This stream's place among its person's live streams.
    _pass: super::live::StreamPass,
}

impl LogCursor {
    /// The log's next part, then `end` once the run is over and everything was sent; `None`
    /// closes the stream.
    async fn next_event(&mut self) -> Option<SseEvent> {
        if self.ended {
            return None;
        }
        loop {
            let read = match self.pending.take() {
                Some(read) => read,
                None => self.store.run_log_since(self.id, self.sent).await.ok()?,
            };
            match read {
                (more, length, _) if !more.is_empty() => {
                    self.sent = length;
                    // SSE cannot carry a carriage return inside data.
                    return Some(
                        SseEvent::default()
                            .event("log")
                            .data(more.replace('\r', "")),
                    );
                }
                (_, _, true) => {
                    self.ended = true;
                    // Browsers drop events without data, so `end` carries a word.
                    return Some(SseEvent::default().event("end").data("end"));
                }
                _ => {
                    tokio::select! {
                        changed = self.changes.changed() => changed.ok()?,
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                }
            }
        }
    }
}
