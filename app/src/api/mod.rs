//! Server functions: the board's calls to the server. Thin: find out who is asking, then let
//! the store (which applies the domain rules) do the work. Endpoints have stable names so
//! scripts, logs and the authorization matrix test can name them.

use crate::domain::{
    Attachment, BoardIssues, CardUpdate, Comment, Issue, IssueView, Kind, Priority, Status,
};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};

mod account;
mod admin;
pub mod codec;
mod diff;
mod invites;
mod sign_in;
mod users;
mod webhooks;
pub use account::*;
pub use admin::*;
pub use diff::*;
pub use invites::*;
pub use sign_in::*;
pub use users::*;
pub use webhooks::*;

#[cfg(feature = "ssr")]
mod ssr {
    use crate::auth::{authorize, SessionPolicy};
    use crate::domain::{parse_patch, Actor, ChangesView, Status, COMMENT_MAX_BYTES};
    use crate::domain::{Action, Caller};
    use crate::error::{AppError, AppResult};
    use crate::store::Store;
    use leptos::prelude::use_context;

    /// A change request's comment: the picked lines (one `file:12-14` per line) quoted from
    /// the latest change, then the reviewer's words. What is cheap is checked first: the
    /// caller is a person, the issue is in review, at most 50 ranges are picked; only then is
    /// the patch read, and quoting stops at the comment's size limit.
    pub async fn change_request(
        store: &Store,
        actor: &Actor,
        issue_id: i64,
        lines: &str,
        body: &str,
    ) -> Result<String, AppError> {
        if !actor.role.is_human() {
            return Err(AppError::Forbidden(
                "only a person can request changes".into(),
            ));
        }
        let issue = store.get_issue(issue_id).await?;
        if issue.status != Status::InReview {
            return Err(AppError::Conflict(format!(
                "#{issue_id} is {}, not in review: there is no change to ask about",
                issue.status.label()
            )));
        }
        crate::domain::picked_ranges(lines)
            .map_err(|e| AppError::BadRequest(format!("lines: {e}")))?;
        let quoted = if lines.trim().is_empty() {
            String::new()
        } else {
            let latest = store.committed_runs(issue_id).await?.first().map(|r| r.0);
            let patch = match latest {
                Some(run) => store.run_patches(run).await?.map(|p| p.branch),
                None => None,
            }
            .ok_or_else(|| AppError::BadRequest("lines: there is no change to quote".into()))?;
            crate::domain::quote_lines(&parse_patch(&patch), lines, COMMENT_MAX_BYTES)
                .map_err(|e| AppError::BadRequest(format!("lines: {e}")))?
        };
        Ok(match (quoted.is_empty(), body.trim()) {
            (true, "") => {
                return Err(AppError::BadRequest(
                    "body: say what to change, or pick the lines it is about".into(),
                ))
            }
            (true, words) => format!("Changes requested:\n\n{words}"),
            (false, "") => format!("Changes requested on these lines:\n\n{quoted}"),
            (false, words) => format!("Changes requested on these lines:\n\n{quoted}\n{words}"),
        })
    }

    /// Run `run_id`'s change as HTML (its own commit when `own`, else the whole branch as it
    /// left it); `None` when it has none. From the render cache when just shown; colouring
    /// takes up to its time budget of CPU otherwise, so it runs off the async workers.
    pub async fn rendered_patch(
        store: &Store,
        run_id: i64,
        own: bool,
    ) -> Result<Option<std::sync::Arc<crate::diff_html::RenderedPatch>>, AppError> {
        let Some(patches) = store.run_patches(run_id).await? else {
            return Ok(None);
        };
        let patch = if own { patches.run } else { patches.branch };
        let truncated = patches.truncated;
        let rendered =
            tokio::task::spawn_blocking(move || crate::diff_html::render_patch(&patch, truncated))
                .await
                .map_err(|err| {
                    tracing::error!(%err, "rendering a patch");
                    AppError::Internal
                })?;
        Ok(Some(rendered))
    }

    /// What the drawer's "Changes" section shows; `None` while no run has committed. The
    /// first files are whole, and those in `files` (see `diff::wanted_files`).
    pub async fn changes(
        store: &Store,
        issue_id: i64,
        run: Option<i64>,
        files: &str,
    ) -> Result<Option<ChangesView>, AppError> {
        let runs = store.committed_runs(issue_id).await?;
        let (run_id, own) = match run {
            Some(id) if runs.iter().any(|(r, _)| *r == id) => (id, true),
            Some(id) => return Err(AppError::not_found(format!("run {id} with a change"))),
            None => match runs.first() {
                Some((id, _)) => (*id, false),
                None => return Ok(None),
            },
        };
        let Some(rendered) = rendered_patch(store, run_id, own).await? else {
            return Ok(None);
        };
        Ok(Some(ChangesView {
            runs,
            run_id,
            own,
            files: rendered.files,
            additions: rendered.additions,
            deletions: rendered.deletions,
            html: {
                let wanted = super::diff::wanted_files(files);
                let own_run = own.then_some(run_id);
                rendered.page_html(&wanted, |i| {
                    super::diff::file_link(issue_id, own_run, &wanted, i)
                })
            },
        }))
    }

    /// The models an issue may name, as the server was started with.
    pub fn allowed_models() -> crate::domain::AllowedModels {
        use_context::<crate::domain::AllowedModels>().unwrap_or_default()
    }

    /// The agents an issue may ask for, the default first, as the server was started with.
    pub fn allowed_agents() -> crate::domain::AllowedAgents {
        use_context::<crate::domain::AllowedAgents>().unwrap_or_default()
    }

    /// A form's agent choice, checked against the offered ones: `None` leaves it as it is,
    /// `Some("")` is the board's default.
    pub fn form_agent(agent: Option<String>) -> AppResult<Option<String>> {
        let agent = agent.map(|a| {
            if a == crate::domain::DEFAULT_MODEL_CHOICE {
                String::new()
            } else {
                a
            }
        });
        crate::domain::check_agent(agent.as_deref(), &allowed_agents().0)
            .map_err(|e| with_status(e.into()))?;
        Ok(agent)
    }

    /// A form's model choice, checked against the allowed ones: `None` leaves it as it is,
    /// `Some("")` is the runner's default.
    pub fn form_model(model: Option<String>) -> AppResult<Option<String>> {
        let model = model.map(|m| {
            if m == crate::domain::DEFAULT_MODEL_CHOICE {
                String::new()
            } else {
                m
            }
        });
        crate::domain::check_model(model.as_deref(), &allowed_models().0)
            .map_err(|e| with_status(e.into()))?;
        Ok(model)
    }

    /// Why an upload could not be read. The server caps every request body at the upload
    /// limit; a read that fails was cut off by that cap (the stream's error says the body is
    /// too large), or is not a well-formed multipart form.
    pub fn unreadable_upload(err: impl std::error::Error) -> AppError {
        // The reader's own words, then what it read from (the body's error is a source).
        let mut said = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            said.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        with_status(
            if said.contains("too large") || said.contains("length limit") {
                AppError::PayloadTooLarge(
                    "the upload could not be read: files may be at most 25 MiB".into(),
                )
            } else {
                AppError::BadRequest("the upload is not a well-formed multipart form".into())
            },
        )
    }

    /// The store, provided to every request by the server.
    pub fn store() -> AppResult<Store> {
        use_context::<Store>().ok_or_else(|| {
            tracing::error!("the store is missing from the request context");
            AppError::Internal
        })
    }

    fn request() -> AppResult<(http::request::Parts, SessionPolicy)> {
        match (
            use_context::<http::request::Parts>(),
            use_context::<SessionPolicy>(),
        ) {
            (Some(parts), Some(policy)) => Ok((parts, policy)),
            _ => {
                tracing::error!("request parts or session policy missing from the context");
                Err(AppError::Internal)
            }
        }
    }

    /// Gives a failed call its real HTTP status (401, 404, 409, 422…) instead of 500.
    pub fn with_status(err: AppError) -> AppError {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(err.status()) {
                response.set_status(status);
            }
        }
        err
    }

    /// The caller, who must be allowed `action` (role and scopes); every server function
    /// starts here.
    pub async fn caller(action: Action) -> AppResult<Caller> {
        let (parts, policy) = request()?;
        authorize(&parts, &store()?, policy, action)
            .await
            .map_err(with_status)
    }

    /// The caller, who must be an admin (with the `admin` scope, on a token).
    pub async fn current_admin() -> AppResult<Caller> {
        caller(Action::Administer).await
    }
}

/// The board, filtered. `mine` keeps the caller's own issues; `shown` is how many cards each
/// column shows (in `Status::ALL` order; missing or 0: the default).
#[server(endpoint = "list_board", output = crate::api::codec::JsonText)]
pub async fn list_board(
    #[server(default)] q: Option<String>,
    #[server(default)] kind: Option<Kind>,
    #[server(default)] assignee: Option<String>,
    #[server(default)] mine: bool,
    #[server(default)] shown: Vec<i64>,
) -> Result<BoardIssues, AppError> {
    let actor = ssr::caller(crate::domain::Action::Read).await?;
    let assignee = if mine {
        Some(actor.actor.name)
    } else {
        assignee.filter(|a| !a.trim().is_empty())
    };
    let filter = crate::store::IssueFilter {
        q,
        kind,
        assignee,
        status: None,
    };
    let shown = |status: Status| {
        let i = Status::ALL.iter().position(|s| *s == status).unwrap_or(0);
        match shown.get(i).copied().unwrap_or(0) {
            n if n <= 0 => crate::domain::COLUMN_SHOWN,
            n => n.min(10_000),
        }
    };
    ssr::store()?
        .board_issues(&filter, shown)
        .await
        .map_err(ssr::with_status)
}

/// One card and the columns' counts: what a live board fetches when an event names an issue.
/// `issue` is `None` when the issue is gone.
#[server(endpoint = "get_card", output = crate::api::codec::JsonText)]
pub async fn get_card(id: i64) -> Result<CardUpdate, AppError> {
    ssr::caller(crate::domain::Action::Read).await?;
    let store = ssr::store()?;
    let issue = store.card(id).await?;
    let counts = store
        .column_counts(&crate::store::IssueFilter::default())
        .await?;
    Ok(CardUpdate { issue, counts })
}

/// An issue for its drawer: detail, rendered body, history, and the agent's change for
/// review (`changes_run` names a committed run to show its own commit; without it, the whole
/// branch as the latest committed run left it; `files`: later files to show whole).
#[server(endpoint = "get_issue_view", output = crate::api::codec::JsonText)]
pub async fn get_issue_view(
    id: i64,
    #[server(default)] changes_run: Option<i64>,
    #[server(default)] files: Option<String>,
) -> Result<IssueView, AppError> {
    ssr::caller(crate::domain::Action::Read).await?;
    let store = ssr::store()?;
    let detail = store.issue_detail(id).await.map_err(ssr::with_status)?;
    let body_html = crate::markdown::render(&detail.issue.body);
    let events = store.list_events(id).await?;
    let runs = store.runs_for_issue(id).await?;
    let changes = ssr::changes(&store, id, changes_run, files.as_deref().unwrap_or("")).await?;
    Ok(IssueView {
        detail,
        body_html,
        events,
        runs,
        changes,
        models: ssr::allowed_models().0.to_vec(),
        agents: ssr::allowed_agents().0.to_vec(),
    })
}

/// Files a new issue from the board's form, answering its number. `human_only` is a
/// checkbox: present means on. (Board calls answer no more than the board uses: every type
/// an answer carries is one more decoder in the board's wasm.)
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "create_issue", output = crate::api::codec::JsonText)]
pub async fn create_issue(
    title: String,
    #[server(default)] body: String,
    #[server(default)] kind: Kind,
    #[server(default)] priority: Priority,
    #[server(default)] human_only: Option<String>,
    #[server(default)] depends_on: String,
    #[server(default)] model: Option<String>,
    #[server(default)] agent: Option<String>,
) -> Result<i64, AppError> {
    let actor = ssr::caller(crate::domain::Action::EditIssue).await?;
    let model = ssr::form_model(model)?;
    let agent = ssr::form_agent(agent)?;
    let new = crate::domain::NewIssue {
        model,
        agent,
        title,
        body,
        kind,
        priority,
        human_only: human_only.is_some(),
        depends_on: crate::domain::parse_issue_numbers(&depends_on)?,
        ..Default::default()
    };
    let issue = ssr::store()?
        .create_issue(&actor, new)
        .await
        .map_err(ssr::with_status)?;
    Ok(issue.id)
}

/// Moves an issue (or reorders it inside its column), naming the version the board last saw
/// so a stale board cannot overwrite someone else's move. Dropped on a card, it goes just
/// above that card (`before`, its id); otherwise last in the column.
#[server(endpoint = "move_issue", output = crate::api::codec::JsonText)]
pub async fn move_issue(
    id: i64,
    to: Status,
    version: i64,
    #[server(default)] before: Option<i64>,
) -> Result<(), AppError> {
    let actor = ssr::caller(crate::domain::Action::MoveIssue).await?;
    ssr::store()?
        .place_issue(&actor, id, to, Some(version), before)
        .await
        .map_err(ssr::with_status)?;
    Ok(())
}

/// Saves the drawer's edit form (one argument per form field).
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "update_issue", output = crate::api::codec::JsonText)]
pub async fn update_issue(
    id: i64,
    version: i64,
    title: String,
    #[server(default)] body: String,
    kind: Kind,
    priority: Priority,
    #[server(default)] assignee: String,
    #[server(default)] human_only: Option<String>,
    #[server(default)] depends_on: String,
    #[server(default)] model: Option<String>,
    #[server(default)] agent: Option<String>,
    #[server(default)] plan_first: Option<String>,
) -> Result<Issue, AppError> {
    let actor = ssr::caller(crate::domain::Action::EditIssue).await?;
    let model = ssr::form_model(model)?;
    let agent = ssr::form_agent(agent)?;
    let patch = crate::domain::IssuePatch {
        // Left out of the form (no models or agents to choose from): unchanged.
        model,
        agent,
        depends_on: Some(crate::domain::parse_issue_numbers(&depends_on)?),
        title: Some(title),
        body: Some(body),
        kind: Some(kind),
        priority: Some(priority),
        human_only: Some(human_only.is_some()),
        plan_first: Some(plan_first.is_some()),
        assignee: Some(assignee),
        version: Some(version),
    };
    ssr::store()?
        .update_issue(&actor, id, patch)
        .await
        .map_err(ssr::with_status)
}

#[server(endpoint = "add_comment", output = crate::api::codec::JsonText)]
pub async fn add_comment(id: i64, body: String) -> Result<Comment, AppError> {
    let actor = ssr::caller(crate::domain::Action::Comment).await?;
    let added = ssr::store()?
        .add_comment(&actor, id, &body)
        .await
        .map_err(ssr::with_status)?;
    Ok(added.comment)
}

/// "Answer and continue" in the drawer: the answer to the agent's question, and the issue
/// back to ready for a run that carries on from it.
#[server(endpoint = "answer_question", output = crate::api::codec::JsonText)]
pub async fn answer_question(id: i64, body: String) -> Result<Comment, AppError> {
    let actor = ssr::caller(crate::domain::Action::Comment).await?;
    let added = ssr::store()?
        .answer_question(&actor, id, &body)
        .await
        .map_err(ssr::with_status)?;
    Ok(added.comment)
}

/// "Approve plan" in the drawer: the agent's next run carries the plan out.
#[server(endpoint = "approve_plan", output = crate::api::codec::JsonText)]
pub async fn approve_plan(id: i64, version: i64) -> Result<Issue, AppError> {
    let actor = ssr::caller(crate::domain::Action::MoveIssue).await?;
    ssr::store()?
        .approve_plan(&actor, id, Some(version))
        .await
        .map_err(ssr::with_status)
}

/// "Request changes" in the drawer: the reviewer's words, after the lines they picked in the
/// latest change (`lines`: one `file:12-14` per line, quoted from the stored patch), as one
/// comment; the issue goes from review back to ready, and the agent's next run reads it.
#[server(endpoint = "request_changes", output = crate::api::codec::JsonText)]
pub async fn request_changes(
    id: i64,
    version: i64,
    #[server(default)] lines: String,
    #[server(default)] body: String,
) -> Result<Comment, AppError> {
    // The issue goes back to ready with the reviewer's words: a move and a comment.
    let actor = ssr::caller(crate::domain::Action::MoveIssue).await?;
    actor
        .require(crate::domain::Action::Comment)
        .map_err(ssr::with_status)?;
    let store = ssr::store()?;
    let text = ssr::change_request(&store, &actor, id, &lines, &body)
        .await
        .map_err(ssr::with_status)?;
    let (comment, _) = store
        .request_changes(&actor, id, Some(version), &text)
        .await
        .map_err(ssr::with_status)?;
    Ok(comment)
}

/// Takes a multipart form with `issue_id` and `file` (sent by the drawer's upload form).
#[server(endpoint = "upload_attachment", input = MultipartFormData, output = crate::api::codec::JsonText)]
pub async fn upload_attachment(data: MultipartData) -> Result<Attachment, AppError> {
    let actor = ssr::caller(crate::domain::Action::Attach).await?;
    let mut form = data.into_inner().ok_or(AppError::Internal)?;
    let mut issue_id = None;
    let unreadable = ssr::unreadable_upload;
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("issue_id") => {
                let text = field.text().await.map_err(unreadable)?;
                issue_id = text.trim().parse::<i64>().ok();
            }
            Some("file") => {
                let id = issue_id.ok_or_else(|| {
                    AppError::BadRequest("issue_id must come before the file".into())
                })?;
                let filename = field.file_name().unwrap_or("upload").to_string();
                let content_type = field.content_type().map(|m| m.to_string());
                let bytes = field.bytes().await.map_err(unreadable)?;
                return ssr::store()?
                    .add_attachment(&actor, id, &filename, content_type.as_deref(), &bytes)
                    .await
                    .map_err(ssr::with_status);
            }
            _ => {}
        }
    }
    Err(AppError::BadRequest("choose a file to upload".into()))
}
