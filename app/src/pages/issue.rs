//! One issue in full: rendered body, facts, edit form, comments, attachments and history.
//! Shown in the board's drawer and at `/issues/{id}`.

use super::changes::Changes;
use super::live::use_live_refresh;
use super::runs::Runs;
use super::topbar::TopBar;
use super::{action_error, error_note, hydration_marker};
use crate::api::{
    get_issue_view, upload_attachment, AddComment, AnswerQuestion, ApprovePlan, MoveIssue,
    RequestChanges, UpdateIssue,
};
use crate::domain::{
    format_time, Attachment, AuthorKind, Event, IssueView, Kind, PlanState, Priority, Status,
};
use crate::error::AppError;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn IssuePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    };
    let refresh = RwSignal::new(0u64);
    use_live_refresh(refresh);
    let marker = hydration_marker();
    view! {
        <div class="page" data-hydrated=move || marker.get()>
            <TopBar />
            <main class="issue-page">
                {move || match id() {
                    Some(id) => view! { <LazyIssuePanel id refresh /> }.into_any(),
                    None => view! { <p class="error">"No such issue."</p> }.into_any(),
                }}
            </main>
        </div>
    }
}

/// The issue panel, fetched as its own wasm chunk the first time an issue is opened: the
/// board's first paint does not wait for it. On the server it renders in place.
/// Hydration cannot wait for a chunk (a lazy route it can), so a page that arrives with an
/// issue open loads it first: see `load_chunks_for_hydration`.
#[component]
pub fn LazyIssuePanel(id: i64, refresh: RwSignal<u64>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the issue…"</p> }>
            {move || Suspend::new(issue_panel(id, refresh))}
        </Suspense>
    }
}

#[lazy]
pub(super) fn issue_panel(id: i64, refresh: RwSignal<u64>) -> AnyView {
    view! { <IssuePanel id refresh /> }.into_any()
}

/// Fetches the issue panel's chunk (once; later calls return at once).
#[cfg(feature = "hydrate")]
pub(super) async fn preload_issue_panel() {
    __preload_issue_panel().await;
}

#[component]
fn IssuePanel(id: i64, refresh: RwSignal<u64>) -> impl IntoView {
    let update = ServerAction::<UpdateIssue>::new();
    let comment = ServerAction::<AddComment>::new();
    let review = Review {
        request: ServerAction::<RequestChanges>::new(),
        approve: ServerAction::<MoveIssue>::new(),
        answer: ServerAction::<AnswerQuestion>::new(),
        approve_plan: ServerAction::<ApprovePlan>::new(),
    };
    let uploads = RwSignal::new(0u64);
    // `?changes=run-5`: that run's own commit instead of the whole branch.
    let query = use_query_map();
    let changes_run = Memo::new(move |_| {
        query
            .read()
            .get("changes")
            .and_then(|c| c.strip_prefix("run-")?.parse::<i64>().ok())
    });
    // `?files=5`: later files of the change shown whole (the stand-ins' links, for a page
    // without a script; with one, a stand-in loads its file in place).
    let files = Memo::new(move |_| query.read().get("files"));
    let view_data = Resource::<ViewResult, WithoutHtml>::new_with_options(
        move || {
            (
                id,
                changes_run.get(),
                files.get(),
                refresh.get(),
                update.version().get(),
                comment.version().get(),
                review.request.version().get(),
                review.approve.version().get(),
                review.answer.version().get(),
                review.approve_plan.version().get(),
                uploads.get(),
            )
        },
        |(id, changes_run, files, ..)| get_issue_view(id, changes_run, files),
        false,
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                view_data
                    .get()
                    .map(|result| match result {
                        Ok(view) => {
                            view! { <IssueBody view update comment review uploads /> }.into_any()
                        }
                        Err(err) => error_note(&err),
                    })
            }}
        </Transition>
    }
}

type ViewResult = Result<IssueView, AppError>;

/// How the drawer's data travels in the page: without the HTML it carries (the issue's body
/// and the change, up to a megabyte), which the page has as markup already. Hydrating keeps
/// the server's markup (`inner_html` is not set while hydrating), so it is in the page once.
/// A refetch is a server function call, whose answer (`JsonText`) carries the HTML.
struct WithoutHtml;

impl Encoder<ViewResult> for WithoutHtml {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &ViewResult) -> Result<String, Self::Error> {
        match val {
            Ok(view) => {
                let mut slim = view.clone();
                slim.body_html.clear();
                if let Some(changes) = slim.changes.as_mut() {
                    changes.html.clear();
                }
                serde_json::to_string(&ViewResult::Ok(slim))
            }
            Err(_) => serde_json::to_string(val),
        }
    }
}

impl Decoder<ViewResult> for WithoutHtml {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<ViewResult, Self::Error> {
        serde_json::from_str(val)
    }
}

/// A person's answers to the agent: to a change in review (request changes, approve), to its
/// question, and to its plan.
#[derive(Clone, Copy)]
struct Review {
    request: ServerAction<RequestChanges>,
    approve: ServerAction<MoveIssue>,
    answer: ServerAction<AnswerQuestion>,
    approve_plan: ServerAction<ApprovePlan>,
}

/// The agent's question at the top of a blocked issue, with the answer form: the answer is a
/// comment, and the next run carries on from it.
#[component]
fn Question(id: i64, question: String, answer: ServerAction<AnswerQuestion>) -> impl IntoView {
    view! {
        <section class="agent-asks" aria-labelledby="agent-asks-title">
            <h3 id="agent-asks-title">"The agent asks"</h3>
            <p class="question-text">{question}</p>
            <ActionForm action=answer attr:class="answer-form">
                <input type="hidden" name="id" value=id />
                <label>
                    "Your answer"
                    <textarea name="body" rows="3" required maxlength="16384"></textarea>
                </label>
                <button type="submit" class="primary">"Answer and continue"</button>
            </ActionForm>
            {action_error(answer.value())}
        </section>
    }
}

/// A plan waiting for approval: the plan, "Approve plan", and "Request changes" with what to
/// change (the agent plans again).
#[component]
fn PlanReview(id: i64, version: i64, plan: Option<String>, review: Review) -> impl IntoView {
    view! {
        <section class="plan-review" aria-labelledby="plan-review-title">
            <h3 id="plan-review-title">"The agent's plan waits for approval"</h3>
            {plan.map(|p| view! { <p class="comment-body plan-text">{p}</p> })}
            <div class="plan-actions">
                <ActionForm action=review.approve_plan attr:class="approve-plan-form">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=version />
                    <button type="submit" class="primary">"Approve plan"</button>
                </ActionForm>
                <ActionForm action=review.request attr:class="plan-changes-form">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=version />
                    <label>
                        "What should change in the plan"
                        <textarea name="body" rows="2" required maxlength="16384"></textarea>
                    </label>
                    <button type="submit">"Request changes"</button>
                </ActionForm>
            </div>
            {action_error(review.approve_plan.value())}
            {action_error(review.request.value())}
        </section>
    }
}

#[component]
fn IssueBody(
    view: IssueView,
    update: ServerAction<UpdateIssue>,
    comment: ServerAction<AddComment>,
    review: Review,
    uploads: RwSignal<u64>,
) -> impl IntoView {
    let issue = view.detail.issue.clone();
    let id = issue.id;
    let depends_on_text = issue
        .depends_on
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let comment_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(form)) = (comment.value().get(), comment_form.get()) {
            form.reset();
        }
    });
    let comments = view
        .detail
        .comments
        .iter()
        .map(|c| {
            view! {
                <li class=format!("comment comment-{}", serde_plain(&c.author_kind))>
                    <p class="comment-meta">
                        <strong>{c.author.clone()}</strong>
                        " · "
                        <time>{format_time(c.created_at)}</time>
                    </p>
                    <p class="comment-body">{c.body.clone()}</p>
                </li>
            }
        })
        .collect_view();
    view! {
        <article class="issue" data-issue=id>
            <header class="issue-head">
                <p class="issue-number">
                    {format!("#{id}")} <span class=format!("status status-{}", issue.status.as_str())>
                        {issue.status.label()}
                    </span>
                </p>
                <h2 id="issue-title">{issue.title.clone()}</h2>
            </header>
            {(issue.status == Status::Blocked)
                .then(|| issue.question.clone())
                .flatten()
                .map(|question| view! { <Question id question answer=review.answer /> })}
            {(issue.status == Status::InReview && issue.plan_state == Some(PlanState::Proposed))
                .then(|| {
                    let plan = view
                        .detail
                        .comments
                        .iter()
                        .rev()
                        .find(|c| c.author_kind == AuthorKind::Agent)
                        .map(|c| {
                            let body = c.body.strip_prefix(crate::domain::PLAN_HEADING);
                            body.unwrap_or(&c.body).trim().to_string()
                        });
                    view! { <PlanReview id version=issue.version plan review /> }
                })}
            <dl class="facts">
                <dt>"Kind"</dt>
                <dd>{issue.kind.as_str()}</dd>
                <dt>"Priority"</dt>
                <dd>{issue.priority.as_str()}</dd>
                <dt>"Assignee"</dt>
                <dd>{issue.assignee.clone().unwrap_or_else(|| "nobody".into())}</dd>
                <dt>"Filed"</dt>
                <dd>{format!("{} by {}", format_time(issue.created_at), issue.created_by)}</dd>
                {issue.human_only.then(|| view! { <dt>"Human only"</dt><dd>"yes: the agent never takes it"</dd> })}
                {issue.claimed_by.clone().map(|r| view! { <dt>"Held by"</dt><dd>{r}</dd> })}
                {issue.agent.clone().map(|a| view! { <dt>"Agent"</dt><dd><code>{a}</code></dd> })}
                {issue.model.clone().map(|m| view! { <dt>"Model"</dt><dd><code>{m}</code></dd> })}
                {issue.plan_first.then(|| {
                    let state = match issue.plan_state {
                        Some(PlanState::Approved) => "plan approved",
                        Some(PlanState::Proposed) => "plan waiting for approval",
                        None => "the agent plans first",
                    };
                    view! { <dt>"Plan first"</dt><dd class="plan-state">{state}</dd> }
                })}
                {issue.next_run.map(|next| view! { <dt>"Next run"</dt><dd class="next-run">{next.label()}</dd> })}
                {(issue.ci_fix_attempts > 0).then(|| view! { <dt>"Checks fixed"</dt><dd>{format!("{} round(s)", issue.ci_fix_attempts)}</dd> })}
                {(!issue.depends_on.is_empty()).then(|| view! {
                    <dt>"Depends on"</dt>
                    <dd class="depends-on">
                        {issue.depends_on.iter().map(|d| view! { <a href=format!("?issue={d}")>{format!("#{d}")}</a> " " }).collect_view()}
                    </dd>
                })}
                {issue.pr_checks.clone().map(|c| view! { <dt>"Checks"</dt><dd class=format!("checks-{c}")>{c.clone()}</dd> })}
                {issue.branch.clone().map(|b| view! { <dt>"Branch"</dt><dd><code>{b}</code></dd> })}
                {issue
                    .pr_url
                    .clone()
                    .map(|url| {
                        view! {
                            <dt>"Pull request"</dt>
                            <dd>
                                <a href=url.clone() rel="noopener nofollow noreferrer" target="_blank">
                                    {url.clone()}
                                </a>
                            </dd>
                        }
                    })}
            </dl>
            // Rendered from Markdown and sanitised on the server (see `markdown.rs`).
            <div class="markdown" inner_html=view.body_html.clone()></div>
            {issue.result.clone().map(|r| view! { <section class="result"><h3>"Agent's summary"</h3><p class="comment-body">{r}</p></section> })}
            {view
                .changes
                .clone()
                .map(|changes| {
                    view! {
                        <Changes
                            changes
                            issue=issue.clone()
                            request=review.request
                            approve=review.approve
                        />
                    }
                })}

            <details class="edit">
                <summary>"Edit"</summary>
                <ActionForm action=update attr:class="edit-form">
                    <input type="hidden" name="id" value=id />
                    <input type="hidden" name="version" value=issue.version />
                    <label>"Title" <input type="text" name="title" value=issue.title.clone() required maxlength="200" /></label>
                    <label>"Description (Markdown)" <textarea name="body" rows="8">{issue.body.clone()}</textarea></label>
                    <div class="row">
                        <label>
                            "Kind"
                            <select name="kind">
                                {Kind::ALL
                                    .into_iter()
                                    .map(|k| view! { <option value=k.as_str() selected=k == issue.kind>{k.as_str()}</option> })
                                    .collect_view()}
                            </select>
                        </label>
                        <label>
                            "Priority"
                            <select name="priority">
                                {Priority::ALL
                                    .into_iter()
                                    .map(|p| view! { <option value=p.as_str() selected=p == issue.priority>{p.as_str()}</option> })
                                    .collect_view()}
                            </select>
                        </label>
                        <label>"Assignee" <input type="text" name="assignee" value=issue.assignee.clone().unwrap_or_default() /></label>
                        <label class="check">
                            <input type="checkbox" name="human_only" value="on" checked=issue.human_only />
                            "Human only"
                        </label>
                        <label class="check" title="The agent's first run only plans; it works once a person approves the plan">
                            <input type="checkbox" name="plan_first" value="on" checked=issue.plan_first />
                            "Plan first"
                        </label>
                    </div>
                    {(!view.models.is_empty()).then(|| {
                        let current = issue.model.clone().unwrap_or_default();
                        view! {
                            <label>
                                "Model"
                                <select name="model">
                                    <option value=crate::domain::DEFAULT_MODEL_CHOICE selected=current.is_empty()>"the runner's default"</option>
                                    {view
                                        .models
                                        .iter()
                                        .map(|m| view! { <option value=m.clone() selected=*m == current>{m.clone()}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                        }
                    })}
                    {super::board::agent_choice(&view.agents, issue.agent.as_deref().unwrap_or_default())}
                    <label>
                        "Depends on (issue numbers; the agent waits until they are done)"
                        <input type="text" name="depends_on" inputmode="numeric" autocomplete="off" placeholder="12, 15" value=depends_on_text.clone() />
                    </label>
                    <button type="submit">"Save"</button>
                </ActionForm>
                {action_error(update.value())}
            </details>

            <section class="thread">
                <h3>"Comments"</h3>
                <ol class="comments">{comments}</ol>
                <ActionForm action=comment node_ref=comment_form attr:class="comment-form">
                    <input type="hidden" name="id" value=id />
                    <label>
                        <span class="visually-hidden">"Comment"</span>
                        <textarea name="body" rows="3" placeholder="Write a comment" required></textarea>
                    </label>
                    <button type="submit">"Comment"</button>
                </ActionForm>
                {action_error(comment.value())}
            </section>

            <Runs runs=view.runs.clone() />
            <Attachments id attachments=view.detail.attachments.clone() uploads />
            <History events=view.events.clone() />
        </article>
    }
}

/// Why a move happened, from its event's data: " (plan approved)", " (a checks fix run)".
fn move_why(data: &str) -> String {
    let Ok(data) = serde_json::from_str::<serde_json::Value>(data) else {
        return String::new();
    };
    if let Some(kind) = data["run_kind"]
        .as_str()
        .and_then(crate::domain::RunKind::parse)
    {
        return format!(" (a {} run)", kind.label());
    }
    data["reason"]
        .as_str()
        .map(|reason| format!(" ({reason})"))
        .unwrap_or_default()
}

/// `human` / `agent` / `system`, for CSS classes.
fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

#[component]
fn Attachments(id: i64, attachments: Vec<Attachment>, uploads: RwSignal<u64>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        use leptos::wasm_bindgen::JsCast;
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let Ok(data) = leptos::web_sys::FormData::new_with_form(&form) else {
            return;
        };
        leptos::task::spawn_local(async move {
            match upload_attachment(data.into()).await {
                Ok(_) => {
                    error.set(None);
                    form.reset();
                    uploads.update(|n| *n += 1);
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };
    let items = attachments
        .into_iter()
        .map(|a| {
            let href = a.url();
            let preview = a.content_type.starts_with("image/").then(|| {
                view! { <img class="preview" src=href.clone() alt=a.filename.clone() loading="lazy" /> }
            });
            view! {
                <li>
                    {preview}
                    <a href=href.clone() download=a.filename.clone()>{a.filename.clone()}</a>
                    <span class="hint">{format!(" {} KiB", (a.size + 1023) / 1024)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="attachments">
            <h3>"Attachments"</h3>
            <ul>{items}</ul>
            <form class="upload-form" on:submit=on_submit>
                <input type="hidden" name="issue_id" value=id />
                <label>
                    <span class="visually-hidden">"File to attach"</span>
                    <input type="file" name="file" required />
                </label>
                <button type="submit" class="secondary">"Attach"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}

/// "moved #3, which it waits for, to done", from the event's data.
fn dependency_text(data: &str) -> String {
    #[derive(serde::Deserialize, Default)]
    struct Change {
        issue: i64,
        done: bool,
    }
    let change: Change = serde_json::from_str(data).unwrap_or_default();
    if change.done {
        format!("moved #{}, which it waits for, to done", change.issue)
    } else {
        format!("reopened #{}, which it waits for", change.issue)
    }
}

/// "made it wait for #3, #5", "stopped it waiting for #3", from the event's data.
fn dependencies_text(data: &str) -> String {
    #[derive(serde::Deserialize, Default)]
    struct Change {
        added: Vec<i64>,
        removed: Vec<i64>,
    }
    let change: Change = serde_json::from_str(data).unwrap_or_default();
    let list = |ids: &[i64]| {
        ids.iter()
            .map(|id| format!("#{id}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (list(&change.added), list(&change.removed)) {
        (added, removed) if removed.is_empty() => format!("made it wait for {added}"),
        (added, removed) if added.is_empty() => format!("stopped it waiting for {removed}"),
        (added, removed) => format!("made it wait for {added}, not {removed}"),
    }
}

#[component]
fn History(events: Vec<Event>) -> impl IntoView {
    let rows = events
        .into_iter()
        .rev()
        .map(|e| {
            let what = match (e.kind.as_str(), e.from_status, e.to_status) {
                ("moved", Some(from), Some(to)) => {
                    format!("moved it from {} to {}{}", from.label(), to.label(), move_why(&e.data))
                }
                ("created", _, Some(to)) => format!("filed it in {}", to.label()),
                ("reordered", ..) => "reordered it".to_string(),
                ("commented", ..) => "commented".to_string(),
                ("attached", ..) => "attached a file".to_string(),
                ("recurred", ..) => "saw the same failure again".to_string(),
                ("updated", ..) => "edited it".to_string(),
                ("checks", ..) => "read the pull request's checks".to_string(),
                ("dependencies", ..) => dependencies_text(&e.data),
                ("dependency", ..) => dependency_text(&e.data),
                (other, ..) => other.replace('_', " "),
            };
            view! {
                <li>
                    <strong>{e.actor}</strong> " " {what} " · " <time>{format_time(e.created_at)}</time>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="history">
            <h3>"History"</h3>
            <ol>{rows}</ol>
        </section>
    }
}
