//! The JSON API for issues, under the original plugin's paths (`/api/autopilot`) and answering
//! in shapes its clients read as well as Autopilot's own; the README's "API" section documents
//! them.

use super::extract::{CurrentActor, Json, Multipart, Path, Query};
use super::AppState;
use app::domain::{
    check_model, page_cursor, parse_cursor, AllowedModels, Attachment, Comment, Ignored, Issue,
    IssuePatch, Kind, NewIssue, Status, ATTACHMENT_MAX_BYTES, BODY_MAX_BYTES,
};
use app::error::AppError;
use app::store::{IssueFilter, Store};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

type ApiResult<T> = Result<T, AppError>;

/// JSON bodies: the largest legal issue body plus room for the other fields and escaping.
const JSON_BODY_LIMIT: usize = 2 * BODY_MAX_BYTES + 16 * 1024;
/// Multipart uploads: the attachment cap plus room for the multipart framing.
pub(super) const UPLOAD_BODY_LIMIT: usize = ATTACHMENT_MAX_BYTES + 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/autopilot/issues", get(list).post(create))
        .route("/api/autopilot/issues/{id}", get(show).patch(update))
        .route("/api/autopilot/issues/{id}/status", post(set_status))
        .route(
            "/api/autopilot/issues/{id}/comments",
            get(comments).post(add_comment),
        )
        .route(
            "/api/autopilot/issues/{id}/attachments",
            get(attachments)
                .post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route("/api/autopilot/issues/{id}/events", get(events))
        .route("/api/autopilot/uploads/{id}", get(download))
        .route("/api/autopilot/stream", get(stream))
        .route("/api/autopilot/me", get(me))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

/// The most issues the unpaged list answers (the original's call, kept for old scripts): the
/// first this many in board order. `X-Autopilot-List-Cap` says the cap on every such answer,
/// `X-Autopilot-Truncated: true` that more matched (page with `limit` to read them all).
const WHOLE_LIST_CAP: i64 = 1000;
const LIST_CAP_HEADER: &str = "x-autopilot-list-cap";
const TRUNCATED_HEADER: &str = "x-autopilot-truncated";

#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<Status>,
    kind: Option<Kind>,
    q: Option<String>,
    assignee: Option<String>,
    /// Page size (1 to 1000). With it the answer is one page; without it, every issue up to
    /// [`WHOLE_LIST_CAP`] (the original's call, kept for old scripts).
    limit: Option<i64>,
    /// Where the previous page ended (its `next_cursor`).
    cursor: Option<String>,
}

/// Issues, filtered: the whole list as a JSON array, or with `limit` one page,
/// `{"issues": […], "next_cursor": "…" | null}` in id order.
async fn list(
    State(state): State<AppState>,
    CurrentActor(_): CurrentActor,
    uri: axum::http::Uri,
    Query(params): Query<ListParams>,
) -> ApiResult<Response> {
    let store = &state.store;
    let filter = IssueFilter {
        status: params.status,
        kind: params.kind,
        q: params.q,
        assignee: params.assignee,
    };
    let Some(limit) = params.limit else {
        if params.cursor.is_some() {
            return Err(AppError::BadRequest("cursor goes with limit".into()));
        }
        let version = store.board_version().await?;
        let query = uri.query().unwrap_or_default();
        let answer = state
            .warm_list
            .get_or_make(query, version, || async {
                let (issues, truncated) = store.list_issues_up_to(&filter, WHOLE_LIST_CAP).await?;
                let json = serde_json::to_vec(&issues).map(Into::into).map_err(|err| {
                    tracing::error!(%err, "encoding the issue list");
                    AppError::Internal
                })?;
                Ok(super::warm::ListAnswer { json, truncated })
            })
            .await?;
        let mut response =
            ([(header::CONTENT_TYPE, "application/json")], answer.json).into_response();
        let headers = response.headers_mut();
        headers.insert(LIST_CAP_HEADER, HeaderValue::from(WHOLE_LIST_CAP));
        if answer.truncated {
            headers.insert(TRUNCATED_HEADER, HeaderValue::from_static("true"));
        }
        return Ok(response);
    };
    if !(1..=1000).contains(&limit) {
        return Err(AppError::BadRequest("limit must be from 1 to 1000".into()));
    }
    let after = parse_cursor(params.cursor.as_deref())
        .ok_or_else(|| AppError::BadRequest("cursor is not one this API gave out".into()))?;
    let (issues, next) = store.list_issue_page(&filter, after, limit).await?;
    let next_cursor = next.map(page_cursor);
    Ok(
        axum::Json(serde_json::json!({ "issues": issues, "next_cursor": next_cursor }))
            .into_response(),
    )
}

async fn create(
    State(store): State<Store>,
    State(models): State<AllowedModels>,
    CurrentActor(actor): CurrentActor,
    Json(new): Json<NewIssue>,
) -> ApiResult<(StatusCode, axum::Json<Issue>)> {
    check_model(new.model.as_deref(), &models.0).map_err(AppError::from)?;
    let issue = store.create_issue(&actor, new).await?;
    Ok((StatusCode::CREATED, axum::Json(issue)))
}

/// Who the caller is: what the host-app launcher (`sdk.js`) needs to pick out "my" issues.
async fn me(CurrentActor(actor): CurrentActor) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "name": actor.name, "role": actor.role }))
}

/// An issue with its thread: the issue's fields at the top level (Autopilot's shape) and the
/// same fields under `issue` (the original's).
#[derive(Serialize)]
struct IssueJson<'a> {
    #[serde(flatten)]
    fields: &'a Issue,
    issue: &'a Issue,
    comments: &'a [Comment],
    attachments: Vec<AttachmentJson<'a>>,
}

/// An attachment's fields, with the original's `name` (the file name) and `url` (where its
/// bytes are fetched).
#[derive(Serialize)]
struct AttachmentJson<'a> {
    #[serde(flatten)]
    fields: &'a Attachment,
    name: &'a str,
    url: String,
}

impl<'a> From<&'a Attachment> for AttachmentJson<'a> {
    fn from(attachment: &'a Attachment) -> Self {
        AttachmentJson {
            fields: attachment,
            name: &attachment.filename,
            url: attachment.url(),
        }
    }
}

async fn show(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let detail = store.issue_detail(id).await?;
    let body = IssueJson {
        fields: &detail.issue,
        issue: &detail.issue,
        comments: &detail.comments,
        attachments: detail.attachments.iter().map(Into::into).collect(),
    };
    Ok(axum::Json(body).into_response())
}

async fn update(
    State(store): State<Store>,
    State(models): State<AllowedModels>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
    Json(patch): Json<IssuePatch>,
) -> ApiResult<axum::Json<Issue>> {
    check_model(patch.model.as_deref(), &models.0).map_err(AppError::from)?;
    Ok(axum::Json(store.update_issue(&actor, id, patch).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: Status,
    version: Option<i64>,
}

async fn set_status(
    State(store): State<Store>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
    Json(change): Json<StatusChange>,
) -> ApiResult<axum::Json<Issue>> {
    let issue = store
        .move_issue(&actor, id, change.status, change.version)
        .await?;
    Ok(axum::Json(issue))
}

async fn comments(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<Comment>>> {
    Ok(axum::Json(store.list_comments(id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComment {
    body: String,
    /// The original's `author` and `author_kind`: the author is the caller.
    #[serde(default, rename = "author")]
    _author: Ignored,
    #[serde(default, rename = "author_kind")]
    _author_kind: Ignored,
}

/// `{"comment", "issue", "unblocked"}`: `unblocked` says this answer moved the issue from
/// blocked to ready (the original's field).
async fn add_comment(
    State(store): State<Store>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
    Json(new): Json<NewComment>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    let added = store.add_comment(&actor, id, &new.body).await?;
    let body = serde_json::json!({
        "comment": added.comment,
        "issue": added.issue,
        "unblocked": added.unblocked,
    });
    Ok((StatusCode::CREATED, axum::Json(body)))
}

async fn attachments(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    store.get_issue(id).await?;
    let attachments = store.list_attachments(id).await?;
    let body: Vec<AttachmentJson> = attachments.iter().map(Into::into).collect();
    Ok(axum::Json(body).into_response())
}

/// Takes the multipart field named `file`.
async fn upload(
    State(store): State<Store>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
    Multipart(mut multipart): Multipart,
) -> ApiResult<Response> {
    store.get_issue(id).await?;
    while let Some(field) = multipart.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().unwrap_or("upload").to_string();
        let content_type = field.content_type().map(str::to_string);
        let bytes = field.bytes().await?;
        let attachment = store
            .add_attachment(&actor, id, &filename, content_type.as_deref(), &bytes)
            .await?;
        let body = AttachmentJson::from(&attachment);
        return Ok((StatusCode::CREATED, axum::Json(body)).into_response());
    }
    Err(AppError::BadRequest(
        "send the file in a multipart/form-data field named 'file'".into(),
    ))
}

/// Always a download, never rendered by the browser: an uploaded HTML or SVG file must not run
/// as a page of the board.
async fn download(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let (attachment, bytes) = store.get_attachment(id).await?;
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&attachment.filename))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=3600"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

async fn events(
    State(store): State<Store>,
    CurrentActor(_): CurrentActor,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<app::domain::Event>>> {
    store.get_issue(id).await?;
    Ok(axum::Json(store.list_events(id).await?))
}

/// Live changes as Server-Sent Events: one `change` event per `events` row, with the row's id
/// as the SSE id. A reconnecting browser sends `Last-Event-ID` and resumes right after it; a
/// new stream starts at the newest event.
async fn stream(
    State(store): State<Store>,
    State(live): State<std::sync::Arc<super::live::LiveStreams>>,
    CurrentActor(actor): CurrentActor,
    headers: axum::http::HeaderMap,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>>>> {
    let pass = live.enter(&actor)?;
    let resume_after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let start = match resume_after {
        Some(id) => id,
        None => store.latest_event_id().await?,
    };
    let events = super::live::changes(store, start).map(move |event| {
        // The pass lives as long as the stream: dropped with it when the client goes away.
        let _held = &pass;
        let sse = SseEvent::default()
            .id(event.id.to_string())
            .event("change")
            .json_data(&event)
            .unwrap_or_else(|_| SseEvent::default().event("change"));
        Ok(sse)
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266 / RFC 5987).
fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    let encoded = app::percent::header_value(filename);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn content_disposition_is_always_an_attachment_with_a_safe_name() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("été 1.png"),
            "attachment; filename=\"_t_ 1.png\"; filename*=UTF-8''%C3%A9t%C3%A9%201.png"
        );
    }
}
