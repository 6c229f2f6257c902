//! The board as a Model Context Protocol server at `/mcp` (Streamable HTTP, stateless), on the
//! official SDK (`rmcp`): a teammate's own coding agent (Claude Code, Codex, Gemini CLI,
//! Cursor) searches, reads, files, comments on and moves issues as that person.
//!
//! Only a bearer token with the `mcp` scope gets in (no cookie: a page cannot be tricked into
//! calling it). Inside, the person's role and the board's rules decide as everywhere else:
//! each tool goes through the store, whose transition table and validation refuse what the
//! JSON API refuses; a refusal is a tool error with the reason, and nothing changes.

use super::AppState;
use app::domain::{
    Action, Caller, Credential, Issue, IssuePatch, Kind, NewIssue, Priority, Scope, Scopes, Status,
};
use app::error::AppError;
use app::store::{IssueFilter, Store};
use axum::extract::{Request, State};
use axum::http::{header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde::Deserialize;
use serde_json::{json, Value};
use std::borrow::Cow;
use tower::ServiceExt;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The revisions served: 2026-07-28 (stateless, `server/discover`), and the two before it
/// for clients that still open with `initialize`.
const VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// Largest request the MCP endpoint reads (an issue body is at most 64 KiB).
const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Most issues one list call returns.
const MAX_PAGE: i64 = 100;

// The tools' arguments: an optional one is left out, never `null`, so its schema is one type
// (some clients, Gemini's function declarations among them, take no `[T, "null"]`).

/// The person behind the request, put there by [`require_mcp_token`].
#[derive(Clone)]
struct McpCaller(Caller);

/// The SDK's service: stateless, one server per request.
type McpService = StreamableHttpService<Board, NeverSessionManager>;

/// `/mcp`, behind its own authentication (it takes no session cookie).
pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let store = state.store.clone();
    let tools = Board::tool_router();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        // The whole app answers only to its own host (`known_host`), this route included.
        .disable_allowed_hosts();
    let service: McpService = StreamableHttpService::new(
        move || {
            Ok(Board {
                store: store.clone(),
                tool_router: tools.clone(),
            })
        },
        std::sync::Arc::new(NeverSessionManager::default()),
        config,
    );
    OpenApiRouter::new()
        .routes(routes!(serve))
        .layer(Extension(service))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_mcp_token,
        ))
}

/// The Model Context Protocol over Streamable HTTP (revision 2026-07-28, stateless; clients
/// that open with `initialize` at 2025-06-18 or 2025-11-25 are answered too). The body is a
/// JSON-RPC 2.0 message; send `Accept: application/json, text/event-stream`. The tools:
/// `list_issues`, `get_issue`, `create_issue`, `add_comment`, `move_issue`, `set_fields`,
/// `waiting_for_people` (see `tools/list`). A bearer token with the `mcp` scope only.
#[utoipa::path(post, path = "/mcp", operation_id = "mcp", tag = "mcp",
    security(("bearer" = ["mcp"])),
    request_body(content = JsonRpcMessage, content_type = "application/json",
        description = "A JSON-RPC 2.0 request (with an `id`) or notification"),
    responses(
        (status = 200, description = "The JSON-RPC answer (a tool refused is a result with `isError: true`)", content_type = "application/json", body = Object),
        (status = 202, description = "A notification, taken"),
        (status = 400, description = "Not a JSON-RPC message this server takes, or the revision's headers do not match it"),
        (status = 401, description = "No valid token (`unauthorized`); the `WWW-Authenticate` header says so", content_type = "application/json", body = app::error::ErrorBody),
        (status = 403, description = "A token without the `mcp` scope (`forbidden`: `this token lacks the \"mcp\" scope`)", content_type = "application/json", body = app::error::ErrorBody),
        (status = 404, description = "A method this revision does not have"),
        (status = 413, description = "The message is over 256 KiB"),
        (status = 415, description = "The body is not `application/json`"),
    ))]
async fn serve(Extension(service): Extension<McpService>, mut request: Request) -> Response {
    // Answers are always JSON here (no event stream): a client that takes only JSON, or says
    // nothing, is served too.
    request.headers_mut().insert(
        header::ACCEPT,
        header::HeaderValue::from_static("application/json, text/event-stream"),
    );
    match service.oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    }
}

/// A JSON-RPC 2.0 message, as the contract describes it (the SDK reads it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the body for the contract
struct JsonRpcMessage {
    jsonrpc: JsonRpcVersion,
    /// Present on a request, absent on a notification.
    #[schema(nullable = false)]
    id: Option<RequestId>,
    /// `tools/list`, `tools/call`, `server/discover`, `initialize`, … (any other is a JSON-RPC
    /// error, "method not found").
    method: String,
    params: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

/// A request's id: a number or a string.
#[derive(utoipa::ToSchema, serde::Serialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum RequestId {
    Number(i64),
    Text(String),
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
enum JsonRpcVersion {
    #[schema(rename = "2.0")]
    V2,
}

/// A bearer token with the `mcp` scope, or 401/403 (the board's error body) with a
/// `WWW-Authenticate` challenge.
async fn require_mcp_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let challenge = |error: AppError, code: &str| {
        let value = if code.is_empty() {
            r#"Bearer realm="autopilot""#.to_string()
        } else {
            format!(r#"Bearer realm="autopilot", error="{code}", scope="mcp""#)
        };
        let mut response = error.into_response();
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return challenge(AppError::Unauthorized, "");
    }
    let (mut parts, body) = request.into_parts();
    let caller = match app::auth::authenticate(&parts, &state.store, state.auth.policy).await {
        Ok(caller) if matches!(caller.credential, Credential::Token(_)) => caller,
        Ok(_) | Err(AppError::Unauthorized) => {
            return challenge(AppError::Unauthorized, "invalid_token")
        }
        Err(err) => return err.into_response(),
    };
    if !caller.scopes.contains(Scope::Mcp) {
        let refused = AppError::Forbidden("this token lacks the \"mcp\" scope".into());
        return challenge(refused, "insufficient_scope");
    }
    // Through MCP the token acts as its person would on the board (read, write, move); what
    // only admins may do stays with the `admin` scope.
    let mut scopes = Scopes::none()
        .with(Scope::Read)
        .with(Scope::Write)
        .with(Scope::Move);
    if caller.scopes.contains(Scope::Admin) {
        scopes = scopes.with(Scope::Admin);
    }
    let caller = Caller { scopes, ..caller };
    parts.extensions.insert(McpCaller(caller));
    next.run(Request::from_parts(parts, body)).await
}

/// The MCP server: the store, and the tools built once.
#[derive(Clone)]
struct Board {
    store: Store,
    tool_router: ToolRouter<Board>,
}

/// The person calling, as the auth layer found them.
fn caller(ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    ctx.extensions
        .get::<Parts>()
        .and_then(|parts| parts.extensions.get::<McpCaller>())
        .map(|c| c.0.clone())
        .ok_or_else(|| ErrorData::internal_error("no caller on the request", None))
}

/// A store answer as a tool result: the value as structured content; a refusal (a rule, a
/// stale version, an unknown issue, a missing right) as a tool error with its reason; only a
/// failure of the server itself as a protocol error.
fn answer(result: Result<Value, AppError>) -> Result<CallToolResult, ErrorData> {
    match result {
        Ok(value) => Ok(CallToolResult::structured(value)),
        Err(AppError::Internal | AppError::Transport(_)) => Err(ErrorData::internal_error(
            "something went wrong on the server",
            None,
        )),
        Err(err) => Ok(CallToolResult::error(vec![ContentBlock::text(
            err.to_string(),
        )])),
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, AppError> {
    serde_json::to_value(value).map_err(|_| AppError::Internal)
}

fn parse<T: std::str::FromStr>(field: &str, text: Option<&str>) -> Result<Option<T>, AppError> {
    text.map(|t| parse_one(field, t)).transpose()
}

fn parse_one<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, AppError> {
    text.trim()
        .parse::<T>()
        .map_err(|_| AppError::BadRequest(format!("{field}: unknown value {text:?}")))
}

/// An issue as lists show it: no body, no result.
fn summary(issue: &Issue) -> Value {
    json!({
        "id": issue.id,
        "title": issue.title,
        "status": issue.status,
        "kind": issue.kind,
        "priority": issue.priority,
        "assignee": issue.assignee,
        "human_only": issue.human_only,
        "question": issue.question,
        "plan_state": issue.plan_state,
        "pr_url": issue.pr_url,
        "pr_checks": issue.pr_checks,
        "version": issue.version,
        "updated_at": issue.updated_at,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ListArgs {
    /// Only issues in this column: backlog, ready, in_progress, blocked, in_review or done.
    #[serde(default)]
    #[schemars(with = "String")]
    status: Option<String>,
    /// Only issues of this kind: task, bug, feature or feedback.
    #[serde(default)]
    #[schemars(with = "String")]
    kind: Option<String>,
    /// Words to find in titles and bodies (titles only for 1 or 2 characters; `#12` finds
    /// issue 12).
    #[serde(default)]
    #[schemars(with = "String")]
    q: Option<String>,
    /// Only issues assigned to this person (their display name).
    #[serde(default)]
    #[schemars(with = "String")]
    assignee: Option<String>,
    /// How many (1 to 100; 20 when left out).
    #[serde(default)]
    #[schemars(with = "i64")]
    limit: Option<i64>,
    /// Where the previous page ended: its `next_cursor`.
    #[serde(default)]
    #[schemars(with = "i64")]
    cursor: Option<i64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct IssueArgs {
    /// The issue's number.
    id: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct CreateArgs {
    /// One line, at most 200 characters.
    title: String,
    /// Markdown, at most 64 KiB.
    #[serde(default)]
    #[schemars(with = "String")]
    body: Option<String>,
    /// task (the default), bug, feature or feedback.
    #[serde(default)]
    #[schemars(with = "String")]
    kind: Option<String>,
    /// low, normal (the default), high or urgent.
    #[serde(default)]
    #[schemars(with = "String")]
    priority: Option<String>,
    /// backlog (the default) or ready (the agent may take it).
    #[serde(default)]
    #[schemars(with = "String")]
    status: Option<String>,
    /// Kept from the agent: only people work on it.
    #[serde(default)]
    #[schemars(with = "bool")]
    human_only: Option<bool>,
    /// The agent plans first, and works once a person approves the plan.
    #[serde(default)]
    #[schemars(with = "bool")]
    plan_first: Option<bool>,
    /// Issue numbers it waits for.
    #[serde(default)]
    #[schemars(with = "Vec<i64>")]
    depends_on: Option<Vec<i64>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct CommentArgs {
    /// The issue's number.
    id: i64,
    /// Markdown, at most 16 KiB. On a blocked issue it answers the agent and sends the issue
    /// back to ready.
    body: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MoveArgs {
    /// The issue's number.
    id: i64,
    /// The column to move it to: backlog, ready, in_progress, blocked, in_review or done.
    /// The board's transition rules decide; a refusal says who may make the move.
    to: String,
    /// The version last read (from get_issue); a stale one is refused, nothing changes.
    #[serde(default)]
    #[schemars(with = "i64")]
    version: Option<i64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct FieldsArgs {
    /// The issue's number.
    id: i64,
    #[serde(default)]
    #[schemars(with = "String")]
    title: Option<String>,
    /// Markdown, at most 64 KiB.
    #[serde(default)]
    #[schemars(with = "String")]
    body: Option<String>,
    /// task, bug, feature or feedback.
    #[serde(default)]
    #[schemars(with = "String")]
    kind: Option<String>,
    /// low, normal, high or urgent.
    #[serde(default)]
    #[schemars(with = "String")]
    priority: Option<String>,
    /// A person's display name; an empty string clears it.
    #[serde(default)]
    #[schemars(with = "String")]
    assignee: Option<String>,
    #[serde(default)]
    #[schemars(with = "bool")]
    human_only: Option<bool>,
    #[serde(default)]
    #[schemars(with = "bool")]
    plan_first: Option<bool>,
    /// The whole list of issue numbers it waits for (`[]` clears it).
    #[serde(default)]
    #[schemars(with = "Vec<i64>")]
    depends_on: Option<Vec<i64>>,
    /// The version last read (from get_issue); a stale one is refused, nothing changes.
    #[serde(default)]
    #[schemars(with = "i64")]
    version: Option<i64>,
}

#[tool_router]
impl Board {
    #[tool(
        description = "Search and list the board's issues, newest changes last, a page at a time. \
                       Filter by column (status), kind, words (q) or assignee; pass next_cursor \
                       back as cursor for the next page.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_issues(
        &self,
        Parameters(args): Parameters<ListArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        answer(self.list(&who, args).await)
    }

    #[tool(
        description = "One issue in full: its fields, body, comments (oldest first), and its \
                       latest agent run (outcome, kind, cost, branch, pull request, and the files \
                       its change touched).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_issue(
        &self,
        Parameters(args): Parameters<IssueArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        answer(self.detail(&who, args.id).await)
    }

    #[tool(
        description = "File a new issue (in backlog unless status is ready). Returns it with its \
                       number.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_issue(
        &self,
        Parameters(args): Parameters<CreateArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        answer(self.create(&who, args).await)
    }

    #[tool(
        description = "Comment on an issue. A comment on a blocked issue answers the agent's \
                       question and sends the issue back to ready.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn add_comment(
        &self,
        Parameters(args): Parameters<CommentArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        let added = async {
            who.require(Action::Comment)?;
            let added = self.store.add_comment(&who, args.id, &args.body).await?;
            Ok(json!({
                "comment": to_value(&added.comment)?,
                "issue": summary(&added.issue),
                "unblocked": added.unblocked,
            }))
        };
        answer(added.await)
    }

    #[tool(
        description = "Move an issue to another column. The board's rules decide who may make \
                       which move (only the runner finishes agent work; only people approve); a \
                       refused move says why and changes nothing.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn move_issue(
        &self,
        Parameters(args): Parameters<MoveArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        let moved = async {
            who.require(Action::MoveIssue)?;
            let to: Status = parse_one("to", &args.to)?;
            let issue = self
                .store
                .move_issue(&who, args.id, to, args.version)
                .await?;
            Ok(summary(&issue))
        };
        answer(moved.await)
    }

    #[tool(
        description = "Change an issue's fields: title, body, kind, priority, assignee, human \
                       only, plan first, or what it depends on. Fields left out stay as they are.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn set_fields(
        &self,
        Parameters(args): Parameters<FieldsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        let edited = async {
            who.require(Action::EditIssue)?;
            let patch = IssuePatch {
                title: args.title,
                body: args.body,
                kind: parse::<Kind>("kind", args.kind.as_deref())?,
                priority: parse::<Priority>("priority", args.priority.as_deref())?,
                human_only: args.human_only,
                assignee: args.assignee,
                depends_on: args.depends_on,
                plan_first: args.plan_first,
                version: args.version,
                ..IssuePatch::default()
            };
            let issue = self.store.update_issue(&who, args.id, patch).await?;
            to_value(&issue)
        };
        answer(edited.await)
    }

    #[tool(
        description = "What waits for a person: issues in review (a change or a plan to \
                       approve, with its pull request and checks) and blocked ones (the agent's \
                       question), oldest first.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn waiting_for_people(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&ctx)?;
        let waiting = async {
            who.require(Action::Read)?;
            let mut out = Vec::new();
            for status in [Status::InReview, Status::Blocked] {
                let filter = IssueFilter {
                    status: Some(status),
                    ..IssueFilter::default()
                };
                let (issues, _) = self.store.list_issue_page(&filter, 0, MAX_PAGE).await?;
                out.extend(issues.iter().map(summary));
            }
            Ok(json!({ "issues": out }))
        };
        answer(waiting.await)
    }
}

impl Board {
    async fn list(&self, who: &Caller, args: ListArgs) -> Result<Value, AppError> {
        who.require(Action::Read)?;
        let filter = IssueFilter {
            status: parse("status", args.status.as_deref())?,
            kind: parse("kind", args.kind.as_deref())?,
            q: args.q,
            assignee: args.assignee,
        };
        let limit = args.limit.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::BadRequest(format!(
                "limit: between 1 and {MAX_PAGE}"
            )));
        }
        let after = args.cursor.unwrap_or(0).max(0);
        let (issues, next) = self.store.list_issue_page(&filter, after, limit).await?;
        let issues: Vec<Value> = issues.iter().map(summary).collect();
        Ok(json!({ "issues": issues, "next_cursor": next }))
    }

    async fn detail(&self, who: &Caller, id: i64) -> Result<Value, AppError> {
        who.require(Action::Read)?;
        let detail = self.store.issue_detail(id).await?;
        let latest = self.store.runs_for_issue(id).await?.into_iter().next();
        let changed = match self.store.committed_runs(id).await?.first() {
            Some((run, _)) => self.store.run_patches(*run).await?.map(|patches| {
                app::domain::parse_patch(&patches.branch)
                    .iter()
                    .map(|f| json!({ "path": f.path, "additions": f.additions, "deletions": f.deletions }))
                    .collect::<Vec<_>>()
            }),
            None => None,
        };
        let mut value = to_value(&detail)?;
        value["latest_run"] = match latest {
            Some(run) => json!({
                "id": run.id,
                "kind": run.kind,
                "outcome": run.outcome,
                "agent": run.agent,
                "cost_usd": run.cost_usd,
                "branch": run.branch,
                "resumed": run.resumed,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
            }),
            None => Value::Null,
        };
        value["changed_files"] = to_value(&changed)?;
        Ok(value)
    }

    async fn create(&self, who: &Caller, args: CreateArgs) -> Result<Value, AppError> {
        who.require(Action::EditIssue)?;
        let new = NewIssue {
            title: args.title,
            body: args.body.unwrap_or_default(),
            kind: parse("kind", args.kind.as_deref())?.unwrap_or_default(),
            priority: parse("priority", args.priority.as_deref())?.unwrap_or_default(),
            status: parse("status", args.status.as_deref())?,
            human_only: args.human_only.unwrap_or(false),
            plan_first: args.plan_first,
            depends_on: args.depends_on.unwrap_or_default(),
            ..NewIssue::default()
        };
        let issue = self.store.create_issue(who, new).await?;
        to_value(&issue)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Board {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("autopilot", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Autopilot's issue board, as the person whose token this is. Issues move \
                 backlog → ready → in_progress → in_review → done (blocked: waiting for a \
                 person); a coding agent works ready issues. Use list_issues or \
                 waiting_for_people to find issues, get_issue to read one, create_issue to \
                 file one, add_comment to answer the agent, move_issue and set_fields to \
                 change one.",
            )
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(VERSIONS)
    }
}
