//! The JSON API for issues, under the original plugin's paths (`/api/autopilot`) and answering
//! in shapes its clients read as well as Autopilot's own; the README's "API" section documents
//! them.

use super::extract::{may, Allowed, Json, Multipart, Path, Query};
use super::openapi::{ReadErrors, WriteErrors};
use super::AppState;
use app::domain::{
    check_agent, check_model, page_cursor, parse_cursor, AllowedAgents, AllowedModels, Attachment,
    Comment, Ignored, Issue, IssuePatch, Kind, NewIssue, Status, ASSIGNEE_MAX_CHARS,
    ATTACHMENT_MAX_BYTES, BODY_MAX_BYTES, SEARCH_MAX_CHARS,
};
use app::error::AppError;
use app::store::{IssueFilter, Store};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type ApiResult<T> = Result<T, AppError>;

/// JSON bodies: the largest legal issue body plus room for the other fields and escaping.
const JSON_BODY_LIMIT: usize = 2 * BODY_MAX_BYTES + 16 * 1024;
/// Multipart uploads: the attachment cap plus room for the multipart framing.
pub(super) const UPLOAD_BODY_LIMIT: usize = ATTACHMENT_MAX_BYTES + 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(attachments, upload))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT));
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update))
        .routes(routes!(set_status))
        .routes(routes!(comments, add_comment))
        .routes(routes!(answer))
        .routes(routes!(approve_plan))
        .routes(routes!(request_changes))
        .routes(routes!(events))
        .routes(routes!(download))
        .routes(routes!(stream))
        .routes(routes!(me))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(uploads)
}

/// The most issues the unpaged list answers (the original's call, kept for old scripts): the
/// first this many in board order. `X-Autopilot-List-Cap` says the cap on every such answer,
/// `X-Autopilot-Truncated: true` that more matched (page with `limit` to read them all).
const WHOLE_LIST_CAP: i64 = 1000;
const LIST_CAP_HEADER: &str = "x-autopilot-list-cap";
const TRUNCATED_HEADER: &str = "x-autopilot-truncated";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only issues in this column.
    status: Option<Status>,
    /// Only issues of this kind (`chore` is read as `task`).
    kind: Option<Kind>,
    /// Words to find in titles and bodies (titles only for 1 or 2 characters); `#12` finds
    /// issue 12.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only issues assigned to this person.
    #[param(max_length = 100)]
    assignee: Option<String>,
    /// Page size. With it (or a cursor) the answer is one page; without either, every issue
    /// up to 1000 (the original's call, kept for old scripts).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the previous page ended (its `next_cursor`).
    #[param(pattern = "^([1-9][0-9]{0,17})?$")]
    cursor: Option<String>,
}

/// One page of the list.
#[derive(Serialize, ToSchema)]
struct IssuePage {
    issues: Vec<Issue>,
    /// Pass it as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// What the list answers: the whole list, or one page.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the two answers for the contract; each is written directly
enum IssueList {
    All(Vec<Issue>),
    Page(IssuePage),
}

/// Page size when a cursor comes without a limit.
const DEFAULT_PAGE: i64 = 100;

/// Issues, filtered.
///
/// The whole list as a JSON array (the original's call), or with `limit` (or `cursor`) one
/// page, `{"issues": […], "next_cursor": "…" | null}` in id order.
#[utoipa::path(get, path = "/api/autopilot/issues", operation_id = "list_issues", tag = "issues", security(("bearer" = ["read"]), ("session" = [])), params(ListParams),
    responses(
        (status = 200, description = "The whole list (at most 1000, board order), or one page (id order)", body = IssueList,
            headers(
                ("x-autopilot-list-cap" = i64, description = "On the whole list: the most it holds"),
                ("x-autopilot-truncated" = String, description = "On the whole list: `true` when more issues matched than it holds")
            )),
        ReadErrors))]
async fn list(
    State(state): State<AppState>,
    _: Allowed<may::Read>,
    uri: axum::http::Uri,
    Query(params): Query<ListParams>,
) -> ApiResult<Response> {
    let store = &state.store;
    if params
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > SEARCH_MAX_CHARS)
    {
        return Err(AppError::BadRequest(format!(
            "q: at most {SEARCH_MAX_CHARS} characters"
        )));
    }
    if params
        .assignee
        .as_ref()
        .is_some_and(|a| a.chars().count() > ASSIGNEE_MAX_CHARS)
    {
        return Err(AppError::BadRequest(format!(
            "assignee: at most {ASSIGNEE_MAX_CHARS} characters"
        )));
    }
    let filter = IssueFilter {
        status: params.status,
        kind: params.kind,
        q: params.q,
        assignee: params.assignee,
    };
    let limit = match (params.limit, &params.cursor) {
        (Some(limit), _) => limit,
        (None, Some(_)) => DEFAULT_PAGE,
        (None, None) => return whole_list(&state, &filter, uri.query().unwrap_or_default()).await,
    };
    if !(1..=1000).contains(&limit) {
        return Err(AppError::BadRequest("limit must be from 1 to 1000".into()));
    }
    let after = parse_cursor(params.cursor.as_deref())
        .ok_or_else(|| AppError::BadRequest("cursor is not one this API gave out".into()))?;
    let (issues, next) = store.list_issue_page(&filter, after, limit).await?;
    let next_cursor = next.map(page_cursor);
    Ok(axum::Json(IssuePage {
        issues,
        next_cursor,
    })
    .into_response())
}

/// The original's unpaged list, kept warm until the board changes.
async fn whole_list(state: &AppState, filter: &IssueFilter, query: &str) -> ApiResult<Response> {
    let store = &state.store;
    let version = store.board_version().await?;
    let answer = state
        .warm_list
        .get_or_make(query, version, || async {
            let (issues, truncated) = store.list_issues_up_to(filter, WHOLE_LIST_CAP).await?;
            let json = serde_json::to_vec(&issues).map(Into::into).map_err(|err| {
                tracing::error!(%err, "encoding the issue list");
                AppError::Internal
            })?;
            Ok(super::warm::ListAnswer { json, truncated })
        })
        .await?;
    let mut response = ([(header::CONTENT_TYPE, "application/json")], answer.json).into_response();
    let headers = response.headers_mut();
    headers.insert(LIST_CAP_HEADER, HeaderValue::from(WHOLE_LIST_CAP));
    if answer.truncated {
        headers.insert(TRUNCATED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Files an issue by the caller, in `backlog` (or `ready`).
#[utoipa::path(post, path = "/api/autopilot/issues", operation_id = "create_issue", tag = "issues", security(("bearer" = ["write"]), ("session" = [])), request_body = NewIssue,
    responses((status = 201, description = "Filed", body = Issue, links(
            ("ReadIssue" = (operation_id = "get_issue", parameters(("id" = "$response.body#/id")))),
            ("ChangeIssue" = (operation_id = "update_issue", parameters(("id" = "$response.body#/id")))),
            ("MoveIssue" = (operation_id = "move_issue", parameters(("id" = "$response.body#/id")))),
            ("ReadComments" = (operation_id = "list_comments", parameters(("id" = "$response.body#/id")))),
            ("Comment" = (operation_id = "add_comment", parameters(("id" = "$response.body#/id")))),
            ("ReadAttachments" = (operation_id = "list_attachments", parameters(("id" = "$response.body#/id")))),
            ("Attach" = (operation_id = "upload_attachment", parameters(("id" = "$response.body#/id")))),
            ("ReadHistory" = (operation_id = "list_events", parameters(("id" = "$response.body#/id")))),
            ("ReadRuns" = (operation_id = "list_runs", parameters(("id" = "$response.body#/id")))))), WriteErrors))]
async fn create(
    State(store): State<Store>,
    State(models): State<AllowedModels>,
    State(agents): State<AllowedAgents>,
    Allowed(actor, _): Allowed<may::EditIssue>,
    Json(new): Json<NewIssue>,
) -> ApiResult<(StatusCode, axum::Json<Issue>)> {
    check_model(new.model.as_deref(), &models.0).map_err(AppError::from)?;
    check_agent(new.agent.as_deref(), &agents.0).map_err(AppError::from)?;
    let issue = store.create_issue(&actor, new).await?;
    Ok((StatusCode::CREATED, axum::Json(issue)))
}

/// Who is calling.
#[derive(Serialize, ToSchema)]
struct Me {
    /// Their display name (what `assignee` and `created_by` hold).
    name: String,
    role: app::domain::Role,
}

/// Who the caller is: what the host-app launcher (`sdk.js`) needs to pick out "my" issues.
#[utoipa::path(get, path = "/api/autopilot/me", operation_id = "me", tag = "issues", security(("bearer" = ["read"]), ("session" = [])),
    responses((status = 200, description = "The caller", body = Me), ReadErrors))]
async fn me(Allowed(actor, _): Allowed<may::Read>) -> ApiResult<axum::Json<Me>> {
    Ok(axum::Json(Me {
        name: actor.actor.name,
        role: actor.actor.role,
    }))
}

/// An issue with its thread: the issue's fields at the top level (Autopilot's shape) and the
/// same fields under `issue` (the original's).
#[derive(Serialize, ToSchema)]
struct IssueJson<'a> {
    #[serde(flatten)]
    fields: &'a Issue,
    issue: &'a Issue,
    comments: &'a [Comment],
    attachments: Vec<AttachmentJson<'a>>,
}

/// An attachment's fields, with the original's `name` (the file name) and `url` (where its
/// bytes are fetched).
#[derive(Serialize, ToSchema)]
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

/// One issue with its comments and attachments.
#[utoipa::path(get, path = "/api/autopilot/issues/{id}", operation_id = "get_issue", tag = "issues", security(("bearer" = ["read"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")),
    responses((status = 200, description = "The issue with its thread", body = IssueJson), ReadErrors))]
async fn show(
    State(store): State<Store>,
    _: Allowed<may::Read>,
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

/// Changes the fields sent; `version`, when sent, must be the issue's current one.
#[utoipa::path(patch, path = "/api/autopilot/issues/{id}", operation_id = "update_issue", tag = "issues", security(("bearer" = ["write"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")), request_body = IssuePatch,
    responses((status = 200, description = "The issue as changed", body = Issue), WriteErrors))]
async fn update(
    State(store): State<Store>,
    State(models): State<AllowedModels>,
    State(agents): State<AllowedAgents>,
    Allowed(actor, _): Allowed<may::EditIssue>,
    Path(id): Path<i64>,
    Json(patch): Json<IssuePatch>,
) -> ApiResult<axum::Json<Issue>> {
    check_model(patch.model.as_deref(), &models.0).map_err(AppError::from)?;
    check_agent(patch.agent.as_deref(), &agents.0).map_err(AppError::from)?;
    Ok(axum::Json(store.update_issue(&actor, id, patch).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: Status,
    #[serde(default, deserialize_with = "app::domain::whole_version")]
    version: Option<i64>,
}

/// Moves the issue to another column, by the transition rules.
#[utoipa::path(post, path = "/api/autopilot/issues/{id}/status", operation_id = "move_issue", tag = "issues", security(("bearer" = ["move"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")), request_body = StatusChange,
    responses((status = 200, description = "The issue as moved", body = Issue), WriteErrors))]
async fn set_status(
    State(store): State<Store>,
    Allowed(actor, _): Allowed<may::MoveIssue>,
    Path(id): Path<i64>,
    Json(change): Json<StatusChange>,
) -> ApiResult<axum::Json<Issue>> {
    let issue = store
        .move_issue(&actor, id, change.status, change.version)
        .await?;
    Ok(axum::Json(issue))
}

/// Its comments, oldest first.
#[utoipa::path(get, path = "/api/autopilot/issues/{id}/comments", operation_id = "list_comments", tag = "issues", security(("bearer" = ["read"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")),
    responses((status = 200, description = "Its comments, oldest first", body = Vec<Comment>), ReadErrors))]
async fn comments(
    State(store): State<Store>,
    _: Allowed<may::Read>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<Comment>>> {
    Ok(axum::Json(store.list_comments(id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewComment {
    /// Markdown, at most 16 KiB.
    #[schema(
        min_length = 1,
        max_length = 16384,
        pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]"
    )]
    body: String,
    /// The original's `author` and `author_kind`: the author is the caller.
    #[serde(default, rename = "author")]
    _author: Ignored,
    #[serde(default, rename = "author_kind")]
    _author_kind: Ignored,
}

/// A comment as added.
#[derive(Serialize, ToSchema)]
struct CommentAdded {
    comment: Comment,
    /// The issue after the comment (an answer to a blocked issue moves it back to ready).
    issue: Issue,
    /// Whether this comment moved the issue from blocked to ready (the original's field).
    unblocked: bool,
}

/// Adds a comment by the caller. On a blocked issue, the answer the agent waited for.
#[utoipa::path(post, path = "/api/autopilot/issues/{id}/comments", operation_id = "add_comment", tag = "issues", security(("bearer" = ["write"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")), request_body = NewComment,
    responses((status = 201, description = "Added", body = CommentAdded), WriteErrors))]
async fn add_comment(
    State(store): State<Store>,
    Allowed(actor, _): Allowed<may::Comment>,
    Path(id): Path<i64>,
    Json(new): Json<NewComment>,
) -> ApiResult<(StatusCode, axum::Json<CommentAdded>)> {
    let added = store.add_comment(&actor, id, &new.body).await?;
    let body = CommentAdded {
        comment: added.comment,
        issue: added.issue,
        unblocked: added.unblocked,
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// Answers the agent's question: the caller's comment, and the issue back to ready for a run
/// that continues from the answer (resuming the agent's session where it can). Only while the
/// issue is blocked: otherwise 409, and nothing is written.
#[utoipa::path(post, path = "/api/autopilot/issues/{id}/answer", operation_id = "answer_question", tag = "issues", security(("bearer" = ["write"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")), request_body = NewComment,
    responses((status = 201, description = "Answered", body = CommentAdded), WriteErrors))]
async fn answer(
    State(store): State<Store>,
    Allowed(actor, _): Allowed<may::Comment>,
    Path(id): Path<i64>,
    Json(new): Json<NewComment>,
) -> ApiResult<(StatusCode, axum::Json<CommentAdded>)> {
    let added = store.answer_question(&actor, id, &new.body).await?;
    let body = CommentAdded {
        comment: added.comment,
        issue: added.issue,
        unblocked: added.unblocked,
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlanApproval {
    /// The issue's version as the caller saw it; a stale one is a 409.
    #[serde(default, deserialize_with = "app::domain::whole_version")]
    version: Option<i64>,
}

/// Approves the agent's plan: the issue goes from review back to ready, and the next run
/// carries the plan out. 409 when no plan waits for approval.
#[utoipa::path(post, path = "/api/autopilot/issues/{id}/plan/approve", operation_id = "approve_plan", tag = "issues", security(("bearer" = ["move"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")), request_body = PlanApproval,
    responses((status = 200, description = "Approved: the issue as it now is", body = Issue), WriteErrors))]
async fn approve_plan(
    State(store): State<Store>,
    Allowed(actor, _): Allowed<may::MoveIssue>,
    Path(id): Path<i64>,
    Json(approval): Json<PlanApproval>,
) -> ApiResult<axum::Json<Issue>> {
    Ok(axum::Json(
        store.approve_plan(&actor, id, approval.version).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeRequest {
    /// What to change (Markdown, at most 16 KiB).
    #[schema(
        min_length = 1,
        max_length = 16384,
        pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f]"
    )]
    body: String,
    /// The issue's version as the caller saw it; a stale one is a 409.
    #[serde(default, deserialize_with = "app::domain::whole_version")]
    version: Option<i64>,
}

/// Asks for changes to what is in review (a change, or the agent's plan): the caller's
/// comment, and the issue back to ready for a run that continues from it. 409 when the issue
/// is not in review.
#[utoipa::path(post, path = "/api/autopilot/issues/{id}/request-changes", operation_id = "request_changes", tag = "issues", security(("bearer" = ["move", "write"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")), request_body = ChangeRequest,
    responses((status = 200, description = "Sent back: the comment and the issue as it now is", body = CommentAdded), WriteErrors))]
async fn request_changes(
    State(store): State<Store>,
    Allowed(actor, _): Allowed<may::MoveIssue>,
    Path(id): Path<i64>,
    Json(change): Json<ChangeRequest>,
) -> ApiResult<axum::Json<CommentAdded>> {
    actor.require(app::domain::Action::Comment)?;
    let (comment, issue) = store
        .request_changes(&actor, id, change.version, &change.body)
        .await?;
    Ok(axum::Json(CommentAdded {
        comment,
        issue,
        unblocked: false,
    }))
}

/// Its attachments.
#[utoipa::path(get, path = "/api/autopilot/issues/{id}/attachments", operation_id = "list_attachments", tag = "issues", security(("bearer" = ["read"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")),
    responses((status = 200, description = "Its attachments (metadata; `url` fetches the bytes)", body = Vec<AttachmentJson>), ReadErrors))]
async fn attachments(
    State(store): State<Store>,
    _: Allowed<may::Read>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    store.get_issue(id).await?;
    let attachments = store.list_attachments(id).await?;
    let body: Vec<AttachmentJson> = attachments.iter().map(Into::into).collect();
    Ok(axum::Json(body).into_response())
}

/// The upload form: one file in the field `file`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the multipart body for the contract; read field by field
struct Upload {
    /// The file (its name and type are taken from the part's headers); not empty.
    #[schema(value_type = String, format = Binary, min_length = 1)]
    file: Vec<u8>,
}

/// Takes the multipart field named `file` (up to 25 MiB, within the board's quota).
#[utoipa::path(post, path = "/api/autopilot/issues/{id}/attachments", operation_id = "upload_attachment", tag = "issues", security(("bearer" = ["write"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")),
    request_body(content = Upload, content_type = "multipart/form-data"),
    responses((status = 201, description = "Stored", body = AttachmentJson), WriteErrors))]
async fn upload(
    State(store): State<Store>,
    Allowed(actor, _): Allowed<may::Attach>,
    Path(id): Path<i64>,
    Multipart(mut multipart): Multipart,
) -> ApiResult<Response> {
    store.get_issue(id).await?;
    // Exactly one part, the file: another part is a mistake worth saying, not skipping.
    let mut file = None;
    while let Some(field) = multipart.next_field().await? {
        if field.name() != Some("file") || file.is_some() {
            return Err(AppError::BadRequest(
                "send one file and nothing else, in a multipart/form-data field named 'file'"
                    .into(),
            ));
        }
        let filename = field.file_name().unwrap_or("upload").to_string();
        let content_type = field.content_type().map(str::to_string);
        file = Some((filename, content_type, field.bytes().await?));
    }
    let Some((filename, content_type, bytes)) = file else {
        return Err(AppError::BadRequest(
            "send the file in a multipart/form-data field named 'file'".into(),
        ));
    };
    let attachment = store
        .add_attachment(&actor, id, &filename, content_type.as_deref(), &bytes)
        .await?;
    let body = AttachmentJson::from(&attachment);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Always a download, never rendered by the browser: an uploaded HTML or SVG file must not run
/// as a page of the board.
#[utoipa::path(get, path = "/api/autopilot/uploads/{id}", operation_id = "download_attachment", tag = "issues", security(("bearer" = ["read"]), ("session" = [])),
    params(("id" = i64, Path, description = "The attachment's id")),
    responses((status = 200, description = "The file's bytes, as a download, with the content type it was uploaded with", content_type = "*/*", body = Vec<u8>), ReadErrors))]
async fn download(
    State(store): State<Store>,
    _: Allowed<may::Read>,
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

/// Its history: every change, oldest first.
#[utoipa::path(get, path = "/api/autopilot/issues/{id}/events", operation_id = "list_events", tag = "issues", security(("bearer" = ["read"]), ("session" = [])), params(("id" = i64, Path, description = "The issue's id")),
    responses((status = 200, description = "Its history", body = Vec<app::domain::Event>), ReadErrors))]
async fn events(
    State(store): State<Store>,
    _: Allowed<may::Read>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<app::domain::Event>>> {
    store.get_issue(id).await?;
    Ok(axum::Json(store.list_events(id).await?))
}

/// Live changes as Server-Sent Events.
///
/// One `change` event per `events` row, with the row's id as the SSE id. A reconnecting
/// browser sends `Last-Event-ID` and resumes right after it; a new stream starts at the
/// newest event.
#[utoipa::path(get, path = "/api/autopilot/stream", operation_id = "stream_changes", tag = "live", security(("bearer" = ["read"]), ("session" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (browsers send it when they reconnect)")),
    responses((status = 200, description = "`change` events, each an `Event` as JSON, with the event's id as the SSE id; never ends", content_type = "text/event-stream", body = String), ReadErrors))]
async fn stream(
    State(store): State<Store>,
    State(live): State<std::sync::Arc<super::live::LiveStreams>>,
    Allowed(actor, _): Allowed<may::Read>,
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
