//! The runner's records, read by people: an issue's runs, and one run's log, live. The log
//! is Server-Sent Events for browsers (`log` events with the new text, then `end`) and plain
//! text for everyone else.

use super::extract::{CurrentActor, Path};
use super::AppState;
use app::domain::Run;
use app::error::AppError;
use app::store::Store;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/autopilot/issues/{id}/runs", get(runs))
        .route("/api/autopilot/runs/{id}/log", get(log))
}

async fn runs(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
) -> Result<axum::Json<Vec<Run>>, AppError> {
    store.get_issue(id).await?;
    Ok(axum::Json(store.runs_for_issue(id).await?))
}

async fn log(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (text, _, _) = store.run_log_since(id, 0).await?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_stream {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            text,
        )
            .into_response());
    }
    let changes = store.subscribe_run_logs();
    // State: where the reader is (characters sent), and whether the end was sent.
    let state = (store, id, 0i64, changes, false);
    let events =
        futures_util::stream::unfold(state, |(store, id, sent, mut changes, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match store.run_log_since(id, sent).await {
                    Ok((more, length, _)) if !more.is_empty() => {
                        // SSE cannot carry a carriage return inside data.
                        let event = SseEvent::default()
                            .event("log")
                            .data(more.replace('\r', ""));
                        return Some((
                            Ok::<_, std::convert::Infallible>(event),
                            (store, id, length, changes, false),
                        ));
                    }
                    Ok((_, _, true)) => {
                        // Browsers drop events without data, so `end` carries a word.
                        let event = SseEvent::default().event("end").data("end");
                        return Some((Ok(event), (store, id, sent, changes, true)));
                    }
                    Ok(_) => {
                        tokio::select! {
                            changed = changes.changed() => if changed.is_err() { return None },
                            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        }
                    }
                    Err(_) => return None,
                }
            }
        });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}
